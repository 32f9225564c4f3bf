"""Duplicates: the same content in several repos, revisions or folders, and the space it wastes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE
from explorer.core.discovery import ScanLocation, Scanner
from explorer.core.duplicates import duplicates_job
from explorer.core.hash_memory import HashMemory
from explorer.core.jobs import CancelToken, Cancelled, run_to_end
from explorer.core.verify import VerifyProgress, verify_job
from explorer.core.verify_targets import cache_targets, checkpoint_targets, find_targets
from tests.core.hub_layout import HubRepo, age_tree, commit_hash

SIZE = 1 << 20
WEIGHTS = os.urandom(SIZE)
CONFIG = b'{"model_type": "bert", "architectures": ["BertModel"]}'


def twin(content: bytes) -> bytes:
    """Same size and same first and middle bytes, another ending: a fine-tune of the same model."""
    return content[:-10] + bytes(10)


@pytest.fixture
def places(tmp_path) -> tuple[Path, Path]:
    hub = tmp_path / "hub"
    for name in ("org/one", "org/two"):
        repo = HubRepo(hub, name)
        repo.add(commit_hash(name), "config.json", CONFIG)
        repo.add(commit_hash(name), "model.safetensors", WEIGHTS)
        repo.ref("main", commit_hash(name))
    shared = HubRepo(hub, "org/revisions")  # one blob under two revisions wastes nothing
    for label in ("a", "b"):
        shared.add(commit_hash(label), "model.safetensors", twin(WEIGHTS))
    folder = tmp_path / "my-models"
    for name in ("copy", "linked"):
        (folder / name).mkdir(parents=True)
        (folder / name / "config.json").write_bytes(CONFIG)
    (folder / "copy" / "model.safetensors").write_bytes(WEIGHTS)
    os.link(folder / "copy" / "model.safetensors", folder / "linked" / "model.safetensors")  # a hard link: no space of its own
    age_tree(tmp_path)
    return hub, folder


def search(targets, **options):
    seen = []
    report = run_to_end(duplicates_job(targets, **options), seen.append)
    return report, seen


def scanned(hub: Path, folder: Path):
    locations = [ScanLocation(SOURCE_HUB_CACHE, str(hub)), ScanLocation(SOURCE_FOLDER, str(folder))]
    checkpoints, _ = run_to_end(Scanner().scan(locations))
    return checkpoints


def test_the_same_content_across_repos_and_a_folder_with_a_hard_link_counted_once(places):
    hub, folder = places
    report, seen = search(checkpoint_targets(scanned(hub, folder)))
    assert len(report.groups) == 1
    group = report.groups[0]
    assert group.sha256 == hashlib.sha256(WEIGHTS).hexdigest() and group.size == SIZE
    assert len(group.copies) == 3  # org/one, org/two and the folder's file (two names, one inode)
    assert group.wasted_bytes == report.wasted_bytes == 2 * SIZE
    linked = next(c for c in group.copies if len(c.paths) == 2)
    assert sorted(Path(p).parent.name for p in linked.paths) == ["copy", "linked"]
    assert any(use.startswith("org/one@") for c in group.copies for use in c.uses)
    assert group.on_one_device
    assert [item for item in seen if not isinstance(item, VerifyProgress)] == report.groups


def test_same_size_different_content_is_set_apart_without_hashing(places):
    hub, _ = places
    report, _ = search(cache_targets(str(hub)))
    # org/one and org/two share content (hashed); the twin of the same size differs in its last bytes.
    assert [len(g.copies) for g in report.groups] == [2]
    assert report.bytes_hashed == 2 * SIZE


def test_revisions_sharing_a_blob_waste_nothing(places):
    hub, _ = places
    report, _ = search(find_targets("org/revisions", str(hub)))
    assert report.groups == [] and report.bytes_hashed == 0


def test_digests_verify_remembered_are_not_computed_again(places, tmp_path):
    hub, _ = places
    memory_file = tmp_path / "memory.json"
    run_to_end(verify_job(cache_targets(str(hub)), memory=HashMemory.load(memory_file)))
    report, _ = search(cache_targets(str(hub)), memory=HashMemory.load(memory_file))
    assert report.bytes_hashed == 0
    assert len(report.groups) == 1 and {c.digest_source for c in report.groups[0].copies} == {"remembered"}


def test_hashes_found_are_remembered_for_verify(places, tmp_path):
    hub, _ = places
    memory_file = tmp_path / "memory.json"
    search(cache_targets(str(hub)), memory=HashMemory.load(memory_file))
    report = run_to_end(verify_job(find_targets("org/one", str(hub)), memory=HashMemory.load(memory_file)))
    weights = next(f for f in report.files if f.size == SIZE)
    assert weights.remembered and weights.verdict.value == "ok"


def test_blob_names_can_be_taken_at_their_word(places):
    hub, _ = places
    report, _ = search(cache_targets(str(hub)), trust_blob_names=True)
    assert report.bytes_hashed == 0 and report.groups[0].copies[0].digest_source == "blob name"


def test_small_files_are_left_out_unless_asked(places):
    hub, _ = places
    assert search(cache_targets(str(hub)), min_size=SIZE + 1)[0].groups == []
    small, _ = search(cache_targets(str(hub)), min_size=0)
    assert {g.size for g in small.groups} == {SIZE, len(CONFIG)}  # config.json is in both repos


def test_cancel_while_hashing(places, monkeypatch):
    from explorer.core import duplicates, hashing

    monkeypatch.setattr(duplicates, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(duplicates, "Reader", lambda: hashing.Reader(1 << 16))  # a 1 MiB file is 16 reads
    hub, _ = places
    cancel = CancelToken()
    stopped_at = []
    with pytest.raises(Cancelled):
        for item in duplicates_job(cache_targets(str(hub)), cancel):
            if isinstance(item, VerifyProgress) and item.total and 0 < item.done < item.total:
                stopped_at.append(item.done)
                cancel.cancel()
    assert stopped_at == [1 << 16]
