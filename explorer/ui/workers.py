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


FailureHandler = Callable[[QObject, str, str], None]
_failure_handler: FailureHandler | None = None


def set_failure_handler(handler: FailureHandler | None) -> None:
    """Where a job failure goes when its caller gave no ``failed`` callback: (owner, message, details).

    The window installs one that shows the message in its status bar; without it, the message is
    written to stderr, so that a failure is never silent.
    """
    global _failure_handler
    _failure_handler = handler


def _report_failure(owner: QObject, message: str, details: str) -> None:
    if _failure_handler is not None:
        _failure_handler(owner, message, details)
    else:
        import sys

        print(f"model-explorer: {message}", file=sys.stderr)


class _Delivery(QObject):
    """Carries one run's signals to its callbacks while that run is its slot's current one.

    A child of the slots object, so Qt drops the connections when the owner widget is destroyed:
    no callback outlives its widget. ``retire()`` makes a replaced run's queued signals no-ops.
    """

    def __init__(self, slots: "JobSlots", name: str, callbacks: dict[str, Callable | None]) -> None:
        super().__init__(slots)
        self._slots = slots
        self._name = name
        self._callbacks = callbacks
        self.active = True
        self.runner: JobRunner | None = None

    def retire(self) -> None:
        self.active = False
        self._callbacks = {}

    def _call(self, key: str, *args) -> None:
        callback = self._callbacks.get(key) if self.active else None
        if callback is not None:
            callback(*args)

    @Slot(object)
    def on_progress(self, progress) -> None:
        self._call("progress", progress)

    @Slot(object)
    def on_partial(self, item) -> None:
        self._call("partial", item)

    @Slot(object)
    def on_done(self, result) -> None:
        self._call("done", result)

    @Slot(str, str)
    def on_failed(self, message: str, details: str) -> None:
        if not self.active:
            return
        if self._callbacks.get("failed") is not None:
            self._call("failed", message, details)
        else:
            _report_failure(self._slots.owner(), message, details)

    @Slot()
    def on_cancelled(self) -> None:
        self._call("cancelled")

    @Slot()
    def on_stopped(self) -> None:
        self._slots._run_stopped(self._name, self)


class JobSlots(QObject):
    """The background jobs of one widget, at most one per named slot.

    ``start(name, job, done=...)`` runs ``job(token)`` in a worker thread. A job started in a
    slot replaces the slot's previous one: that one is cancelled, and none of its signals
    arrives any more, even those already queued. Callbacks run in the GUI thread, never after
    the owner is destroyed (the owner's destruction also cancels its jobs). A failure goes to
    ``failed`` when given, else to the window's one error path (``set_failure_handler``).
    """

    def __init__(self, owner: QObject) -> None:
        super().__init__(owner)
        self._owner = owner
        self._runs: dict[str, tuple[JobRunner, _Delivery]] = {}
        self._live: set[JobRunner] = set()  # started here and still running, replaced ones included
        # Plain tokens, not the runners: the closure must not keep Qt objects of a destroyed owner alive.
        tokens = self._tokens = {}  # type: dict[str, CancelToken]
        owner.destroyed.connect(lambda *_: [token.cancel() for token in list(tokens.values())])

    def owner(self) -> QObject:
        return self._owner

    def start(
        self,
        name: str,
        job_factory: JobFactory,
        *,
        done: Callable[[Any], None] | None = None,
        partial: Callable[[Any], None] | None = None,
        progress: Callable[[Progress], None] | None = None,
        failed: Callable[[str, str], None] | None = None,
        cancelled: Callable[[], None] | None = None,
        ended: Callable[[], None] | None = None,
    ) -> JobRunner:
        """Run ``job_factory(token)`` in slot ``name``, replacing what ran there; returns the runner (for tests)."""
        self.cancel(name)
        delivery = _Delivery(self, name, {
            "done": done, "partial": partial, "progress": progress, "failed": failed, "cancelled": cancelled, "ended": ended,
        })
        runner = JobRunner(job_factory, self._owner)
        runner.progressed.connect(delivery.on_progress)
        runner.yielded.connect(delivery.on_partial)
        runner.finished.connect(delivery.on_done)
        runner.failed.connect(delivery.on_failed)
        runner.cancelled.connect(delivery.on_cancelled)
        runner.stopped.connect(delivery.on_stopped)
        delivery.runner = runner
        self._runs[name] = (runner, delivery)
        self._live.add(runner)
        runner.start()
        self._tokens[name] = runner.token
        return runner

    def cancel(self, name: str | None = None) -> None:
        """Cancel the job of one slot (or of every slot); their callbacks are not called any more."""
        names = [name] if name is not None else list(self._runs)
        for key in names:
            entry = self._runs.pop(key, None)
            self._tokens.pop(key, None)
            if entry is not None:
                runner, delivery = entry
                runner.cancel()
                ended = delivery._callbacks.get("ended")
                delivery.retire()
                if ended is not None:
                    ended()

    def busy(self, name: str | None = None) -> bool:
        """Whether the current job of this slot (or of any slot) runs; replaced ones do not count."""
        if name is not None:
            return name in self._runs
        return bool(self._runs)

    def threads_running(self) -> bool:
        """Whether any job started here still has its thread, a replaced or cancelled one included."""
        return any(runner.is_running() for runner in self._live)

    def wait(self, msecs: int) -> bool:
        """Block until every job started here has ended, at most ``msecs`` in all (shutting down)."""
        deadline = time.monotonic() + msecs / 1000
        return all(runner.wait(max(0, int((deadline - time.monotonic()) * 1000))) for runner in list(self._live))

    def _run_stopped(self, name: str, delivery: _Delivery) -> None:
        if delivery.runner is not None:
            self._live.discard(delivery.runner)
        entry = self._runs.get(name)
        if entry is not None and entry[1] is delivery:
            del self._runs[name]
            self._tokens.pop(name, None)
            ended = delivery._callbacks.get("ended")
            delivery.retire()
            if ended is not None:
                ended()
        delivery.deleteLater()


def stop_all_jobs(msecs: int = 2000) -> bool:
    """Cancel every running job and wait for the threads (application exit). True if all ended."""
    runners = list(_ALIVE)
    for runner in runners:
        runner.cancel()
    # One deadline for all: several runners stuck in native calls must not add up their waits.
    deadline = time.monotonic() + msecs / 1000
    return all(runner.wait(max(0, int((deadline - time.monotonic()) * 1000))) for runner in runners)
