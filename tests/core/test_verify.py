"""Verify offline: blobs re-hashed against their names (sha256 for LFS files, git sha1 for others)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from explorer.core import verify as verify_module
from explorer.core.hash_memory import HashMemory
from explorer.core.hashing import GIT_SHA1, SHA256, expected_digest
from explorer.core.jobs import CancelToken, Cancelled, run_to_end
from explorer.core.verify import Verdict, VerifyProgress, verify_job
from explorer.core.verify_targets import TargetNotFound, cache_targets, find_targets, repo_targets, revision_targets
from tests.core.hub_layout import HubRepo, age_tree, commit_hash

WEIGHTS = bytes(range(256)) * 4096  # 1 MiB
CONFIG = b'{"model_type": "bert"}'


def git_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@pytest.fixture
def cache(tmp_path) -> Path:
    root = tmp_path / "hub"
    repo = HubRepo(root, "org/model")
    first, second = commit_hash("first"), commit_hash("second")
    repo.add(first, "model.safetensors", WEIGHTS)
    repo.add(first, "config.json", CONFIG)
    repo.add(second, "model.safetensors", WEIGHTS)  # the same blob in two revisions
    repo.add(second, "config.json", b'{"model_type": "gpt2"}')
    repo.ref("main", second)
    other = HubRepo(root, "org/other")
    other.add(commit_hash("other"), "pytorch_model.bin", b"other weights" * 1000)
    age_tree(root)  # a cache downloaded a while ago: its mtimes are settled
    return root


def blob(root: Path, repo: str, content: bytes, lfs: bool = True) -> Path:
    name = hashlib.sha256(content).hexdigest() if lfs else git_sha1(content)
    return root / f"models--{repo.replace('/', '--')}" / "blobs" / name


def flip_one_byte(path: Path, offset: int = 1000, keep_mtime: bool = False) -> None:
    before = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(offset)
        value = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([value[0] ^ 0xFF]))
    if keep_mtime:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    else:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns - 60_000_000_000))  # another, settled mtime
    assert path.stat().st_size == before.st_size


def verify(targets, memory=None, recheck=False, seen=None):
    return run_to_end(verify_job(targets, memory=memory, recheck=recheck), seen.append if seen is not None else None)


def test_names_say_which_hash_to_expect():
    assert expected_digest("a" * 64) == (SHA256, "a" * 64)
    assert expected_digest("b" * 40) == (GIT_SHA1, "b" * 40)
    assert expected_digest("sha256-" + "c" * 64) == (SHA256, "c" * 64)  # Ollama's blobs
    assert expected_digest("model.safetensors") is None
    assert expected_digest("g" * 64) is None


def test_good_blobs_of_a_repo_are_ok_and_a_shared_blob_is_read_once(cache):
    seen = []
    report = verify(find_targets("org/model", str(cache)), seen=seen)
    assert report.counts[Verdict.OK.value] == 3 and report.intact
    weights = next(f for f in report.files if f.algorithm == SHA256)
    assert weights.expected == weights.actual == hashlib.sha256(WEIGHTS).hexdigest()
    assert sorted(use.revision for use in weights.uses) == sorted([commit_hash("first"), commit_hash("second")])
    configs = [f for f in report.files if f.algorithm == GIT_SHA1]
    assert sorted(f.actual for f in configs) == sorted([git_sha1(CONFIG), git_sha1(b'{"model_type": "gpt2"}')])
    assert report.bytes_hashed == len(WEIGHTS) + len(CONFIG) + len(b'{"model_type": "gpt2"}')
    # Each verdict was yielded as it was known, and progress counted bytes up to the total.
    assert [item for item in seen if not isinstance(item, VerifyProgress)] == report.files
    last = [item for item in seen if isinstance(item, VerifyProgress)][-1]
    assert last.done == last.total == report.bytes_hashed


def test_one_revision_and_the_whole_cache(cache):
    main = find_targets("org/model@main", str(cache))
    assert sorted(t.uses[0].file for t in main) == ["config.json", "model.safetensors"]
    assert {use.revision for t in main for use in t.uses} == {commit_hash("second")}
    assert revision_targets(str(cache / "models--org--model" / "snapshots" / commit_hash("first")))[0].uses[0].revision == commit_hash("first")
    assert len(find_targets("org/model@" + commit_hash("first")[:8], str(cache))) == 2
    everything = verify(cache_targets(str(cache)))
    assert everything.counts[Verdict.OK.value] == 4
    with pytest.raises(TargetNotFound):
        find_targets("org/model@nope", str(cache))
    with pytest.raises(TargetNotFound):
        find_targets("org/absent", str(cache))


def test_same_size_corruption_is_found(cache):
    weights = blob(cache, "org/model", WEIGHTS)
    config = blob(cache, "org/model", CONFIG, lfs=False)
    flip_one_byte(weights)
    flip_one_byte(config, offset=3)
    report = verify(repo_targets(str(cache / "models--org--model")))
    corrupt = {f.blob: f for f in report.corrupt}
    assert set(corrupt) == {weights.name, config.name}
    assert corrupt[weights.name].actual == hashlib.sha256(weights.read_bytes()).hexdigest() != weights.name
    assert corrupt[weights.name].size == len(WEIGHTS)
    assert not report.intact
    assert report.ordered()[0].verdict is Verdict.CORRUPT  # what needs the user comes first


def test_a_missing_blob_and_a_file_that_cannot_be_checked(cache):
    weights = blob(cache, "org/model", WEIGHTS)
    weights.unlink()
    snapshot = cache / "models--org--model" / "snapshots" / commit_hash("second")
    (snapshot / "notes.txt").write_bytes(b"a file copied where links were not possible")
    report = verify(revision_targets(str(snapshot)))
    missing = report.with_verdict(Verdict.MISSING)
    assert [f.blob for f in missing] == [weights.name] and missing[0].expected == weights.name and missing[0].size is None
    assert [f.uses[0].file for f in report.with_verdict(Verdict.NOT_CHECKABLE)] == ["notes.txt"]
    assert report.counts[Verdict.OK.value] == 1
    assert not report.intact


def test_a_blob_no_revision_uses_is_verified_with_its_repo(cache):
    repo = HubRepo(cache, "org/model")
    orphan = repo.blob_for(b"left behind" * 100, "old.safetensors")
    repo.incomplete_blob()  # an interrupted download: no hash to match yet
    targets = repo_targets(str(repo.path))
    assert [t.uses for t in targets if t.path == str(orphan)] == [()]
    assert not any(t.blob.endswith(".incomplete") for t in targets)


def test_an_unchanged_file_is_not_read_again(cache):
    memory_file = cache.parent / "memory.json"
    first = verify(find_targets("org/model", str(cache)), HashMemory.load(memory_file))
    assert first.bytes_hashed > 0 and memory_file.is_file()
    # Corrupt it in place, keeping size and mtime: only a read would see it.
    weights = blob(cache, "org/model", WEIGHTS)
    flip_one_byte(weights, keep_mtime=True)
    second = verify(find_targets("org/model", str(cache)), HashMemory.load(memory_file))
    assert second.bytes_hashed == 0 and second.bytes_remembered == first.bytes_hashed
    assert all(f.remembered and f.verdict is Verdict.OK for f in second.files)
    third = verify(find_targets("org/model", str(cache)), HashMemory.load(memory_file), recheck=True)
    assert [f.blob for f in third.corrupt] == [weights.name]


def test_a_changed_file_is_read_again(cache):
    memory_file = cache.parent / "memory.json"
    verify(find_targets("org/model", str(cache)), HashMemory.load(memory_file))
    weights = blob(cache, "org/model", WEIGHTS)
    flip_one_byte(weights)  # same size, another mtime
    report = verify(find_targets("org/model", str(cache)), HashMemory.load(memory_file))
    assert report.bytes_hashed == len(WEIGHTS)
    assert [f.blob for f in report.corrupt] == [weights.name] and not report.corrupt[0].remembered


def test_a_file_modified_just_now_is_not_remembered(tmp_path):
    repo = HubRepo(tmp_path / "hub", "org/fresh")
    repo.add(commit_hash("x"), "model.safetensors", WEIGHTS)  # mtime: now
    memory = HashMemory.load(tmp_path / "memory.json")
    assert verify(repo_targets(str(repo.path)), memory).counts["ok"] == 1
    assert len(memory) == 0  # its mtime may still tick with another write


def test_cancel_mid_file_stops_between_reads_and_remembers_nothing_of_it(tmp_path, monkeypatch):
    monkeypatch.setattr(verify_module, "PROGRESS_SECONDS", 0.0)  # a progress report per chunk read
    repo = HubRepo(tmp_path / "hub", "org/big")
    content = os.urandom(3 * (4 << 20) + 5)
    repo.add(commit_hash("big"), "model.safetensors", content)
    age_tree(repo.cache)
    memory = HashMemory.load(tmp_path / "memory.json")
    cancel = CancelToken()
    job = verify_job(repo_targets(str(repo.path)), cancel, memory)
    open_before = len(os.listdir("/proc/self/fd"))
    positions = []
    with pytest.raises(Cancelled):
        for item in job:
            if isinstance(item, VerifyProgress) and item.total and 0 < item.done < item.total:
                positions.append(item.done)
                cancel.cancel()
    assert positions == [4 << 20]  # one chunk read, then it stopped
    assert len(os.listdir("/proc/self/fd")) <= open_before  # the blob is closed
    assert len(memory) == 0


def test_hard_links_are_read_once(tmp_path):
    root = tmp_path / "hub"
    one, two = HubRepo(root, "org/one"), HubRepo(root, "org/two")
    first = one.blob_for(WEIGHTS, "model.safetensors")
    os.link(first, two.path / "blobs" / first.name)
    one.link(commit_hash("1"), "model.safetensors", first)
    two.link(commit_hash("2"), "model.safetensors", two.path / "blobs" / first.name)
    report = verify(cache_targets(str(root)))
    assert report.counts["ok"] == 2 and report.bytes_hashed == len(WEIGHTS)


HOSTILE_MEMORIES = {
    "not json": b"garbage\n[[",
    "wrong digest": b'{"format": 1, "sha256": "' + b"0" * 64 + b'"}\n[]',
    "cut short": None,  # a valid file with its last bytes gone
    "a digest that is not hex": "row:zz",
    "a negative inode": "row:neg",
    "a huge number": "row:huge",
    "a row too long": "row:long",
    "deep nesting": b'{"format": 1, "sha256": "x"}\n' + b"[" * 100000,
}


def _memory_with_row(row) -> bytes:
    import json

    data = json.dumps([row]).encode()
    return json.dumps({"format": 1, "sha256": hashlib.sha256(data).hexdigest()}).encode() + b"\n" + data


@pytest.mark.parametrize("kind", sorted(HOSTILE_MEMORIES))
def test_a_hostile_memory_file_is_ignored_and_replaced(cache, kind):
    memory_file = cache.parent / "memory.json"
    weights = blob(cache, "org/model", WEIGHTS)
    st = weights.stat()
    identity = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]
    rows = {
        "row:zz": identity + ["zz" * 32, None, 1.0],
        "row:neg": [st.st_dev, -1, st.st_size, st.st_mtime_ns, weights.name, None, 1.0],
        "row:huge": [st.st_dev, st.st_ino, 10**30, st.st_mtime_ns, weights.name, None, 1.0],
        "row:long": identity + [weights.name, None, 1.0, "extra"],
    }
    content = HOSTILE_MEMORIES[kind]
    if content is None:
        verify(find_targets("org/model", str(cache)), HashMemory.load(memory_file))
        content = memory_file.read_bytes()[:-3]
    elif isinstance(content, str):
        content = _memory_with_row(rows[content])
    memory_file.write_bytes(content)
    memory = HashMemory.load(memory_file)
    assert memory.ignored_file and len(memory) == 0
    report = verify(find_targets("org/model", str(cache)), memory)
    assert report.bytes_remembered == 0 and report.counts["ok"] == 3
    assert report.notes  # said, not silently
    assert not HashMemory.load(memory_file).ignored_file  # replaced by a good one


def test_a_fifo_as_memory_file_does_not_block(cache):
    memory_file = cache.parent / "memory.json"
    os.mkfifo(memory_file)
    assert HashMemory.load(memory_file).ignored_file


def test_memory_is_bounded_to_the_latest_entries(tmp_path):
    memory = HashMemory(tmp_path / "memory.json", max_entries=2)
    for inode in range(5):
        memory.remember((1, inode, 10, 1), {SHA256: "a" * 64}, read_started_ns=10**19)
    memory.save()
    assert len(HashMemory.load(tmp_path / "memory.json")) == 2


def test_json_report_lists_files_and_totals(cache):
    flip_one_byte(blob(cache, "org/model", WEIGHTS))
    data = verify(find_targets("org/model", str(cache))).to_json()
    assert data["files"][0]["verdict"] == "corrupt"
    assert {"path", "blob", "uses", "verdict", "algorithm", "expected", "actual", "size", "remembered", "detail"} == set(data["files"][0])
    assert data["totals"]["corrupt"] == 1 and data["totals"]["ok"] == 2 and data["totals"]["files"] == 3


def test_the_files_of_scanned_checkpoints_and_an_ollama_blob(cache, tmp_path):
    from explorer.core.checkpoint import SOURCE_HUB_CACHE
    from explorer.core.discovery import ScanLocation, Scanner
    from explorer.core.verify_targets import BlobTarget, checkpoint_targets

    checkpoints, _ = run_to_end(Scanner().scan([ScanLocation(SOURCE_HUB_CACHE, str(cache))]))
    main = [c for c in checkpoints if "main" in c.refs]
    report = verify(checkpoint_targets(main))
    assert sorted(f.uses[0].file for f in report.files) == ["config.json", "model.safetensors"]
    assert report.counts["ok"] == 2
    ollama = tmp_path / "ollama" / "blobs"
    ollama.mkdir(parents=True)
    layer = ollama / ("sha256-" + hashlib.sha256(b"gguf bytes").hexdigest())
    layer.write_bytes(b"gguf bytes")
    assert verify([BlobTarget(str(layer), layer.name)]).counts["ok"] == 1


def test_targets_listed_by_a_function_are_listed_inside_the_job(cache):
    calls = []

    def listing():
        calls.append(1)
        return cache_targets(str(cache))

    job = verify_job(listing)
    assert calls == []  # creating the job (on the window's thread) lists nothing
    assert run_to_end(job).counts["ok"] == 4 and calls == [1]


def test_the_memory_file_is_read_when_first_used(cache):
    memory_file = cache.parent / "memory.json"
    verify(find_targets("org/model", str(cache)), HashMemory.load(memory_file))
    memory = HashMemory.load(memory_file)
    memory_file.rename(cache.parent / "elsewhere.json")  # nothing was read yet: it now finds none
    assert len(memory) == 0 and not memory.ignored_file


def test_a_link_to_a_folder_in_a_folder_is_not_followed(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"x")
    os.symlink(tmp_path, folder / "loop")
    assert [t.uses[0].file for t in find_targets(str(folder), str(tmp_path / "hub"))] == ["weights.bin"]


def test_a_fifo_in_place_of_a_blob_is_unreadable_and_never_blocks(cache):
    weights = blob(cache, "org/model", WEIGHTS)
    weights.unlink()
    os.mkfifo(weights)
    report = verify(find_targets("org/model", str(cache)))
    unreadable = report.with_verdict(Verdict.UNREADABLE)
    assert [f.blob for f in unreadable] == [weights.name] and "not a regular file" in unreadable[0].detail
    assert report.counts["ok"] == 2 and not report.corrupt


def test_huggingface_hubs_shared_blob_store_is_verified_through_each_repos_blob(tmp_path):
    """huggingface_hub 2.4 moves Xet downloads to <cache>/blobs/<xx>/<xet hash> and links each repo's
    blobs/<sha256> to it: the name to check is the repo's blob, the content is read once."""
    from huggingface_hub.utils import _shared_blobs

    from explorer.core.duplicates import duplicates_job

    if not hasattr(_shared_blobs, "publish_blob_to_shared_store"):
        pytest.skip("this huggingface_hub has no shared blob store")
    cache = tmp_path / "hub"
    cache.mkdir()
    assert _shared_blobs._ensure_shared_blobs_dir(cache)
    for name in ("org/a", "org/b"):
        repo = HubRepo(cache, name)
        weights = repo.blob_for(WEIGHTS, "model.safetensors")
        repo.link(commit_hash(name), "model.safetensors", weights)
        assert _shared_blobs.publish_blob_to_shared_store(blob_path=str(weights), xet_hash="ab" + "c" * 62, cache_dir=cache, expected_size=len(WEIGHTS))
        assert weights.is_symlink()
    age_tree(cache)
    report = verify(find_targets(str(cache), str(cache)))
    assert report.counts["ok"] == 2 and len(report.files) == 2 and report.bytes_hashed == len(WEIGHTS)
    assert run_to_end(duplicates_job(cache_targets(str(cache)), min_size=0)).groups == []  # one payload, no waste
    store = cache / "blobs" / "ab" / ("ab" + "c" * 62)
    flip_one_byte(store)
    assert len(verify(cache_targets(str(cache))).corrupt) == 2
