"""The command line on adapters, GGUF files and Ollama names: scan's table, inspect's text and JSON."""

from __future__ import annotations

import json

import pytest

from explorer import cli
from tests.format_builders import write_gguf, write_lora_adapter, write_ollama_model


@pytest.fixture(scope="module")
def lora(tmp_path_factory, samples_root):
    return write_lora_adapter(samples_root / "tiny-gpt2-lm", tmp_path_factory.mktemp("cli-adapters") / "lora")


def test_scan_table_types_gguf_and_adapters(tmp_path, capsys):
    write_gguf(tmp_path / "tiny.gguf")
    write_ollama_model(tmp_path / "store", "tiny", "q8", tmp_path / "tiny.gguf")
    assert cli.main(["scan", "--folder", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("tiny.gguf ") and "llama (GGUF)" in line for line in lines)
    assert any(line.startswith("tiny:q8 ") and " ollama " in line for line in lines)


def test_inspect_an_ollama_name_reads_its_gguf_blob(tmp_path, capsys, monkeypatch):
    write_gguf(tmp_path / "tiny.gguf")
    write_ollama_model(tmp_path / "store", "tiny", "q8", tmp_path / "tiny.gguf")
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "store"))
    assert cli.main(["inspect", "tiny:q8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "gguf" and report["num_parameters"] == 960
    assert report["path"].startswith(str(tmp_path / "store" / "blobs" / "sha256-"))


@pytest.mark.slow
def test_inspect_an_adapter_names_its_modules_and_its_base(lora, samples_root, capsys):
    assert cli.main(["inspect", str(lora), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "adapter" and report["adapter_type"] == "LoRA" and report["r"] == 4
    assert report["base_found"] == str(samples_root / "tiny-gpt2-lm")
    assert [m["module"] for m in report["modules"]] == ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]
    assert report["num_parameters"] == sum(m["parameters"] for m in report["modules"]) == 1024
    assert report["problems"] == []
    assert cli.main(["inspect", str(lora)]) == 0
    out = capsys.readouterr().out
    assert "PEFT adapter (LoRA" in out and "transformer.h.1.attn.c_attn: lora_A [4, 32], lora_B [96, 4]" in out


@pytest.mark.slow
def test_inspect_an_adapter_whose_base_is_absent_says_which_to_download(tmp_path, samples_root, capsys):
    adapter = write_lora_adapter(samples_root / "tiny-gpt2-lm", tmp_path / "lora", base_model="someone/absent-base")
    assert cli.main(["inspect", str(adapter), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["base_found"] is None and report["num_parameters"] == 1024
    assert any("someone/absent-base is not on this machine" in p for p in report["problems"])
