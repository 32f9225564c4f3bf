"""Run core jobs (generators) in a QThread and turn their yields into signals.

The worker never touches widgets: it only emits. Signals cross to the GUI thread queued, so
receivers run in the GUI thread. A job is cancelled cooperatively through its CancelToken;
``cancel()`` returns at once and ``cancelled`` is emitted when the job has really stopped.
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable, Generator

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from explorer.core import crash_log
from explorer.core.jobs import Cancelled, CancelToken, ExpectedFailure, Progress

JobFactory = Callable[[CancelToken], Generator[Any, None, Any]]

# Runners whose thread is still alive. Qt aborts the process if a QThread object is destroyed
# while its thread runs, so a runner stays referenced until its thread has finished, even
# when its owner dropped it (a test ending, a tab replaced).
_ALIVE: set["JobRunner"] = set()


class _JobWorker(QObject):
    progressed = Signal(object)
    yielded = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, job_factory: JobFactory, token: CancelToken) -> None:
        super().__init__()
        self._job_factory = job_factory
        self._token = token

    @Slot()
    def run(self) -> None:
        try:
            job = self._job_factory(self._token)
            result = None
            try:
                while True:
                    item = next(job)
                    if self._token.cancelled:
                        job.close()
                        raise Cancelled()
                    if isinstance(item, Progress):
                        self.progressed.emit(item)
                    else:
                        self.yielded.emit(item)
            except StopIteration as stop:
                result = stop.value
            if self._token.cancelled:
                self.cancelled.emit()
            else:
                self.finished.emit(result)
        except Cancelled:
            self.cancelled.emit()
        except MemoryError:
            self.failed.emit("Out of memory.", traceback.format_exc())
        except Exception as exc:  # any job failure becomes a message; the app goes on
            details = traceback.format_exc()
            if _anticipated(exc):
                self.failed.emit(_message_for(exc), details)
            else:
                path = crash_log.record_exception(f"job {_job_name(self._job_factory)}", exc)
                self.failed.emit(f"Unexpected error: {crash_log.summary_of(exc)} ({crash_log.where_details_are(path)})", details)
        finally:
            self.done.emit()


def _anticipated(exc: Exception) -> bool:
    """Failures the code raises to tell the user something (a file unreadable, an input to change,
    a missing package); anything else is a bug, kept in the crash log with its traceback."""
    return isinstance(exc, (ValueError, OSError, ImportError, ExpectedFailure))


def _job_name(job_factory: JobFactory) -> str:
    target = getattr(job_factory, "func", job_factory)  # functools.partial
    return getattr(target, "__qualname__", type(target).__name__)


def _message_for(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if not text:
        return name
    first_line = text.splitlines()[0]
    return first_line if len(first_line) < 400 else first_line[:400] + "…"


class JobRunner(QObject):
    """Owns one background run of a job. Create one per run, or reuse after it ends."""

    progressed = Signal(object)
    """Emitted with each Progress the job yields."""
    yielded = Signal(object)
    """Emitted with each other object the job yields (partial results)."""
    finished = Signal(object)
    """Emitted with the job's return value when it completed."""
    failed = Signal(str, str)
    """Emitted with (message for the user, technical details) when the job raised. An error no
    one anticipated (not a ValueError, OSError, ImportError or TaskError) is also written to the
    crash log, and the message says so and where."""
    cancelled = Signal()
    """Emitted when the job stopped after cancel()."""
    stopped = Signal()
    """Emitted last, whatever the outcome."""

    def __init__(self, job_factory: JobFactory, parent: QObject | None = None) -> None:
        # Not a Qt child of ``parent``: deleting a widget must not delete a runner whose thread
        # still runs (its end would never be noticed); _ALIVE keeps it until the thread is done.
        super().__init__(None)
        self._owner = parent
        self._job_factory = job_factory
        self._thread: QThread | None = None
        self._worker: _JobWorker | None = None
        self._token = CancelToken()

    @property
    def token(self) -> CancelToken:
        return self._token

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this job is already running")
        self._token = CancelToken()
        thread = QThread()
        worker = _JobWorker(self._job_factory, self._token)
        worker.moveToThread(thread)
        worker.progressed.connect(self.progressed)
        worker.yielded.connect(self.yielded)
        worker.finished.connect(self.finished)
        worker.failed.connect(self.failed)
        worker.cancelled.connect(self.cancelled)
        # Direct: quit() is thread-safe, and a queued call would wait for a GUI thread that may be
        # blocked in wait() (stop_all_jobs on exit).
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        _ALIVE.add(self)
        thread.start()

    def cancel(self) -> None:
        self._token.cancel()

    def wait(self, msecs: int = 2000) -> bool:
        """Block until the thread ends (used on shutdown). True if it ended in time."""
        thread = self._thread
        if thread is None:
            return True
        return thread.wait(msecs)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread, self._worker = None, None
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.deleteLater()
        _ALIVE.discard(self)
        self.stopped.emit()


def run_job(job_factory: JobFactory, parent: QObject, *, on_finished=None, on_failed=None, on_yield=None, on_progress=None) -> JobRunner:
    """Start a job with callbacks; the runner is parented so it lives as long as ``parent``."""
    runner = JobRunner(job_factory, parent)
    if on_finished:
        runner.finished.connect(on_finished)
    if on_failed:
        runner.failed.connect(on_failed)
    if on_yield:
        runner.yielded.connect(on_yield)
    if on_progress:
        runner.progressed.connect(on_progress)
    runner.stopped.connect(runner.deleteLater)
    runner.start()
    return runner


def stop_all_jobs(msecs: int = 2000) -> bool:
    """Cancel every running job and wait for the threads (application exit). True if all ended."""
    runners = list(_ALIVE)
    for runner in runners:
        runner.cancel()
    # One deadline for all: several runners stuck in native calls must not add up their waits.
    deadline = time.monotonic() + msecs / 1000
    return all(runner.wait(max(0, int((deadline - time.monotonic()) * 1000))) for runner in runners)
