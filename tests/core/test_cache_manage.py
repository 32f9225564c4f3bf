"""Delete and prune in a hub cache: the plan equals huggingface_hub's strategy, the execution is safe."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from huggingface_hub import scan_cache_dir

from explorer.core.cache_delete import delete_job, run_plan
from explorer.core.cache_manage import BLOB, REF, SNAPSHOT, Selected, SelectionError, plan_delete, plan_prune
from explorer.core.jobs import CancelToken, Progress
from tests.core.hub_layout import HubRepo, age_tree, commit_hash

C1, C2, C3 = commit_hash("one"), commit_hash("two"), commit_hash("three")
D1 = commit_hash("other")


def build_cache(root: Path) -> Path:
    """org/a: three revisions sharing config and tokenizer, main and v1 refs, one detached revision;
    org/b: one revision on main; org/c: only detached revisions; and an interrupted download."""
    a = HubRepo(root, "org/a")
    for commit, weights in ((C1, b"w1" * 300), (C2, b"w2" * 400), (C3, b"w3" * 500)):
        a.add(commit, "config.json", b'{"model_type": "gpt2"}')
        a.add(commit, "tokenizer.json", b"{}" if commit != C3 else b'{"v": 3}')
        a.add(commit, "model.safetensors", weights)
    a.add(C2, "sub/extra.bin", b"x" * 64)
    a.ref("main", C3)
    a.ref("v1", C1)
    b = HubRepo(root, "org/b")
    b.add(D1, "config.json", b"{}")
    b.add(D1, "model.safetensors", b"b" * 1000)
    b.ref("main", D1)
    c = HubRepo(root, "org/c")
    c.add(commit_hash("c1"), "model.safetensors", b"c" * 700)
    c.add(commit_hash("c2"), "model.safetensors", b"d" * 10)
    a.incomplete_blob(b"half a download")
    age_tree(root)
    return root


def listing(root: Path) -> set[str]:
    found = set()
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


def relative(paths, root) -> set[str]:
    return {os.path.relpath(str(p), str(root)) for p in paths}


def hf_delete(tmp_path: Path, selection_hashes: list[str]):
    """The same cache deleted by huggingface_hub's own strategy: (strategy, the cache after it ran)."""
    copy = build_cache(tmp_path / "hf")
    strategy = scan_cache_dir(copy).delete_revisions(*selection_hashes)
    return strategy, copy


def strategy_paths(strategy) -> set:
    return {*strategy.repos, *strategy.snapshots, *strategy.refs, *strategy.blobs}


def assert_same_as_hf(tmp_path, selection, hashes):
    ours = build_cache(tmp_path / "ours")
    plan = plan_delete(ours, selection)
    strategy, copy = hf_delete(tmp_path, hashes)
    assert plan.freed_bytes == strategy.expected_freed_size > 0
    assert relative(plan.paths, ours) == relative(strategy_paths(strategy), copy)
    assert sum(step.size_bytes for step in plan.steps) == plan.freed_bytes
    result = run_plan(plan)
    strategy.execute()
    assert result.complete and result.freed_bytes == plan.freed_bytes
    assert listing(ours) == listing(copy)
    assert not scan_cache_dir(ours).warnings
    return plan


def test_one_revision_of_several_frees_only_its_own_blobs(tmp_path):
    plan = assert_same_as_hf(tmp_path, [f"org/a@{C2}"], [C2])
    assert [r.commit for r in plan.revisions] == [C2] and not plan.repos
    assert plan.freed_bytes == 800 + 64  # its weights and extra.bin; config and tokenizer stay for C1


def test_a_whole_repo_goes_with_its_folder(tmp_path):
    plan = assert_same_as_hf(tmp_path, ["org/b"], [D1])
    assert relative(plan.repos, tmp_path / "ours") == {"models--org--b"}
    assert plan.revisions[0].whole_repo and plan.revisions[0].refs == ("main",)


def test_several_repos_and_revisions_at_once(tmp_path):
    assert_same_as_hf(tmp_path, [f"org/a@{C1}", f"org/a@{C3}", "org/b", "org/c"], [C1, C3, D1, commit_hash("c1"), commit_hash("c2")])


def test_every_revision_of_a_repo_named_one_by_one_is_the_whole_repo(tmp_path):
    plan = assert_same_as_hf(tmp_path, [f"org/a@{c}" for c in (C1, C2, C3)], [C1, C2, C3])
    assert relative(plan.repos, tmp_path / "ours") == {"models--org--a"}


def test_revisions_named_by_ref_and_short_hash(tmp_path):
    ours = build_cache(tmp_path)
    by_ref = plan_delete(ours, ["org/a@v1", "org/a@main"])
    by_hash = plan_delete(ours, [f"org/a@{C1[:8]}", f"org/a@{C3}"])
    assert by_ref == by_hash
    assert {r.commit for r in by_ref.revisions} == {C1, C3}
    assert relative(by_ref.refs, ours) == {"models--org--a/refs/main", "models--org--a/refs/v1"}


def test_unknown_repo_and_revision_are_named(tmp_path):
    ours = build_cache(tmp_path)
    with pytest.raises(SelectionError) as error:
        plan_delete(ours, ["org/missing", "org/a@nope", "org/a@0000"])
    lines = str(error.value).splitlines()
    assert len(lines) == 3 and "org/missing" in lines[0] and "org/a@nope" in lines[1] and "main" in lines[1]


def test_selection_from_a_scanned_repo_folder(tmp_path):
    ours = build_cache(tmp_path)
    selected = Selected.from_repo_folder(str(ours / "models--org--a"), C2)
    assert selected == Selected("org/a", C2, "model") and str(selected) == f"org/a@{C2}"
    assert plan_delete(ours, [selected]).revisions[0].commit == C2


def test_prune_equals_hf_for_detached_revisions_plus_incomplete(tmp_path):
    ours = build_cache(tmp_path / "ours")
    plan = plan_prune(ours)
    info = scan_cache_dir(tmp_path / "ours")
    detached = [r.commit_hash for repo in info.repos for r in repo.revisions if not r.refs]
    assert sorted(detached) == sorted([C2, commit_hash("c1"), commit_hash("c2")])
    strategy, copy = hf_delete(tmp_path, detached)
    assert plan.freed_bytes == strategy.expected_freed_size + info.incomplete_size_on_disk
    assert relative(plan.paths, ours) == relative(strategy_paths(strategy), copy) | relative(plan.incomplete, ours)
    assert len(plan.incomplete) == 1 and plan.incomplete[0].endswith(".incomplete")
    result = run_plan(plan)
    strategy.execute()
    for leftover in scan_cache_dir(copy).incomplete_files:
        leftover.file_path.unlink()
    assert result.complete and listing(ours) == listing(copy)
    assert plan_prune(ours).is_empty


def test_prune_leaves_a_download_in_progress(tmp_path):
    ours = build_cache(tmp_path)
    fresh = HubRepo(ours, "org/b").incomplete_blob(b"still downloading")
    plan = plan_prune(ours)
    assert str(fresh) not in plan.paths and len(plan.incomplete) == 1


def test_prune_finds_blobs_no_revision_links_to(tmp_path):
    ours = build_cache(tmp_path)
    stray = ours / "models--org--b" / "blobs" / ("f" * 64)
    stray.write_bytes(b"s" * 33)
    age_tree(ours)
    plan = plan_prune(ours)
    assert plan.unreferenced == (str(stray),)
    run_plan(plan)
    assert not stray.exists() and (ours / "models--org--b" / "snapshots" / D1 / "model.safetensors").is_file()


@contextmanager
def undeletable(folder: Path):
    """Nothing in ``folder`` can be removed while inside: read-only for a user, immutable (chattr) for root."""
    if os.geteuid() != 0:
        os.chmod(folder, 0o555)
        undo = ["chmod", "755", str(folder)]
    else:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("cannot make a folder undeletable here (root without chattr support)")
        undo = ["chattr", "-i", str(folder)]
    try:
        probe = folder / "probe"
        try:
            probe.write_bytes(b"")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("this file system lets anything be removed")
        yield
    finally:
        subprocess.run(undo, check=True)


def test_a_snapshot_that_cannot_be_removed_keeps_its_blobs_and_a_second_run_finishes(tmp_path):
    ours = build_cache(tmp_path / "ours")
    strategy, copy = hf_delete(tmp_path, [C1, C2])
    plan = plan_delete(ours, [f"org/a@{C1}", f"org/a@{C2}"])
    snapshot = ours / "models--org--a" / "snapshots" / C1
    with undeletable(snapshot):
        result = run_plan(plan)
    assert [path for path, _ in result.failed] == [str(snapshot)]
    c1_only = {str(b) for b in strategy.blobs} - {str(f.blob_path) for r in scan_cache_dir(copy).repos for rev in r.revisions if rev.commit_hash == C2 for f in rev.files}
    assert c1_only and all(os.path.exists(p.replace(str(copy), str(ours))) for p in c1_only)
    assert all(kind_path[0] in {str(p).replace(str(copy), str(ours)) for p in strategy.blobs} for kind_path in result.skipped)
    info = scan_cache_dir(ours)  # the cache reads as before, C1 now detached
    assert not info.warnings
    revisions = {r.commit_hash: r for repo in info.repos if repo.repo_id == "org/a" for r in repo.revisions}
    assert set(revisions) == {C1, C3} and not revisions[C1].refs
    again = run_plan(plan_delete(ours, [f"org/a@{C1}"]))
    strategy.execute()
    assert again.complete and listing(ours) == listing(copy)


def test_blobs_that_cannot_be_removed_leave_a_readable_cache_and_prune_finishes(tmp_path):
    ours = build_cache(tmp_path / "ours")
    plan = plan_delete(ours, [f"org/a@{C2}"])
    with undeletable(ours / "models--org--a" / "blobs"):
        result = run_plan(plan)
    assert {p for p, _ in result.failed} == {s.path for s in plan.steps if s.kind == BLOB}
    assert {p for p in result.removed} == {s.path for s in plan.steps if s.kind in (REF, SNAPSHOT)}
    assert not scan_cache_dir(ours).warnings
    finish = plan_prune(ours)
    assert set(finish.unreferenced) == set(plan.blobs)
    assert run_plan(finish).complete
    # The prune also took org/c (detached) and the interrupted download: as hf's prune would.
    strategy, copy = hf_delete(tmp_path, [C2, commit_hash("c1"), commit_hash("c2")])
    strategy.execute()
    pruned_incomplete = {p for p in listing(copy) if p.endswith(".incomplete")}
    assert listing(ours) == listing(copy) - pruned_incomplete


def test_cancel_between_removals_leaves_a_readable_cache(tmp_path):
    ours = build_cache(tmp_path / "ours")
    plan = plan_delete(ours, ["org/a", "org/b"])
    for stop_after in range(1, len(plan.steps)):
        cache = tmp_path / f"run{stop_after}"
        shutil.copytree(ours, cache, symlinks=True)
        token = CancelToken()
        job = delete_job(plan_delete(cache, ["org/a", "org/b"]), token)
        steps = 0
        try:
            while True:
                item = next(job)
                if isinstance(item, Progress) and item.done:
                    steps += 1
                    if steps == stop_after:
                        token.cancel()
        except StopIteration as stop:
            result = stop.value
        assert result.cancelled and len(result.removed) == stop_after
        assert not scan_cache_dir(cache).warnings, stop_after
        present = [r for r in ("org/a", "org/b") if (cache / f"models--{r.replace('/', '--')}").exists()]
        assert run_plan(plan_delete(cache, present)).complete
        assert not (cache / "models--org--a").exists() and not (cache / "models--org--b").exists()


def test_a_snapshot_link_out_of_the_cache_is_removed_as_a_link(tmp_path):
    outside = tmp_path / "elsewhere" / "weights.safetensors"
    outside.parent.mkdir()
    outside.write_bytes(b"o" * 500)
    cache = build_cache(tmp_path / "cache")
    repo = HubRepo(cache, "org/a")
    link = repo.snapshot(C2) / "linked.safetensors"
    os.symlink(outside, link)
    plan = plan_delete(cache, [f"org/a@{C2}"])
    strategy = scan_cache_dir(cache).delete_revisions(C2)
    assert str(outside) in {str(b) for b in strategy.blobs}  # hf would delete the file outside the cache
    assert str(outside) not in plan.paths and [k.path for k in plan.kept] == [str(outside)]
    assert plan.freed_bytes == strategy.expected_freed_size - 500
    result = run_plan(plan)
    assert result.complete and not os.path.lexists(link)
    assert outside.read_bytes() == b"o" * 500


def test_a_repo_folder_that_is_a_link_out_of_the_cache_goes_as_a_link(tmp_path):
    elsewhere = build_cache(tmp_path / "elsewhere")
    cache = tmp_path / "cache"
    cache.mkdir()
    os.symlink(elsewhere / "models--org--b", cache / "models--org--b")
    before = listing(elsewhere)
    plan = plan_delete(cache, ["org/b"])
    assert plan.freed_bytes == 0 and [s.path for s in plan.steps] == [str(cache.resolve() / "models--org--b")]
    assert run_plan(plan).complete
    assert not os.path.lexists(cache / "models--org--b") and listing(elsewhere) == before


def test_plain_folders_in_the_cache_are_never_deleted(tmp_path):
    cache = build_cache(tmp_path)
    plain = cache / "my-model"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    lookalike = cache / "models--org--plain"  # a folder named like a repo but not one (no snapshots)
    lookalike.mkdir()
    (lookalike / "weights.bin").write_bytes(b"keep")
    age_tree(cache)
    with pytest.raises(SelectionError):
        plan_delete(cache, ["my-model"])
    with pytest.raises(SelectionError):
        plan_delete(cache, ["org/plain"])
    notes = cache / "models--org--b" / "my-notes"  # a folder of the user's inside a repo folder
    notes.mkdir()
    (notes / "eval.txt").write_text("scores")
    (cache / "models--org--b" / ".no_exist" / D1).mkdir(parents=True)
    run_plan(plan_prune(cache))
    plan = plan_delete(cache, ["org/a", "org/b"])
    assert [k.path for k in plan.kept] == [str(notes)]
    result = run_plan(plan)
    assert [p for p, _ in result.skipped] == [str(cache / "models--org--b")] and not result.failed
    assert (plain / "config.json").read_text() == "{}" and (lookalike / "weights.bin").read_bytes() == b"keep"
    assert (notes / "eval.txt").read_text() == "scores" and not (cache / "models--org--b" / "blobs").exists()
    assert "org/b" in {r.repo_id for r in scan_cache_dir(cache).repos}  # no revision left, still readable
    assert plan_prune(cache).warnings  # huggingface_hub could not read them: said, never touched


def test_a_ref_moved_by_a_download_after_the_preview_stays(tmp_path):
    cache = build_cache(tmp_path)
    plan = plan_delete(cache, [f"org/a@{C1}"])
    HubRepo(cache, "org/a").ref("v1", C3)  # the tag moved while the dialog was open
    result = run_plan(plan)
    assert [p for p, _ in result.skipped] == [str(cache / "models--org--a" / "refs" / "v1")] and not result.failed
    assert (cache / "models--org--a" / "refs" / "v1").read_text() == C3
    assert not (cache / "models--org--a" / "snapshots" / C1).exists()
    assert not scan_cache_dir(cache).warnings


def test_a_revision_downloaded_after_the_preview_keeps_the_blobs(tmp_path):
    cache = build_cache(tmp_path)
    plan = plan_delete(cache, [f"org/a@{C2}"])
    late = commit_hash("late")
    HubRepo(cache, "org/a").add(late, "model.safetensors", b"w2" * 400)  # links the blob planned to go
    result = run_plan(plan)
    assert {p for p, _ in result.skipped} == set(plan.blobs)
    info = scan_cache_dir(cache)
    assert not info.warnings and late in {r.commit_hash for repo in info.repos for r in repo.revisions}


def test_shared_store_payload_counts_and_goes_with_its_last_link(tmp_path):
    from huggingface_hub.utils import _shared_blobs

    if not hasattr(_shared_blobs, "publish_blob_to_shared_store"):
        pytest.skip("this huggingface_hub has no shared blob store")
    for cache in (tmp_path / "ours", tmp_path / "hf"):
        cache.mkdir()
        assert _shared_blobs._ensure_shared_blobs_dir(cache)
        for name, commit in (("org/a", C1), ("org/b", D1)):
            repo = HubRepo(cache, name)
            repo.add(commit, "config.json", b"{}")
            blob = repo.path / "blobs" / ("e" * 64)
            blob.write_bytes(b"p" * 900)
            repo.link(commit, "model.safetensors", blob)
            repo.ref("main", commit)
            assert _shared_blobs.publish_blob_to_shared_store(blob_path=str(blob), xet_hash="ab" + "c" * 62, cache_dir=cache, expected_size=900)
    store = tmp_path / "ours" / "blobs" / "ab" / ("ab" + "c" * 62)
    one = plan_delete(tmp_path / "ours", ["org/a"])
    assert one.freed_bytes == scan_cache_dir(tmp_path / "hf").delete_revisions(C1).expected_freed_size == 2
    both = plan_delete(tmp_path / "ours", ["org/a", "org/b"])
    strategy = scan_cache_dir(tmp_path / "hf").delete_revisions(C1, D1)
    assert both.freed_bytes == strategy.expected_freed_size == 904 and str(store) in both.paths
    result = run_plan(both)
    strategy.execute()
    assert result.complete and result.freed_bytes == 904 and not store.exists()
    assert listing(tmp_path / "ours") == listing(tmp_path / "hf")


def test_selection_words():
    assert Selected.parse("org/a@main") == Selected("org/a", "main", None)
    assert Selected.parse("gpt2") == Selected("gpt2", None, None)
    assert Selected.parse("dataset/org/d@abc1234") == Selected("org/d", "abc1234", "dataset")
    assert str(Selected("org/d", None, "dataset")) == "dataset/org/d"


def test_a_dataset_repo_holding_the_same_commit_as_a_model_is_told_apart(tmp_path):
    cache = build_cache(tmp_path)
    HubRepo(cache, "org/a", repo_type="dataset").add(C1, "data.csv", b"a,b\n")  # a duplicated repo's history
    plan = plan_delete(cache, ["dataset/org/a"])
    assert relative(plan.repos, cache) == {"datasets--org--a"} and plan.freed_bytes == 4
    assert [r.repo_type for r in plan.revisions] == ["dataset"]
    model_c1 = plan_delete(cache, [f"org/a@{C1}"])
    assert model_c1.freed_bytes == 600 and all("models--org--a" in p for p in model_c1.paths)


def test_a_file_downloaded_after_the_preview_keeps_the_blob_it_reuses(tmp_path):
    cache = build_cache(tmp_path)
    stray = cache / "models--org--b" / "blobs" / ("f" * 64)
    stray.write_bytes(b"s" * 33)
    age_tree(cache)
    prune = plan_prune(cache)
    delete = plan_delete(cache, [f"org/a@{C2}"])
    HubRepo(cache, "org/b").link(D1, "reused.bin", stray)  # hf links an existing blob of the same content
    HubRepo(cache, "org/a").link(C3, "same-weights.safetensors", Path(delete.blobs[0]))
    kept = {p for p, _ in run_plan(delete).skipped} | {p for p, _ in run_plan(prune).skipped}
    assert {str(stray), delete.blobs[0]} <= kept
    assert stray.exists() and os.path.exists(delete.blobs[0]) and not scan_cache_dir(cache).warnings


def test_plans_as_jobs(tmp_path):
    from explorer.core.cache_manage import plan_delete_job, plan_prune_job
    from explorer.core.jobs import run_to_end

    cache = build_cache(tmp_path)
    assert run_to_end(plan_delete_job(cache, ["org/b"])) == plan_delete(cache, ["org/b"])
    assert run_to_end(plan_prune_job(cache)) == plan_prune(cache)
