"""The GGUF pages of the Config and Parameters tabs, on files gguf.GGUFWriter wrote: fields with their meaning and
transformers field, the chat template in full, the raw metadata, tensors grouped by block and filtered, bytes per
type, the memory plan from the real bytes; a split model, an unknown type id, a truncated file, and the tabs'
switch between a transformers checkpoint and a GGUF one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from explorer.core.checkpoint import Checkpoint, CheckpointFile
from explorer.ui import palette
from explorer.ui.gguf_config_page import GgufConfigPage
from explorer.ui.gguf_parameters_page import GgufParametersPage
from explorer.ui.tab import TABS, FormatSwitch

from tests.core.test_gguf_file import _patch_type
from tests.format_builders import GGUF_CHAT_TEMPLATE, write_gguf, write_ollama_model

PARAMS = 6 * 64 + 64 + 8 * 64
BYTES = {"F32": 384 * 4, "F16": 64 * 2, "Q8_0": 512 // 32 * 34}


def _checkpoint(*paths: Path) -> Checkpoint:
    first = paths[0]
    return Checkpoint(id=first.name, source="folder", path=str(first), format="gguf",
                      files=[CheckpointFile(p.name, str(p), p.stat().st_size) for p in paths])


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory) -> Path:
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def _shown(qtbot, page):
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    return page


def _loaded(qtbot, page):
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=20_000)
    return page


def test_config_page_fields_template_and_raw_metadata(qtbot, gguf_path):
    page = _shown(qtbot, GgufConfigPage())
    page.set_checkpoint(_checkpoint(gguf_path))
    _loaded(qtbot, page)
    facts = page.facts()
    assert facts is not None and page.banner.isHidden()
    title = page.title.text()
    assert "tiny.gguf" in title and "llama" in title and "transformers can load" in title
    fields = {f.key: f for f in page.fields.visible_fields()}
    assert fields["llama.context_length"].shown == "128"
    assert fields["llama.context_length"].transformers_field == "max_position_embeddings"
    assert "test.flag" in fields  # keys with no explanation are still there, under More
    groups = [page.fields.tree.topLevelItem(i).text(0) for i in range(page.fields.tree.topLevelItemCount())]
    assert groups[0].startswith("Model") and groups[-1].startswith("More")
    assert page.template_view.toPlainText() == GGUF_CHAT_TEMPLATE
    assert page.template_view.isReadOnly()
    raw = json.loads(page.raw_view.toPlainText())
    assert raw["llama.attention.head_count"] == 4 and raw["tokenizer.chat_template"] == GGUF_CHAT_TEMPLATE

    page.fields.search_edit.setText("rope")
    assert [f.key for f in page.fields.visible_fields()] == ["llama.rope.freq_base"]
    page.fields.search_edit.setText("max_position")  # the transformers field is searched too
    assert [f.key for f in page.fields.visible_fields()] == ["llama.context_length"]
    page.fields.search_edit.clear()
    item = page.fields.tree.topLevelItem(0).child(0)
    page.fields.tree.setCurrentItem(item)
    assert "max_position_embeddings" in page.fields.detail.toPlainText()


def test_parameters_page_tensors_types_and_memory_plan(qtbot, gguf_path):
    page = _shown(qtbot, GgufParametersPage())
    page.set_checkpoint(_checkpoint(gguf_path))
    qtbot.waitUntil(lambda: page.memory_plan() is not None and not page.is_busy(), timeout=20_000)
    tree = page.tensors
    groups = [tree.tree.topLevelItem(i).text(0) for i in range(tree.tree.topLevelItemCount())]
    assert groups == ["(outside the blocks) (1 tensors)", "blk.0 (2 tensors)"]
    assert sorted(tree.visible_tensor_names()) == sorted(["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight"])
    assert tree.tree.isColumnHidden(5)  # one file: no File column
    tree.filter_edit.setText("attn_q")
    assert tree.visible_tensor_names() == ["blk.0.attn_q.weight"]
    tree.group_box.setChecked(False)
    assert tree.visible_tensor_names() == ["blk.0.attn_q.weight"]
    tree.filter_edit.clear()
    tree.tree.sortByColumn(4, Qt.SortOrder.DescendingOrder)  # bytes, most first
    assert tree.visible_tensor_names() == ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_norm.weight"]

    table = page.type_table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())}
    assert rows["Q8_0"][1:3] == ["1", "512"] and rows["Q8_0"][4] == "544 B" and rows["Q8_0"][6] == "8.50"
    assert rows["F32"][4] == "1.5 KiB" and rows["F16"][6] == "16.00"
    assert rows["Total"][2] == "960" and rows["Total"][4] == "2.2 KiB"

    plan = page.memory_plan()
    stored = plan.plans[0]
    assert stored.precision == "stored" and stored.weight_bytes == sum(BYTES.values())
    assert [p.weight_bytes for p in plan.plans[1:]] == [PARAMS * 4, PARAMS * 2, PARAMS * 2]
    assert plan.context_length == 128  # the model's own context, under the default cap
    assert "as stored" in page.memory.result.toPlainText() and "float32 (dequantised)" in page.memory.result.toPlainText()
    page.memory.batch.setValue(2)  # a new plan for the new input, computed in a job
    qtbot.waitUntil(lambda: page.memory_plan().batch_size == 2 and not page.is_busy(), timeout=20_000)
    assert page.memory_plan().plans[0].kv_cache_bytes == 2 * stored.kv_cache_bytes


def test_split_model_shows_each_tensors_file(qtbot, tmp_path):
    write_gguf(tmp_path / "tiny.gguf", split_max_tensors=2)
    parts = [tmp_path / "tiny-00001-of-00002.gguf", tmp_path / "tiny-00002-of-00002.gguf"]
    page = _shown(qtbot, GgufParametersPage())
    page.set_checkpoint(_checkpoint(*parts))
    qtbot.waitUntil(lambda: page.memory_plan() is not None and not page.is_busy(), timeout=20_000)
    assert page.facts().num_parameters == PARAMS and len(page.facts().files) == 2
    assert not page.tensors.tree.isColumnHidden(5)
    files = set()
    for top in range(page.tensors.tree.topLevelItemCount()):
        group = page.tensors.tree.topLevelItem(top)
        files |= {group.child(i).text(5) for i in range(group.childCount())}
    assert files == {p.name for p in parts}
    assert page.memory_plan().plans[0].weight_bytes == sum(BYTES.values())


def test_unknown_type_is_shown_not_refused(qtbot, gguf_path, tmp_path):
    path = tmp_path / "future.gguf"
    path.write_bytes(_patch_type(gguf_path.read_bytes(), "blk.0.attn_q.weight", 250))
    page = _shown(qtbot, GgufParametersPage())
    page.set_checkpoint(_checkpoint(path))
    qtbot.waitUntil(lambda: page.memory_plan() is not None and not page.is_busy(), timeout=20_000)
    table = page.type_table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())}
    assert rows["unknown type 250"][2] == "512" and rows["unknown type 250"][4] == "unknown"
    assert "unknown size" in page.summary.text()
    assert "does not know" in page.plan_note.text()
    assert [p.precision for p in page.memory_plan().plans][0] == "float32 (dequantised)"


def test_truncated_file_is_one_line_on_both_pages(qtbot, gguf_path, tmp_path):
    path = tmp_path / "cut.gguf"
    path.write_bytes(gguf_path.read_bytes()[:-100])
    config = _loaded(qtbot, _shown(qtbot, GgufConfigPage()))
    config.set_checkpoint(_checkpoint(path))
    _loaded(qtbot, config)
    assert not config.banner.isHidden() and "truncated" in config.banner.text()
    assert config.facts() is None and config.fields.tree.topLevelItemCount() == 0
    parameters = _shown(qtbot, GgufParametersPage())
    parameters.set_checkpoint(_checkpoint(path))
    _loaded(qtbot, parameters)
    assert not parameters.banner.isHidden() and "truncated" in parameters.banner.text() and parameters.memory_plan() is None
    assert parameters.tensors.tree.topLevelItemCount() == 0


def test_nothing_is_read_until_shown(qtbot, gguf_path):
    page = GgufConfigPage()
    qtbot.addWidget(page)
    page.set_checkpoint(_checkpoint(gguf_path))
    assert not page.is_busy() and page.facts() is None
    page.show()
    _loaded(qtbot, page)
    assert page.facts() is not None


@pytest.mark.parametrize("title, page_class", [("Config", GgufConfigPage), ("Parameters", GgufParametersPage)])
def test_tabs_switch_to_the_gguf_page(qtbot, gguf_path, title, page_class):
    entry = next(e for e in TABS if e.title == title)
    switch = entry.create()
    assert isinstance(switch, FormatSwitch)
    qtbot.addWidget(switch)
    switch.show()
    switch.set_checkpoint(_checkpoint(gguf_path))
    page = switch.current_page()
    assert isinstance(page, page_class)
    qtbot.waitUntil(lambda: page.facts() is not None and not switch.is_busy(), timeout=20_000)
    switch.set_checkpoint(None)
    assert switch.current_page() is switch.main and page.checkpoint() is None


def test_ollama_model_is_read_from_its_blob(qtbot, gguf_path, tmp_path):
    from explorer.core.discovery import ScanLocation, scan_all

    write_ollama_model(tmp_path / "ollama", "tiny", "latest", gguf_path)
    found, _ = scan_all([ScanLocation("ollama", str(tmp_path / "ollama"))])
    checkpoint = next(c for c in found if c.format == "gguf")
    assert not checkpoint.path.endswith(".gguf")  # the manifest; the model is a blob named by its digest
    page = _shown(qtbot, GgufParametersPage())
    page.set_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: page.memory_plan() is not None and not page.is_busy(), timeout=20_000)
    assert page.facts().num_parameters == PARAMS and page.banner.isHidden()


def test_scheme_change_recolours_and_keeps_what_the_user_did(qtbot, gguf_path, tmp_path):
    path = tmp_path / "future.gguf"
    path.write_bytes(_patch_type(gguf_path.read_bytes(), "blk.0.attn_q.weight", 250))
    config = _loaded(qtbot, _shown(qtbot, GgufConfigPage()))
    config.set_checkpoint(_checkpoint(gguf_path))
    _loaded(qtbot, config)
    parameters = _shown(qtbot, GgufParametersPage())
    parameters.set_checkpoint(_checkpoint(path))
    qtbot.waitUntil(lambda: parameters.memory_plan() is not None and not parameters.is_busy(), timeout=20_000)
    config.fields.search_edit.setText("head")
    tree = config.fields.tree
    rows = [tree.topLevelItem(t).child(i) for t in range(tree.topLevelItemCount()) for i in range(tree.topLevelItem(t).childCount())]
    derived = next(item for item in rows if item.text(0) == "Head dim")
    assert derived.foreground(2).color().name() == palette.ROLES["muted"][0]
    parameters.tensors.filter_edit.setText("attn_q")
    try:
        palette.set_scheme(palette.DARK)
        palette.notifier().changed.emit(palette.DARK)
        assert derived.foreground(2).color().name() == palette.ROLES["muted"][1]
        assert [f.label for f in config.fields.visible_fields()] == ["Attention heads", "Head dim"]
        assert palette.ROLES["warning"][1] in parameters.summary.text()
        assert parameters.tensors.visible_tensor_names() == ["blk.0.attn_q.weight"]
    finally:
        palette.set_scheme(None)
        palette.notifier().changed.emit(palette.LIGHT)
