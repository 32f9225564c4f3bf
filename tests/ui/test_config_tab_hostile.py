"""The Config tab on ordinary and hostile input: the report reaches the tab whole, the window stays responsive."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from explorer.core.checkpoint import Checkpoint, CheckpointFile
from explorer.ui.config_tab import ConfigTab
from tests import hostile_corpus as corpus


def _checkpoint(folder) -> Checkpoint:
    files = [CheckpointFile(p.name, str(p), p.stat().st_size if p.is_file() else None) for p in sorted(folder.iterdir())]
    return Checkpoint(id=folder.name, source="folder", path=str(folder), files=files)


@pytest.fixture
def tab(qtbot):
    def finish_jobs(widget):
        widget.set_checkpoint(None)
        qtbot.waitUntil(lambda: not widget.jobs.threads_running(), timeout=30_000)

    widget = ConfigTab()
    qtbot.addWidget(widget, before_close_func=finish_jobs)
    widget.resize(1100, 750)
    return widget


def _show(qtbot, tab, folder, timeout=30_000):
    with qtbot.waitSignal(tab.report_shown, timeout=timeout) as blocker:
        tab.set_checkpoint(_checkpoint(folder))
        tab.show()
    return blocker.args[0]


def test_a_tokenizer_with_transformers_default_model_max_length_shows(qtbot, tab, sample, tmp_path):
    """transformers writes model_max_length = int(1e30) when a tokenizer has no limit: an ordinary file."""
    folder = tmp_path / "gpt2"
    shutil.copytree(sample("tiny-gpt2-lm"), folder)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    settings["model_max_length"] = int(1e30)
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    report = _show(qtbot, tab, folder)
    assert report.model_type == "gpt2"
    # What follows the signal ran: the fields are listed and the weights check started or finished.
    assert tab.fields_page.fields_proxy.rowCount() > 0
    qtbot.waitUntil(lambda: not tab.jobs.busy("weights"), timeout=30_000)
    lines = [line for section in report.other_files for line in section.summary]
    assert any(line[0] == "model_max_length" and "no limit" in line[1] for line in lines), lines


@pytest.mark.parametrize(
    "build, expected",
    [
        (corpus.config_with_infinity, "Infinity"),
        (corpus.huge_number_config, "larger than any size"),
        (corpus.architectures_naming_no_class, "GPT2ForTimeTravel"),
        (corpus.moderately_nested_config, "nested more than 100 levels"),
        (corpus.fifo_config, "not a regular file"),
        (lambda folder: corpus.absurd_layers(folder, 10**12), "n_layer"),
    ],
)
def test_hostile_configs_show_their_problem(qtbot, tab, tmp_path, build, expected):
    folder = build(tmp_path / "case")
    report = _show(qtbot, tab, folder)
    assert any(expected in problem for problem in report.problems) or expected in (report.config_text or ""), report.problems
    qtbot.waitUntil(lambda: not tab.jobs.busy("weights"), timeout=30_000)


@pytest.mark.slow
def test_a_config_too_large_to_be_one_is_refused_without_freezing_the_window(qtbot, tab, tmp_path):
    folder = corpus.config_with_many_keys(tmp_path / "case")
    started = time.monotonic()
    report = _show(qtbot, tab, folder, timeout=60_000)
    assert time.monotonic() - started < 30
    assert any("more than 400,000 values" in problem for problem in report.problems)


@pytest.mark.slow
def test_a_large_label_table_shows_within_seconds(qtbot, tab, sample, tmp_path):
    """A real config at the large end: 100,000 classes (id2label and label2id), 200,000 values."""
    folder = tmp_path / "labels"
    shutil.copytree(sample("tiny-gpt2-lm"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {str(i): f"label {i}" for i in range(100_000)}
    config["label2id"] = {f"label {i}": i for i in range(100_000)}
    (folder / "config.json").write_text(json.dumps(config))
    started = time.monotonic()
    report = _show(qtbot, tab, folder, timeout=60_000)
    assert report.model_type == "gpt2"
    assert time.monotonic() - started < 30
    # The GUI thread stays free: a zero-time timer fires promptly while the tab holds the report.
    fired = []
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: fired.append(time.monotonic()))
    qtbot.waitUntil(lambda: bool(fired), timeout=5_000)
