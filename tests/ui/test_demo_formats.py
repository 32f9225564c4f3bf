"""The Demo tab on an adapter (on, off, compared) and on GGUF models (runs, or says why not)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from explorer.core.checkpoint import FORMAT_ADAPTER, FORMAT_GGUF, Checkpoint, CheckpointFile
from explorer.tasks.format_loading import Comparison
from explorer.ui.demo_compare import CompareView
from explorer.ui.demo_tab import DemoTab
from tests.format_builders import write_gguf, write_lora_adapter
from tests.gguf_model_builder import write_loadable_gguf

pytestmark = pytest.mark.slow

WAIT = 60_000
PROMPT = "Hello world"


def folder_checkpoint(path) -> Checkpoint:
    config = json.loads((path / "config.json").read_text())
    return Checkpoint(id=path.name, source="folder", path=str(path), model_type=config.get("model_type"),
                      architectures=config.get("architectures", []))


def gguf_checkpoint(path) -> Checkpoint:
    return Checkpoint(id=path.name, source="folder", path=str(path), format=FORMAT_GGUF,
                      files=[CheckpointFile(path.name, str(path), path.stat().st_size)])


@pytest.fixture
def tab(qtbot):
    tab = DemoTab()
    qtbot.addWidget(tab)
    tab.resize(1200, 800)
    with qtbot.waitSignal(tab.devices_ready, timeout=WAIT):
        tab.show()
    yield tab
    tab.shutdown()


def select(qtbot, tab: DemoTab, checkpoint: Checkpoint) -> None:
    with qtbot.waitSignal(tab.tasks_ready, timeout=WAIT):
        tab.set_checkpoint(checkpoint)


def run_and_wait(qtbot, tab: DemoTab):
    with qtbot.waitSignal(tab.run_finished, timeout=WAIT) as blocker:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    return blocker.args[0]


def greedy(tab: DemoTab) -> None:
    form = tab.form()
    form.set_values({"text": PROMPT, "max_new_tokens": 6, "do_sample": False, "use_chat_template": False})


def test_adapter_on_off_and_compare(qtbot, tab, sample, tmp_path):
    base = folder_checkpoint(sample("tiny-gpt2-lm"))
    adapter = write_lora_adapter(sample("tiny-gpt2-lm"), tmp_path / "lora")
    tab.set_checkpoints([base])
    select(qtbot, tab, Checkpoint(id="lora", source="folder", path=str(adapter), format=FORMAT_ADAPTER, base_model=base.path))
    assert tab.current_task().id == "text-generation"
    assert "LoRA adapter" in tab.options.format_label.text() and tab.options.adapter_box.isVisible()
    assert tab.load_button.isEnabled()
    greedy(tab)
    on = run_and_wait(qtbot, tab)
    loaded = tab._session.loaded
    tab.options.findChild(type(tab.options.adapter_buttons.buttons()[0]), "adapter_off").click()
    assert tab.adapter_mode() == "off"
    off = run_and_wait(qtbot, tab)
    assert tab._session.loaded is loaded  # switched, not reloaded
    assert on.token_ids != off.token_ids
    assert (on.model.to_json()["adapter"], off.model.to_json()["adapter"]) == ("on", "off")
    assert "with model.disable_adapter():" in tab.script_for_last_run()

    tab.set_adapter_mode("compare")
    both = run_and_wait(qtbot, tab)
    assert isinstance(both, Comparison)
    assert (both.adapter_on.token_ids, both.adapter_off.token_ids) == (on.token_ids, off.token_ids)
    view = tab.result_view()
    assert isinstance(view, CompareView)
    assert view.on_view.result is both.adapter_on and view.off_view.result is both.adapter_off
    script = tab.script_for_last_run()
    assert "PeftModel.from_pretrained(model, adapter)" in script and '"adapter off": result_off' in script


def test_adapter_without_its_base_names_it(qtbot, tab, sample, tmp_path):
    adapter = write_lora_adapter(sample("tiny-gpt2-lm"), tmp_path / "lora", base_model="openai-community/gpt2")
    tab.set_checkpoints([folder_checkpoint(sample("tiny-gpt2-lm"))])
    select(qtbot, tab, Checkpoint(id="lora", source="folder", path=str(adapter), format=FORMAT_ADAPTER, base_model="openai-community/gpt2"))
    assert "base model openai-community/gpt2 is not on this machine" in tab.task.task_warning.text()
    assert not tab.load_button.isEnabled() and not tab.run_button.isEnabled()
    assert not tab.options.adapter_box.isVisible()


def test_gguf_runs_dequantised_and_an_unknown_architecture_says_why(qtbot, tab, tmp_path):
    path, _original = write_loadable_gguf(tmp_path / "gguf")
    select(qtbot, tab, gguf_checkpoint(path))
    assert tab.current_task().id == "text-generation"
    assert "dequantised" in tab.options.format_label.text() and not tab.options.adapter_box.isVisible()
    assert "in float32" in tab.options.format_label.text()  # the memory it will take, said before loading
    greedy(tab)
    result = run_and_wait(qtbot, tab)
    assert result.model.to_json()["gguf_file"] == path.name
    assert "dequantised to float32" in tab.results.notices.text()

    odd = write_gguf(tmp_path / "odd.gguf", architecture="unknownarch")
    select(qtbot, tab, gguf_checkpoint(odd))
    assert "cannot load GGUF models of architecture 'unknownarch'" in tab.task.task_warning.text()
    assert not tab.load_button.isEnabled() and not tab.run_button.isEnabled()
    assert "unknownarch" in tab.load_button.toolTip()
