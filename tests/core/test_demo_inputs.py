"""The Demo tab's remembered inputs: per checkpoint and task, bounded, atomic, never an error to read."""

from __future__ import annotations

import json
import os

from explorer.core.demo_inputs import MAX_CHECKPOINTS, MAX_VALUE_CHARS, inputs_file, remember_inputs, remembered_inputs


def test_inputs_come_back_per_checkpoint_and_task(tmp_path):
    remember_inputs(str(tmp_path / "a"), "fill-mask", {"text": "Paris is the [MASK].", "top_k": 3})
    remember_inputs(str(tmp_path / "a"), "tokenize", {"text": "hello", "batch": False})
    remember_inputs(str(tmp_path / "b"), "fill-mask", {"text": "other"})
    assert remembered_inputs(str(tmp_path / "a")) == {"tokenize": {"text": "hello", "batch": False}, "fill-mask": {"text": "Paris is the [MASK].", "top_k": 3}}
    assert remembered_inputs(str(tmp_path / "b" / ".." / "b")) == {"fill-mask": {"text": "other"}}
    assert remembered_inputs(str(tmp_path / "c")) == {}
    assert not [name for name in os.listdir(inputs_file().parent) if name.startswith(".")]  # no temporary file left


def test_the_most_recent_checkpoints_are_kept(tmp_path):
    for index in range(MAX_CHECKPOINTS + 5):
        remember_inputs(str(tmp_path / f"model-{index}"), "tokenize", {"text": str(index)})
    kept = json.loads(inputs_file().read_text())["checkpoints"]
    assert len(kept) == MAX_CHECKPOINTS
    assert remembered_inputs(str(tmp_path / "model-0")) == {}
    assert remembered_inputs(str(tmp_path / f"model-{MAX_CHECKPOINTS + 4}")) == {"tokenize": {"text": str(MAX_CHECKPOINTS + 4)}}


def test_values_that_are_not_plain_or_too_large_are_not_kept(tmp_path):
    remember_inputs(str(tmp_path), "tokenize", {"text": "x" * (MAX_VALUE_CHARS + 1), "nan": float("nan"), "ok": [1, 2], "turns": [{"role": "user", "content": "hi"}]})
    assert remembered_inputs(str(tmp_path)) == {"tokenize": {"ok": [1, 2], "turns": [{"role": "user", "content": "hi"}]}}


def test_a_damaged_file_or_entry_is_nothing_remembered(tmp_path):
    inputs_file().parent.mkdir(parents=True, exist_ok=True)
    for damaged in ("{not json", "[]", json.dumps({"version": 1, "checkpoints": {"a": 1}}), "\x00" * 10):
        inputs_file().write_text(damaged)
        assert remembered_inputs(str(tmp_path)) == {}
    entries = [{"path": str(tmp_path), "tasks": {"good": {"text": "kept"}, "bad": [1], "worse": {"x": {"deep": {"er": {"and": {"deeper": {"still": 1}}}}}}}}, "junk", {"path": 1}]
    inputs_file().write_text(json.dumps({"version": 1, "checkpoints": entries}))
    assert remembered_inputs(str(tmp_path)) == {"good": {"text": "kept"}}
    remember_inputs(str(tmp_path / "other"), "tokenize", {"text": "new"})  # a damaged file is replaced by a good one
    assert remembered_inputs(str(tmp_path)) == {"good": {"text": "kept"}}
    assert remembered_inputs(str(tmp_path / "other")) == {"tokenize": {"text": "new"}}


def test_a_newer_versions_file_is_left_as_it_is(tmp_path):
    inputs_file().parent.mkdir(parents=True, exist_ok=True)
    newer = json.dumps({"version": 99, "checkpoints": [{"path": str(tmp_path), "tasks": {"tokenize": {"text": "newer"}}}]})
    inputs_file().write_text(newer)
    assert remember_inputs(str(tmp_path), "tokenize", {"text": "older"}) is False
    assert inputs_file().read_text() == newer
