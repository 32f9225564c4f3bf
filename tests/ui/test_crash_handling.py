"""An error in a slot or a thread is logged, shown with the log's path, and the window goes on.

pytest-qt normally catches exceptions raised in slots and fails the test; these tests switch
that off (qt_no_exception_capture) so the app's own hooks see them, as they do in real use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication

from explorer.core import crash_log

pytestmark = pytest.mark.qt_no_exception_capture


@pytest.fixture
def crash_handling():
    """install_crash_handling for a window, undone after the test."""
    from explorer import app

    crash_log.uninstall()
    reporters = []

    def install(window):
        reporter = app.install_crash_handling(lambda: window)
        reporter.box = None
        reporters.append(reporter)
        return reporter

    yield install
    crash_log.uninstall()
    for reporter in reporters:
        if reporter.box is not None and shiboken6.isValid(reporter.box):
            reporter.box.close()
        reporter.box = None


def box_text(reporter) -> str:
    return reporter.box.text() if reporter.box is not None and shiboken6.isValid(reporter.box) else ""


def test_an_error_in_a_slot_is_logged_shown_and_the_window_goes_on(make_window, qtbot, crash_handling):
    window = make_window(folders=[])
    reporter = crash_handling(window)
    calls = []

    def slot_with_a_bug(_stats):
        calls.append(1)
        raise AttributeError("'NoneType' object has no attribute 'rows'")

    window.scan_finished.connect(slot_with_a_bug)
    with qtbot.waitSignal(window.scan_finished, timeout=30_000):
        window.start_scan()
    qtbot.waitUntil(lambda: reporter.box is not None and reporter.box.isVisible(), timeout=5000)
    log = crash_log.log_file()
    assert str(log) in box_text(reporter) and "AttributeError" in box_text(reporter)
    assert "slot_with_a_bug" in reporter.box.detailedText()
    text = log.read_text()
    assert "window" in text and "Traceback" in text and "slot_with_a_bug" in text and "'rows'" in text
    assert str(log) in window.statusBar().currentMessage()
    # The window keeps working: the next scan runs and reaches the same slot again.
    window.scan_finished.disconnect(slot_with_a_bug)
    with qtbot.waitSignal(window.scan_finished, timeout=30_000):
        window.start_scan()
    assert window.isVisible() and calls == [1]


def test_an_error_in_a_plain_thread_reaches_the_window(make_window, qtbot, crash_handling):
    window = make_window(folders=[], wait=False)
    reporter = crash_handling(window)

    def background_work():
        raise ZeroDivisionError("division by zero in the background")

    thread = threading.Thread(target=background_work, name="helper")
    thread.start()
    thread.join(5)
    qtbot.waitUntil(lambda: reporter.box is not None and reporter.box.isVisible(), timeout=5000)
    assert reporter.box.thread() is QApplication.instance().thread()  # widgets are made in the GUI thread only
    assert "ZeroDivisionError" in box_text(reporter) and str(crash_log.log_file()) in box_text(reporter)
    text = crash_log.log_file().read_text()
    assert "unexpected error in thread helper" in text and "background_work" in text


def test_a_storm_of_errors_shows_one_box(make_window, qtbot, crash_handling):
    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        fired = Signal(int)

    window = make_window(folders=[], wait=False)
    reporter = crash_handling(window)
    source = Source()

    def paint_like_slot(index):
        raise IndexError(f"row {index} out of range")

    source.fired.connect(paint_like_slot)
    for index in range(200):
        source.fired.emit(index)
    qtbot.waitUntil(lambda: reporter.more == 199, timeout=5000)
    boxes = [w for w in window.findChildren(type(reporter.box)) if w.isVisible()]
    assert len(boxes) == 1 and "199 more unexpected errors" in reporter.box.informativeText()
    assert crash_log.log_file().read_text().count("Traceback") == crash_log.REPEATS_WRITTEN


def test_the_window_start_installs_the_crash_log_without_torch(tmp_path):
    """python -m explorer, as bench_startup runs it: the log folder exists, torch is still not imported."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MODEL_EXPLORER_HOME=str(tmp_path), MODEL_EXPLORER_STARTUP_PROBE="1")
    env.pop("PYTHONFAULTHANDLER", None)
    result = subprocess.run([sys.executable, "-m", "explorer"], env=env, capture_output=True, text=True, timeout=120)
    assert "heavy-modules none" in result.stdout, result.stderr[-2000:]
    assert (tmp_path / "log" / crash_log.LOG_FILE_NAME).exists()
