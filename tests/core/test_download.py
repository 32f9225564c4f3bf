"""Downloads through huggingface_hub's own client against a stand-in Hub on 127.0.0.1 (tests/hub_server.py)."""

from __future__ import annotations

import hashlib
import json
import os
import struct

import pytest

from explorer.core.checkpoint import SOURCE_HUB_CACHE
from explorer.core.cache_places import ScanLocation
from explorer.core.discovery import Scanner
from explorer.core.download import DownloadFailed, DownloadPlan, FileProgress, download_job
from explorer.core.jobs import CancelToken, Cancelled, Progress, run_to_end
from tests.hub_fixtures import hub  # noqa: F401  (the fixture)
from tests.hub_server import StandInHub

MiB = 1 << 20
CONFIG = json.dumps({"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 4}).encode()


def safetensors_bytes(floats: int) -> bytes:
    """A valid safetensors file holding one float32 tensor of ``floats`` values (the scan reads its header)."""
    header = json.dumps({"weight": {"dtype": "F32", "shape": [floats], "data_offsets": [0, 4 * floats]}}).encode()
    header += b" " * (-len(header) % 8)
    body = hashlib.sha256(b"seed").digest() * (4 * floats // 32 + 1)
    return struct.pack("<Q", len(header)) + header + body[: 4 * floats]


def collect(job):
    items = []
    result = run_to_end(job, items.append)
    return result, items


def test_download_with_patterns_lands_where_huggingface_hub_and_the_scanner_read_it(hub, tmp_path):
    weights = safetensors_bytes(3000)
    repo = hub.add_repo(
        "org/tiny",
        {"config.json": CONFIG, "model.safetensors": weights, "tokenizer.json": b"{}", "extra/notes.txt": b"n", "README.md": b"# tiny"},
    )
    cache = tmp_path / "hub"
    assert hub.url.startswith("http://127.0.0.1:") and hub.cdn_url.startswith("http://127.0.0.1:")

    result, items = collect(
        download_job("org/tiny", include=["*.json", "*.safetensors"], exclude=["tokenizer.json"], cache_dir=str(cache), endpoint=hub.url)
    )

    commit = repo.refs["main"]
    assert result.commit == commit and result.revision == "main"
    assert result.files == ("config.json", "model.safetensors")
    assert result.bytes == len(CONFIG) + len(weights) == result.fetched_bytes
    assert result.path == str(cache / "models--org--tiny" / "snapshots" / commit)
    assert (cache / "models--org--tiny" / "refs" / "main").read_text() == commit
    assert (cache / "models--org--tiny" / "snapshots" / commit / "model.safetensors").read_bytes() == weights
    # The plan first, then each file to its end, and the total reaching the sum of the sizes.
    plan = next(i for i in items if isinstance(i, DownloadPlan))
    assert [(f.name, f.size) for f in plan.files] == [("config.json", len(CONFIG)), ("model.safetensors", len(weights))]
    finished = {i.name: i.done for i in items if isinstance(i, FileProgress) and i.finished}
    assert finished == {"config.json": len(CONFIG), "model.safetensors": len(weights)}
    last = [i for i in items if isinstance(i, Progress)][-1]
    assert (last.done, last.total) == (result.bytes, result.bytes)

    from huggingface_hub import scan_cache_dir

    info = scan_cache_dir(cache)
    (cached,) = info.repos
    (revision,) = cached.revisions
    assert (cached.repo_id, revision.commit_hash, revision.refs) == ("org/tiny", commit, frozenset({"main"}))
    assert {f.file_name for f in revision.files} == {"config.json", "model.safetensors"}
    assert not info.warnings and not info.incomplete_files
    checkpoints, _ = run_to_end(Scanner().scan([ScanLocation(SOURCE_HUB_CACHE, str(cache))]))
    (checkpoint,) = checkpoints
    assert (checkpoint.id, checkpoint.revision, checkpoint.refs, checkpoint.model_type) == ("org/tiny", commit, ["main"], "bert")
    assert checkpoint.num_parameters == 3000


def test_a_second_download_of_the_same_files_fetches_nothing(hub, tmp_path):
    hub.add_repo("org/tiny", {"config.json": CONFIG, "model.safetensors": safetensors_bytes(100)})
    run_to_end(download_job("org/tiny", cache_dir=str(tmp_path), endpoint=hub.url))
    hub.requests.clear()

    result = run_to_end(download_job("org/tiny", cache_dir=str(tmp_path), endpoint=hub.url))

    assert result.fetched_bytes == 0
    assert not hub.gets_of("config.json") and not hub.gets_of("model.safetensors")


@pytest.mark.slow
def test_cancel_mid_file_leaves_a_partial_that_the_next_run_resumes_asking_only_for_the_rest(hub, tmp_path):
    weights = safetensors_bytes(3 * MiB)  # 12 MiB: huggingface_hub reports (and so can stop) every 10 MiB
    hub.add_repo("org/big", {"config.json": CONFIG, "model.safetensors": weights})
    hub.slow_after("model.safetensors", 10 * MiB, seconds=0.6)
    etag = hub.file("model.safetensors").etag
    blobs = tmp_path / "models--org--big" / "blobs"
    cancel = CancelToken()

    with pytest.raises(Cancelled):
        for item in download_job("org/big", cache_dir=str(tmp_path), cancel=cancel, endpoint=hub.url):
            if isinstance(item, FileProgress) and item.name == "model.safetensors" and item.done > 0:
                cancel.cancel()

    partial = blobs / f"{etag}.incomplete"
    kept = partial.stat().st_size
    assert 0 < kept < len(weights)
    assert not (blobs / etag).exists()
    assert weights.startswith(partial.read_bytes())
    hub.fast()

    result = run_to_end(download_job("org/big", cache_dir=str(tmp_path), endpoint=hub.url))

    last = hub.gets_of("model.safetensors")[-1]
    assert (last.range, last.status, last.sent) == (f"bytes={kept}-", 206, len(weights) - kept)
    assert (result.resumed_bytes, result.fetched_bytes) == (kept, len(weights) - kept)
    assert (blobs / etag).read_bytes() == weights and not partial.exists()
    assert (tmp_path / "models--org--big" / "snapshots" / result.commit / "model.safetensors").read_bytes() == weights


@pytest.mark.slow
def test_a_connection_cut_mid_file_is_resumed_by_huggingface_hub_within_the_same_download(hub, tmp_path):
    weights = safetensors_bytes(3 * MiB)
    hub.add_repo("org/big", {"model.safetensors": weights})
    hub.cut_after("model.safetensors", 11 * MiB)

    result = run_to_end(download_job("org/big", cache_dir=str(tmp_path), endpoint=hub.url))

    first, second = hub.gets_of("model.safetensors")
    assert (first.range, first.sent) == (None, 11 * MiB)
    assert second.range == f"bytes={10 * MiB}-" and second.status == 206  # what reached the file: 10 MiB
    assert open(os.path.join(result.path, "model.safetensors"), "rb").read() == weights


def test_a_missing_repo_is_said_plainly(hub, tmp_path):
    with pytest.raises(DownloadFailed, match=r"no repo org/nothing on http://127\.0\.0\.1:\d+ \(if it is private"):
        run_to_end(download_job("org/nothing", cache_dir=str(tmp_path), endpoint=hub.url))


def test_a_missing_revision_is_said_plainly(hub, tmp_path):
    hub.add_repo("org/tiny", {"config.json": CONFIG})
    with pytest.raises(DownloadFailed, match="org/tiny has no revision 'v9'"):
        run_to_end(download_job("org/tiny", revision="v9", cache_dir=str(tmp_path), endpoint=hub.url))


def test_a_tag_or_an_older_commit_can_be_downloaded(hub, tmp_path):
    repo = hub.add_repo("org/tiny", {"config.json": CONFIG})
    old = repo.refs["main"]
    repo.commit({"config.json": CONFIG + b" "})
    repo.refs["v1"] = old

    by_tag = run_to_end(download_job("org/tiny", revision="v1", cache_dir=str(tmp_path), endpoint=hub.url))
    by_commit = run_to_end(download_job("org/tiny", revision=old, cache_dir=str(tmp_path), endpoint=hub.url))

    assert by_tag.commit == by_commit.commit == old and by_tag.path == by_commit.path
    assert (tmp_path / "models--org--tiny" / "refs" / "v1").read_text() == old
    assert open(os.path.join(by_tag.path, "config.json"), "rb").read() == CONFIG


def test_a_gated_repo_asks_for_a_login_and_downloads_with_the_token_from_hf_token(hub, tmp_path, monkeypatch):
    hub.add_repo("org/gated", {"config.json": CONFIG}, gated=True)
    with pytest.raises(DownloadFailed, match="org/gated is gated: accept its conditions"):
        run_to_end(download_job("org/gated", cache_dir=str(tmp_path), endpoint=hub.url))

    hub.tokens.add("hf_allowed")
    monkeypatch.setenv("HF_TOKEN", "hf_allowed")
    result = run_to_end(download_job("org/gated", cache_dir=str(tmp_path), endpoint=hub.url))
    assert result.files == ("config.json",)


def test_patterns_matching_nothing_are_said_plainly(hub, tmp_path):
    hub.add_repo("org/tiny", {"config.json": CONFIG})
    with pytest.raises(DownloadFailed, match=r"has no file matching \*\.gguf"):
        run_to_end(download_job("org/tiny", include=["*.gguf"], cache_dir=str(tmp_path), endpoint=hub.url))


def test_a_hub_that_does_not_answer_is_said_plainly(hub, tmp_path):
    down = StandInHub().start()
    address = down.url
    down.stop()  # nothing listens there any more: connection refused
    with pytest.raises(DownloadFailed, match=r"cannot reach http://127\.0\.0\.1:\d+ .*check the network"):
        run_to_end(download_job("org/tiny", cache_dir=str(tmp_path), endpoint=address))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to fill a disk without filling one")
def test_a_full_disk_is_said_plainly(hub, tmp_path):
    weights = safetensors_bytes(1000)
    hub.add_repo("org/tiny", {"model.safetensors": weights})
    blobs = tmp_path / "models--org--tiny" / "blobs"
    blobs.mkdir(parents=True)
    # The partial download is written where /dev/full is: every write fails with ENOSPC, as on a full disk.
    (blobs / f"{hub.file('model.safetensors').etag}.incomplete").symlink_to("/dev/full")
    with pytest.raises(DownloadFailed, match="the disk holding .* is full: free some space"):
        run_to_end(download_job("org/tiny", cache_dir=str(tmp_path), endpoint=hub.url))


def test_offline_mode_in_the_environment_is_respected_and_said(tmp_path):
    # No hub fixture: HF_HUB_OFFLINE=1 from tests/conftest.py is what huggingface_hub read at import.
    from huggingface_hub import constants

    assert constants.is_offline_mode()
    server = StandInHub().start()
    try:
        with pytest.raises(DownloadFailed, match="offline mode .*HF_HUB_OFFLINE"):
            run_to_end(download_job("org/tiny", cache_dir=str(tmp_path), endpoint=server.url))
        assert server.requests == []
    finally:
        server.stop()


def test_a_kept_part_that_is_not_the_start_of_the_file_is_fetched_again_whole(hub, tmp_path):
    weights = safetensors_bytes(1000)
    hub.add_repo("org/tiny", {"model.safetensors": weights})
    etag = hub.file("model.safetensors").etag
    blobs = tmp_path / "models--org--tiny" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{etag}.incomplete").write_bytes(b"x" * 1000)

    result = run_to_end(download_job("org/tiny", cache_dir=str(tmp_path), endpoint=hub.url))

    resumed, whole = hub.gets_of("model.safetensors")
    assert (resumed.range, whole.range) == ("bytes=1000-", None)
    assert result.resumed_bytes == 0 and (blobs / etag).read_bytes() == weights


@pytest.mark.slow
def test_closing_the_job_as_the_window_does_on_cancel_keeps_the_part_that_arrived(hub, tmp_path):
    weights = safetensors_bytes(3 * MiB)
    hub.add_repo("org/big", {"model.safetensors": weights})
    hub.slow_after("model.safetensors", 10 * MiB, seconds=0.6)
    job = download_job("org/big", cache_dir=str(tmp_path), endpoint=hub.url)
    for item in job:
        if isinstance(item, FileProgress) and item.done > 0:
            break
    job.close()  # the window's job runner closes the generator when its token is cancelled

    partial = tmp_path / "models--org--big" / "blobs" / f"{hub.file('model.safetensors').etag}.incomplete"
    assert partial.stat().st_size == 10 * MiB and weights.startswith(partial.read_bytes())
