"""The registry feeds the window, the command line and the tests from one list; head suggestions;
device discovery."""

from __future__ import annotations

import pytest

from explorer.core import describe, task_catalog, transformers_tables
from explorer.tasks.base import all_tasks, get_task
from explorer.tasks.devices import check_dtype, find_device, list_devices, spread_available
from explorer.tasks.heads import checkpoint_facts, head_classes, mismatch_warning, task_choices
from explorer.tasks.base import TaskError


def test_every_task_is_declared_completely():
    tasks = all_tasks()
    assert [t.order for t in tasks] == sorted({t.order for t in tasks})  # one place each, no ties
    for task in tasks:
        assert task.run is not None and task.script is not None and task.summary is not None and task.text_lines is not None
        assert task.result_type and task.title and task.description and task.view
        assert task.resolve({}) == task.resolve(task.defaults())
        assert task.command_line.text in {f.name for f in task.inputs}
        for option in (task.command_line.context, task.command_line.labels):
            assert not option or option in {f.name for f in task.fields}
        for field in task.parameters:
            if field.minimum is not None:
                assert field.minimum <= field.default <= field.maximum


def test_every_task_declares_its_result_in_its_module():
    """A task's result is a TaskResult dataclass of its own module, with the notices the session adds to."""
    import dataclasses
    import inspect
    import sys

    from explorer.tasks.base import TaskResult

    for task in all_tasks():
        module = sys.modules[task.run.__module__]
        results = [item for item in vars(module).values() if inspect.isclass(item) and issubclass(item, TaskResult) and item.__module__ == module.__name__]
        assert len(results) == 1, f"{task.id}: {results}"
        names = [item.name for item in dataclasses.fields(results[0])]
        assert names[:2] == ["task", "result_type"] and "notices" in names, f"{task.id}: {names}"


def test_task_ids_are_written_only_in_their_own_modules():
    """Adding a task touches its module (and its view): nothing else lists the ids."""
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "explorer"
    owners = {task.id: Path(__import__(task.run.__module__, fromlist=["_"]).__file__).resolve() for task in all_tasks()}
    # The samples' model cards carry the Hub's pipeline tags, whose words our ids follow: data, not a list of tasks.
    hub_words = {package / "core" / "samples.py"}
    offenders = []
    for path in sorted(set(package.rglob("*.py")) - hub_words):
        text = path.read_text(encoding="utf-8")
        for task_id, owner in owners.items():
            if re.search(rf"""["']{re.escape(task_id)}["']""", text) and path.resolve() != owner:
                offenders.append(f"{path.relative_to(package)} writes {task_id!r}")
    assert not offenders, "\n".join(offenders)


def test_the_report_offers_what_the_tasks_declare():
    config = {"id2label": {"0": "entailment", "1": "not_entailment"}}
    tasks = task_catalog.offered_tasks(config, True, ["AutoModelForSequenceClassification", "AutoModel"])
    by_class = [t.id for t in all_tasks() if t.auto_class in (None, "AutoModelForSequenceClassification", "AutoModel")]
    assert tasks == by_class  # the classifier, zero-shot (an entailment label), features, tokenize: in the picker's order
    assert "zero-shot-classification" not in task_catalog.offered_tasks({}, True, ["AutoModelForSequenceClassification"])
    assert task_catalog.offered_tasks(config, False, ["AutoModel"]) == []


def test_scan_and_demo_read_one_model_type_table():
    assert describe.known_model_types is transformers_tables.known_model_types
    known = transformers_tables.known_model_types()
    assert {"bert", "gpt2", "t5"} <= known and "CONFIG_MAPPING" not in known  # an __all__ entry is no model type
    for auto_class, table in transformers_tables.auto_model_tables().items():
        assert set(table) <= known, auto_class


def test_head_tables_read_from_source():
    assert head_classes("bert", "AutoModelForMaskedLM") == ("BertForMaskedLM",)
    assert head_classes("bert", "AutoModelForSeq2SeqLM") == ()
    assert head_classes("gpt2", "AutoModelForCausalLM") == ("GPT2LMHeadModel",)


def test_model_type_transformers_does_not_know_is_unknown_not_headless():
    # Custom code (ChatGLM, LTG-BERT): only the checkpoint's auto_map can tell which heads exist.
    assert head_classes("chatglm", "AutoModelForCausalLM") is None
    assert head_classes("LtgBert", "AutoModelForMaskedLM") is None
    assert head_classes("mimi_decoder", "AutoModelForMaskedLM") == ()  # known config, no such head


CHATGLM_AUTO_MAP = {
    "AutoConfig": "configuration_chatglm.ChatGLMConfig",
    "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
    "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
    "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
}


def test_custom_code_heads_come_from_auto_map():
    by_id = {c.task_id: c for c in task_choices(["ChatGLMModel"], "chatglm", auto_map=CHATGLM_AUTO_MAP)}
    for task_id in ("text-generation", "text2text-generation", "feature-extraction"):
        assert by_id[task_id].available, task_id
        assert "auto_map" in by_id[task_id].warning and "Config tab" in by_id[task_id].warning  # consent note
    assert "modeling_chatglm.ChatGLMForConditionalGeneration" in by_id["text-generation"].warning
    for task_id in ("fill-mask", "text-classification", "token-classification", "question-answering"):
        assert not by_id[task_id].available, task_id
        assert "auto_map has no" in by_id[task_id].warning
    allowed = {c.task_id: c for c in task_choices(["ChatGLMModel"], "chatglm", auto_map=CHATGLM_AUTO_MAP, code_allowed=True)}
    assert allowed["text-generation"].available and "Config tab" not in allowed["text-generation"].warning


def test_unknown_model_type_without_auto_map_offers_no_head():
    by_id = {c.task_id: c for c in task_choices(["LtgBertForMaskedLM"], "LtgBert", auto_map={})}
    assert not any(c.available for c in by_id.values() if get_task(c.task_id).auto_class is not None)  # tokenizer-only tasks run
    assert "does not know LtgBert models" in by_id["fill-mask"].warning
    assert not by_id["feature-extraction"].suggested


def test_checkpoint_facts_read_auto_map(sample, tmp_path):
    import json

    assert checkpoint_facts(str(sample("tiny-bert-mlm"))).auto_map == {}
    assert checkpoint_facts(str(tmp_path)).auto_map is None  # no config.json: unknown
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "chatglm", "auto_map": CHATGLM_AUTO_MAP}))
    assert checkpoint_facts(str(tmp_path)).auto_map == CHATGLM_AUTO_MAP


def test_mismatch_warning_for_a_new_label_count():
    saved = {"architectures": ["DistilBertForSequenceClassification"], "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}, "dim": 32}
    head = "AutoModelForSequenceClassification"
    assert "classifier of 10 outputs; the saved one has 2" in mismatch_warning(saved, {"num_labels": 10}, head)
    assert mismatch_warning(saved, {"num_labels": 2}, head) == ""
    # A masked-LM checkpoint has no saved classifier: the new one starts afresh anyway, nothing mismatches.
    assert mismatch_warning({**saved, "architectures": ["DistilBertForMaskedLM"]}, {"num_labels": 10}, head) == ""
    assert "dim 64 differs from the saved 32" in mismatch_warning(saved, {"dim": 64}, "AutoModel")
    assert mismatch_warning(saved, {"output_hidden_states": True}, head) == ""


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
