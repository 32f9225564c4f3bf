"""The Demo tab on hostile checkpoints: selecting one never blocks the window, Run gives the explorer's own message."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt

from explorer.core.checkpoint import Checkpoint
from explorer.ui.demo_tab import DemoTab
from tests import hostile_corpus as corpus

pytestmark = pytest.mark.slow

WAIT = 60_000


@pytest.fixture
def tab(qtbot):
    widget = DemoTab()
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    with qtbot.waitSignal(widget.devices_ready, timeout=WAIT):
        widget.show()
    yield widget
    widget.shutdown()


def _select_within(tab: DemoTab, folder, seconds: float) -> float:
    """Select the checkpoint from a watchdog's point of view: the GUI thread must come back in time."""
    done = threading.Event()
    started = time.monotonic()
    tab.set_checkpoint(Checkpoint(id=folder.name, source="folder", path=str(folder), model_type="gpt2",
                                  architectures=["GPT2LMHeadModel"], needs_remote_code=True))
    done.set()
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"selecting took {elapsed:.1f} s in the GUI thread"
    return elapsed


@pytest.mark.parametrize("build", [corpus.fifo_code, corpus.fifo_config, corpus.auto_map_outside])
def test_selecting_a_hostile_checkpoint_never_blocks_the_window(qtbot, tab, tmp_path, build):
    folder = build(tmp_path / "case")
    # A FIFO read would block forever; run the selection in the GUI thread and fail if it does not return.
    result: dict = {}

    def watchdog():
        if not result.get("returned"):
            result["blocked"] = True

    timer = threading.Timer(10, watchdog)
    timer.start()
    try:
        with qtbot.waitSignal(tab.tasks_ready, timeout=WAIT):
            _select_within(tab, folder, 10)
            result["returned"] = True
            assert tab.jobs.busy("facts")  # the files and the consent check are read in a job, not here
    finally:
        timer.cancel()
    assert not result.get("blocked")
    assert "allow" in tab.task.task_warning.text()  # its code was never allowed: said with every task


@pytest.mark.parametrize(
    "build, message",
    [
        (corpus.overlapping_offsets, "overlap in the file"),
        (corpus.fifo_config, "not a regular file"),
        (corpus.deeply_nested_config, "nested too deeply"),
        (lambda folder: corpus.absurd_layers(folder, 10**12), "n_layer to 1,000,000,000,000"),
    ],
)
def test_run_says_what_the_explorer_found_not_what_a_library_raised(qtbot, tab, tmp_path, build, message):
    folder = build(tmp_path / "case")
    with qtbot.waitSignal(tab.tasks_ready, timeout=WAIT):
        tab.set_checkpoint(Checkpoint(id=folder.name, source="folder", path=str(folder), model_type="gpt2", architectures=["GPT2LMHeadModel"]))
    with qtbot.waitSignal(tab.run_failed, timeout=WAIT) as blocker:
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT)
    text = blocker.args[0]
    assert message in text, text
    assert "\n" not in text
