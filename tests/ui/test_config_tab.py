"""The Config tab renders the report built in a worker, filters fields, handles consent and compares."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from explorer.core.checkpoint import Checkpoint, CheckpointFile
from explorer.core.consent import ConsentStore
from explorer.ui.config_fields_model import FILTER_CHANGED, FILTER_UNKNOWN
from explorer.ui import palette
from explorer.ui.config_tab import ConfigTab
from tests.core.config_fixtures import copy_sample, write_config, write_custom_code_checkpoint


def _checkpoint(folder) -> Checkpoint:
    files = [CheckpointFile(p.name, str(p), p.stat().st_size) for p in sorted(folder.iterdir()) if p.is_file()]
    return Checkpoint(id=folder.name, source="folder", path=str(folder), files=files)


@pytest.fixture
def tab(qtbot):
    def finish_jobs(widget):
        # Each shown report starts a weights check. Cancel it and run the event loop until its thread has
        # ended: pytest-qt deletes the widget next.
        widget.set_checkpoint(None)
        qtbot.waitUntil(lambda: not widget.jobs.threads_running(), timeout=30_000)

    widget = ConfigTab()
    qtbot.addWidget(widget, before_close_func=finish_jobs)
    widget.resize(1100, 750)
    return widget


def _show(qtbot, tab, folder):
    with qtbot.waitSignal(tab.report_shown, timeout=30_000) as blocker:
        tab.set_checkpoint(_checkpoint(folder))
        tab.show()
    return blocker.args[0]


def _visible_top_level_names(tab) -> list[str]:
    proxy = tab.fields_page.fields_proxy
    return [proxy.index(row, 0).data() for row in range(proxy.rowCount())]


def _auto_class_rows(tab) -> dict[str, int]:
    model = tab.auto_classes_page.model
    return {model.index(row, 0).data(): row for row in range(model.rowCount())}


def _cell(tab, row: int, column: int):
    return tab.auto_classes_page.model.index(row, column)


def _select_row(tab, row: int) -> None:
    page = tab.auto_classes_page
    page.table.setCurrentIndex(page.model.index(row, 0))


def test_nothing_is_built_until_the_tab_is_visible(qtbot, tab, sample):
    tab.set_checkpoint(_checkpoint(sample("tiny-bert-mlm")))
    assert tab.current_report() is None and not tab.jobs.busy("report")
    with qtbot.waitSignal(tab.report_shown, timeout=30_000):
        tab.show()
    assert tab.current_report().model_type == "bert"


def test_fields_search_and_filters(qtbot, tab, sample, tmp_path):
    folder = copy_sample(sample("tiny-bert-mlm"), tmp_path / "knob", lambda c: {**c, "my_secret_knob": 1})
    _show(qtbot, tab, folder)
    names = _visible_top_level_names(tab)
    assert "vocab_size" in names and "my_secret_knob" in names
    page = tab.fields_page
    page.filter_combo.setCurrentIndex(page.filter_combo.findData(FILTER_UNKNOWN))
    assert _visible_top_level_names(tab) == ["my_secret_knob"]
    page.filter_combo.setCurrentIndex(page.filter_combo.findData(FILTER_CHANGED))
    changed = _visible_top_level_names(tab)
    assert "vocab_size" in changed and "hidden_dropout_prob" not in changed
    page.filter_combo.setCurrentIndex(0)
    page.search_edit.setText("beginning-of-stream")  # matches the docs of bos_token_id
    assert _visible_top_level_names(tab) == ["bos_token_id"]
    page.fields_view.setCurrentIndex(page.fields_proxy.index(0, 0))
    assert "beginning-of-stream" in page.detail.toPlainText()
    assert "BertConfig docstring" in page.detail.toPlainText()


def test_nested_values_expand(qtbot, tab, sample):
    _show(qtbot, tab, sample("tiny-t5"))
    tab.fields_page.search_edit.setText("task_specific_params")
    proxy = tab.fields_page.fields_proxy
    parent = proxy.index(0, 0)
    assert parent.data() == "task_specific_params"
    assert proxy.rowCount(parent) == 2
    summarization = proxy.index(0, 0, parent)
    assert summarization.data() == "summarization"
    assert proxy.index(0, 1, summarization).data() == '"summarize: "'


def test_facts_and_resolution(qtbot, tab, sample):
    _show(qtbot, tab, sample("tiny-bert-mlm"))
    facts_table = tab.facts_page.facts_table
    facts = {facts_table.item(r, 0).text(): facts_table.item(r, 1).text() for r in range(facts_table.rowCount())}
    assert facts["Head dimension"] == "16"
    page = tab.auto_classes_page
    assert "BertForMaskedLM" in page.saved_head_label.text()
    rows = _auto_class_rows(tab)
    assert "AutoModelForImageClassification" not in rows  # unsupported rows hidden by default
    auto_model = rows["AutoModel"]
    assert _cell(tab, auto_model, 1).data() == "BertModel"
    assert _cell(tab, auto_model, 2).data() == "drops the saved head"
    page.show_unsupported.setChecked(True)
    rows = _auto_class_rows(tab)
    assert _cell(tab, rows["AutoModelForImageClassification"], 1).data() == "not supported"
    assert "fill-mask" in page.tasks_label.text()


def test_weights_column_fills_with_the_exact_check(qtbot, tab, sample):
    with qtbot.waitSignal(tab.weights_checked, timeout=60_000) as checked:
        _show(qtbot, tab, sample("tiny-bert-mlm"))
    assert checked.args[0]["AutoModelForPreTraining"].unexpected == []
    page = tab.auto_classes_page
    assert page.model.headerData(2, Qt.Orientation.Horizontal) == "Weights"
    rows = _auto_class_rows(tab)

    def cell(auto_class, column):
        return _cell(tab, rows[auto_class], column)

    assert cell("AutoModelForMaskedLM", 2).data() == "every weight loads"
    assert cell("AutoModelForMaskedLM", 2).data(Qt.ItemDataRole.ForegroundRole).color().name() == palette.color("ok")
    # The class names suggested a different head; the weights say every MLM weight loads.
    assert cell("AutoModelForPreTraining", 2).data() == "4 new"
    assert cell("AutoModelForPreTraining", 2).data(Qt.ItemDataRole.ForegroundRole).color().name() == palette.color("warning")
    assert cell("AutoModel", 3).data() == "2 new (randomly initialised): pooler.dense.bias, pooler.dense.weight; 5 dropped: cls.predictions.*"
    assert "AutoModelForPreTraining also loads every saved weight; only bert.pooler.dense and cls.seq_relationship are new." in tab.hint.text()
    assert tab.current_report().resolution[0].weights.status == "partial"
    _select_row(tab, rows["AutoModelForPreTraining"])
    assert "cls.seq_relationship.weight" in page.resolution_detail.text()
    page.show_unsupported.setChecked(True)  # a redraw keeps the checked answers
    rows = _auto_class_rows(tab)
    assert cell("AutoModelForCausalLM", 2).data() == "every weight loads"

    tab.set_checkpoint(_checkpoint(sample("tiny-gpt2-lm")))
    assert tab.head_checks() == {}
    with qtbot.waitSignal(tab.weights_checked, timeout=60_000, check_params_cb=lambda checks: "AutoModelForCausalLM" in checks):
        pass
    rows = _auto_class_rows(tab)
    assert cell("AutoModelForCausalLM", 2).data() == "every weight loads"
    assert set(tab.head_checks()) <= set(_auto_class_rows(tab))


def test_bad_input_is_shown_not_raised(qtbot, tab, tmp_path):
    _show(qtbot, tab, write_config(tmp_path / "broken", "{ not json"))
    assert tab.banner.isVisible()
    assert "not valid JSON" in tab.banner.text()
    assert tab.fields_page.fields_model.rowCount() == 0


def test_custom_code_viewer_and_consent(qtbot, tab, tmp_path, monkeypatch):
    marker = tmp_path / "marker.txt"
    folder = write_custom_code_checkpoint(tmp_path / "custom", marker)
    _show(qtbot, tab, folder)
    assert not marker.exists()
    code = tab.code_page
    assert tab.sections.tabText(4) == "Custom code (2)"
    assert "TinyCustomConfig" in code.code_view.toPlainText()
    assert not code.allow_button.isHidden() and code.revoke_button.isHidden()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    assert tab.request_grant() is False
    assert not ConsentStore().trust_remote_code_for(folder)

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(tab.report_shown, timeout=30_000):
        assert tab.request_grant() is True
    assert ConsentStore().trust_remote_code_for(folder)
    assert tab.current_report().auto_classes["AutoModel"] == "TinyCustomModel"
    assert not code.revoke_button.isHidden() and code.allow_button.isHidden()

    with qtbot.waitSignal(tab.report_shown, timeout=30_000):
        assert tab.request_revoke() is True
    assert not ConsentStore().trust_remote_code_for(folder)
    assert tab.current_report().auto_classes["AutoModel"] is None


def test_compare_with_another_checkpoint(qtbot, tab, sample):
    mlm, nli = _checkpoint(sample("tiny-bert-mlm")), _checkpoint(sample("tiny-bert-nli"))
    tab.set_checkpoints([mlm, nli])
    _show(qtbot, tab, sample("tiny-bert-mlm"))
    assert tab.compare_page.compare_combo.count() == 1  # the current checkpoint is not offered
    with qtbot.waitSignal(tab.compare_shown, timeout=30_000):
        tab.start_compare()
    fields_root = tab.compare_page.compare_tree.topLevelItem(1)
    names = {fields_root.child(i).text(0): fields_root.child(i) for i in range(fields_root.childCount())}
    assert names["architectures"].text(2) == '["BertForSequenceClassification"]'
    assert "hidden_size" not in names  # same values hidden with "Only differences"
    assert "id2label.2" in names


def test_copy_buttons(qtbot, tab, sample):
    from PySide6.QtGui import QGuiApplication

    _show(qtbot, tab, sample("tiny-gpt2-lm"))
    tab.copy_python()
    assert "AutoModelForCausalLM.from_pretrained" in QGuiApplication.clipboard().text()
    tab.copy_json()
    assert '"model_type": "gpt2"' in QGuiApplication.clipboard().text()


def test_new_selection_replaces_a_running_build(qtbot, tab, sample):
    tab.show()
    tab.set_checkpoint(_checkpoint(sample("tiny-bert-mlm")))
    with qtbot.waitSignal(tab.report_shown, timeout=30_000, check_params_cb=lambda r: r.model_type == "gpt2"):
        tab.set_checkpoint(_checkpoint(sample("tiny-gpt2-lm")))
    qtbot.waitUntil(lambda: not tab.jobs.busy("report"), timeout=10_000)
    assert tab.current_report().model_type == "gpt2"
    tab.set_checkpoint(None)
    assert tab.current_report() is None


def test_importing_the_tab_does_not_import_transformers():
    code = "import sys, explorer.ui.config_tab; print('transformers' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False False", result.stderr


def test_fields_left_at_defaults_are_hidden_until_asked_for(qtbot, tab, sample):
    from explorer.ui.config_fields_model import DEFAULT_ROW_TEXT, SCOPE_ALL

    _show(qtbot, tab, sample("tiny-bert-mlm"))
    names = _visible_top_level_names(tab)
    assert "vocab_size" in names and "output_hidden_states" not in names
    page = tab.fields_page
    assert "defaults hidden" in page.fields_count.text()
    page.scope_combo.setCurrentIndex(page.scope_combo.findData(SCOPE_ALL))
    names = _visible_top_level_names(tab)
    assert "output_hidden_states" in names and "return_dict" in names
    assert "defaults shown" in page.fields_count.text()
    proxy = page.fields_proxy
    row = names.index("output_hidden_states")
    assert proxy.index(row, 4).data() == DEFAULT_ROW_TEXT
    assert proxy.index(row, 1).data() == "false"
    page.fields_view.setCurrentIndex(proxy.index(row, 0))
    assert "Not in config.json" in page.detail.toPlainText()


def test_custom_code_page_explains_code_without_auto_map(qtbot, tab, tmp_path):
    marker = tmp_path / "ran.txt"
    folder = write_custom_code_checkpoint(tmp_path / "custom", marker)
    (folder / "modeling_x.py").write_text(
        "from transformers import PreTrainedModel\n\nclass TinyCustomPreTrainedModel(PreTrainedModel):\n    pass\n\n"
        "class TinyCustomForCausalLM(TinyCustomPreTrainedModel):\n    pass\n"
    )
    write_config(folder, {"model_type": "tiny-custom", "architectures": ["TinyCustomForCausalLM"], "hidden_size": 16})
    report = _show(qtbot, tab, folder)
    assert not marker.exists()
    assert any("configuration_x.py defines TinyCustomConfig" in p for p in report.problems)
    text = tab.code_page.code_status.text()
    assert "has no auto_map" in text and "TinyCustomForCausalLM" in text
    assert "AutoModelForCausalLM.register(TinyCustomConfig, TinyCustomForCausalLM)" in text
    assert "&quot;AutoConfig&quot;: &quot;configuration_x.TinyCustomConfig&quot;" in text or '"AutoConfig": "configuration_x.TinyCustomConfig"' in text


def test_selecting_an_auto_class_shows_its_documentation(qtbot, tab, sample):
    _show(qtbot, tab, sample("tiny-bert-qa"))
    row = _auto_class_rows(tab)["AutoModelForQuestionAnswering"]
    with qtbot.waitSignal(tab.doc_shown, timeout=30_000, check_params_cb=lambda doc: doc.auto_class == "AutoModelForQuestionAnswering"):
        _select_row(tab, row)
    text = tab.auto_classes_page.resolution_doc.toPlainText()
    assert "question answering head" in text
    assert "span classification head" in text and "BertForQuestionAnswering" in text
    assert tab.auto_classes_page.resolution_doc.isReadOnly()


def test_config_without_model_type_lists_what_each_auto_class_would_build(qtbot, tab, tmp_path):
    folder = write_config(tmp_path / "old-bert", {"architectures": ["BertForMaskedLM"], "hidden_size": 32, "num_attention_heads": 2})
    _show(qtbot, tab, folder)
    row = _auto_class_rows(tab)["AutoModelForMaskedLM"]
    assert _cell(tab, row, 1).data() == "nothing: no model_type"
    assert "would build BertForMaskedLM" in _cell(tab, row, 3).data()
    with qtbot.waitSignal(tab.doc_shown, timeout=30_000, check_params_cb=lambda doc: doc.class_name == "BertForMaskedLM"):
        _select_row(tab, row)
    assert "language modeling" in tab.auto_classes_page.resolution_doc.toPlainText()


def test_a_change_of_colour_scheme_repaints_what_the_pages_drew(qtbot, tab, tmp_path, sample):
    from explorer.ui.palette import DARK, LIGHT, ROLES

    folder = copy_sample(sample("tiny-bert-mlm"), tmp_path / "typed", lambda c: {**c, "hidden_size": "32"})
    _show(qtbot, tab, folder)
    model = tab.fields_page.fields_model
    changed = next(model.item(r, 1) for r in range(model.rowCount()) if model.item(r, 0).text() == "vocab_size")
    assert changed.background().color().name() == ROLES["changed_bg"][0]
    assert ROLES["error"][0] in tab.banner.text()
    try:
        palette.set_scheme(DARK)
        palette.notifier().changed.emit(DARK)
        assert changed.background().color().name() == ROLES["changed_bg"][1]
        assert ROLES["error"][1] in tab.banner.text() and ROLES["warning_bg"][1] in tab.banner.styleSheet()
        assert ROLES["ok"][1] in tab.auto_classes_page.saved_head_label.text()
        unsupported = tab.auto_classes_page
        unsupported.show_unsupported.setChecked(True)
        row = _auto_class_rows(tab)["AutoModelForImageClassification"]
        assert _cell(tab, row, 1).data(Qt.ItemDataRole.ForegroundRole).color().name() == ROLES["muted"][1]
    finally:
        palette.set_scheme(None)
        palette.notifier().changed.emit(LIGHT)
