"""`model-explorer inspect FILE.gguf`: a GGUF's header as text or JSON, without reading its weights."""

from __future__ import annotations

import json
import os

from explorer import cli
from tests.format_builders import write_gguf as _write


def test_inspect_json_of_a_gguf(tmp_path, capsys):
    path = tmp_path / "tiny-llama-Q8_0.gguf"
    _write(path)
    assert cli.main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "gguf" and report["model_type"] == "llama"
    assert report["num_parameters"] == sum(t["numel"] for t in report["tensors"]) > 0
    assert set(report["dtypes"]) >= {"F32", "F16", "Q8_0"}
    assert report["size_bytes"] == os.path.getsize(path)
    assert report["metadata"]["general.architecture"] == "llama"


def test_inspect_text_of_a_split_gguf(tmp_path, capsys):
    _write(tmp_path / "model.gguf", split_max_tensors=2)
    parts = sorted(p.name for p in tmp_path.iterdir())
    assert len(parts) >= 2 and parts[0].endswith("-00001-of-" + parts[0][-10:-5] + ".gguf")
    assert cli.main(["inspect", str(tmp_path / parts[-1])]) == 0  # any part names the whole model
    out = capsys.readouterr().out
    assert f"{len(parts)} file(s)" in out and "architecture:  llama" in out and "llama.context_length" in out


def test_a_broken_gguf_is_one_line(tmp_path, capsys):
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\xff" * 40)
    assert cli.main(["inspect", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "broken.gguf" in captured.err
