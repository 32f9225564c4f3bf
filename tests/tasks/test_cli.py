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
        (["text-classification", "{mlm}", "--config", "id2label=" + "[" * 50_000 + "]" * 50_000], "nested too deeply"),
        (["text-classification", "{mlm}", "--config", "num_labels=" + "9" * 5000], "thousands of digits"),
        (["text-classification", "{mlm}", "--config", "id2label=" + "[" * 150 + "]" * 150], "nested more than 100 levels"),
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


def hub_cache_copy(sample_path, repo_id: str, commit: str = "0123456789abcdef0123456789abcdef01234567"):
    """The sample laid out as the hub cache under HF_HOME (isolated per test), with refs/main -> commit."""
    import os
    import shutil
    from pathlib import Path

    repo = Path(os.environ["HF_HOME"]) / "hub" / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(sample_path, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit


def test_run_takes_a_file_inside_the_checkpoint(sample, capsys):
    code, out, _ = invoke(["tokenize", str(sample("tiny-bert-mlm") / "config.json"), "--text", "hello", "--json"], capsys)
    assert code == 0 and json.loads(out)["tokens"][1]["token"] == "hello"


def test_run_takes_a_repo_id_found_on_this_machine(sample, capsys):
    snapshot = hub_cache_copy(sample("tiny-distilbert-sentiment"), "acme/sentiment")
    code, out, err = invoke(["text-classification", "acme/sentiment", "--text", "good", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["model"]["path"] == str(snapshot)
    code, out, err = invoke(["text-classification", "acme/sentiment@0123456", "--text", "good", "--json"], capsys)
    assert code == 0, err
    code, _, err = invoke(["text-classification", "acme/sentiment@fffffff", "--text", "good"], capsys)
    assert code == 2 and "neither a folder nor a checkpoint found" in err


def test_run_config_overrides(sample, capsys):
    """Tutorial 004: from_pretrained(name, num_labels=10) needs ignore_mismatched_sizes on a trained classifier."""
    path = str(sample("tiny-distilbert-sentiment"))
    code, _, err = invoke(["text-classification", path, "--text", "good", "--config", "num_labels=10"], capsys)
    assert code == 1 and "--ignore-mismatched-sizes" in err
    code, out, err = invoke(
        ["text-classification", path, "--text", "good", "--config", "num_labels=10", "--ignore-mismatched-sizes", "--json"], capsys
    )
    assert code == 0, err
    assert len(json.loads(out)["results"][0]["scores"]) == 10
    code, out, _ = invoke(["text-classification", path, "--config", 'id2label={"0": "sad", "1": "glad"}', "--json"], capsys)
    assert code == 0 and {s["label"] for s in json.loads(out)["results"][0]["scores"]} == {"sad", "glad"}
    code, out, _ = invoke(["text-classification", path, "--config", "num_labels=10", "--ignore-mismatched-sizes", "--script"], capsys)
    assert code == 0 and "num_labels=10, ignore_mismatched_sizes=True" in out
    code, _, err = invoke(["text-classification", path, "--config", "num_labels"], capsys)
    assert code == 2 and "write KEY=VALUE" in err


def test_run_tokenize_several_texts_is_a_padded_batch(sample, capsys):
    code, out, _ = invoke(["tokenize", str(sample("tiny-bert-mlm")), "--text", "hello world", "--text", "hello"], capsys)
    assert code == 0 and "padded batch, input_ids shape [2, 4]" in out and "attention_mask: [1, 1, 1, 0]" in out


def test_run_gold_labels_print_the_loss(sample, capsys):
    code, out, _ = invoke(
        ["text-classification", str(sample("tiny-distilbert-sentiment")), "--text", "good", "--text", "bad", "--set", "gold_labels=POSITIVE,NEGATIVE"], capsys
    )
    assert code == 0 and "loss against the gold labels (POSITIVE, NEGATIVE):" in out
