"""The cache view: repos by size with a chart, one repo's revisions, delete with the exact preview (and the freed
bytes huggingface_hub's strategy reports), prune, verify finding a same-size corruption, download from the stand-in Hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from huggingface_hub import scan_cache_dir
from PySide6.QtCore import Qt

from explorer.ui.cache_window import CacheWindow
from tests.core.hub_layout import HubRepo, commit_hash
from tests.hub_fixtures import hub  # noqa: F401  (the stand-in Hub fixture)


@pytest.fixture
def cache(tmp_path, sample) -> Path:
    root = tmp_path / "hub"
    for name, source, revisions in (("org/big", "tiny-gpt2-lm", 1), ("org/bert", "tiny-bert-mlm", 3)):
        repo = HubRepo(root, name)
        for i in range(revisions):
            commit = commit_hash(f"{name}{i}")
            repo.add_folder(commit, sample(source))
            repo.add(commit, "extra.json", f'{{"revision": {i}}}'.encode())
        repo.ref("main", commit_hash(f"{name}0"))
    return root


@pytest.fixture
def window(qtbot, cache):
    window = CacheWindow([str(cache)])
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.usage_shown, timeout=20_000):
        window.show()
    return window


def test_repos_are_listed_by_size_filtered_and_charted(window, qtbot):
    shown = [repo.id for repo in window.repo_model.shown()]
    sizes = [repo.size_bytes for repo in window.repo_model.shown()]
    assert sorted(shown) == ["org/bert", "org/big"] and sizes == sorted(sizes, reverse=True)
    assert [name for name, _ in window.chart.bar_values()] == shown
    window.repo_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert [repo.id for repo in window.repo_model.shown()] == ["org/bert", "org/big"]
    window.filter_edit.setText("big")
    assert [repo.id for repo in window.repo_model.shown()] == ["org/big"]
    assert "2 repos, 4 revisions" in window.totals.text()


def _select_repo(window, qtbot, repo_id: str) -> None:
    row = next(i for i, repo in enumerate(window.repo_model.shown()) if repo.id == repo_id)
    with qtbot.waitSignal(window.revision_model.modelReset, timeout=10_000):
        window.repo_view.selectRow(row)
    qtbot.waitUntil(lambda: window.revision_model.rowCount() > 0, timeout=10_000)


def test_deleting_two_revisions_frees_what_huggingface_hub_says_and_removes_only_them(window, qtbot, cache):
    _select_repo(window, qtbot, "org/bert")
    detached = [r.commit for r in map(window.revision_model.revision_at, range(window.revision_model.rowCount())) if not r.refs]
    assert len(detached) == 2
    rows = [row for row in range(window.revision_model.rowCount()) if window.revision_model.revision_at(row).commit in detached]
    for row in rows:
        window.revision_view.selectionModel().select(
            window.revision_model.index(row, 0),
            window.revision_view.selectionModel().SelectionFlag.Select | window.revision_view.selectionModel().SelectionFlag.Rows,
        )
    expected = scan_cache_dir(cache).delete_revisions(*detached).expected_freed_size
    window.plan_delete_revisions()
    qtbot.waitUntil(lambda: window.dialog is not None and window.dialog.isVisible(), timeout=10_000)
    dialog = window.dialog
    assert dialog.plan.freed_bytes == expected
    assert dialog.delete_button.text().startswith(f"Delete {len(dialog.plan.paths)} paths, free ")
    with qtbot.waitSignal(window.usage_shown, timeout=20_000):
        with qtbot.waitSignal(dialog.deleted, timeout=20_000) as deleted:
            dialog.delete_button.click()
    assert deleted.args[0].complete and deleted.args[0].freed_bytes == expected
    remaining = {rev.commit_hash for repo in scan_cache_dir(cache).repos for rev in repo.revisions}
    assert not remaining & set(detached) and len(remaining) == 2
    assert "2 repos, 2 revisions" in window.totals.text()


def test_prune_previews_detached_revisions(window, qtbot):
    window.plan_prune()
    qtbot.waitUntil(lambda: window.dialog is not None and window.dialog.isVisible(), timeout=10_000)
    assert len(window.dialog.plan.revisions) == 2 and window.dialog.heading.text().startswith("<b>Prune 2 revisions")
    window.dialog.reject()


def test_verify_all_finds_a_same_size_corruption_and_lists_it_first(window, qtbot, cache):
    blob = max((cache / "models--org--big" / "blobs").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    window.verify_all()
    qtbot.waitUntil(lambda: not window.jobs.busy("verify"), timeout=30_000)
    first = window.verify_results.tree.topLevelItem(0)
    assert first.text(0) == "corrupt" and "org/big" in first.text(1)
    assert "damaged or missing" in window.verify_results.summary.text()


def test_download_from_the_stand_in_hub_lands_in_the_cache(window, qtbot, hub, cache):  # noqa: F811
    from tests.core.test_download import safetensors_bytes

    hub.add_repo("org/fresh", {"config.json": b'{"model_type": "gpt2"}', "model.safetensors": safetensors_bytes(1000)})
    window.open_download("org/fresh")
    dialog = window.dialog
    dialog.endpoint = hub.url
    with qtbot.waitSignal(window.usage_shown, timeout=30_000):
        with qtbot.waitSignal(dialog.downloaded, timeout=30_000) as downloaded:
            dialog.start_button.click()
    result = downloaded.args[0]
    assert os.path.isfile(os.path.join(result.path, "model.safetensors"))
    assert "org/fresh" in [repo.id for repo in window.repo_model.repos()]
    assert [dialog.files.topLevelItem(i).text(2) for i in range(dialog.files.topLevelItemCount())] == ["done", "done"]
