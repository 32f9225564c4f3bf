"""Start the window: crash log, QApplication, show the window, then start background work."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

import explorer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="model-explorer",
        description="Find, inspect and run Hugging Face transformers checkpoints. "
        "Subcommands (Qt-free): scan, inspect, run; see 'model-explorer scan --help'.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {explorer.__version__}")
    parser.add_argument("--hub-cache", action="append", default=[], metavar="DIR", help="scan only this hub cache (repeatable)")
    parser.add_argument("--folder", action="append", default=[], metavar="DIR", help="scan only this folder (repeatable)")
    parser.add_argument("--screenshot", metavar="FILE", help="open offscreen at 1280x800, wait for the scan, save a PNG and exit")
    parser.add_argument("--select", metavar="ID_OR_PATH", help="with --screenshot: the checkpoint to select")
    parser.add_argument("--tab", default="Overview", help="with --screenshot: the tab to show (Overview, Config, Parameters, Demo)")
    parser.add_argument(
        "--scheme", choices=("light", "dark"), help="colour scheme instead of the system's (reproducible screenshots)"
    )
    return parser


def install_crash_handling(window_getter):
    """Errors in slots, event handlers and threads go to the crash log and to one message box.

    The window keeps working: a slot that raised has returned, a thread that raised has ended.
    The reporter lives in the GUI thread; a thread's error reaches it through a queued signal.
    Returns the reporter (tests look at its last box).
    """
    global _reporter
    from explorer.core import crash_log

    crash_log.install("window")
    if _reporter is None:
        _reporter = _make_reporter(window_getter)
    else:
        _reporter.window_getter = window_getter
    crash_log.set_notifier(_reporter.report.emit)
    return _reporter


_reporter = None


def _make_reporter(window_getter):
    import shiboken6
    from PySide6.QtCore import QObject, Signal, Slot
    from PySide6.QtWidgets import QMessageBox

    class CrashReporter(QObject):
        report = Signal(str, str, object)  # summary, traceback, log path or None

        def __init__(self) -> None:
            super().__init__()
            self.window_getter = window_getter
            self.box: QMessageBox | None = None
            self.more = 0
            self.showing = False
            self.report.connect(self._show)

        @Slot(str, str, object)
        def _show(self, summary: str, details: str, path) -> None:
            if self.showing:
                return  # an error while reporting one must not report itself in a loop
            self.showing = True
            try:
                self._show_box(summary, details, path)
            except Exception:  # a failing report is not reported: that would loop
                pass
            finally:
                self.showing = False

        def _show_box(self, summary: str, details: str, path) -> None:
            from explorer.core.crash_log import where_details_are

            where = where_details_are(path)
            if sys.stderr is not None:  # None in a windowed app without a console
                sys.stderr.write(f"model-explorer: unexpected error: {summary}; {where}\n")
            window = self.window_getter()
            if window is not None and not shiboken6.isValid(window):
                window = None
            try:
                window.statusBar().showMessage(f"Unexpected error: {summary}; {where}", 10000)
            except (AttributeError, RuntimeError):  # no window yet, or already deleted
                window = None
            if self.box is not None and shiboken6.isValid(self.box) and self.box.isVisible():
                # An error in a paint or data() call repeats many times a second: one box, counted.
                self.more += 1
                self.box.setInformativeText(f"{self.more} more unexpected error{'s' if self.more != 1 else ''} since then; see the log.")
                return
            self.more = 0
            text = f"Unexpected error: {summary}\n\nThe window keeps working; {where}."
            box = QMessageBox(QMessageBox.Icon.Critical, explorer.APP_NAME, text, parent=window)
            box.setDetailedText(details)
            box.setModal(False)
            box.show()
            self.box = box

    return CrashReporter()


def create_application(argv: list[str]):
    """The QApplication with name, icon, and the colour scheme in force (palette.set_scheme forces one)."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName(explorer.APP_NAME)
    app.setOrganizationName("Model Explorer")
    app.setDesktopFileName(explorer.APP_ID)
    from explorer.resources import app_icon_paths
    from explorer.ui import palette

    icon = QIcon()
    for path in app_icon_paths():
        icon.addFile(str(path))
    if not icon.isNull():
        app.setWindowIcon(icon)
    palette.apply_scheme(app)
    palette.follow_system(app)
    return app


def main(argv: list[str] | None = None) -> int:
    from explorer.core import crash_log

    crash_log.install("window")  # first: an error while the window is built is logged too
    args = build_parser().parse_args(argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from explorer.ui import palette

    palette.set_scheme(args.scheme)  # before the application: its first look is already the right one
    app = create_application([])
    from explorer.ui.qt_binding import qt_binding_problem

    problem = qt_binding_problem()
    if problem:
        print(f"model-explorer: {problem}", file=sys.stderr)
        if not args.screenshot:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(None, explorer.APP_NAME, problem)
        return 1

    from explorer.core.locations import named_locations
    from explorer.core.settings import load_settings
    from explorer.ui.main_window import MainWindow

    loaded = load_settings()
    window = MainWindow(loaded, locations=named_locations(args.hub_cache, args.folder), persist_settings=not args.screenshot)
    install_crash_handling(lambda: window)
    if args.screenshot:
        return take_screenshot(app, window, args.screenshot, args.select, args.tab)
    window.show()
    if os.environ.get("MODEL_EXPLORER_STARTUP_PROBE"):
        _report_when_shown(app)
    window.start_background_work()
    code = app.exec()
    return _exit_after_jobs(code)


# The one wait between closing the window and the exit (the window only cancels): jobs get this
# long to stop, and the process is gone within 2 s of the close.
EXIT_WAIT_MS = 1500


def _exit_after_jobs(code: int) -> NoReturn:
    """Give running jobs 1.5 s to stop after their cancel, then leave at once.

    A job stuck in a native call (a model load, an import) must not keep the app open, nor abort
    it when its QThread is torn down. The interpreter's own teardown is skipped too: with torch
    and a model in memory it takes 1-2 s and saves nothing (settings and records are written as
    they change). The exit handlers run when every thread has ended: PySide's deletes the
    application, which aborts if a job's QThread still runs.
    """
    import atexit
    import threading

    from explorer.ui.workers import stop_all_jobs

    # A daemon thread still importing torch at interpreter shutdown can crash the exit too.
    if stop_all_jobs(EXIT_WAIT_MS) and threading.active_count() == 1:
        atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _report_when_shown(app) -> None:
    """bench/bench_startup.py: print the wall-clock time once the shown window got its first events, then quit."""
    import time

    from PySide6.QtCore import QTimer

    def report() -> None:
        heavy = [m for m in ("torch", "transformers") if m in sys.modules]
        print(f"shown-at {time.time():.6f} heavy-modules {','.join(heavy) or 'none'}", flush=True)
        app.quit()

    QTimer.singleShot(0, report)


def _wait_until_tabs_are_idle(app, window, timeout_s: float = 60.0) -> None:
    """Let the shown tab finish its background work, so the picture shows results, not 'loading'.

    Waits in a real event loop: spinning processEvents() while a worker imports torch has crashed PySide.
    """
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    def settle(msecs: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(msecs, loop.quit)
        loop.exec()

    deadline = time.monotonic() + timeout_s
    settle(50)
    while time.monotonic() < deadline:
        busy = getattr(window.tabs.currentWidget(), "is_busy", None)
        if not window.is_busy() and (busy is None or not busy()):
            break
        settle(50)
    settle(100)


def take_screenshot(app, window, path: str, select: str | None, tab: str) -> int:
    from PySide6.QtCore import QEventLoop, QTimer

    window.resize(1280, 800)
    window.show()
    loop = QEventLoop()
    state = {"scanned": False, "tabs": False}

    def check() -> None:
        if state["scanned"] and state["tabs"]:
            loop.quit()

    window.scan_finished.connect(lambda _stats: (state.__setitem__("scanned", True), check()))
    window.tabs_ready.connect(lambda: (state.__setitem__("tabs", True), check()))
    QTimer.singleShot(120_000, loop.quit)  # never hang a script forever
    window.start_background_work()
    loop.exec()
    if select and not window.browser.select_match(select):
        print(f"model-explorer: no checkpoint matches {select!r}", file=sys.stderr)
        window.close()
        return _exit_after_jobs(2)
    for index in range(window.tabs.count()):
        if window.tabs.tabText(index).lower() == tab.lower():
            window.tabs.setCurrentIndex(index)
    _wait_until_tabs_are_idle(app, window)
    ok = window.grab().save(path)
    window.close()
    if not ok:
        print(f"model-explorer: could not write {path}", file=sys.stderr)
        return _exit_after_jobs(1)
    print(path)
    return _exit_after_jobs(0)
