"""GGUF models in the Demo's session and `run`: what transformers' own gguf_file loading gives, or why not."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from explorer.core.checkpoint import FORMAT_GGUF, SOURCE_OLLAMA, Checkpoint, CheckpointFile
from explorer.core.jobs import run_to_end
from explorer.core.locate import loadable_checkpoint
from explorer.tasks.cli import add_run_arguments, run_command
from explorer.tasks.format_loading import gguf_target
from explorer.tasks.format_options import format_demo_options
from explorer.tasks.script import python_script, summary_of
from explorer.tasks.session import LoadRequest, ModelSession
from tests.format_builders import write_gguf, write_ollama_model
from tests.gguf_model_builder import write_loadable_gguf

pytestmark = pytest.mark.slow

PROMPT = "the cat sat on"
GREEDY = {"text": PROMPT, "max_new_tokens": 6, "do_sample": False, "use_chat_template": False}


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory):
    path, _original = write_loadable_gguf(tmp_path_factory.mktemp("gguf"))
    return path


@pytest.fixture(scope="module")
def reference(gguf_file):
    """transformers by hand: from_pretrained(folder, gguf_file=name) for the tokenizer and the model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name).eval()
    inputs = tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    return {"prompt_ids": inputs["input_ids"][0].tolist(), "new_ids": out[0, inputs["input_ids"].shape[1]:].tolist()}


def _checkpoint(path) -> Checkpoint:
    return Checkpoint(id=path.name, source="folder", path=str(path), format=FORMAT_GGUF,
                      files=[CheckpointFile(path.name, str(path), path.stat().st_size)])


def test_demo_runs_what_transformers_loads(gguf_file, reference):
    options = format_demo_options(_checkpoint(gguf_file))
    assert [c.task_id for c in options.choices if c.available] == ["text-generation", "tokenize"]
    assert options.first_task == "text-generation" and options.warnings == ()
    target = options.target
    request = LoadRequest(target.path, None, gguf_file=target.gguf_file)
    session = ModelSession()
    generated = run_to_end(session.run("text-generation", request, GREEDY))
    tokens = run_to_end(session.run("tokenize", request, {"text": PROMPT}))
    session.unload_now()
    assert generated.token_ids == reference["new_ids"]
    assert tokens.input_ids == reference["prompt_ids"]
    notice = " ".join(generated.notices)
    assert "dequantised to float32" in notice and "Q8_0" in notice and "F16" in notice and "in memory" in notice
    assert generated.model.to_json()["gguf_file"] == gguf_file.name
    # The form starts from the decoding settings the loaded model has (the header's end-of-text id), so an
    # untouched form changes nothing: generate keeps the GGUF's eos instead of being told "none".
    assert options.defaults["text-generation"]["eos_token_id"].value == [0]
    assert generated.generation_settings["eos_token_id"] == {"value": [0], "source": "checkpoint"}
    assert "eos_token_id" not in python_script("text-generation", request, GREEDY)


def test_run_and_script_on_a_gguf_file(gguf_file, reference, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    argv = ["text-generation", str(gguf_file), "--text", PROMPT, "--max-new-tokens", "6", "--set", "do_sample=false",
            "--set", "use_chat_template=false", "--json"]
    assert run_command(parser.parse_args(argv)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["token_ids"] == reference["new_ids"] and printed["model"]["gguf_file"] == gguf_file.name
    assert run_command(parser.parse_args(["fill-mask", str(gguf_file), "--text", "x"])) == 2
    assert "loads as AutoModelForCausalLM" in capsys.readouterr().err

    request = LoadRequest(str(gguf_file.parent), "AutoModelForCausalLM", gguf_file=gguf_file.name)
    script = python_script("text-generation", request, GREEDY)
    assert "gguf_file=gguf_file" in script
    path = tmp_path / "gguf_run.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout[done.stdout.index("{"):])["token_ids"] == reference["new_ids"]


def test_unknown_architecture_and_split_files_say_why_in_one_sentence(tmp_path, capsys):
    unknown = write_gguf(tmp_path / "odd.gguf", architecture="unknownarch")
    target = gguf_target([str(unknown)])
    assert "cannot load GGUF models of architecture 'unknownarch'" in target.blocked
    assert target.blocked.count(". ") == 0 and target.blocked.endswith(".")
    options = format_demo_options(_checkpoint(unknown))
    assert not any(c.available for c in options.choices) and {c.warning for c in options.choices} == {target.blocked}
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    assert run_command(parser.parse_args(["text-generation", str(unknown), "--text", "a"])) == 1
    assert "unknownarch" in capsys.readouterr().err

    (tmp_path / "split").mkdir()
    write_gguf(tmp_path / "split" / "m.gguf", split_max_tensors=2)
    parts = sorted(str(p) for p in (tmp_path / "split").iterdir())
    assert len(parts) == 2
    assert "split into 2 files" in gguf_target(parts).blocked


def test_run_takes_an_ollama_name_and_a_folder_with_one_gguf(gguf_file, reference, tmp_path, monkeypatch, capsys):
    write_ollama_model(tmp_path / "ollama", "tiny", "latest", gguf_file)
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    common = ["--text", PROMPT, "--max-new-tokens", "6", "--set", "do_sample=false", "--set", "use_chat_template=false", "--json"]
    assert run_command(parser.parse_args(["text-generation", "tiny:latest", *common])) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["token_ids"] == reference["new_ids"] and printed["model"]["gguf_file"] == "model.gguf"
    assert run_command(parser.parse_args(["text-generation", str(gguf_file.parent), *common])) == 0
    assert json.loads(capsys.readouterr().out)["model"]["gguf_file"] == gguf_file.name
    (tmp_path / "two").mkdir()
    write_gguf(tmp_path / "two" / "a.gguf")
    write_gguf(tmp_path / "two" / "b.gguf")
    assert run_command(parser.parse_args(["text-generation", str(tmp_path / "two"), *common])) == 2
    assert "holds 2 GGUF models (a.gguf, b.gguf)" in capsys.readouterr().err


def test_an_ollama_model_loads_through_its_named_view(gguf_file, reference, tmp_path):
    manifest = write_ollama_model(tmp_path / "ollama", "tiny", "latest", gguf_file)
    layer = json.loads(manifest.read_text())["layers"][0]
    blob = tmp_path / "ollama" / "blobs" / layer["digest"].replace(":", "-")
    ckpt = Checkpoint(id="tiny:latest", source=SOURCE_OLLAMA, path=str(manifest), format=FORMAT_GGUF,
                      files=[CheckpointFile("model.gguf", str(blob), blob.stat().st_size)])
    view = loadable_checkpoint(ckpt)
    assert os.path.isdir(view.path) and view.gguf_parts() == [os.path.join(view.path, "model.gguf")]
    options = format_demo_options(view)
    assert options.target.gguf_file == "model.gguf" and not options.target.blocked
    session = ModelSession()
    request = LoadRequest(options.target.path, None, gguf_file=options.target.gguf_file)
    generated = run_to_end(session.run("text-generation", request, GREEDY))
    session.unload_now()
    assert generated.token_ids == reference["new_ids"]
    assert summary_of(generated)["token_ids"] == reference["new_ids"]
