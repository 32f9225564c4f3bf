"""The scan on hostile checkpoints: each gets the problem that says what is wrong, quickly, and nothing else breaks."""

from __future__ import annotations

import time

import pytest

from explorer.core.checkpoint import SOURCE_FOLDER
from explorer.core.discovery import ConfigUnreadable, ScanLocation, read_config_file, scan_all
from tests import hostile_corpus as corpus


def scan_one(folder):
    found, _stats = scan_all([ScanLocation(SOURCE_FOLDER, str(folder))])
    assert len(found) == 1, [c.path for c in found]
    return found[0]


def test_a_fifo_config_is_named_as_such_not_as_missing(tmp_path):
    ckpt = scan_one(corpus.fifo_config(tmp_path / "ckpt"))
    config_problems = [p for p in ckpt.problems if "config.json" in p]
    assert config_problems == ["config.json: not a regular file (a FIFO, socket or device); not read"]
    with pytest.raises(ConfigUnreadable, match="not a regular file"):
        read_config_file(str(tmp_path / "ckpt" / "config.json"))


def test_architectures_that_are_not_class_names_are_a_problem(tmp_path):
    ckpt = scan_one(corpus.architectures_naming_no_class(tmp_path / "ckpt"))
    assert ckpt.architectures == ["GPT2ForTimeTravel"]
    assert any("architectures should list class names" in p for p in ckpt.problems)


@pytest.mark.parametrize(
    "build, message",
    [
        (corpus.deeply_nested_config, "nested too deeply|nested more than 100"),
        (corpus.moderately_nested_config, "nested more than 100 levels"),
    ],
)
def test_nesting_beyond_any_config_is_refused(tmp_path, build, message):
    ckpt = scan_one(build(tmp_path / "ckpt"))
    assert ckpt.model_type is None
    assert any(p.startswith("config.json") and __import__("re").search(message, p) for p in ckpt.problems), ckpt.problems


def test_numbers_of_thousands_of_digits_are_refused_in_words(tmp_path):
    folder = corpus.write_config(tmp_path / "ckpt")
    (folder / "config.json").write_text('{"model_type": "gpt2", "n_layer": ' + "9" * 5000 + "}")
    ckpt = scan_one(folder)
    assert any("thousands of digits" in p for p in ckpt.problems)
    assert not any("set_int_max_str_digits" in p for p in ckpt.problems)


@pytest.mark.slow
def test_a_config_of_850_000_keys_is_refused_in_seconds(tmp_path):
    folder = corpus.config_with_many_keys(tmp_path / "ckpt")
    started = time.monotonic()
    ckpt = scan_one(folder)
    assert time.monotonic() - started < 10
    assert any("more than 400,000 values" in p for p in ckpt.problems)
    with pytest.raises(ConfigUnreadable, match="more than 400,000 values"):
        read_config_file(str(folder / "config.json"))


def test_a_config_with_a_big_label_table_is_still_read(tmp_path):
    labels = {str(i): f"class {i}" for i in range(21843)}
    folder = corpus.write_config(tmp_path / "ckpt", id2label=labels, label2id={v: int(k) for k, v in labels.items()})
    ckpt = scan_one(folder)
    assert ckpt.model_type == "gpt2"
    assert not any("values" in p for p in ckpt.problems)
