"""Copy as Python is data, never code (issue 10, Deliver 4).

Folder names, texts, labels and config values from checkpoints and users enter a generated
script only as literals: a script for hostile values has the same code as one for plain values,
runs, creates nothing the injected code would create, and prints what the app showed.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tokenize

import pytest
from hypothesis import given, settings, strategies as st

from explorer.core.jobs import run_to_end
from explorer.tasks.base import TaskInputError, all_tasks, get_task
from explorer.tasks.cli import add_run_arguments, run_command
from explorer.tasks.script import python_script, summary_of
from explorer.tasks.session import LoadRequest, ModelSession, parse_config_overrides
from tests.tasks.test_script import DRIVER, _close, _last_json

FAST = settings(max_examples=200, deadline=None)
DEEP = settings(max_examples=5000, deadline=None)

# What the injected code would leave behind, relative to the script's working folder.
MARKER = "PWNED"
INJECTION = f'open("{MARKER}", "w").write("ran")'
HOSTILE_TEXT = f'say """\n{INJECTION}\n""" and \'\'\'\n{INJECTION}\n\'\'\' \\ # {{}} %s {{0}} “ü” 🤗 \\'
# No comma: gold labels and zero-shot labels are typed as a comma-separated list.
HOSTILE_LABEL = 'ok"""\n__import__("pathlib").Path("PWNED").touch()#\'  \''

# Folder names: each closes a docstring, a string or a comment its own way; one ends in a backslash.
HOSTILE_FOLDERS = [
    f'ck"""\n{INJECTION}\n"""',
    f"ck'''\n{INJECTION}\n'''",
    f'ck # comment\n{INJECTION}\n#',
    'ck {} %s {0} %(x)s ünï 🤗 \t tab',
    'ck ends in a backslash \\',
    f'ck\\"\\\'\\n{INJECTION}\\',
    f"ck\r{INJECTION}\x0b\x0c",
]

SAMPLE_OF = {
    "text-generation": "tiny-gpt2-lm",
    "fill-mask": "tiny-bert-mlm",
    "text-classification": "tiny-distilbert-sentiment",
    "token-classification": "tiny-bert-ner",
    "question-answering": "tiny-bert-qa",
    "text2text-generation": "tiny-t5",
    "zero-shot-classification": "tiny-bert-nli",
    "feature-extraction": "tiny-bert-mlm",
    "tokenize": "tiny-gpt2-lm",
    "chat-template": "tiny-gpt2-lm",
}


def code_tokens(source: str) -> list[tuple[int, str]]:
    """The script's code with every string literal left out: what a value could change if it became code."""
    return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.STRING]


def string_constants(source: str) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def hostile_values(task_id: str, text: str, label: str) -> dict:
    """Every free-text field of the task filled with hostile text (labels where the field is a list)."""
    return {
        "text-generation": {"text": text, "max_new_tokens": 5, "do_sample": False, "use_chat_template": False},
        "fill-mask": {"text": text + " [MASK]."},
        "text-classification": {"texts": text, "gold_labels": ", ".join([label] * len([t for t in text.split("\n") if t.strip()]))},
        "token-classification": {"text": text, "aggregation": "simple"},
        "question-answering": {"question": text, "context": text + " John works for Google."},
        "text2text-generation": {"prefix": text, "text": text, "max_length": 6, "num_beams": 1},
        # The template is the (short) hostile label: the whole hostile text as a hypothesis can leave the text no
        # room in a tiny model's positions, depending on how the sample's vocabulary splits it.
        "zero-shot-classification": {"text": text, "labels": f"{label}, {label} two", "hypothesis_template": label.replace("{", "{{").replace("}", "}}") + " {}"},
        "feature-extraction": {"sentences": text, "pooling": "mean"},
        "tokenize": {"text": text, "text_pair": text, "ids_to_decode": "1, 2"},
        "chat-template": {"conversation": [{"role": "system", "content": label}, {"role": "user", "content": text}], "template": ""},
    }[task_id]


def expected_literals(task_id: str, resolved: dict) -> list[str]:
    """Strings the script must hold as literals, as the task's script writes them."""
    if task_id == "question-answering":
        return [resolved["question"].strip(), resolved["context"]]
    if task_id == "text2text-generation":
        return [resolved["prefix"] + resolved["text"]]
    if task_id == "tokenize" and resolved["batch"]:
        return [line for line in resolved["text"].splitlines() if line.strip()]
    if task_id == "chat-template":
        return [turn["content"] for turn in resolved["conversation"]] + [resolved["tools"], resolved["template"]]
    texts = [v for k, v in resolved.items() if isinstance(v, str) and get_task(task_id).field(k).kind in ("text", "multiline")]
    lists = [item for v in resolved.values() if isinstance(v, list) for item in v]
    return texts + lists


def plain_twin(task_id: str, values: dict) -> dict:
    """The same settings with every text replaced by "x" (one per line) and every list by as many "x"."""
    task = get_task(task_id)
    resolved = task.resolve(values)
    twin = {}
    for name, value in resolved.items():
        if task.field(name).kind in ("text", "multiline"):  # as many lines: a padded batch has one text per line
            twin[name] = "\n".join("x" for line in value.splitlines() if line.strip()) or "x"
        elif task.field(name).kind == "conversation":  # as many turns, of the same roles
            twin[name] = [{"role": turn["role"], "content": "x"} for turn in value]
        elif isinstance(value, list):
            twin[name] = ["x"] * len(value)
        else:
            twin[name] = value
    return twin


def assert_only_data(task_id: str, path: str, values: dict, overrides=()) -> str:
    script = python_script(task_id, LoadRequest(path, None, config_overrides=overrides), values)
    twin_overrides = tuple((k, "x" if isinstance(v, str) else v) for k, v in overrides)
    twin = python_script(task_id, LoadRequest("x", None, config_overrides=twin_overrides), plain_twin(task_id, values))
    assert code_tokens(script) == code_tokens(twin), "a value changed the script's code"
    constants = string_constants(script)
    resolved = get_task(task_id).resolve(values)
    loaded_overrides = overrides if get_task(task_id).auto_class is not None else ()  # the tokenizer takes none
    for text in [path, *expected_literals(task_id, resolved), *(v for _, v in loaded_overrides if isinstance(v, str))]:
        assert text in constants, f"{text!r} is not a literal of the script"
    return script


# --------------------------------------------------------------------------- the code never changes


@pytest.mark.parametrize("task_id", list(SAMPLE_OF))
@pytest.mark.parametrize("folder", HOSTILE_FOLDERS)
def test_hostile_folder_and_inputs_are_literals(task_id, folder):
    overrides = parse_config_overrides([f"note={json.dumps(HOSTILE_TEXT)}"])
    script = assert_only_data(task_id, "/models/" + folder, hostile_values(task_id, HOSTILE_TEXT, HOSTILE_LABEL), overrides)
    docstring = ast.get_docstring(ast.parse(script))
    assert MARKER not in docstring and folder not in docstring


pieces = st.sampled_from(['"""', "'''", '"', "'", "\n", "\r", "\\", "#", "{}", "%s", "\x00", "\u2028", "🤗", "ü", " ", "x", MARKER, INJECTION])
hostile_strings = st.lists(pieces | st.text(max_size=4), max_size=12).map("".join)


def _check_random(task_id, text, label, folder, note):
    label = label.replace(",", "") or "x"
    text = "a" + text  # required fields must not be blank
    assert_only_data(task_id, "/m/" + folder, hostile_values(task_id, text, label), (("note", note),))


@settings(FAST, max_examples=150)  # four hostile strings per example: 150 keep it under a second
@given(st.sampled_from(list(SAMPLE_OF)), hostile_strings, hostile_strings, hostile_strings, hostile_strings)
def test_random_hostile_strings_stay_literals(task_id, text, label, folder, note):
    _check_random(task_id, text, label, folder, note)


@pytest.mark.slow
@DEEP
@given(st.sampled_from(list(SAMPLE_OF)), hostile_strings, hostile_strings, hostile_strings, hostile_strings)
def test_random_hostile_strings_stay_literals_deep(task_id, text, label, folder, note):
    _check_random(task_id, text, label, folder, note)


def test_every_task_is_covered():
    assert set(SAMPLE_OF) == {t.id for t in all_tasks()}


# --------------------------------------------------------------------------- numbers


def test_nan_config_value_becomes_a_literal_that_runs():
    overrides = parse_config_overrides(["layer_norm_epsilon=NaN", "initializer_range=-Infinity", "scale=1e999"])
    script = python_script("text-generation", LoadRequest("/m", None, config_overrides=overrides), {})
    line = next(line for line in script.splitlines() if "layer_norm_epsilon" in line)
    assert line.strip() == 'layer_norm_epsilon=float("nan"), initializer_range=float("-inf"), scale=float("inf")'
    ast.parse(script)
    values = eval(f"dict({line})", {"__builtins__": {"float": float, "dict": dict}})
    assert math.isnan(values["layer_norm_epsilon"]) and values["initializer_range"] == -math.inf and values["scale"] == math.inf


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_non_finite_settings_are_refused(raw):
    task = get_task("text-generation")
    with pytest.raises(TaskInputError, match=r"^Temperature must be a finite number; got '"):
        task.resolve({"temperature": raw})
    with pytest.raises(TaskInputError, match=r"^Seed must be a number"):
        task.resolve({"seed": raw})


def test_numbers_in_messages_are_written_as_people_write_them():
    task = get_task("text-generation")
    with pytest.raises(TaskInputError) as raised:
        task.resolve({"seed": 2**31})
    assert str(raised.value) == "Seed must be at most 2,147,483,647; got 2,147,483,648"
    with pytest.raises(TaskInputError) as raised:
        task.resolve({"top_p": "1.5"})
    assert str(raised.value) == "Top-p must be at most 1; got 1.5"
    with pytest.raises(TaskInputError) as raised:
        task.resolve({"temperature": "-0.001"})
    assert str(raised.value) == "Temperature must be at least 0; got -0.001"
    with pytest.raises(TaskInputError) as raised:
        task.resolve({"max_new_tokens": "9" * 5000})
    assert len(str(raised.value)) < 100


def invoke(argv, capsys):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    code = run_command(parser.parse_args(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_refuses_nan_and_writes_nan_config_as_a_call(sample, capsys):
    path = str(sample("tiny-gpt2-lm"))
    code, out, err = invoke(["text-generation", path, "--set", "temperature=nan", "--script"], capsys)
    assert code == 2 and err.strip() == "error: Temperature must be a finite number; got 'nan'"
    code, out, err = invoke(["text-generation", path, "--config", "layer_norm_epsilon=NaN", "--script"], capsys)
    assert code == 0 and 'layer_norm_epsilon=float("nan")' in out
    ast.parse(out)


# --------------------------------------------------------------------------- the scripts run


def _copy_with_labels(source, dest, id2label: dict[int, str] | None = None):
    shutil.copytree(source, dest)
    if id2label is not None:
        config = json.loads((dest / "config.json").read_text())
        config["id2label"] = {str(i): name for i, name in id2label.items()}
        config["label2id"] = {name: i for i, name in id2label.items()}
        (dest / "config.json").write_text(json.dumps(config))
    return dest


@pytest.mark.slow
def test_scripts_for_hostile_values_run_and_print_what_the_app_showed(sample, tmp_path):
    from explorer.core.samples import NER_LABELS

    work = tmp_path / "work"
    work.mkdir()
    session = ModelSession()
    expected, paths = [], []
    # The checkpoint's own labels are hostile too (token classification reads them from config.json).
    hostile_ner = {i: (name if name == "O" else f"{name}{HOSTILE_LABEL}") for i, name in enumerate(NER_LABELS)}
    for index, task_id in enumerate(SAMPLE_OF):
        folder = tmp_path / f"{index}" / HOSTILE_FOLDERS[index % len(HOSTILE_FOLDERS)]
        folder.parent.mkdir()
        _copy_with_labels(sample(SAMPLE_OF[task_id]), folder, hostile_ner if task_id == "token-classification" else None)
        config = [f"summary_activation={json.dumps(HOSTILE_TEXT)}", "initializer_range=NaN"] if task_id == "text-generation" else []
        if task_id == "text-classification":  # labels renamed at load time, and a gold label naming one of them
            config = ["id2label=" + json.dumps({"0": HOSTILE_LABEL, "1": f"{HOSTILE_LABEL} two"})]
        values = hostile_values(task_id, HOSTILE_TEXT, HOSTILE_LABEL)
        if task_id == "tokenize":  # a padded batch of the hostile lines (a second text goes with one text only)
            values.update(batch=True, text_pair="")
        request = LoadRequest(str(folder), None, config_overrides=parse_config_overrides(config))
        result = run_to_end(session.run(task_id, request, values))
        expected.append(summary_of(result))
        script = assert_only_data(task_id, str(folder), values, request.config_overrides)
        path = tmp_path / f"run_{index}.py"
        path.write_text(script, encoding="utf-8")
        paths.append(str(path))
    session.unload_now()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run([sys.executable, "-c", DRIVER, *paths], capture_output=True, text=True, timeout=300, cwd=work, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (work / MARKER).exists() and not (tmp_path / MARKER).exists()
    chunks = done.stdout.split("===== ")[1:]
    assert len(chunks) == len(SAMPLE_OF)
    for task_id, chunk, want in zip(SAMPLE_OF, chunks, expected):
        got = _last_json(chunk)
        assert _close(got, want), f"{task_id}: script printed {got!r}, app showed {want!r}"
