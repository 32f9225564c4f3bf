"""The adapter pages of the Config and Parameters tabs, on LoRA adapters peft wrote for the tiny GPT-2: the config's
facts and fields explained, the base found or named as missing, the base's tree with the adapter's modules marked and
counted, the tensors of a selected module, targets that match nothing, a broken config, and the tabs' switch."""

from __future__ import annotations

import html
import json
import shutil
import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from explorer.core.adapter_weights import PART_SAVED
from explorer.core.checkpoint import Checkpoint, CheckpointFile
from explorer.ui import palette
from explorer.ui.adapter_config_page import AdapterConfigPage
from explorer.ui.adapter_parameters_page import ADAPTER_ROLES, AdapterParametersPage
from explorer.ui.param_tree_model import COL_STATUS
from explorer.ui.tab import TABS, FormatSwitch

from tests.format_builders import write_lora_adapter


def _adapter(folder: Path, base_model: str | None = None) -> Checkpoint:
    files = [CheckpointFile(p.name, str(p), p.stat().st_size) for p in sorted(folder.iterdir()) if p.is_file()]
    return Checkpoint(id=folder.name, source="folder", path=str(folder), format="adapter", base_model=base_model, files=files)


def _with_config(source: Path, folder: Path, **changes) -> Path:
    shutil.copytree(source, folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, **changes}))
    return folder


@pytest.fixture(scope="module")
def adapters(sample, tmp_path_factory):
    """LoRA on c_attn and c_fc with lm_head stored whole, built once; variants are copies with another config."""
    root = tmp_path_factory.mktemp("adapter-pages")
    base = sample("tiny-gpt2-lm")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Model has `tie_word_embeddings=True`", UserWarning)
        lora = write_lora_adapter(base, root / "lora", target_modules=("c_attn", "c_fc"), modules_to_save=("lm_head",))
    return {
        "base": Checkpoint(id="tiny-gpt2-lm", source="folder", path=str(base)),
        "lora": lora,
        "missing": _with_config(lora, root / "lora-hub-base", base_model_name_or_path="someone/not-here"),
        "extra": _with_config(lora, root / "lora-extra-target", target_modules=["c_attn", "c_fc", "q_proj"]),
    }


def _shown(qtbot, page):
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    return page


def _wait(qtbot, page):
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=30_000)
    return page


def test_config_page_shows_the_facts_the_fields_and_the_base(qtbot, adapters):
    page = _shown(qtbot, AdapterConfigPage())
    page.set_checkpoints([adapters["base"]])
    page.set_checkpoint(_adapter(adapters["lora"]))
    _wait(qtbot, page)
    title = page.title.text()
    assert "LoRA adapter" in title and "rank 4" in title and "alpha 8" in title and "scale alpha/r = 2" in title
    assert page.banner.isHidden()
    base = page.base_label.text()
    assert "found on this machine" in base and "tiny-gpt2-lm" in base and "(folder" in base
    facts = page.tree.topLevelItem(0)
    rows = {facts.child(i).text(0): facts.child(i).text(1) for i in range(facts.childCount())}
    assert rows["Adapter type"] == "LoRA" and rows["Rank"] == "4" and rows["Scale"] == "2" and rows["Dropout"] == "0.05"
    assert rows["Target modules"] == "c_fc, c_attn" or rows["Target modules"] == "c_attn, c_fc"
    assert rows["Modules to save"].startswith("lm_head (")
    main = page.tree.topLevelItem(1)
    fields = {main.child(i).text(0): main.child(i) for i in range(main.childCount())}
    assert "lora_alpha / r" in fields["lora_alpha"].text(2)
    page.tree.setCurrentItem(fields["target_modules"])
    assert "regular expression" in page.detail.toPlainText()
    other = page.tree.topLevelItem(2)
    assert other.text(0).startswith("Other fields") and other.childCount() > 10  # every field peft wrote is there
    with qtbot.waitSignal(page.select_requested) as selected:
        page._link("select-base")
    assert selected.args == [adapters["base"].key]


def test_config_page_names_a_missing_base_and_finds_it_when_the_scan_does(qtbot, adapters):
    page = _shown(qtbot, AdapterConfigPage())
    page.set_checkpoint(_adapter(adapters["missing"], "someone/not-here"))
    _wait(qtbot, page)
    text = page.base_label.text()
    assert "someone/not-here</code> is not on this machine" in text and "hf download someone/not-here" in text
    hub_copy = Checkpoint(id="someone/not-here", source="hub-cache", path=adapters["base"].path, refs=["main"])
    page.set_checkpoints([hub_copy])
    _wait(qtbot, page)
    assert page.base() is hub_copy and "found on this machine" in page.base_label.text()


@pytest.mark.parametrize("content", [b"{broken", b"[1, 2]"], ids=["not-json", "a-list"])
def test_config_page_with_a_broken_config_says_why_and_lists_no_fields(qtbot, adapters, tmp_path, content):
    folder = tmp_path / "broken"
    shutil.copytree(adapters["lora"], folder)
    (folder / "adapter_config.json").write_bytes(content)
    page = _shown(qtbot, AdapterConfigPage())
    page.set_checkpoint(_adapter(folder))
    _wait(qtbot, page)
    assert not page.banner.isHidden() and "adapter_config.json" in page.banner.text()
    assert page.tree.topLevelItemCount() == 0
    assert "names no base model" in page.base_label.text()
    assert "parameters in 9 tensors" in page.title.text()  # the weights are still read


def _rows(model, parent):
    return [model.index(r, 0, parent) for r in range(model.rowCount(parent))]


@pytest.mark.slow
def test_parameters_page_marks_the_modules_the_adapter_touches(qtbot, adapters):
    page = _shown(qtbot, AdapterParametersPage())
    page.set_checkpoints([adapters["base"]])
    with qtbot.waitSignal(page.report_shown, timeout=30_000):
        page.set_checkpoint(_adapter(adapters["extra"]))
    report = page.report()
    assert report.skeleton is not None and page.trees.currentWidget() is page.tree
    model = page.tree_model
    touched = {node.path: model.adapter_module(node).kind for node in model.touched_nodes()}
    assert touched == {path: m.kind for path, m in report.weights.modules.items()}
    assert touched["lm_head"] == PART_SAVED and len(touched) == 5
    summary = page.summary.text()
    share = f"{report.weights.total_params / report.skeleton.total_params * 100:.3g}%"
    assert "on <b>tiny-gpt2-lm</b>" in summary and share in summary and "wraps 4 modules, stores 1 whole" in summary
    assert "target 'q_proj' matches no module of tiny-gpt2-lm" in html.unescape(page.notice.text())
    assert "q_proj" in page.targets_view.toPlainText() and "matches no module" in page.targets_view.toPlainText()

    root = model.index(0, 0)
    assert model.headerData(COL_STATUS, Qt.Orientation.Horizontal) == "Adapter"
    assert root.siblingAtColumn(COL_STATUS).data() == f"{report.weights.total_params / 1000:.1f}K"
    node = next(n for n in model.touched_nodes() if n.path == "transformer.h.0.attn.c_attn")
    index = model.index_of(node)
    assert page.tree.isExpanded(index.parent())  # the touched modules are in view
    assert index.siblingAtColumn(COL_STATUS).data() == "512 · lora_A, lora_B"
    assert index.data(Qt.ItemDataRole.BackgroundRole).color().name() == palette.ROLES[ADAPTER_ROLES["adapter"]][0]
    assert root.data(Qt.ItemDataRole.BackgroundRole).color().name() == palette.ROLES[ADAPTER_ROLES["within"]][0]
    page.tree.setCurrentIndex(index)
    assert page.tensor_table.rowCount() == 2
    assert [page.tensor_table.item(r, 0).text() for r in range(2)] == ["lora_A", "lora_B"]
    assert "on a module of 3,168 parameters" in page.selection_label.text()
    wte = next(i for i in _rows(model, model.index(0, 0, root)) if i.data() == "wte")
    page.tree.setCurrentIndex(wte)
    assert page.tensor_table.rowCount() == 0 and "is not changed by the adapter" in page.selection_label.text()
    try:
        palette.set_scheme(palette.DARK)
        palette.notifier().changed.emit(palette.DARK)
        assert index.data(Qt.ItemDataRole.BackgroundRole).color().name() == palette.ROLES[ADAPTER_ROLES["adapter"]][1]
        assert palette.ROLES["warning"][1] in page.notice.text()
    finally:
        palette.set_scheme(None)
        palette.notifier().changed.emit(palette.LIGHT)


def test_parameters_page_without_the_base_lists_the_adapters_own_tensors(qtbot, adapters):
    page = _shown(qtbot, AdapterParametersPage())
    page.set_checkpoints([adapters["base"]])
    with qtbot.waitSignal(page.report_shown, timeout=30_000):
        page.set_checkpoint(_adapter(adapters["missing"], "someone/not-here"))
    assert page.report().skeleton is None and page.trees.currentWidget() is page.own_tree
    assert "base model <code>someone/not-here</code> is not on this machine" in page.notice.text()
    tops = [page.own_tree.topLevelItem(i) for i in range(page.own_tree.topLevelItemCount())]
    assert {t.text(0) for t in tops} == {
        "lm_head", "transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn", "transformer.h.0.mlp.c_fc", "transformer.h.1.mlp.c_fc",
    }
    c_attn = next(t for t in tops if t.text(0) == "transformer.h.0.attn.c_attn")
    assert [c_attn.child(i).text(1) for i in range(c_attn.childCount())] == ["lora_A", "lora_B"]
    page.own_tree.setCurrentItem(c_attn.child(1))
    assert page.tensor_table.rowCount() == 2 and "transformer.h.0.attn.c_attn" in page.selection_label.text()
    assert "once the base is on this machine" in page.targets_view.toPlainText()
    assert "%" not in page.summary.text()


@pytest.mark.slow
def test_the_tabs_show_adapters_on_their_own_pages(qtbot, adapters, sample):
    entries = {entry.title: entry for entry in TABS}
    for title, page_class in (("Config", AdapterConfigPage), ("Parameters", AdapterParametersPage)):
        tab = entries[title].create()
        assert isinstance(tab, FormatSwitch)
        _shown(qtbot, tab)
        tab.set_checkpoints([adapters["base"]])
        tab.set_checkpoint(_adapter(adapters["lora"]))
        assert isinstance(tab.current_page(), page_class)
        _wait(qtbot, tab)
        tab.set_checkpoint(adapters["base"])
        assert tab.current_page() is tab.main
        tab.shutdown(10)


def test_an_adapter_of_many_tiny_tensors_is_listed_in_bounded_rows(qtbot, tmp_path):
    from tests.core.test_adapter_weights import _write_safetensors

    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 1, "base_model_name_or_path": "x/y"}))
    _write_safetensors(tmp_path / "adapter_model.safetensors", {
        f"base_model.model.layers.{i}.proj.lora_{part}.weight": [1, 1] for i in range(15_000) for part in "AB"
    })
    page = _shown(qtbot, AdapterParametersPage())
    with qtbot.waitSignal(page.report_shown, timeout=30_000):
        page.set_checkpoint(_adapter(tmp_path, "x/y"))
    assert page.tensor_table.rowCount() == 5_000 and "the first 5,000 of 30,000" in page.selection_label.text()
    tops = page.own_tree.topLevelItemCount()
    assert tops < 15_000 and page.own_tree.topLevelItem(tops - 1).text(0).startswith("… and ")
    assert "30K adapter parameters" in page.summary.text().replace("<b>", "").replace("</b>", "")


@pytest.mark.slow
def test_parameters_page_shows_the_base_once_the_scan_lists_it(qtbot, adapters):
    page = _shown(qtbot, AdapterParametersPage())
    with qtbot.waitSignal(page.report_shown, timeout=30_000):
        page.set_checkpoint(_adapter(adapters["missing"], "someone/not-here"))
    assert page.report().base is None
    hub_copy = Checkpoint(id="someone/not-here", source="hub-cache", path=adapters["base"].path, refs=["main"])
    with qtbot.waitSignal(page.report_shown, timeout=30_000):
        page.set_checkpoints([hub_copy])
    assert page.report().base is hub_copy and page.report().skeleton is not None
    assert page.trees.currentWidget() is page.tree and page.notice.isHidden()


@pytest.mark.slow
@pytest.mark.parametrize("page_class", [AdapterConfigPage, AdapterParametersPage])
def test_a_base_listed_while_the_adapter_is_read_is_still_found(qtbot, adapters, page_class):
    page = _shown(qtbot, page_class())
    page.set_checkpoint(_adapter(adapters["missing"], "someone/not-here"))  # the job starts with no checkpoints listed
    hub_copy = Checkpoint(id="someone/not-here", source="hub-cache", path=adapters["base"].path, refs=["main"])
    page.set_checkpoints([hub_copy])  # before its result is delivered: nothing is processed in between
    found = (lambda: page.base() is hub_copy) if page_class is AdapterConfigPage else (lambda: page.report() is not None and page.report().base is hub_copy)
    qtbot.waitUntil(lambda: found() and not page.is_busy(), timeout=30_000)
