"""A download that lands in a watched place shows without Refresh: new repo, new revision, a finished
.incomplete, a new folder; rows change in place and the selection stays."""

from __future__ import annotations

import os
import shutil

import pytest

from explorer.core.checkpoint import Checkpoint
from explorer.core.discovery import ScanLocation
from explorer.core.watch_paths import watch_plan
from tests.core.hub_layout import HubRepo, commit_hash


def _watching(window, qtbot) -> None:
    """The folders to watch are chosen in a worker after the scan: changes count from then on."""
    qtbot.waitUntil(lambda: bool(window.watcher.watched()) and not window.jobs.busy("watch"), timeout=10_000)


def _ids(window) -> set[str]:
    return {(c.id, c.revision) for c in window.browser.source_model.checkpoints()}


def test_the_watch_plan_covers_repos_and_folders_and_keeps_to_its_limit(tmp_path):
    cache = tmp_path / "hub"
    repos = [HubRepo(cache, f"org/m{i}") for i in range(3)]
    checkpoints = [
        Checkpoint(id=r.repo_id, source="hub-cache", path=str(r.snapshot("a" * 40)), repo_path=str(r.path), last_modified=float(i))
        for i, r in enumerate(repos)
    ]
    folder = tmp_path / "mine" / "bert"
    folder.mkdir(parents=True)
    checkpoints.append(Checkpoint(id="bert", source="folder", path=str(folder), origin=str(tmp_path / "mine")))
    locations = [ScanLocation("hub-cache", str(cache)), ScanLocation("folder", str(tmp_path / "mine"))]
    plan = watch_plan(locations, checkpoints)
    assert plan.paths[:2] == [str(cache), str(tmp_path / "mine")] and plan.complete
    assert {str(r.path / sub) for r in repos for sub in ("blobs", "refs", "snapshots")} <= set(plan.paths)
    assert str(folder) in plan.paths
    small = watch_plan(locations, checkpoints, limit=5)
    assert len(small.paths) == 5 and not small.complete
    assert small.paths[2].startswith(str(repos[2].path))  # the most recently modified repo first


@pytest.fixture
def watched_cache(tmp_path, sample):
    cache = tmp_path / "hub"
    repo = HubRepo(cache, "org/first")
    first = commit_hash("first")
    repo.add_folder(first, sample("tiny-bert-mlm"))
    repo.ref("main", first)
    return cache


def test_a_new_repo_and_a_new_revision_appear_and_the_selection_stays(make_window, qtbot, watched_cache, sample):
    window = make_window(hub_caches=[watched_cache])
    _watching(window, qtbot)
    assert window.browser.select_match("org/first")
    selected = window.browser.current_checkpoint().key
    second = HubRepo(watched_cache, "org/second")
    with qtbot.waitSignal(window.changes_applied, timeout=20_000) as applied:
        second.add_folder(commit_hash("second"), sample("tiny-gpt2-lm"))
        second.ref("main", commit_hash("second"))
    added, removed, changed = applied.args[0]
    assert [c.id for c in added] == ["org/second"] and not removed
    assert window.browser.current_checkpoint().key == selected
    repo = HubRepo(watched_cache, "org/first")
    _watching(window, qtbot)  # the new repo's folders too
    with qtbot.waitSignal(window.changes_applied, timeout=20_000):
        repo.add_folder(commit_hash("v2"), sample("tiny-bert-mlm"))
    qtbot.waitUntil(lambda: ("org/first", commit_hash("v2")) in _ids(window), timeout=20_000)


def test_a_finished_download_clears_its_interrupted_mark(make_window, qtbot, watched_cache, sample):
    repo = HubRepo(watched_cache, "org/first")
    partial = repo.incomplete_blob(b"half a file")
    window = make_window(hub_caches=[watched_cache])
    _watching(window, qtbot)
    (entry,) = window.browser.source_model.checkpoints()
    assert any("interrupted download" in p for p in entry.problems)
    with qtbot.waitSignal(window.changes_applied, timeout=20_000) as applied:
        os.rename(partial, str(partial)[: -len(".incomplete")])  # what huggingface_hub does at the end of a file
    _added, _removed, changed = applied.args[0]
    assert [c.id for c in changed] == ["org/first"]
    (entry,) = window.browser.source_model.checkpoints()
    assert not any("interrupted download" in p for p in entry.problems)


def test_a_folder_copied_into_a_watched_folder_appears(make_window, qtbot, tmp_path, sample):
    mine = tmp_path / "mine"
    shutil.copytree(sample("tiny-bert-qa"), mine / "qa")
    window = make_window(folders=[mine])
    _watching(window, qtbot)
    assert {c.id for c in window.browser.source_model.checkpoints()} == {"qa"}
    with qtbot.waitSignal(window.changes_applied, timeout=20_000):
        shutil.copytree(sample("tiny-t5"), mine / "t5")
    qtbot.waitUntil(lambda: {c.id for c in window.browser.source_model.checkpoints()} == {"qa", "t5"}, timeout=20_000)
    # The app's own reading is no change: no rescan follows it.
    with qtbot.assertNotEmitted(window.changes_applied, wait=1500):
        window.browser.select_match("t5")
