"""model-explorer run TASK PATH ... on the same code as the window."""

from __future__ import annotations

import argparse
import json

import pytest

from explorer.tasks.cli import add_run_arguments, run_command


def invoke(argv, capsys):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    code = run_command(parser.parse_args(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_json_question_answering(sample, capsys):
    code, out, _ = invoke(
        ["question-answering", str(sample("tiny-bert-qa")), "--text", "Where does John work?", "--context", "John works for Google in New York.", "--json"],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    assert result["task"] == "question-answering"
    context = "John works for Google in New York."
    assert all(a["answer"] == context[a["start"]:a["end"]] for a in result["answers"])
    assert result["model"]["device"] == "cpu"


def test_run_generation_streams_text(sample, capsys):
    code, out, _ = invoke(["text-generation", str(sample("tiny-gpt2-lm")), "--text", "Hello", "--max-new-tokens", "4", "--seed", "1", "--dtype", "float32"], capsys)
    assert code == 0
    assert "4 tokens" in out and "tokens/s" in out


def test_run_zero_shot_labels_and_set(sample, capsys):
    code, out, _ = invoke(
        ["zero-shot-classification", str(sample("tiny-bert-nli")), "--text", "I loved the movie", "--labels", "cinema,food", "--set", "multi_label=true", "--json"],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    assert sorted(result["labels"]) == ["cinema", "food"] and result["multi_label"] is True


def test_run_several_texts(sample, capsys):
    code, out, _ = invoke(["text-classification", str(sample("tiny-distilbert-sentiment")), "--text", "good", "--text", "bad", "--json"], capsys)
    assert code == 0 and len(json.loads(out)["results"]) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fill-mask", "{mlm}", "--text", "no mask here"], "no mask token"),
        (["fill-mask", "{mlm}", "--labels", "a,b"], "--labels is for zero-shot"),
        (["fill-mask", "{mlm}", "--set", "colour=red"], "expected NAME=VALUE"),
        (["fill-mask", "/nonexistent/checkpoint"], "is neither a folder nor a checkpoint found on this machine"),
        (["text-generation", "{mlm}", "--text", ""], "Prompt is empty"),
    ],
)
def test_bad_input_exits_2(sample, capsys, argv, message):
    argv = [a.replace("{mlm}", str(sample("tiny-bert-mlm"))) for a in argv]
    code, _, err = invoke(argv, capsys)
    assert code == 2 and message in err


def test_missing_device_exits_1(sample, capsys):
    code, _, err = invoke(["fill-mask", str(sample("tiny-bert-mlm")), "--device", "cuda:3"], capsys)
    assert code == 1 and "not available" in err


def test_script_option_prints_python(sample, capsys):
    code, out, _ = invoke(["fill-mask", str(sample("tiny-bert-mlm")), "--script"], capsys)
    assert code == 0 and "AutoModelForMaskedLM.from_pretrained" in out
    compile(out, "script.py", "exec")
