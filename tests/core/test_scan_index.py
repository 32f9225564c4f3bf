"""Saved scans: a new session's first scan re-reads only what changed since the last one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from explorer.core import discovery, scan_index
from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE
from explorer.core.discovery import ScanLocation, Scanner
from explorer.core.jobs import CancelToken, Cancelled, run_to_end
from tests.core.hub_layout import HubRepo, age_tree, commit_hash, tree_state
from tests.core.test_discovery import REV_1, copy_sample, hub_cache  # noqa: F401  (fixture)


@pytest.fixture
def places(hub_cache, sample, tmp_path):  # noqa: F811
    user = tmp_path / "user"
    copy_sample(sample, "tiny-bert-ner", user / "ner")
    # A file name that is not valid UTF-8 must survive the round trip through the saved index.
    (user / "ner" / os.fsdecode(b"notes-\xff.txt")).write_bytes(b"odd name\n")
    age_tree(hub_cache)
    age_tree(user)
    return [ScanLocation(SOURCE_HUB_CACHE, str(hub_cache)), ScanLocation(SOURCE_FOLDER, str(user))]


def facts(checkpoints):
    return [
        (c.to_json(), [(f.name, f.path, f.size, f.content) for f in c.files], c.repo_size_bytes, c.origin, c.key)
        for c in checkpoints
    ]


def count_descriptions(monkeypatch) -> list[str]:
    described: list[str] = []
    real_describe = discovery.describe_checkpoint
    monkeypatch.setattr(discovery, "describe_checkpoint", lambda ckpt, *a: described.append(ckpt.path) or real_describe(ckpt, *a))
    return described


def test_next_session_reads_only_what_changed(places, sample, hub_cache, tmp_path, monkeypatch):  # noqa: F811
    index = tmp_path / "app-cache" / "scan-index.json"
    first, stats = run_to_end(Scanner(index_path=index).scan(places))
    assert stats.reused == 0 and len(first) == 4 and index.is_file()

    described = count_descriptions(monkeypatch)
    again, stats = run_to_end(Scanner(index_path=index).scan(places))  # a new session: a new Scanner
    assert described == [] and stats.reused == 4
    assert facts(again) == facts(first)

    # Meanwhile: a new revision downloaded, and main moved to it (refs are always read again).
    repo = HubRepo(hub_cache, "gpt2-tiny")
    new_rev = commit_hash("third")
    repo.add_folder(new_rev, sample("tiny-gpt2-lm"))
    repo.ref("main", new_rev)
    third, stats = run_to_end(Scanner(index_path=index).scan(places))
    assert described == [str(repo.snapshot(new_rev))]  # same content: no new blob, REV_1 untouched
    assert {c.revision: c.refs for c in third if c.id == "gpt2-tiny"} == {REV_1: [], new_rev: ["main"]}
    assert facts(third) == facts(run_to_end(Scanner().scan(places))[0])


def test_an_unchanged_scan_does_not_rewrite_the_index(places, tmp_path, monkeypatch):
    index = tmp_path / "scan-index.json"
    run_to_end(Scanner(index_path=index).scan(places))
    saves = []
    monkeypatch.setattr(scan_index, "save", lambda *a: saves.append(a))
    scanner = Scanner(index_path=index)
    run_to_end(scanner.scan(places))
    run_to_end(scanner.scan(places))
    assert saves == []


def _cut_short(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _flip_a_byte(raw: bytes) -> bytes:
    at = raw.index(b",", raw.index(b"\n") + 200)  # somewhere in the records, past the header line
    return raw[:at] + b"9" + raw[at + 1 :]


def _other_format(raw: bytes) -> bytes:
    header, _, body = raw.partition(b"\n")
    fields = json.loads(header)
    fields["format"] = scan_index.FORMAT + 1
    return json.dumps(fields).encode() + b"\n" + body


@pytest.mark.parametrize(
    "spoil",
    [_cut_short, _flip_a_byte, _other_format, lambda raw: b"", lambda raw: b"\xff\xfe not json at all", lambda raw: raw.replace(b"\n", b" ")],
    ids=["truncated", "altered", "other-format", "empty", "garbage", "no-header"],
)
def test_an_index_that_cannot_be_trusted_is_ignored_and_rewritten(places, tmp_path, spoil):
    index = tmp_path / "scan-index.json"
    expected = facts(run_to_end(Scanner(index_path=index).scan(places))[0])
    index.write_bytes(spoil(index.read_bytes()))
    found, stats = run_to_end(Scanner(index_path=index).scan(places))
    assert stats.reused == 0 and facts(found) == expected
    _, stats = run_to_end(Scanner(index_path=index).scan(places))
    assert stats.reused == 4  # written anew by the scan that could not use it


def test_another_transformers_means_a_fresh_scan(places, tmp_path, monkeypatch):
    """'model_type unknown' problems depend on the installed transformers' table."""
    index = tmp_path / "scan-index.json"
    run_to_end(Scanner(index_path=index).scan(places))
    monkeypatch.setattr(discovery, "model_types_stamp", lambda: [["auto_mappings.py", 1, 2]])
    _, stats = run_to_end(Scanner(index_path=index).scan(places))
    assert stats.reused == 0


def test_a_cancelled_scan_saves_nothing(places, tmp_path):
    index = tmp_path / "scan-index.json"
    token = CancelToken()
    job = Scanner(index_path=index).scan(places, token)
    with pytest.raises(Cancelled):
        for item in job:
            if not hasattr(item, "total"):  # the first checkpoint
                token.cancel()
    assert not index.exists()


def test_an_index_that_cannot_be_written_is_a_note_not_a_failure(places, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    found, stats = run_to_end(Scanner(index_path=blocker / "scan-index.json").scan(places))
    assert len(found) == 4
    assert any("could not be saved for the next start" in p for p in stats.problems)


def test_the_index_lives_in_the_app_cache_never_beside_the_checkpoints(places, hub_cache, tmp_path):  # noqa: F811
    from explorer.core.paths import cache_dir, scan_index_file

    before = tree_state(hub_cache)
    run_to_end(Scanner(index_path=scan_index_file()).scan(places))
    assert scan_index_file().is_file() and Path(cache_dir()) in scan_index_file().parents
    assert tree_state(hub_cache) == before
    assert not any(name.startswith(".scan-index") for name in os.listdir(scan_index_file().parent))
