"""The worker bridge: yields become signals in the GUI thread; cancel and errors are clean."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from explorer.core.jobs import Progress
from explorer.ui.workers import JobRunner


def test_yields_progress_and_result_arrive_in_the_gui_thread(qtbot):
    main_thread = QThread.currentThread()
    seen, threads = [], []

    def job(token):
        threads.append(threading.get_ident())
        yield Progress(1, 2, "half")
        yield "partial"
        return 42

    runner = JobRunner(job)
    runner.progressed.connect(lambda p: seen.append(("progress", p.message, QThread.currentThread() is main_thread)))
    runner.yielded.connect(lambda x: seen.append(("yield", x, QThread.currentThread() is main_thread)))
    with qtbot.waitSignal(runner.finished, timeout=5000) as done:
        runner.start()
    assert done.args == [42]
    assert seen == [("progress", "half", True), ("yield", "partial", True)]
    assert threads and threads[0] != threading.get_ident()
    qtbot.waitUntil(lambda: not runner.is_running())


def test_cancel_stops_between_yields(qtbot):
    started = threading.Event()
    steps = []

    def job(token):
        for i in range(10_000):
            started.set()
            token.raise_if_cancelled()
            steps.append(i)
            yield Progress(i, 10_000)
            threading.Event().wait(0.001)
        return "never"

    runner = JobRunner(job)
    finished = []
    runner.finished.connect(finished.append)
    runner.start()
    assert started.wait(5)
    with qtbot.waitSignal(runner.cancelled, timeout=5000):
        runner.cancel()
    assert not finished and len(steps) < 10_000


def test_errors_become_a_message_with_details(qtbot):
    def job(token):
        yield Progress(0, 1)
        raise ValueError("config.json is not valid JSON")

    runner = JobRunner(job)
    with qtbot.waitSignal(runner.failed, timeout=5000) as failed:
        runner.start()
    message, details = failed.args
    assert message == "config.json is not valid JSON"
    assert "Traceback" in details and "ValueError" in details


def test_stop_all_jobs_ends_a_running_job_while_the_gui_thread_waits(qtbot):
    from explorer.ui.workers import stop_all_jobs

    started = threading.Event()

    def job(token):
        while True:
            started.set()
            token.raise_if_cancelled()
            yield Progress(0)
            threading.Event().wait(0.002)

    runner = JobRunner(job)
    runner.start()
    assert started.wait(5)
    assert stop_all_jobs(3000)  # the GUI thread is blocked in wait(): the thread must still end


def test_a_runner_outlives_the_widget_that_started_it(qtbot):
    from PySide6.QtWidgets import QWidget

    release = threading.Event()

    def job(token):
        release.wait(5)
        yield Progress(1, 1)
        return "done"

    owner = QWidget()
    runner = JobRunner(job, owner)
    with qtbot.waitSignal(runner.stopped, timeout=10_000):
        runner.start()
        with qtbot.waitSignal(owner.destroyed, timeout=5000):
            owner.deleteLater()  # the widget goes while the job still runs
        release.set()
    assert not runner.is_running()


@pytest.fixture
def fresh_crash_log():
    from explorer.core import crash_log

    crash_log.uninstall()  # a CLI test run in this process may have installed one for its own home
    yield crash_log
    crash_log.uninstall()


def test_an_unexpected_error_in_a_job_is_logged_and_the_message_names_the_log(qtbot, fresh_crash_log):
    def job_with_a_bug(token):
        yield Progress(0, 1)
        return {"a": 1}["b"]

    runner = JobRunner(job_with_a_bug)
    with qtbot.waitSignal(runner.failed, timeout=5000) as failed:
        runner.start()
    message, details = failed.args
    log = fresh_crash_log.log_file()
    assert message == f"Unexpected error: KeyError: 'b' (details in {log})"
    assert "KeyError" in details
    text = log.read_text()
    assert "unexpected error in job " in text and "job_with_a_bug" in text and "Traceback" in text


def test_an_anticipated_failure_is_a_message_only(qtbot, fresh_crash_log):
    from explorer.core.safe_io import UnreadableFile

    def job(token):
        yield Progress(0, 1)
        raise UnreadableFile("config.json is a FIFO; not read")

    runner = JobRunner(job)
    with qtbot.waitSignal(runner.failed, timeout=5000) as failed:
        runner.start()
    assert failed.args[0] == "config.json is a FIFO; not read"
    assert not fresh_crash_log.log_file().exists()
