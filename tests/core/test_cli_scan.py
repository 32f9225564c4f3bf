from __future__ import annotations

import json

from explorer import cli
from explorer.core.checkpoint import SOURCE_FOLDER
from explorer.core.discovery import ScanLocation

REQUIRED_KEYS = {
    "id", "source", "path", "revision", "refs", "model_type", "architectures", "num_parameters",
    "dtypes", "size_bytes", "has_tokenizer", "needs_remote_code", "problems",
}


def test_scan_json_lists_every_sample_with_the_documented_keys(samples_root, capsys):
    assert cli.main(["scan", "--folder", str(samples_root), "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert sorted(i["id"] for i in items) == sorted(p.name for p in samples_root.iterdir())
    for item in items:
        assert REQUIRED_KEYS <= item.keys()
        assert item["source"] == "folder" and item["problems"] == []
        assert item["num_parameters"] > 0 and item["dtypes"] == {"float32": item["num_parameters"]}
    gpt2 = next(i for i in items if i["id"] == "tiny-gpt2-lm")
    assert gpt2["model_type"] == "gpt2" and gpt2["architectures"] == ["GPT2LMHeadModel"] and gpt2["has_tokenizer"]


def test_scan_table_is_readable(samples_root, capsys):
    assert cli.main(["scan", "--folder", str(samples_root)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["ID", "SOURCE", "REVISION", "MODEL"]
    assert "tiny-t5" in out and "7 checkpoints" in out


def test_scan_table_counts_one_checkpoint_in_the_singular(samples_root, tmp_path, capsys):
    import shutil

    shutil.copytree(samples_root / "tiny-t5", tmp_path / "tiny-t5")
    assert cli.main(["scan", "--folder", str(tmp_path)]) == 0
    assert "\n1 checkpoint in " in capsys.readouterr().out


def test_only_the_given_places_are_scanned(tmp_path, capsys):
    assert cli.main(["scan", "--folder", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_place_that_is_not_a_folder_is_said_on_stderr(tmp_path, capsys):
    absent = tmp_path / "absent"
    assert cli.main(["scan", "--folder", str(absent), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert f"{absent} is not a folder" in captured.err


def test_scan_of_the_usual_places_shares_the_windows_saved_results(samples_root, tmp_path, monkeypatch, capsys):
    import shutil

    from explorer.core.paths import scan_index_file
    from tests.core.hub_layout import age_tree

    usual = shutil.copytree(samples_root, tmp_path / "usual")
    age_tree(usual)  # settled: recently written folders are read again rather than trusted
    monkeypatch.setattr(cli, "_scan_locations", lambda args: [ScanLocation(SOURCE_FOLDER, str(usual))])
    assert cli.main(["scan", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert scan_index_file().is_file() and len(first) == 7
    assert cli.main(["scan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first


def test_scan_of_places_named_on_the_command_line_saves_nothing(samples_root, capsys):
    from explorer.core.paths import scan_index_file

    assert cli.main(["scan", "--folder", str(samples_root), "--json"]) == 0
    assert not scan_index_file().exists()
