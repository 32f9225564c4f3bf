"""The registry feeds the window, the command line and the tests from one list; head suggestions;
device discovery."""

from __future__ import annotations

import pytest

from explorer.tasks.base import TASK_ORDER, all_tasks, get_task
from explorer.tasks.cli import TEXT_FIELD
from explorer.tasks.devices import check_dtype, find_device, list_devices, spread_available
from explorer.tasks.heads import head_classes, task_choices
from explorer.tasks.base import TaskError


def test_every_task_is_declared_completely():
    tasks = all_tasks()
    assert [t.id for t in tasks] == list(TASK_ORDER)
    for task in tasks:
        assert task.run is not None and task.script is not None and task.summary is not None
        assert task.result_type and task.title and task.description
        assert task.resolve({}) == task.resolve(task.defaults())
        assert task.id in TEXT_FIELD and TEXT_FIELD[task.id] in {f.name for f in task.inputs}
        for field in task.parameters:
            if field.minimum is not None:
                assert field.minimum <= field.default <= field.maximum


def test_tasks_match_the_config_engineers_catalog():
    catalog = pytest.importorskip("explorer.core.task_catalog")
    for task_id, auto_class in catalog.TASK_AUTO_CLASS.items():
        assert get_task(task_id).auto_class == auto_class


def test_head_tables_read_from_source():
    assert head_classes("bert", "AutoModelForMaskedLM") == ("BertForMaskedLM",)
    assert head_classes("bert", "AutoModelForSeq2SeqLM") == ()
    assert head_classes("gpt2", "AutoModelForCausalLM") == ("GPT2LMHeadModel",)


def test_task_choices_for_samples():
    by_id = {c.task_id: c for c in task_choices(["BertForMaskedLM"], "bert")}
    assert by_id["fill-mask"].suggested and not by_id["fill-mask"].warning
    assert not by_id["text-classification"].suggested
    assert "newly initialised" in by_id["text-classification"].warning
    assert not by_id["text2text-generation"].available
    assert by_id["feature-extraction"].available and not by_id["feature-extraction"].warning
    assert by_id["tokenize"].suggested
    nli = {c.task_id: c for c in task_choices(["BertForSequenceClassification"], "bert", ["contradiction", "neutral", "entailment"])}
    assert nli["zero-shot-classification"].suggested and nli["text-classification"].suggested
    sentiment = {c.task_id: c for c in task_choices(["DistilBertForSequenceClassification"], "distilbert", ["NEGATIVE", "POSITIVE"])}
    assert not sentiment["zero-shot-classification"].suggested
    assert "entailment" in sentiment["zero-shot-classification"].warning


def test_devices():
    devices = list_devices()
    assert devices[0].id == "cpu" and devices[0].dtype("float32").supported
    cpu = find_device("cpu", devices)
    check_dtype(cpu, "bfloat16")
    with pytest.raises(TaskError, match="not one of"):
        check_dtype(cpu, "int3")
    if not any(d.kind == "cuda" for d in devices):
        with pytest.raises(TaskError, match="not available"):
            find_device("cuda", devices)
    available, reason = spread_available(devices)
    assert available and reason
