"""The Demo tab true to the checkpoint: each setting starts from the checkpoint's value and says where it
came from, the tab opens on the checkpoint's task, and the last inputs per checkpoint come back.

The settings with sources come from a task declared here: a real TaskSpec (the tokenizer playground's
run, with decoding-like parameters) whose checkpoint_defaults read a file the test writes, as text
generation reads generation_config.json.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from explorer.core.checkpoint import Checkpoint
from explorer.core.demo_inputs import inputs_file
from explorer.tasks import base, tokenize
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CHOICE,
    KIND_CONVERSATION,
    KIND_FLOAT,
    KIND_ID_SEQUENCES,
    KIND_IDS,
    KIND_INT,
    KIND_LINES,
    SOURCE_CHANGED,
    SOURCE_CHECKPOINT,
    SOURCE_LIBRARY,
    CommandLine,
    Field,
    Sourced,
    TaskSpec,
)

WAIT = 60_000
TASK_ID = "sourced-demo"
SETTINGS_FILE = "demo_settings.json"

SETTINGS = (
    Field("do_sample", "Sampling", KIND_BOOL, default=False),
    Field("temperature", "Temperature", KIND_FLOAT, default=1.0, minimum=0.0, maximum=100.0, step=0.05, requires="do_sample"),
    Field("top_k", "Top-k", KIND_INT, default=50, minimum=0, maximum=1000, step=1, requires="do_sample"),
    Field("suppress_tokens", "Suppressed tokens (ids)", KIND_IDS, default=[]),
    Field("bad_words_ids", "Bad words (ids)", KIND_ID_SEQUENCES, default=[]),
    Field("stop_strings", "Stop strings", KIND_LINES, default=[]),
    Field("early_stopping", "Early stopping", KIND_CHOICE, default="off", choices=("off", "on", "never")),
)
TURNS = Field("turns", "Conversation", KIND_CONVERSATION, default=[{"role": "user", "content": "Hi"}])
LIBRARY = {"do_sample": False, "temperature": 1.0, "top_k": 50, "suppress_tokens": [], "bad_words_ids": [], "stop_strings": [], "early_stopping": "off"}


def settings_of(folder: str, loaded=None) -> dict[str, Sourced]:
    """What the checkpoint's demo_settings.json sets, transformers-like defaults for the rest; a broken file raises."""
    path = os.path.join(folder, SETTINGS_FILE)
    written = json.loads(Path(path).read_text()) if os.path.exists(path) else {}
    return {
        name: Sourced(written[name], SOURCE_CHECKPOINT, SETTINGS_FILE) if name in written else Sourced(value, SOURCE_LIBRARY)
        for name, value in LIBRARY.items()
    }


@pytest.fixture
def sourced_task():
    """The task, registered for one test (every other test sees the registry as it was)."""
    base.all_tasks()
    spec = base.register(
        TaskSpec(
            id=TASK_ID,
            order=99,
            title="Sourced demo",
            description="The tokenizer playground with settings that start from the checkpoint.",
            auto_class=None,
            inputs=tokenize.INPUTS,
            parameters=tokenize.PARAMETERS + SETTINGS + (TURNS,),
            command_line=CommandLine(text="text"),
            run=tokenize.SPEC.run,
            script=lambda values, checkpoint: tokenize.SPEC.script(values),
            summary=tokenize.SPEC.summary,
            text_lines=tokenize.SPEC.text_lines,
            result_type=tokenize.SPEC.result_type,
            view=tokenize.SPEC.view,
            checkpoint_defaults=settings_of,
        )
    )
    yield spec
    base._REGISTRY.pop(TASK_ID, None)


def checkpoint_folder(sample, tmp_path: Path, name: str, settings: dict | None = None, card: str | None = "keep") -> Path:
    """A copy of a sample checkpoint, with a demo_settings.json and another model card (or none) if asked."""
    folder = tmp_path / name
    shutil.copytree(sample(name), folder)
    if settings is not None:
        (folder / SETTINGS_FILE).write_text(json.dumps(settings))
    if card is None:
        (folder / "README.md").unlink()
    elif card != "keep":
        (folder / "README.md").write_text(card)
    return folder


# --------------------------------------------------------------------------- the form alone


def make_form(qtbot, spec, folder):
    from explorer.ui.demo_form import TaskForm

    form = TaskForm(spec, None, spec.defaults_for(str(folder)))
    qtbot.addWidget(form)
    form.resize(700, 900)
    form.show()
    return form


def test_settings_start_from_the_checkpoint_and_say_so(qtbot, sample, tmp_path, sourced_task):
    written = {"do_sample": True, "temperature": 0.6666, "suppress_tokens": [50256, 198], "bad_words_ids": [[1, 2], [3]], "stop_strings": ["###", "END"]}
    form = make_form(qtbot, sourced_task, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", written))
    assert form.source_text("temperature") == "checkpoint (demo_settings.json)"
    assert form.source_labels["temperature"].text() == "checkpoint (demo_settings.json)"
    assert form.source_text("top_k") == "transformers default"
    assert form.source_text("text") == ""  # a field without a checkpoint value keeps today's look
    assert "source_text" not in form.source_labels
    # Exactly the checkpoint's values, though a spin box would round 0.6666 to two decimals.
    assert form.editors["temperature"].text() == "0.6666"
    assert form.editors["suppress_tokens"].text() == "50256, 198"
    assert form.editors["bad_words_ids"].toPlainText() == "1, 2\n3"
    resolved = sourced_task.resolve(form.values())
    assert {name: resolved[name] for name in written} == written
    assert not any(form.reset_buttons[name].isVisible() for name in LIBRARY)
    # Many such settings fold into a section whose header counts what came from where.
    assert form.section is not None and form.section.toggle.text() == "Decoding"
    assert form.section.summary.text() == "7 settings · 5 from demo_settings.json, 2 transformers default"
    form.resize(500, 900)  # a narrow form: the file alone, the rest in the tooltip
    qtbot.waitUntil(lambda: form.source_labels["temperature"].text() == "demo_settings.json")
    assert "checkpoint's demo_settings.json" in form.source_labels["temperature"].toolTip()
    assert form.source_labels["top_k"].text() == "transformers default"
    form.resize(380, 900)  # narrower still (the window's Demo tab at 1280 px): a word
    qtbot.waitUntil(lambda: form.source_labels["temperature"].text() == "checkpoint")
    assert form.source_labels["top_k"].text() == "default"
    assert "checkpoint's demo_settings.json" in form.source_labels["temperature"].toolTip()


def test_a_changed_setting_says_so_and_reset_brings_the_checkpoint_value_back(qtbot, sample, tmp_path, sourced_task):
    form = make_form(qtbot, sourced_task, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {"do_sample": True, "temperature": 0.7}))
    with qtbot.waitSignal(form.changed):
        form.editors["temperature"].setValue(1.3)
    assert form.source_labels["temperature"].text() == SOURCE_CHANGED and form.is_changed("temperature")
    assert form.reset_buttons["temperature"].isVisible()
    assert "1 changed here" in form.section.summary.text() and form.section.reset_all.isVisible()
    assert form.values_to_remember()["temperature"] == 1.3 and "top_k" not in form.values_to_remember()
    qtbot.mouseClick(form.reset_buttons["temperature"], Qt.MouseButton.LeftButton)
    assert form.values()["temperature"] == 0.7
    assert form.source_labels["temperature"].text() == "checkpoint (demo_settings.json)"
    assert not form.reset_buttons["temperature"].isVisible() and not form.section.reset_all.isVisible()


def test_the_same_value_written_otherwise_is_not_a_change(qtbot, sample, tmp_path, sourced_task):
    form = make_form(qtbot, sourced_task, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {"suppress_tokens": [50256, 198]}))
    form.editors["suppress_tokens"].setText("50256 198")
    assert form.source_text("suppress_tokens") == "checkpoint (demo_settings.json)"
    form.editors["suppress_tokens"].setText("50256, 19")
    assert form.source_text("suppress_tokens") == SOURCE_CHANGED
    form.editors["suppress_tokens"].setText("50256, x")  # unreadable while typing: not the checkpoint's
    assert form.source_text("suppress_tokens") == SOURCE_CHANGED
    form.editors["early_stopping"].setCurrentText("never")
    form.editors["stop_strings"].setPlainText("END")
    assert form.source_text("early_stopping") == form.source_text("stop_strings") == SOURCE_CHANGED
    qtbot.mouseClick(form.section.reset_all, Qt.MouseButton.LeftButton)
    assert not any(form.is_changed(name) for name in LIBRARY)


def test_settings_that_need_sampling_stay_greyed_out_with_their_source(qtbot, sample, tmp_path, sourced_task):
    form = make_form(qtbot, sourced_task, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {}))
    assert not form.editors["temperature"].isEnabled() and form.source_text("temperature") == "transformers default"
    form.editors["do_sample"].setChecked(True)
    assert form.editors["temperature"].isEnabled() and form.source_text("do_sample") == SOURCE_CHANGED


def test_folding_the_section_hides_its_rows(qtbot, sample, tmp_path, sourced_task):
    form = make_form(qtbot, sourced_task, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {}))
    assert form.editors["top_k"].isVisible()
    qtbot.mouseClick(form.section.toggle, Qt.MouseButton.LeftButton)
    assert not form.editors["top_k"].isVisible() and form.editors["add_special_tokens"].isVisible()


def test_restored_values_a_field_refuses_are_left_out(qtbot, sample, tmp_path, sourced_task):
    form = make_form(qtbot, sourced_task, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {"temperature": 0.7}))
    restored = form.restore({"temperature": "hot", "top_k": 7, "early_stopping": "sometimes", "text": "hello", "gone": 1})
    assert sorted(restored) == ["text", "top_k"]
    assert form.source_text("temperature") == "checkpoint (demo_settings.json)" and form.source_text("top_k") == SOURCE_CHANGED
    assert form.restore(["not", "a", "dict"]) == []


@pytest.mark.parametrize("turn_editor", [True, False], ids=["turn-editor", "plain-text"])
def test_chat_turns_go_through_the_form(qtbot, sample, tmp_path, sourced_task, monkeypatch, turn_editor):
    if not turn_editor:  # without the turn-by-turn editor, "role: content" lines say the same
        monkeypatch.setitem(sys.modules, "explorer.ui.conversation_editor", None)
    form = make_form(qtbot, sourced_task, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {}))
    assert TURNS.convert(form.values()["turns"]) == TURNS.default
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Two\nlines"}, {"role": "assistant", "content": "Ok"}]
    form.set_value("turns", turns)
    assert TURNS.convert(form.values()["turns"]) == turns
    form.set_value("turns", TURNS.default)
    assert form.restore({"turns": turns}) == ["turns"] and TURNS.convert(form.values()["turns"]) == turns


# --------------------------------------------------------------------------- the tab


def checkpoint_for(path: Path) -> Checkpoint:
    config = json.loads((path / "config.json").read_text())
    return Checkpoint(id=path.name, source="folder", path=str(path), model_type=config.get("model_type"), architectures=config.get("architectures", []))


@pytest.fixture
def make_tab(qtbot):
    from explorer.ui.demo_tab import DemoTab

    tabs = []

    def make():
        tab = DemoTab()
        qtbot.addWidget(tab)
        tabs.append(tab)
        tab.resize(1200, 800)
        with qtbot.waitSignal(tab.devices_ready, timeout=WAIT):
            tab.show()
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()


def select(qtbot, tab, folder: Path) -> None:
    with qtbot.waitSignal(tab.tasks_ready, timeout=WAIT):
        tab.set_checkpoint(checkpoint_for(folder))


def run_and_wait(qtbot, tab):
    with qtbot.waitSignal(tab.run_finished, timeout=WAIT) as blocker:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)  # the inputs are written too
    return blocker.args[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, card, task_id, reason",
    [
        ("tiny-bert-nli", "keep", "zero-shot-classification", "the model card's pipeline_tag is zero-shot-classification"),
        ("tiny-bert-nli", None, "text-classification", "the checkpoint was saved as BertForSequenceClassification"),
        ("tiny-bert-mlm", "---\npipeline_tag: sentence-similarity\n---\n# embeddings\n", "feature-extraction", "pipeline_tag is sentence-similarity"),
        ("tiny-t5", "---\npipeline_tag: translation\n---\n", "text2text-generation", "pipeline_tag is translation"),
        ("tiny-gpt2-lm", None, "text-generation", "saved as GPT2LMHeadModel"),
        ("tiny-bert-mlm", "---\npipeline_tag: image-classification\n---\n", "fill-mask", "saved as BertForMaskedLM"),
    ],
)
def test_the_tab_opens_on_the_checkpoints_task(qtbot, make_tab, sample, tmp_path, name, card, task_id, reason):
    tab = make_tab()
    select(qtbot, tab, checkpoint_folder(sample, tmp_path, name, card=card))
    assert tab.current_task().id == task_id
    assert reason in tab.task.task_reason.text()
    tab.select_task("tokenize")
    assert tab.task.task_reason.text() == ""


@pytest.mark.slow
def test_the_tab_shows_the_checkpoints_settings(qtbot, make_tab, sample, tmp_path, sourced_task):
    tab = make_tab()
    select(qtbot, tab, checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {"temperature": 0.25, "top_k": 5}))
    tab.select_task(TASK_ID)
    assert tab.form().values()["temperature"] == 0.25 and tab.form().source_text("top_k") == "checkpoint (demo_settings.json)"


@pytest.mark.slow
def test_a_task_whose_settings_cannot_be_read_is_a_warning(qtbot, make_tab, sample, tmp_path, sourced_task):
    folder = checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm")
    (folder / SETTINGS_FILE).write_text("{not json")
    tab = make_tab()
    select(qtbot, tab, folder)
    assert tab.current_task().id == "text-generation"  # the selection goes on
    tab.select_task(TASK_ID)
    warning = tab.task.task_warning.text()
    assert "settings for Sourced demo could not be read (JSONDecodeError" in warning and "Traceback" not in warning
    assert tab.form().sources() == {} and tab.form().values()["temperature"] == 1.0


@pytest.mark.slow
def test_last_inputs_come_back_for_the_checkpoint(qtbot, make_tab, sample, tmp_path):
    mlm = checkpoint_folder(sample, tmp_path, "tiny-bert-mlm")
    other = checkpoint_folder(sample, tmp_path, "tiny-bert-ner")
    tab = make_tab()
    select(qtbot, tab, mlm)
    tab.form().set_values({"text": "Paris is the [MASK] of France.", "top_k": 3})
    run_and_wait(qtbot, tab)
    select(qtbot, tab, other)
    assert tab.current_task().id == "token-classification"
    select(qtbot, tab, mlm)
    assert tab.current_task().id == "fill-mask"
    assert tab.form().values()["text"] == "Paris is the [MASK] of France." and tab.form().values()["top_k"] == 3
    # A new window (same settings folder) brings them back too.
    second = make_tab()
    select(qtbot, second, mlm)
    assert second.form().values()["text"] == "Paris is the [MASK] of France." and second.form().values()["top_k"] == 3
    select(qtbot, second, other)
    assert second.form().values()["text"] != "Paris is the [MASK] of France."


@pytest.mark.slow
def test_remembered_settings_show_as_changed_and_the_others_follow_the_checkpoint(qtbot, make_tab, sample, tmp_path, sourced_task):
    folder = checkpoint_folder(sample, tmp_path, "tiny-gpt2-lm", {"do_sample": True, "temperature": 0.7, "top_k": 20})
    tab = make_tab()
    select(qtbot, tab, folder)
    tab.select_task(TASK_ID)
    tab.form().set_values({"text": "hello there", "temperature": 1.5})
    result = run_and_wait(qtbot, tab)
    assert result.task == "tokenize" and result.counts.characters == len("hello there")
    stored = json.loads(inputs_file().read_text())["checkpoints"][0]
    assert stored["path"] == str(folder) and stored["tasks"][TASK_ID]["temperature"] == 1.5
    assert "top_k" not in stored["tasks"][TASK_ID]  # left at the checkpoint's value: not kept
    (folder / SETTINGS_FILE).write_text(json.dumps({"do_sample": True, "temperature": 0.7, "top_k": 30}))
    second = make_tab()
    select(qtbot, second, folder)
    second.select_task(TASK_ID)
    form = second.form()
    assert form.values()["text"] == "hello there"
    assert form.values()["temperature"] == 1.5 and form.source_text("temperature") == SOURCE_CHANGED
    assert form.values()["top_k"] == 30 and form.source_text("top_k") == "checkpoint (demo_settings.json)"


@pytest.mark.slow
def test_a_damaged_remembered_entry_is_ignored(qtbot, make_tab, sample, tmp_path):
    folder = checkpoint_folder(sample, tmp_path, "tiny-bert-mlm")
    inputs_file().parent.mkdir(parents=True, exist_ok=True)
    entry = {"path": str(folder), "tasks": {"fill-mask": {"text": {"not": "text"}, "top_k": "many"}, "tokenize": "damaged"}}
    inputs_file().write_text(json.dumps({"version": 1, "checkpoints": [entry, {"path": 3}]}))
    tab = make_tab()
    select(qtbot, tab, folder)
    assert tab.current_task().id == "fill-mask"
    assert tab.form().values()["text"] == tab.current_task().field("text").default and tab.form().values()["top_k"] == 5
    tab.select_task("tokenize")
    assert tab.form().values()["text"] == tab.current_task().field("text").default
