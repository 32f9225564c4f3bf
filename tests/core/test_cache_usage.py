"""Per-repo usage of a hub cache: equal to scan_cache_dir's figures; sort, filter, access times, totals."""

from __future__ import annotations

import os

from huggingface_hub import scan_cache_dir

from explorer.core.cache_usage import access_times, cache_usage, filter_usage, mount_options, repo_revisions, sort_usage, source_totals
from explorer.core.checkpoint import Checkpoint, CheckpointFile
from tests.core.hub_layout import HubRepo
from tests.core.test_cache_manage import build_cache


def test_usage_equals_scan_cache_dir(tmp_path):
    cache = build_cache(tmp_path)
    usage = cache_usage(cache)
    hf = {r.repo_id: r for r in scan_cache_dir(cache).repos}
    assert {r.id for r in usage.repos} == set(hf)
    for repo in usage.repos:
        theirs = hf[repo.id]
        assert (repo.size_bytes, repo.blobs, repo.revisions) == (theirs.size_on_disk, theirs.nb_files, len(theirs.revisions))
        assert (repo.last_accessed, repo.last_modified) == (theirs.last_accessed, theirs.last_modified)
    a = next(r for r in usage.repos if r.id == "org/a")
    assert a.refs == ("main", "v1") and a.incomplete_bytes == len(b"half a download")
    assert usage.size_bytes == sum(r.size_on_disk for r in hf.values())


def test_sort_and_filter(tmp_path):
    cache = build_cache(tmp_path)
    repos = cache_usage(cache).repos
    assert [r.id for r in sort_usage(repos, "size")] == ["org/a", "org/b", "org/c"]
    assert [r.id for r in sort_usage(repos, "revisions")] == ["org/a", "org/c", "org/b"]
    assert [r.id for r in sort_usage(repos, "name:desc")] == ["org/c", "org/b", "org/a"]
    blob = next((HubRepo(cache, "org/b").path / "blobs").iterdir())
    os.utime(blob, (5e9, 5e9))
    newest = sort_usage(cache_usage(cache).repos, "modified")
    assert newest[0].id == "org/b" and sort_usage(newest, "accessed:asc")[-1].id == "org/b"
    assert [r.id for r in filter_usage(repos, "ORG c")] == ["org/c"]


def test_access_times_from_the_mount_table(tmp_path):
    mounts = tmp_path / "mounts"
    folder = tmp_path / "data" / "hub"
    folder.mkdir(parents=True)
    read = [(200.0, 100.0)]
    for options, recorded, words in (
        ("rw,noatime", False, "noatime"),
        ("rw,relatime", True, "once a day"),
        ("rw,strictatime", True, ""),
    ):
        mounts.write_text(f"/dev/sda1 / ext4 rw,strictatime 0 0\n/dev/sdb1 {tmp_path / 'data'} ext4 {options} 0 0\n")
        assert mount_options(str(folder), str(mounts)) == options
        found = access_times(str(folder), read, str(mounts))
        assert found.recorded is recorded and words in found.note
    never_read = access_times(str(folder), [(100.0, 100.0), (50.0, 50.0)], str(mounts))
    assert never_read.recorded is None and "never read" in never_read.note
    assert access_times(str(folder), read, str(tmp_path / "no-mount-table")) .recorded is None


def test_totals_per_source_count_each_content_once():
    def ckpt(source, *files):
        return Checkpoint(id="x", source=source, path="/x", files=[CheckpointFile(n, f"/x/{n}", s, c) for n, s, c in files])

    rows = source_totals(
        [
            ckpt("hub-cache", ("a", 100, (1, 1)), ("b", 10, (1, 2))),
            ckpt("hub-cache", ("a", 100, (1, 1)), ("c", 5, (1, 3))),  # a revision sharing a blob
            ckpt("folder", ("w", 40, None), ("gone", None, None)),
        ]
    )
    assert [(r.source, r.checkpoints, r.size_bytes) for r in rows] == [("hub-cache", 2, 115), ("folder", 1, 40)]


def test_revisions_of_a_repo_with_what_deleting_each_alone_frees(tmp_path):
    from tests.core.test_cache_manage import C1, C2, C3

    cache = build_cache(tmp_path)
    rows = repo_revisions(str(HubRepo(cache, "org/a").path))
    info = scan_cache_dir(cache)
    hf = {r.commit_hash: r for repo in info.repos if repo.repo_id == "org/a" for r in repo.revisions}
    assert {r.commit for r in rows} == {C1, C2, C3}
    for row in rows:
        theirs = hf[row.commit]
        assert (row.size_bytes, row.files, row.last_modified) == (theirs.size_on_disk, len(theirs.files), theirs.last_modified)
        assert row.refs == tuple(sorted(theirs.refs))
        assert row.own_bytes == info.delete_revisions(row.commit).expected_freed_size
