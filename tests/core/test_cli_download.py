"""`model-explorer download`, run as a child process (HF_ENDPOINT is read when huggingface_hub is imported)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.core.test_download import CONFIG, MiB, safetensors_bytes
from tests.hub_fixtures import hub, hub_env  # noqa: F401  (the fixtures)
from tests.hub_server import wait_until

pytestmark = pytest.mark.slow  # each test starts Python and imports huggingface_hub


def model_explorer(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_download_prints_the_snapshot_path_and_progress_on_stderr(hub, hub_env, tmp_path):
    repo = hub.add_repo("org/tiny", {"config.json": CONFIG, "model.safetensors": safetensors_bytes(100), "README.md": b"# tiny"})

    done = model_explorer("download", "org/tiny", "--include", "*.json", "--include", "*.safetensors", "--hub-cache", str(tmp_path), env=hub_env)

    assert done.returncode == 0, done.stderr
    snapshot = tmp_path / "models--org--tiny" / "snapshots" / repo.refs["main"]
    assert done.stdout == f"{snapshot}\n"
    assert sorted(p.name for p in snapshot.iterdir()) == ["config.json", "model.safetensors"]
    assert "org/tiny at main" in done.stderr and "model.safetensors" in done.stderr


def test_download_json_names_path_commit_files_and_bytes(hub, hub_env, tmp_path):
    weights = safetensors_bytes(100)
    repo = hub.add_repo("org/tiny", {"config.json": CONFIG, "model.safetensors": weights})

    done = model_explorer("download", "org/tiny", "--exclude", "*.json", "--hub-cache", str(tmp_path), "--json", env=hub_env)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    commit = repo.refs["main"]
    assert report == {
        "repo": "org/tiny",
        "revision": "main",
        "commit": commit,
        "path": str(tmp_path / "models--org--tiny" / "snapshots" / commit),
        "files": ["model.safetensors"],
        "bytes": len(weights),
        "fetched_bytes": len(weights),
        "resumed_bytes": 0,
    }


def test_a_failed_download_exits_1_with_one_line(hub, hub_env, tmp_path):
    hub.add_repo("org/tiny", {"config.json": CONFIG})

    missing = model_explorer("download", "org/nothing", "--hub-cache", str(tmp_path), env=hub_env)
    no_revision = model_explorer("download", "org/tiny", "--revision", "v9", "--hub-cache", str(tmp_path), env=hub_env)

    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.startswith("model-explorer: no repo org/nothing on http://127.0.0.1:") and missing.stderr.count("\n") == 1
    assert no_revision.returncode == 1 and no_revision.stderr == "model-explorer: org/tiny has no revision 'v9' on " + hub.url + "\n"


def test_ctrl_c_exits_130_and_the_same_command_resumes(hub, hub_env, tmp_path):
    weights = safetensors_bytes(3 * MiB)
    hub.add_repo("org/big", {"model.safetensors": weights})
    hub.slow_after("model.safetensors", 10 * MiB, seconds=5.0)
    partial = tmp_path / "models--org--big" / "blobs" / f"{hub.file('model.safetensors').etag}.incomplete"
    command = [sys.executable, "-m", "explorer", "download", "org/big", "--hub-cache", str(tmp_path)]

    child = subprocess.Popen(command, env=hub_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: partial.exists() and partial.stat().st_size >= 10 * MiB, timeout=30)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert child.returncode == 130, err
    assert out == "" and err.endswith("model-explorer: download stopped; run the same command again to resume it\n")
    kept = partial.stat().st_size
    assert kept == 10 * MiB and weights.startswith(partial.read_bytes())
    hub.fast()

    again = model_explorer("download", "org/big", "--hub-cache", str(tmp_path), "--json", env=hub_env)

    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed_bytes"] == kept
    last = hub.gets_of("model.safetensors")[-1]
    assert (last.range, last.sent) == (f"bytes={kept}-", len(weights) - kept)
