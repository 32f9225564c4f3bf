"""JobSlots: one job per slot, replaced cleanly; no callback after replacement or after the owner is gone."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QWidget

from explorer.core.jobs import Progress
from explorer.ui import workers
from explorer.ui.workers import JobSlots


@pytest.fixture
def owner(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def _wait_idle(qtbot, slots: JobSlots) -> None:
    qtbot.waitUntil(lambda: not slots.threads_running(), timeout=10_000)


def test_a_job_delivers_progress_partials_and_its_result(qtbot, owner):
    slots = JobSlots(owner)
    seen = []

    def job(token):
        yield Progress(0, 2, "half")
        yield "partial"
        return "result"

    with qtbot.waitCallback() as ended:
        slots.start("a", job, done=lambda r: seen.append(("done", r)), partial=lambda p: seen.append(("partial", p)),
                    progress=lambda p: seen.append(("progress", p.message)), ended=ended)
    assert seen == [("progress", "half"), ("partial", "partial"), ("done", "result")]
    assert not slots.busy("a")
    _wait_idle(qtbot, slots)


def test_a_replaced_job_delivers_nothing_more_even_what_was_already_queued(qtbot, owner):
    slots = JobSlots(owner)
    first_seen, second_seen = [], []
    flood = threading.Event()

    def chatty(token):
        for index in range(10_000):  # floods the GUI thread's queue faster than it is read
            yield index
            if index == 100:
                flood.set()
        return "first done"

    slots.start("work", chatty, partial=first_seen.append, done=first_seen.append)
    assert flood.wait(10)
    count_at_replacement = len(first_seen)

    def quick(token):
        yield "second partial"
        return "second done"

    with qtbot.waitCallback() as ended:
        slots.start("work", quick, partial=second_seen.append, done=second_seen.append, ended=ended)
    _wait_idle(qtbot, slots)
    assert len(first_seen) == count_at_replacement, "signals of the replaced job arrived after its replacement"
    assert second_seen == ["second partial", "second done"]


def test_without_a_failed_callback_a_failure_reaches_the_one_error_path(qtbot, owner):
    reported = []
    workers.set_failure_handler(lambda who, message, details: reported.append((who, message)))
    try:
        slots = JobSlots(owner)

        def broken(token):
            raise ValueError("the file is not a checkpoint")
            yield

        with qtbot.waitCallback() as ended:
            slots.start("a", broken, ended=ended)
        assert reported == [(owner, "the file is not a checkpoint")]
        handled = []
        with qtbot.waitCallback() as ended:
            slots.start("a", broken, failed=lambda message, details: handled.append(message), ended=ended)
        assert handled == ["the file is not a checkpoint"] and len(reported) == 1
    finally:
        workers.set_failure_handler(None)


def test_no_callback_outlives_its_owner_and_its_jobs_are_cancelled(qtbot):
    widget = QWidget()
    slots = JobSlots(widget)
    seen = []
    started = threading.Event()
    tokens = []

    def patient(token):
        tokens.append(token)
        started.set()
        while not token.cancelled:
            yield "tick"
        return "never seen"

    slots.start("a", patient, partial=seen.append, done=seen.append)
    assert started.wait(10)
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    widget.deleteLater()
    qtbot.waitUntil(lambda: tokens[0].cancelled, timeout=10_000)
    count = len(seen)
    qtbot.waitUntil(lambda: not workers._ALIVE, timeout=10_000)
    assert len(seen) == count


def test_cancel_ends_the_slot_at_once_and_wait_covers_replaced_jobs(qtbot, owner):
    slots = JobSlots(owner)
    release = threading.Event()
    ended = []

    def blocked(token):
        release.wait(10)
        yield "late"
        return "late"

    slots.start("a", blocked, ended=lambda: ended.append("a"), partial=ended.append)
    slots.cancel("a")
    assert ended == ["a"] and not slots.busy()
    assert slots.threads_running()
    assert not slots.wait(50)  # the thread is still inside the blocked job
    release.set()
    assert slots.wait(10_000)
    _wait_idle(qtbot, slots)
    assert ended == ["a"]
