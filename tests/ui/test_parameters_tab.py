"""The Parameters tab wires core jobs to views: lazy start, head choice, colours, search, stats, bad input."""

from __future__ import annotations

import json
import struct

import pytest

pytest.importorskip("pyqtgraph")

from explorer.core.checkpoint import Checkpoint
from explorer.ui.param_tree_model import COL_STATUS, ItemRole
from explorer.ui.parameters_tab import ParametersTab


def _checkpoint(path) -> Checkpoint:
    return Checkpoint(id=path.name, source="folder", path=str(path))


@pytest.fixture
def base_bert(tmp_path):
    from transformers import BertConfig, BertModel

    folder = tmp_path / "tiny-bert-base"
    BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64, architectures=["BertModel"])).save_pretrained(folder)
    return folder


@pytest.fixture
def tab(qtbot):
    widget = ParametersTab()
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    return widget


def _wait_loaded(qtbot, tab):
    qtbot.waitUntil(lambda: tab.result() is not None and not tab.is_busy(), timeout=20000)


def test_nothing_runs_until_visible(tab, base_bert, qtbot):
    tab.set_checkpoint(_checkpoint(base_bert))
    assert not tab.is_busy() and tab.result() is None
    tab.show()
    _wait_loaded(qtbot, tab)
    assert tab.tree_model.rowCount() == 1
    assert "BertModel" in tab.summary.text()
    assert tab.tensor_model.rowCount() == len(tab.result().disk.tensors)


def test_head_choice_colours_missing_weights(tab, base_bert, qtbot):
    tab.show()
    tab.set_checkpoint(_checkpoint(base_bert))
    _wait_loaded(qtbot, tab)
    assert tab.head_combo.currentData() == "AutoModel"
    assert "all weights present" in tab.summary.text()
    assert tab.tree.isColumnHidden(COL_STATUS)  # nothing to mark: no empty column
    first = tab.result()
    tab.head_combo.setCurrentIndex(tab.head_combo.findData("AutoModelForSequenceClassification"))
    qtbot.waitUntil(lambda: tab.result() is not None and tab.result() is not first and not tab.is_busy(), timeout=20000)
    assert tab.result().match.missing == ["classifier.bias", "classifier.weight"]
    assert "2 missing" in tab.summary.text()
    assert "classifier.weight" in tab.match_view.toPlainText()
    model = tab.tree_model
    root = model.index(0, 0)
    classifier = next(model.index(r, 0, root) for r in range(model.rowCount(root)) if model.index(r, 0, root).data() == "classifier")
    weight = next(model.index(r, 0, classifier) for r in range(model.rowCount(classifier)) if model.index(r, 0, classifier).data() == "weight")
    assert "newly initialised" in weight.siblingAtColumn(COL_STATUS).data()
    assert "missing" in root.siblingAtColumn(COL_STATUS).data()
    assert not tab.tree.isColumnHidden(COL_STATUS)


def test_search_and_stats(tab, base_bert, qtbot):
    tab.show()
    tab.set_checkpoint(_checkpoint(base_bert))
    _wait_loaded(qtbot, tab)
    tab.search.setText("query")
    qtbot.waitUntil(lambda: tab.tensor_proxy.rowCount() == 6, timeout=5000)  # 3 layers x weight/bias
    model = tab.tree_model
    matches = model.set_filter("query")
    assert matches and all("query" in getattr(m, "path", "") for m in matches)
    index = model.index_of(matches[0])
    assert index.isValid() and index.data(ItemRole) is matches[0]

    tab.tensor_table.selectRow(0)
    qtbot.waitUntil(lambda: tab.stats._values["mean"].text() != "–", timeout=10000)
    assert "query" in tab.stats.title.text()
    assert tab.stats.norms_button.isEnabled()
    tab.stats.norms_button.click()
    qtbot.waitUntil(lambda: "3 layers" in tab.stats.norms_note.text(), timeout=10000)
    assert "encoder.layer.{}.attention" in tab.stats.norms_note.text()


def test_module_source_and_memory_plan(tab, sample, qtbot):
    tab.show()
    tab.set_checkpoint(_checkpoint(sample("tiny-gpt2-lm")))
    _wait_loaded(qtbot, tab)
    model = tab.tree_model
    root = model.index(0, 0)
    tab.tree.setCurrentIndex(model.index(0, 0, root))
    # The source is read in a worker (getsource reads files), then shown.
    qtbot.waitUntil(lambda: "class " in tab.source.text.toPlainText(), timeout=10000)
    assert "(read-only)" in tab.source.caption.text()
    qtbot.waitUntil(lambda: "KV cache" in tab.memory.result.toPlainText(), timeout=10000)
    assert "cpu" in tab.memory.result.toPlainText() and "int4" in tab.memory.result.toPlainText()
    assert tab.memory.context.isEnabled()


def test_memory_plan_without_kv_cache_disables_its_inputs(tab, base_bert, qtbot):
    tab.show()
    tab.set_checkpoint(_checkpoint(base_bert))
    _wait_loaded(qtbot, tab)
    qtbot.waitUntil(lambda: "No KV cache" in tab.memory.result.toPlainText(), timeout=10000)
    assert not tab.memory.context.isEnabled() and not tab.memory.batch.isEnabled()


def test_source_of_a_class_without_source_says_why(tab, sample, qtbot):
    tab.show()
    tab.set_checkpoint(_checkpoint(sample("tiny-bert-mlm")))
    _wait_loaded(qtbot, tab)
    node = tab.result().skeleton.root
    tab.result().skeleton.class_modules[node.class_name] = "custom_module_never_loaded"
    tab._show_source(node)
    qtbot.waitUntil(lambda: "custom code" in tab.source.caption.text(), timeout=10000)
    assert tab.source.text.toPlainText() == ""


def test_bad_checkpoint_shows_what_it_can(tab, tmp_path, qtbot):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 30, "num_attention_heads": 7}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (folder / "model-00001-of-00002.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    (folder / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {"total_size": 16},
        "weight_map": {"w": "model-00001-of-00002.safetensors", "v": "model-00002-of-00002.safetensors"},
    }))
    tab.show()
    tab.set_checkpoint(_checkpoint(folder))
    _wait_loaded(qtbot, tab)
    assert tab.tensor_model.rowCount() == 1
    problems = tab.result().problems
    assert any("missing" in p for p in problems)
    assert any("failed to build" in p or "could not be loaded" in p for p in problems)
    assert tab.tree_model.rowCount() == 0
    assert tab.left_tabs.currentWidget() is tab.tensor_table.parentWidget()  # what could be read, not an empty tree
    from explorer.ui.palette import color

    assert color("error") in tab.summary.text()  # the problem in the scheme's error colour
    tab.set_checkpoint(None)
    assert tab.tensor_model.rowCount() == 0


def test_tree_model_stays_fast_with_tens_of_thousands_of_nodes(qtbot):
    import time

    from PySide6.QtWidgets import QApplication, QTreeView

    from explorer.core.skeleton import ModuleNode, ParamInfo, Skeleton
    from explorer.ui.param_tree_model import ModuleTreeModel

    root = ModuleNode(name="Big", path="", class_name="Big")
    for block in range(400):
        node = ModuleNode(name=str(block), path=f"blocks.{block}", class_name="Block", parent=root)
        for leaf in range(60):
            child = ModuleNode(name=f"leaf{leaf}", path=f"blocks.{block}.leaf{leaf}", class_name="Linear", parent=node)
            child.params.append(ParamInfo("weight", f"blocks.{block}.leaf{leaf}.weight", (4, 4), "float32", 16, 64))
            child.total_params = child.own_params = 16
            node.children.append(child)
        node.total_params = 60 * 16
        root.children.append(node)
    root.total_params = 400 * 60 * 16
    skeleton = Skeleton(root=root, model_class="Big", head="AutoModel", dtype="float32", total_params=root.total_params,
                        trainable_params=root.total_params, total_bytes=0, by_dtype={}, tied={}, class_modules={})
    assert skeleton.node_count() > 24_000
    model = ModuleTreeModel()
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.show()
    start = time.perf_counter()
    model.set_skeleton(skeleton)
    view.expand(model.index(0, 0))
    view.expandRecursively(model.index(0, 0), 2)
    QApplication.processEvents()  # lay out the expanded rows, as the view would on screen
    matches = model.set_filter("leaf59.weight")
    assert len(matches) == 400
    model.set_status({"blocks.7.leaf3.weight": "missing"})
    assert time.perf_counter() - start < 3.0
    assert model.index_of(matches[-1]).isValid()


def test_head_that_does_not_fit_keeps_the_chooser(tab, base_bert, qtbot):
    tab.show()
    tab.set_checkpoint(_checkpoint(base_bert))
    _wait_loaded(qtbot, tab)
    first = tab.result()
    tab._load("AutoModelForImageClassification")
    qtbot.waitUntil(lambda: tab.result() is not None and tab.result() is not first and not tab.is_busy(), timeout=20000)
    assert any("does not support" in p for p in tab.result().problems)
    assert tab.head_combo.isEnabled() and tab.head_combo.findData("AutoModel") >= 0
    assert tab.tensor_model.rowCount() > 0


def test_a_tied_parameter_shows_the_values_it_shares(tab, sample, qtbot):
    tab.show()
    tab.set_checkpoint(_checkpoint(sample("tiny-gpt2-lm")))
    _wait_loaded(qtbot, tab)
    model = tab.tree_model
    root = model.index(0, 0)
    lm_head = next(model.index(r, 0, root) for r in range(model.rowCount(root)) if model.index(r, 0, root).data() == "lm_head")
    weight = model.index(0, 0, lm_head)
    assert model.item(weight).tied_to == "transformer.wte.weight"
    tab.tree.setCurrentIndex(weight)
    qtbot.waitUntil(lambda: tab.stats._values["mean"].text() != "–", timeout=10000)
    assert "transformer.wte.weight" in tab.stats.title.text()


def test_config_only_checkpoint_plans_memory_from_the_structure(tab, tmp_path, qtbot):
    from transformers import GPT2Config

    folder = tmp_path / "config-only"
    GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, architectures=["GPT2LMHeadModel"]).save_pretrained(folder)
    tab.show()
    tab.set_checkpoint(_checkpoint(folder))
    _wait_loaded(qtbot, tab)
    assert tab.result().skeleton is not None and not tab.result().disk.tensors
    qtbot.waitUntil(lambda: "KV cache" in tab.memory.result.toPlainText() and "int4" in tab.memory.result.toPlainText(), timeout=10000)
    assert "as stored" not in tab.memory.result.toPlainText()


def test_tensor_names_are_text_not_markup(qtbot):
    from explorer.ui.param_stats import StatsPanel

    panel = StatsPanel()
    qtbot.addWidget(panel)
    panel.show_loading("<img src='x'>weight")
    assert "&lt;img" in panel.title.text()


def test_what_a_pickle_would_import_is_shown_and_never_run(tab, tmp_path, qtbot):
    import os

    from tests import hostile_corpus as corpus

    marker = tmp_path / "ran"
    folder = corpus.malicious_pickle_bin(tmp_path / "malicious", marker)
    tab.show()
    tab.set_checkpoint(_checkpoint(folder))
    _wait_loaded(qtbot, tab)
    shown = tab.totals.text()
    system = f"{os.system.__module__}.system"
    assert "What the pickle files would import" in shown and "dangerous:" in shown and system in shown
    assert any(system in p and "not run" in p for p in tab.result().problems)
    assert not marker.exists()
