"""Qt-free background-job protocol.

A job is a generator: it yields ``Progress`` and partial results, returns its final result,
and checks a ``CancelToken`` between steps. The UI runs it in a worker thread and turns the
yields into signals; the command line simply iterates it. Keeping the protocol here means
every long operation is testable without Qt.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Generator, TypeVar

T = TypeVar("T")

Job = Generator[Any, None, T]


class ExpectedFailure(Exception):
    """A job failure the user can act on (a model that cannot be built, a run that cannot go on):
    its message is for the user, and it is no bug, so it goes to no crash log."""


class Cancelled(Exception):
    """Raised inside a job when its token was cancelled; the runner treats it as a clean stop."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


def run_to_end(job: Job[T], on_yield=None) -> T:
    """Drive a job synchronously (command line, tests); returns its result."""
    try:
        while True:
            item = next(job)
            if on_yield is not None:
                on_yield(item)
    except StopIteration as stop:
        return stop.value


def batched(job: Job[T], seconds: float = 0.05) -> Job[T]:
    """The same job with its partial results grouped into lists, one list at most every ``seconds``.

    For a window showing a scan of thousands of checkpoints: each result crossing to the GUI
    thread costs an event, and each row inserted alone re-sorts the view; a few lists a second
    cost a few. Progress passes through at once; the last list comes before the job's result,
    and an item is never held longer than ``seconds`` while the job keeps producing.
    """
    batch: list = []
    started = 0.0
    clock = time.monotonic
    try:
        while True:
            item = next(job)
            if isinstance(item, Progress):
                yield item
                continue
            if not batch:
                started = clock()
            batch.append(item)
            if clock() - started >= seconds:
                yield batch
                batch = []
    except StopIteration as stop:
        if batch:
            yield batch
        return stop.value
