"""`model-explorer verify` and `model-explorer duplicates` on small hub caches."""

from __future__ import annotations

import argparse
import hashlib
import json
import os

import pytest

from explorer import cli_verify
from tests.core.hub_layout import HubRepo, age_tree, commit_hash

WEIGHTS = os.urandom(1 << 20)
CONFIG = b'{"model_type": "bert"}'


def run(argv: list[str]) -> int:
    """The sub-commands as cli.main dispatches them (set_defaults handler), without the other modules."""
    parser = argparse.ArgumentParser(prog="model-explorer")
    cli_verify.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def hub(tmp_path):
    root = tmp_path / "hub"
    for name in ("org/one", "org/two"):
        repo = HubRepo(root, name)
        repo.add(commit_hash(name), "model.safetensors", WEIGHTS)
        repo.add(commit_hash(name), "config.json", CONFIG)
        repo.ref("main", commit_hash(name))
    age_tree(root)
    return root


def corrupt(hub, repo: str) -> None:
    path = hub / f"models--{repo.replace('/', '--')}" / "blobs" / hashlib.sha256(WEIGHTS).hexdigest()
    data = bytearray(path.read_bytes())
    data[12345] ^= 1
    path.write_bytes(bytes(data))


def test_an_intact_repo_exits_0_and_says_so(hub, capsys):
    assert run(["verify", "org/one", "--hub-cache", str(hub)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == 2 and "2 files: 2 ok" in out


def test_a_corrupt_blob_exits_1_and_comes_first(hub, capsys):
    corrupt(hub, "org/one")
    assert run(["verify", "org/one@main", "--hub-cache", str(hub)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("CORRUPT") and "org/one@" in lines[0] and "model.safetensors" in lines[0]
    assert "1 corrupt" in lines[-1]


def test_json_lists_files_with_verdicts_and_totals(hub, capsys):
    corrupt(hub, "org/two")
    assert run(["verify", "--all", "--hub-cache", str(hub), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["files"] == 4 and data["totals"]["corrupt"] == 1 and data["totals"]["ok"] == 3
    first = data["files"][0]
    assert first["verdict"] == "corrupt" and first["uses"][0]["repo"] == "org/two"
    assert first["expected"] == hashlib.sha256(WEIGHTS).hexdigest() != first["actual"]


def test_a_snapshot_folder_is_verified_by_path(hub, capsys):
    snapshot = hub / "models--org--one" / "snapshots" / commit_hash("org/one")
    assert run(["verify", str(snapshot), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["ok"] == 2


def test_the_second_run_remembers_and_recheck_reads_again(hub, capsys):
    run(["verify", "org/one", "--hub-cache", str(hub), "--json"])
    capsys.readouterr()
    run(["verify", "org/one", "--hub-cache", str(hub), "--json"])
    assert json.loads(capsys.readouterr().out)["totals"]["bytes_hashed"] == 0
    run(["verify", "org/one", "--hub-cache", str(hub), "--json", "--recheck"])
    assert json.loads(capsys.readouterr().out)["totals"]["bytes_hashed"] == len(WEIGHTS) + len(CONFIG)


def test_a_repo_not_in_the_cache_exits_2(hub, capsys):
    assert run(["verify", "org/absent", "--hub-cache", str(hub)]) == 2
    assert "not in the hub cache" in capsys.readouterr().err
    assert run(["verify", "--hub-cache", str(hub)]) == 2


def test_duplicates_across_repos_and_a_folder(hub, tmp_path, capsys):
    folder = tmp_path / "mine" / "copy"
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes(CONFIG)
    (folder / "model.safetensors").write_bytes(WEIGHTS)
    assert run(["duplicates", "--hub-cache", str(hub), "--folder", str(tmp_path / "mine"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["groups"] == 1 and data["totals"]["wasted_bytes"] == 2 * len(WEIGHTS)
    uses = sorted(u for c in data["groups"][0]["copies"] for u in c["uses"])
    assert uses[0].startswith("/") and uses[1].startswith("org/one@") and uses[2].startswith("org/two@")
    assert run(["duplicates", "--hub-cache", str(hub), "--folder", str(tmp_path / "mine")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 copies of 1.0 MiB") and "2.0 MiB wasted in 1 group" in out


def test_model_explorer_verify_runs_through_the_launcher(hub, capsys):
    from explorer.launcher import main

    assert main(["verify", "org/one", "--hub-cache", str(hub), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["ok"] == 2
