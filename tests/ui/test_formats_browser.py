"""Adapters, GGUF files and the Ollama/LM Studio stores in the browser and the Overview."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex

from explorer.core.checkpoint import Checkpoint, CheckpointFile
from explorer.core.discovery import ScanLocation, scan_all
from explorer.ui.browser import CheckpointBrowser
from explorer.ui.overview import OverviewPane
from tests.core.hub_layout import HubRepo
from tests.format_builders import write_gguf, write_ollama_model

COMMIT = "b" * 40


@pytest.fixture
def pane(qtbot):
    pane = OverviewPane()
    qtbot.addWidget(pane)
    pane.resize(1100, 800)
    pane.show()
    return pane


def _shown(pane: OverviewPane, qtbot, ckpt: Checkpoint, checkpoints: list[Checkpoint] = ()) -> str:
    pane.set_checkpoints(list(checkpoints))
    pane.set_checkpoint(ckpt)
    qtbot.waitUntil(lambda: not pane.is_busy(), timeout=10_000)
    return pane.format_facts.text()


def _adapter(folder: Path, config: str, base: str | None) -> Checkpoint:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(config)
    files = [CheckpointFile("adapter_config.json", str(folder / "adapter_config.json"), len(config))]
    return Checkpoint(id=folder.name, source="folder", path=str(folder), files=files, format="adapter", base_model=base)


def test_an_adapter_overview_names_its_type_rank_targets_and_found_base(pane, qtbot, tmp_path):
    base = Checkpoint(id="org/base", source="hub-cache", path=str(tmp_path / "snap"), revision=COMMIT, refs=["main"])
    config = '{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "target_modules": ["q_proj", "v_proj"],'
    config += ' "modules_to_save": ["score"], "task_type": "SEQ_CLS", "base_model_name_or_path": "org/base"}'
    ckpt = _adapter(tmp_path / "lora", config, "org/base")
    text = _shown(pane, qtbot, ckpt, [base, ckpt])
    assert "LoRA, rank 8, alpha 16 (scale alpha/rank = 2), dropout 0.1" in text
    assert "q_proj, v_proj" in text and "score" in text and "SEQ_CLS" in text
    assert "org/base: found in the Hugging Face cache at bbbbbbbbbb" in text
    assert "PEFT adapter" in pane.fields["format"].text()


def test_an_adapter_whose_base_is_missing_says_which_base_to_get(pane, qtbot, tmp_path):
    ckpt = _adapter(tmp_path / "lora", '{"peft_type": "IA3", "base_model_name_or_path": "org/absent"}', "org/absent")
    text = _shown(pane, qtbot, ckpt, [ckpt])
    assert "org/absent is not on this machine: download it (hf download org/absent) or add its folder" in text


def test_a_broken_adapter_config_is_one_line_in_the_overview(pane, qtbot, tmp_path):
    ckpt = _adapter(tmp_path / "lora", "{" * 100_000, None)
    text = _shown(pane, qtbot, ckpt, [ckpt])
    assert "adapter_config.json" in text and "Traceback" not in text


def test_a_gguf_overview_shows_quantisation_context_and_template(pane, qtbot, tmp_path):
    path = write_gguf(tmp_path / "tiny.gguf")
    (ckpt,), _ = scan_all([ScanLocation("folder", str(tmp_path))])
    text = _shown(pane, qtbot, ckpt)
    assert "Q8_0 53% of the weights" in text and "128 tokens" in text and "yes (71 characters)" in text
    assert pane.fields["model_type"].text() == "llama (general.architecture)"
    assert pane.fields["tokenizer"].text() == "in the GGUF metadata"
    path.write_bytes(b"GGUF\x03\x00\x00\x00")  # cut after the version: the header's reader says why
    text = _shown(pane, qtbot, ckpt)
    assert "tiny.gguf" in text and "Traceback" not in text


def test_the_browser_groups_a_gguf_repo_by_repo_and_names_stores(qtbot, tmp_path):
    gguf = write_gguf(tmp_path / "tiny.gguf")
    cache = tmp_path / "hub"
    repo = HubRepo(cache, "someone/Tiny-GGUF")
    for name in ("tiny-Q8_0.gguf", "tiny-F16.gguf"):
        repo.add(COMMIT, name, gguf.read_bytes())
    (repo.path / "refs" / "main").write_text(COMMIT)
    write_ollama_model(tmp_path / "ollama", "tiny", "latest", gguf)
    found, _ = scan_all([ScanLocation("hub-cache", str(cache)), ScanLocation("ollama", str(tmp_path / "ollama"))])
    browser = CheckpointBrowser()
    qtbot.addWidget(browser)
    browser.add_checkpoints(found)
    model = browser.source_model

    def text(row, column=0, parent=None):
        return model.index(row, column, parent if parent is not None else QModelIndex()).data()

    titles = [text(row).split("  ·  ")[0] for row in range(model.rowCount())]  # then what the place takes
    assert titles == [f"Hugging Face cache — {cache}", f"Ollama models — {tmp_path / 'ollama'}"]
    hub = model.index(0, 0)
    repo = model.index(0, 0, hub)
    assert model.rowCount(hub) == 1 and repo.data() == "someone/Tiny-GGUF"
    revisions = sorted(text(row, 0, repo) for row in range(model.rowCount(repo)))
    assert revisions == [f"tiny-F16.gguf  @ {COMMIT[:10]}  (main)", f"tiny-Q8_0.gguf  @ {COMMIT[:10]}  (main)"]
    ollama = model.index(1, 0)
    assert (text(0, 0, ollama), text(0, 1, ollama)) == ("tiny:latest", "llama (GGUF)")
    browser.proxy.set_filter_text("gguf")
    assert browser.proxy.rowCount() == 2
    assert os.path.isfile(found[-1].path)
