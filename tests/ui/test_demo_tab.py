"""The Demo tab driven like a user: pick a task, fill the form, Run, wait on the worker's signals."""

from __future__ import annotations

import json
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidget

from explorer.core.checkpoint import Checkpoint
from explorer.tasks.base import TaskResult
from explorer.ui.demo_tab import DemoTab
from explorer.ui.demo_views.common import BarChart
from explorer.ui.demo_views.fill_mask import FillMaskView

pytestmark = pytest.mark.slow

WAIT = 60_000


def checkpoint_for(path) -> Checkpoint:
    config = json.loads((path / "config.json").read_text())
    return Checkpoint(id=path.name, source="folder", path=str(path), model_type=config.get("model_type"), architectures=config.get("architectures", []))


@pytest.fixture
def make_tab(qtbot, sample):
    tabs = []

    def make(name: str, show: bool = True) -> DemoTab:
        tab = DemoTab()
        qtbot.addWidget(tab)
        tabs.append(tab)
        tab.resize(1200, 800)
        if show:
            with qtbot.waitSignal(tab.devices_ready, timeout=WAIT):
                tab.show()
            select(qtbot, tab, sample(name))
        else:
            tab.set_checkpoint(checkpoint_for(sample(name)))
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()


def select(qtbot, tab: DemoTab, folder) -> None:
    """Select a checkpoint in a shown tab and wait for its task list (read in a job)."""
    with qtbot.waitSignal(tab.tasks_ready, timeout=WAIT):
        tab.set_checkpoint(checkpoint_for(folder))


def run_and_wait(qtbot, tab: DemoTab) -> TaskResult:
    with qtbot.waitSignal(tab.run_finished, timeout=WAIT) as blocker:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    return blocker.args[0]


def slow_down(tab: DemoTab, seconds: float) -> None:
    """Make each forward pass of the loaded model take a while, so a run can be stopped midway."""
    tab._session.loaded.model.register_forward_pre_hook(lambda *args: time.sleep(seconds))


def load(qtbot, tab: DemoTab) -> None:
    with qtbot.waitSignal(tab.job_stopped, timeout=WAIT):
        qtbot.mouseClick(tab.load_button, Qt.MouseButton.LeftButton)
    assert tab._session.loaded is not None


def test_nothing_heavy_until_shown(make_tab):
    tab = make_tab("tiny-bert-mlm", show=False)
    assert not tab.jobs.busy()
    assert tab.task.task_combo.count() == 0


def test_suggested_task_fill_mask_with_insert_button(qtbot, make_tab):
    tab = make_tab("tiny-bert-mlm")
    assert tab.current_task().id == "fill-mask"
    assert tab.task.task_combo.currentText().startswith("★")
    editor = tab.form().editors["text"]
    editor.setPlainText("Paris is the capital of ")
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    qtbot.mouseClick(tab.form().findChild(type(tab.run_button), "insert_text"), Qt.MouseButton.LeftButton)
    assert editor.toPlainText() == "Paris is the capital of [MASK]"
    tab.form().set_value("top_k", 3)
    with qtbot.waitSignal(tab.status_changed, timeout=WAIT) as status:
        result = run_and_wait(qtbot, tab)
    assert "BertForMaskedLM" in status.args[0] and "cpu" in status.args[0]
    view = tab.result_view()
    assert isinstance(view, FillMaskView)
    chart = view.findChild(BarChart)
    assert chart.labels == [p.token for p in result.masks[0].predictions] and len(chart.labels) == 3
    assert tab.options.unload_button.isEnabled() and tab.export.script_button.isEnabled()


def test_generation_streams_then_stop_ends_it(qtbot, make_tab):
    tab = make_tab("tiny-gpt2-lm")
    assert tab.current_task().id == "text-generation"
    assert tab.form().editors["use_chat_template"].isEnabled()  # the sample's tokenizer has one
    load(qtbot, tab)
    slow_down(tab, 0.03)
    tab.form().set_values({"max_new_tokens": 100, "do_sample": False})
    view_text = lambda: tab.result_view().text.toPlainText() if tab.result_view() else ""  # noqa: E731
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "tokens/s" in tab.result_view().stats.text(), timeout=WAIT)
    started = time.monotonic()
    with qtbot.waitSignal(tab.job_stopped, timeout=WAIT):
        qtbot.mouseClick(tab.task.stop_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - started < 1.0  # within a step or two
    assert "Stopped before the end" in tab.results.notices.text()
    assert view_text().startswith("user: Once upon a time")
    steps = int(tab.result_view().stats.text().split()[0])
    assert 1 <= steps < 100


def test_new_run_cancels_the_running_one(qtbot, make_tab):
    tab = make_tab("tiny-gpt2-lm")
    load(qtbot, tab)
    slow_down(tab, 0.03)
    tab.form().set_values({"max_new_tokens": 100, "do_sample": False})
    finished = []
    tab.run_finished.connect(finished.append)
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "tokens/s" in tab.result_view().stats.text(), timeout=WAIT)
    tab.form().set_values({"max_new_tokens": 3})
    with qtbot.waitSignal(tab.run_finished, timeout=WAIT):
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    assert len(finished) == 1 and finished[0].new_tokens == 3


@pytest.mark.parametrize(
    "sample_name, task_id, values, check",
    [
        ("tiny-distilbert-sentiment", "text-classification", {"texts": "good\nbad"}, lambda v, r: v.findChild(QTableWidget, "classification_table").rowCount() == 2),
        ("tiny-bert-ner", "token-classification", {"aggregation": "first"}, lambda v, r: v.table.rowCount() == len(r.entities) and "background-color" in v.text.toHtml()),
        ("tiny-bert-qa", "question-answering", {}, lambda v, r: v.table.rowCount() == len(r.answers) and v.plot is not None),
        ("tiny-t5", "text2text-generation", {"max_length": 8}, lambda v, r: v.text.toPlainText().strip() == (r.generated_text.strip() or "(empty output)")),
        ("tiny-bert-nli", "zero-shot-classification", {"labels": "sport, food"}, lambda v, r: sorted(v.chart.labels) == ["food", "sport"]),
        ("tiny-bert-mlm", "feature-extraction", {}, lambda v, r: v.heatmap is not None and len(r.similarity) == 3),
        ("tiny-bert-mlm", "tokenize", {"text": "Hello world"}, lambda v, r: v.table.rowCount() == r.counts.tokens == 4),
    ],
)
def test_every_task_renders(qtbot, make_tab, sample_name, task_id, values, check):
    tab = make_tab(sample_name)
    tab.select_task(task_id)
    tab.form().set_values(values)
    result = run_and_wait(qtbot, tab)
    assert result.task == task_id
    assert check(tab.result_view(), result)
    assert not tab.results.error_panel.isVisible()


def test_head_not_in_checkpoint_is_warned(qtbot, make_tab):
    tab = make_tab("tiny-bert-mlm")
    tab.select_task("text-classification")
    assert tab.task.task_warning.isVisible() and "newly initialised" in tab.task.task_warning.text()
    run_and_wait(qtbot, tab)
    assert tab.results.notices.isVisible() and "newly initialised" in tab.results.notices.text()


def test_unavailable_head_is_disabled_in_the_picker(make_tab):
    tab = make_tab("tiny-bert-mlm")
    index = next(i for i in range(tab.task.task_combo.count()) if tab.task.task_combo.itemData(i) == "text2text-generation")
    assert not tab.task.task_combo.model().item(index).isEnabled()


def test_bad_input_shows_inline_error(qtbot, make_tab):
    tab = make_tab("tiny-bert-mlm")
    tab.form().set_value("text", "no mask here")
    with qtbot.waitSignal(tab.run_failed, timeout=WAIT) as failed:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert "no mask token" in failed.args[0]
    assert tab.results.error_panel.isVisible() and "no mask token" in tab.results.error_panel.message.text()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    tab.form().set_value("text", "")
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)  # checked before any job starts
    assert "empty" in tab.results.error_panel.message.text() and not tab.is_busy()


def test_missing_device_is_an_error_not_a_fallback(qtbot, make_tab):
    tab = make_tab("tiny-bert-mlm")
    tab.options.device_combo.addItem("cuda:5 · gone", "cuda:5")
    tab.options.device_combo.setCurrentIndex(tab.options.device_combo.count() - 1)
    with qtbot.waitSignal(tab.run_failed, timeout=WAIT) as failed:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert "'cuda:5' is not available" in failed.args[0]
    assert tab._session.loaded is None


def test_copy_as_python_and_export_json(qtbot, make_tab, tmp_path):
    tab = make_tab("tiny-bert-qa")
    result = run_and_wait(qtbot, tab)
    script = tab.script_for_last_run()
    assert "AutoModelForQuestionAnswering.from_pretrained" in script and "What is Hugging Face creating?" in script
    compile(script, "run.py", "exec")
    target = tmp_path / "result.json"
    tab.export_json(str(target))
    assert json.loads(target.read_text())["answers"] == [answer.to_json() for answer in result.answers]


def test_unload_frees_and_reports(qtbot, make_tab):
    tab = make_tab("tiny-bert-mlm")
    run_and_wait(qtbot, tab)
    with qtbot.waitSignal(tab.status_changed, timeout=WAIT) as status:
        qtbot.mouseClick(tab.options.unload_button, Qt.MouseButton.LeftButton)
    assert status.args[0].startswith("No model loaded")
    assert tab._session.loaded is None and not tab.options.unload_button.isEnabled()


def test_shutdown_during_a_run_is_quick(qtbot, make_tab):
    tab = make_tab("tiny-gpt2-lm")
    load(qtbot, tab)
    slow_down(tab, 0.05)
    tab.form().set_values({"max_new_tokens": 100})
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "tokens/s" in tab.result_view().stats.text(), timeout=WAIT)
    started = time.monotonic()
    assert tab.shutdown() is True  # every worker thread ended
    assert time.monotonic() - started < 2.0


def test_checkpoint_without_tokenizer_is_warned_before_running(qtbot, sample, tmp_path):
    import shutil

    folder = tmp_path / "weights-only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(sample("tiny-bert-mlm") / name, folder / name)
    tab = DemoTab()
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.devices_ready, timeout=WAIT):
        tab.show()
    select(qtbot, tab, folder)
    assert tab.task.task_warning.isVisible() and "no tokenizer" in tab.task.task_warning.text()
    with qtbot.waitSignal(tab.run_failed, timeout=WAIT) as failed:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert "no tokenizer" in failed.args[0]
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    tab.shutdown()


def test_tokenizer_playground_decodes_ids(qtbot, make_tab):
    tab = make_tab("tiny-bert-mlm")
    tab.select_task("tokenize")
    tab.form().set_values({"text": "Hello world", "ids_to_decode": "2, 4"})
    run_and_wait(qtbot, tab)
    label = tab.result_view().findChild(QLabel, "decoded_ids")
    assert "[CLS] [MASK]" in label.text()


def test_dtypes_a_device_cannot_run_are_disabled_with_the_reason(make_tab):
    from explorer.tasks.devices import DeviceInfo, DtypeOption

    tab = make_tab("tiny-bert-mlm")
    old_gpu = DeviceInfo(
        "cuda:0", "cuda", "Old GPU", 8 << 30, 6 << 30,
        (DtypeOption("auto", True), DtypeOption("float32", True), DtypeOption("bfloat16", False, "needs compute capability 8.0"), DtypeOption("float16", True)),
    )
    tab.options.set_devices([tab.options.devices()[0], old_gpu], (True, "several devices"))
    tab.options.dtype_combo.setCurrentIndex(tab.options.dtype_combo.findData("bfloat16"))
    tab.options.device_combo.setCurrentIndex(1)
    index = tab.options.dtype_combo.findData("bfloat16")
    assert not tab.options.dtype_combo.model().item(index).isEnabled()
    assert "compute capability" in tab.options.dtype_combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert tab.options.dtype_combo.currentData() == "auto"  # moved off the disabled choice
    assert "6.0 GiB free of 8.0 GiB" in tab.options.device_combo.itemText(1)
    tab.options.spread_check.setChecked(True)
    assert not tab.options.device_combo.isEnabled()
    assert tab.request("AutoModel").spread is True


def test_busy_while_devices_are_detected(qtbot, sample):
    tab = DemoTab()
    qtbot.addWidget(tab)
    tab.set_checkpoint(checkpoint_for(sample("tiny-bert-mlm")))
    assert not tab.is_busy()  # nothing starts before the tab is shown
    with qtbot.waitSignal(tab.devices_ready, timeout=WAIT):
        tab.show()
        assert tab.is_busy()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    assert tab.shutdown() is True


def test_custom_code_heads_follow_auto_map(qtbot, tmp_path):
    """ChatGLM style: model_type unknown to transformers, heads only through auto_map (tutorials 000 and 002)."""
    auto_map = {
        "AutoConfig": "configuration_chatglm.ChatGLMConfig",
        "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
        "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
    }
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "chatglm", "architectures": ["ChatGLMModel"], "auto_map": auto_map}))
    for name in ("configuration_chatglm.py", "modeling_chatglm.py"):
        (tmp_path / name).write_text("# custom code\n")
    tab = DemoTab()
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.devices_ready, timeout=WAIT):
        tab.show()
    select(qtbot, tab, tmp_path)
    enabled = {tab.task.task_combo.itemData(i): tab.task.task_combo.model().item(i).isEnabled() for i in range(tab.task.task_combo.count())}
    assert enabled["text-generation"] and enabled["feature-extraction"] and enabled["tokenize"]
    assert not enabled["fill-mask"] and not enabled["text-classification"]
    tab.select_task("text-generation")
    assert "auto_map: modeling_chatglm.ChatGLMForConditionalGeneration" in tab.task.task_warning.text()
    assert "Config tab" in tab.task.task_warning.text()
    tab.shutdown()


def test_load_options_override_the_config(qtbot, make_tab):
    """Tutorial 004: from_pretrained(name, num_labels=10): warned before loading, fails without
    ignore_mismatched_sizes, runs with it, and the script says so."""
    tab = make_tab("tiny-distilbert-sentiment")
    assert not tab.options.load_options_box.isVisible()
    tab.options.config_overrides_edit.setPlainText("num_labels=10")
    assert tab.options.load_options_box.isVisible() and tab.options.load_options_toggle.text() == "Load options (1 set)"
    assert "classifier of 10 outputs; the saved one has 2" in tab.options.load_options_hint.text()
    with qtbot.waitSignal(tab.run_failed, timeout=WAIT) as failed:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert "Ignore mismatched sizes" in failed.args[0]
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    tab.options.ignore_mismatched_check.setChecked(True)
    assert "will start afresh" in tab.options.load_options_hint.text()
    result = run_and_wait(qtbot, tab)
    assert len(result.results[0].scores) == 10
    assert "newly initialised" in tab.results.notices.text()
    assert "num_labels=10, ignore_mismatched_sizes=True" in tab.script_for_last_run()
    tab.options.config_overrides_edit.setPlainText("num_labels")
    assert "write KEY=VALUE" in tab.options.load_options_hint.text()
    qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert "write KEY=VALUE" in tab.results.error_panel.message.text() and not tab.is_busy()


def test_load_options_are_cleared_for_another_checkpoint(qtbot, make_tab, sample):
    tab = make_tab("tiny-distilbert-sentiment")
    tab.options.config_overrides_edit.setPlainText("num_labels=10")
    tab.options.ignore_mismatched_check.setChecked(True)
    select(qtbot, tab, sample("tiny-bert-mlm"))
    assert tab.options.config_overrides_edit.toPlainText() == "" and not tab.options.ignore_mismatched_check.isChecked()
    assert tab.options.load_options_toggle.text() == "Load options"


@pytest.mark.parametrize(
    "sample_name, task_id, values, check",
    [
        (
            "tiny-distilbert-sentiment", "text-classification", {"texts": "good\nbad", "gold_labels": "POSITIVE, NEGATIVE"},
            lambda v, r: f"{r.loss:.6f}" in v.loss_label.text() and v.findChild(QTableWidget, "classification_table").columnCount() == 4,
        ),
        (
            "tiny-bert-mlm", "feature-extraction", {"layer": 1, "output_attentions": True},
            lambda v, r: "hidden_states[1] shape" in v.summary.text() and f"{r.attentions_shape}" in v.summary.text(),
        ),
        (
            "tiny-bert-mlm", "tokenize", {"text": "hello world\nhello", "batch": True},
            lambda v, r: v.table.rowCount() == 6 and v.table.columnCount() == 4 and v.table.item(5, 3).text() == "0" and v.table.item(3, 3).text() == "[PAD]",
        ),
        (
            "tiny-gpt2-lm", "text-generation", {"max_length": 12, "use_chat_template": False, "do_sample": False},
            lambda v, r: r.stopped == "eos" or "stopped at max length" in v.stats.text(),
        ),
    ],
)
def test_tutorial_options_render(qtbot, make_tab, sample_name, task_id, values, check):
    tab = make_tab(sample_name)
    tab.select_task(task_id)
    tab.form().set_values(values)
    result = run_and_wait(qtbot, tab)
    assert check(tab.result_view(), result)
    assert not tab.results.error_panel.isVisible()


def test_layer_spin_box_shows_last(make_tab):
    tab = make_tab("tiny-bert-mlm")
    tab.select_task("feature-extraction")
    assert tab.form().editors["layer"].text() == "last"
    assert tab.form().values()["layer"] == -1


def test_every_task_names_a_view_that_exists():
    from explorer.tasks.base import all_tasks
    from explorer.ui.demo_views import ResultView, create_view

    for task in all_tasks():
        view = create_view(task)
        assert isinstance(view, ResultView), task.id
        view.deleteLater()


def test_a_result_is_drawn_again_in_a_new_colour_scheme(qtbot, make_tab):
    from explorer.ui import palette

    tab = make_tab("tiny-bert-ner")
    result = run_and_wait(qtbot, tab)
    first = tab.result_view()
    palette.set_scheme(palette.DARK)
    try:
        palette.notifier().changed.emit(palette.DARK)
        view = tab.result_view()
        assert view is not first and view.result is result
        assert palette.ROLES["text"][1] in view.text.toHtml()  # entity spans in the dark scheme's ink
        assert palette.ROLES["warning_bg"][1] in tab.results.notices.styleSheet()
    finally:
        palette.set_scheme(None)
        palette.notifier().changed.emit(palette.scheme())
