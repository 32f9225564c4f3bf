"""The checkpoint's code is read, never run, and what it names enters the suggested Python as data.

Issue 10: a ``config_class`` string read from the checkpoint's code became code in the register
snippet, a FIFO named like a code file could block the reader, and the Config tab's snippets put
the folder path and names from config.json into code by formatting.
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import threading
import tokenize
from pathlib import Path

import pytest

from explorer.core.code_scan import scan_folder, suggested_registration
from explorer.core.config import build_config_report
from tests import hostile_corpus as corpus
from tests.core.config_fixtures import copy_sample

AUTO_NAMES = ["AutoModel", "AutoModelForMaskedLM", "AutoModelForCausalLM"]
# A folder name that closes a string literal, a docstring and a comment, then writes code.
HOSTILE_FOLDER = 'ck"""\'\'\' # {} %s \\"\nopen("PWNED", "w").write("folder")\n#'


def string_tokens_only(source: str, needle: str) -> None:
    """``needle`` occurs in ``source`` only inside string literals: never as code or in a comment."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.STRING:
            assert needle not in token.string, f"{needle!r} became code: {token!r}"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            assert needle not in node.id


def string_constants(source: str) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_config_class_string_in_the_code_never_becomes_code(tmp_path):
    marker = tmp_path / "ran.txt"
    folder = corpus.register_injection(tmp_path / "case", marker)
    report = build_config_report(str(folder))
    registration = report.code_scan.registration
    for source in (registration.python, report.python):
        string_tokens_only(source, "open(")
        string_tokens_only(source, "ran.txt")
    assert "InjectedModel.register" not in registration.python  # the register call names the scanned config class
    assert "AutoModel.register(InjectedConfig, InjectedModel)" in registration.python
    assert not marker.exists()


def test_a_config_class_the_folder_does_not_define_is_looked_up_by_name(tmp_path):
    """Only a modeling file: its ``config_class = "..."`` string reaches the snippet as a literal."""
    payload = "BertConfig, None); open('PWNED', 'w'); print(("
    folder = tmp_path / "only-model"
    folder.mkdir()
    (folder / "modeling_x.py").write_text(
        f"from transformers import PreTrainedModel\n\nclass XModel(PreTrainedModel):\n    config_class = {payload!r}\n"
    )
    code = suggested_registration(scan_folder(str(folder)), None, AUTO_NAMES)["python"]
    string_tokens_only(code, "PWNED")
    assert payload in string_constants(code)
    assert f"AutoModel.register(getattr(transformers, {json.dumps(payload)}), XModel)" in code


def test_register_snippet_with_a_hostile_folder_name(tmp_path):
    folder = corpus.register_injection(tmp_path / HOSTILE_FOLDER, tmp_path / "ran.txt")
    report = build_config_report(str(folder))
    for source in (report.code_scan.registration.python, report.python, report.load_hint):
        if source is not report.load_hint:
            string_tokens_only(source, "PWNED")
            assert str(folder) in string_constants(source)
    assert "PWNED" not in report.load_hint  # the hint quotes only the register calls


def test_folder_named_like_the_old_placeholder(tmp_path):
    """The register code once named the folder CHECKPOINT_FOLDER and replaced that text afterwards."""
    folder = tmp_path / 'CHECKPOINT_FOLDER"+open("PWNED","w")+"'
    (folder).mkdir()
    (folder / "configuration_CHECKPOINT_FOLDER.py").write_text(
        "from transformers import PreTrainedConfig\n\nclass CHECKPOINT_FOLDER(PreTrainedConfig):\n    model_type = 'CHECKPOINT_FOLDER'\n"
    )
    (folder / "config.json").write_text(json.dumps({"model_type": "CHECKPOINT_FOLDER"}))
    report = build_config_report(str(folder))
    string_tokens_only(report.python, "PWNED")
    assert str(folder) in string_constants(report.python)


def test_checkpoint_classes_do_not_shadow_the_names_the_snippet_uses(tmp_path):
    folder = tmp_path / "shadow"
    folder.mkdir()
    (folder / "configuration_x.py").write_text(
        "from transformers import PreTrainedConfig\n\nclass AutoConfig(PreTrainedConfig):\n    model_type = 'x'\n"
    )
    code = suggested_registration(scan_folder(str(folder)), "x", AUTO_NAMES)["python"]
    assert "class_1 = get_class_from_dynamic_module(" in code
    assert 'AutoConfig.register("x", class_1)' in code
    ast.parse(code)


def test_fifo_named_like_code_is_a_problem_not_a_hang(tmp_path):
    folder = corpus.fifo_code(tmp_path / "case")
    (folder / "configuration_x.py").write_text(
        "from transformers import PreTrainedConfig\n\nclass XConfig(PreTrainedConfig):\n    model_type = 'x'\n"
    )
    scans = []
    worker = threading.Thread(target=lambda: scans.append(scan_folder(str(folder))), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert scans, "scan_folder blocked on a FIFO"
    scan = scans[0]
    assert [c.name for c in scan.config_classes] == ["XConfig"]
    assert any(p.startswith("modeling_x.py is not a regular file") for p in scan.problems), scan.problems


@pytest.mark.parametrize(
    "source, reason",
    [
        ("-" * 100_000 + "1\n", "nested too deeply"),  # MemoryError inside the parser
        ("x = a" + ".a" * 200_000 + "\n", "nested too deeply"),  # RecursionError building the tree
        ("(" * 1000 + "\n", "cannot be parsed: SyntaxError"),
        ("x = 1\0\n", "cannot be parsed"),
    ],
)
def test_code_the_parser_cannot_take_is_a_problem(tmp_path, source, reason):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "modeling_x.py").write_text(source)
    scan = scan_folder(str(folder))
    assert len(scan.problems) == 1 and reason in scan.problems[0] and "\n" not in scan.problems[0]


def test_oversized_code_file_is_named_with_its_size(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "modeling_x.py").write_bytes(b"#" * (3 * 1024 * 1024))
    (problem,) = scan_folder(str(folder)).problems
    assert problem.startswith("modeling_x.py is 3.0 MiB")


# --------------------------------------------------------------------------- the Config tab's "python" snippet


@pytest.mark.slow
def test_config_snippet_with_a_hostile_path_runs_and_loads_that_folder(sample, tmp_path):
    folder = copy_sample(sample("tiny-bert-mlm"), tmp_path / HOSTILE_FOLDER)
    code = build_config_report(str(folder)).python
    string_tokens_only(code, "PWNED")
    assert str(folder) in string_constants(code)
    code += "\nprint(type(model).__name__, config.hidden_size)\n"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["BertForMaskedLM", "32"]
    assert not (tmp_path / "PWNED").exists()


def test_class_name_from_auto_map_never_reaches_a_comment():
    """With consent, resolves_to is the auto_map target's class name, read from config.json.

    The consent store refuses such an entry today; the snippet does not rely on it.
    """
    from dataclasses import replace

    from explorer.core.config import ResolutionRow
    from explorer.core.config.python_code import load_snippet

    target = "Evil\nopen('PWNED', 'w')#"
    row = ResolutionRow("AutoModel", resolves_to=target, relation="same")
    code = load_snippet("/m", [row], trusted=True, needs_code=True)
    assert "AutoModel.from_pretrained(" in code and "trust_remote_code=True" in code
    string_tokens_only(code, "PWNED")
    assert not any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "open" for n in ast.walk(ast.parse(code)))
    assert "# builds BertForMaskedLM, the class" in load_snippet("/m", [replace(row, resolves_to="BertForMaskedLM")], True, True)


@pytest.mark.slow
def test_registration_snippet_runs_from_a_hostile_folder(sample, tmp_path):
    """The register code (checkpoint classes, no auto_map) still loads the model from such a folder."""
    from tests.seed_fixtures import build_ltgbert

    folder = build_ltgbert(tmp_path / HOSTILE_FOLDER, sample("tiny-bert-mlm"), tmp_path / "code")
    config = json.loads((folder / "config.json").read_text())
    del config["auto_map"]
    (folder / "config.json").write_text(json.dumps(config))
    code = build_config_report(str(folder)).python
    string_tokens_only(code, "PWNED")
    code += "\nprint(type(model).__name__)\n"
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "LtgBertForMaskedLM"
    assert not (tmp_path / "PWNED").exists()
    assert Path(folder).is_dir()
