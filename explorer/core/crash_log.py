"""The crash log: every unexpected error leaves its traceback in one file the user can send.

One file in the platform's log folder (``paths.log_dir()``), shared by the window and the
command line. Python errors (an uncaught exception in any thread, a job that failed for a
reason nobody anticipated) are written with their traceback; native crashes (a segfault in Qt
or torch) are written by ``faulthandler`` to the same file, through a file object that stays
open until the process ends, so even a crash during interpreter shutdown leaves its trace
(unless faulthandler was already on, pointed elsewhere by a developer or a test runner).

The log is capped: past ``MAX_LOG_BYTES`` it is renamed to ``<name>.1`` (replacing the
previous one) and a new file starts, and the same error repeated in a loop is written only
a few times. It holds tracebacks and messages (which may name paths), never tensors or other
data: tracebacks are formatted without local variables.

Qt-free: the window adds its own notifier (``set_notifier``) to show a message.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from explorer.core.safe_io import one_line

LOG_FILE_NAME = "model-explorer.log"
MAX_LOG_BYTES = 2 * 1024 * 1024
MAX_RECORD_CHARS = 32_000  # a traceback, its chained causes and a long message; cut in the middle beyond
REPEATS_WRITTEN = 3  # the same error from a paint loop would otherwise fill the log in seconds
MAX_SIGNATURES = 1000

Notifier = Callable[[str, str, "Path | None"], None]


def log_file() -> Path:
    from explorer.core.paths import log_dir

    return log_dir() / LOG_FILE_NAME


def summary_of(exc: BaseException) -> str:
    """'KeyError: 'x'' — the exception's type and first line, for a message or a status line."""
    name = type(exc).__name__
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not break the report of the error
        text = ""
    text = text.strip().splitlines()[0] if text.strip() else ""
    return one_line(f"{name}: {text}" if text else name)


def _cut(text: str, limit: int = MAX_RECORD_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - limit:,} characters left out …]\n{text[-half:]}"


def _signature(exc_type, tb) -> tuple:
    frames = tuple((frame.f_code.co_filename, line) for frame, line in traceback.walk_tb(tb))
    return (getattr(exc_type, "__qualname__", str(exc_type)), frames[-8:])


class CrashLog:
    """Appends records to the log file; with ``native=True`` also points faulthandler at it."""

    def __init__(self, path: Path, component: str, native: bool = False) -> None:
        self.path = Path(path)
        self.component = component
        # faulthandler already on (PYTHONFAULTHANDLER, -X faulthandler, pytest) was pointed
        # somewhere on purpose, usually a terminal: it stays there.
        self._native = native and not faulthandler.is_enabled()
        self._lock = threading.RLock()
        self._seen: dict[tuple, int] = {}
        self._file = None
        self.problem: str | None = None  # why the log cannot be written, if it cannot
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open()
        except OSError as exc:
            self.problem = exc.strerror or type(exc).__name__
            if self._native and sys.stderr is not None:
                try:
                    faulthandler.enable(all_threads=True)  # a native crash then at least reaches stderr
                except (OSError, ValueError, AttributeError):
                    pass

    def _open(self) -> None:
        # Unbuffered binary append: records reach the file at once, and faulthandler writes to
        # the same descriptor from a signal handler without any Python buffer in between.
        handle = open(self.path, "ab", buffering=0)
        previous, self._file = self._file, handle
        if self._native:
            faulthandler.enable(file=handle, all_threads=True)
        if previous is not None:
            previous.close()

    def _follow_rotation(self) -> bool:
        """Reopen when another process rotated the file, rotate when it is full; False: do not write now."""
        own = os.fstat(self._file.fileno())
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        if on_disk is None or (on_disk.st_dev, on_disk.st_ino) != (own.st_dev, own.st_ino):
            self._open()
        elif on_disk.st_size >= MAX_LOG_BYTES:
            try:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            except OSError:
                # Windows refuses to rename a file another process holds open: go on past the
                # cap for a while, never without end.
                return on_disk.st_size < 2 * MAX_LOG_BYTES
            self._open()
        return True

    def write(self, text: str) -> bool:
        with self._lock:
            if self._file is None:
                return False
            try:
                if not self._follow_rotation():
                    return False
                self._file.write(text.encode("utf-8", "backslashreplace"))
            except OSError as exc:
                self.problem = exc.strerror or type(exc).__name__
                return False
            self.problem = None
            return True

    def record(self, where: str, exc_type, exc: BaseException, tb) -> bool:
        """Write one error with its traceback; True when the log holds it (a repeat counts as held)."""
        signature = _signature(exc_type, tb)
        with self._lock:
            count = self._seen.get(signature, 0) + 1
            if len(self._seen) < MAX_SIGNATURES or signature in self._seen:
                self._seen[signature] = count
        if count > REPEATS_WRITTEN + 1:
            return True
        import explorer

        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        header = f"{stamp} pid {os.getpid()} {self.component} (model-explorer {explorer.__version__}, Python {sys.version.split()[0]}): unexpected error in {where}\n"
        if count == REPEATS_WRITTEN + 1:
            return self.write(f"{header}the same error again; further repeats of it are not written this session\n\n")
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        return self.write(header + _cut(details) + "\n")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


_installed: CrashLog | None = None
_notifier: Notifier | None = None
_previous_hooks: tuple | None = None


def install(component: str) -> CrashLog:
    """Open the log, send native crashes to it and catch uncaught errors in every thread.

    Call once at start (window or command line); later calls return the same log. Cheap: no
    heavy import, one folder check and one open.
    """
    global _installed, _previous_hooks
    if _installed is not None:
        return _installed
    _previous_hooks = (sys.excepthook, threading.excepthook, faulthandler.is_enabled())
    _installed = CrashLog(log_file(), component, native=True)
    sys.excepthook = _sys_hook
    threading.excepthook = _thread_hook
    return _installed


def uninstall() -> None:
    """Undo install (tests): the previous hooks back, faulthandler off unless it was on before."""
    global _installed, _previous_hooks, _notifier
    if _previous_hooks is not None:
        sys.excepthook, threading.excepthook, was_enabled = _previous_hooks
        if not was_enabled:
            faulthandler.disable()
    if _installed is not None:
        _installed.close()
    _installed, _previous_hooks, _notifier = None, None, None


def installed() -> CrashLog | None:
    return _installed


def set_notifier(notifier: Notifier | None) -> None:
    """``notifier(summary, details, log_path_or_None)`` is called, from the failing thread, after each record."""
    global _notifier
    _notifier = notifier


def record_exception(where: str, exc: BaseException) -> Path | None:
    """Write ``exc`` with its traceback to the log; the log's path, or None when it cannot be written.

    Without ``install`` (a test, an embedding) the record still goes to the log file of the app's
    log folder, opened for this one write.
    """
    log = _installed
    temporary = log is None
    try:
        if log is None:
            log = CrashLog(log_file(), "process without an installed crash log")
        written = log.record(where, type(exc), exc, exc.__traceback__)
    except Exception:  # reporting an error must never raise one
        return None
    finally:
        if temporary and log is not None:
            log.close()
    return log.path if written else None


def where_details_are(path: Path | None) -> str:
    if path is not None:
        return f"details in {path}"
    log = _installed
    reason = f" ({log.problem})" if log is not None and log.problem else ""
    try:
        target = log.path if log is not None else log_file()
    except Exception:
        return f"the details could not be written to the log{reason}"
    return f"the details could not be written to {target}{reason}"


def report_unexpected(exc: BaseException, where: str) -> str:
    """Record ``exc`` and return the one line the command line prints instead of a traceback."""
    path = record_exception(where, exc)
    return one_line(f"model-explorer: unexpected error: {summary_of(exc)}; {where_details_are(path)}", 2000)


def _notify(exc: BaseException, path: Path | None) -> None:
    notifier = _notifier
    summary = summary_of(exc)
    if notifier is None:
        stream = sys.stderr
        if stream is not None:
            try:
                stream.write(f"model-explorer: unexpected error: {summary}; {where_details_are(path)}\n")
                stream.flush()
            except Exception:
                pass
        return
    try:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        notifier(summary, _cut(details), path)
    except Exception:
        pass


def _sys_hook(exc_type, exc, tb) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    if exc is None:
        exc = exc_type()
    if exc.__traceback__ is None:
        exc = exc.with_traceback(tb)
    where = "the main thread" if threading.current_thread() is threading.main_thread() else f"thread {threading.current_thread().name}"
    _notify(exc, record_exception(where, exc))


def _thread_hook(args) -> None:
    if args.exc_type is SystemExit:
        return  # a thread's normal way to end early, as the default hook treats it
    exc = args.exc_value if args.exc_value is not None else args.exc_type()
    if exc.__traceback__ is None and args.exc_traceback is not None:
        exc = exc.with_traceback(args.exc_traceback)
    name = args.thread.name if args.thread is not None else "a thread"
    _notify(exc, record_exception(f"thread {name}", exc))


__all__ = [
    "CrashLog",
    "LOG_FILE_NAME",
    "MAX_LOG_BYTES",
    "install",
    "installed",
    "log_file",
    "record_exception",
    "report_unexpected",
    "set_notifier",
    "summary_of",
    "uninstall",
    "where_details_are",
]
