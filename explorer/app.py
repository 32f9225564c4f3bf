"""Start the window: QApplication, exception hook, show the window, then start background work."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

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
    return parser


def fixed_locations(args) -> list | None:
    from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE
    from explorer.core.discovery import ScanLocation

    if not args.hub_cache and not args.folder:
        return None
    return [ScanLocation(SOURCE_HUB_CACHE, os.path.abspath(p)) for p in args.hub_cache] + [
        ScanLocation(SOURCE_FOLDER, os.path.abspath(p)) for p in args.folder
    ]


def _install_excepthook(window_getter) -> None:
    """An unexpected error in a slot shows a dialog instead of killing the app."""

    def hook(exc_type, exc, tb):
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(details)
        window = window_getter()
        if window is not None:
            from PySide6.QtWidgets import QMessageBox

            box = QMessageBox(QMessageBox.Icon.Critical, explorer.APP_NAME, f"Unexpected error: {exc}", parent=window)
            box.setDetailedText(details)
            box.show()
            window._last_error_box = box

    sys.excepthook = hook


def create_application(argv: list[str]):
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName(explorer.APP_NAME)
    app.setOrganizationName("Model Explorer")
    app.setDesktopFileName(explorer.APP_ID)
    from explorer.resources import app_icon_paths, style_sheet_text

    icon = QIcon()
    for path in app_icon_paths():
        icon.addFile(str(path))
    if not icon.isNull():
        app.setWindowIcon(icon)
    style = style_sheet_text()
    if style:
        app.setStyleSheet(style)
    return app


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = create_application([])
    from explorer.ui.qt_binding import qt_binding_problem

    problem = qt_binding_problem()
    if problem:
        print(f"model-explorer: {problem}", file=sys.stderr)
        if not args.screenshot:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(None, explorer.APP_NAME, problem)
        return 1

    from explorer.core.settings import load_settings
    from explorer.ui.main_window import MainWindow

    locations = fixed_locations(args)
    loaded = load_settings()
    window = MainWindow(loaded, locations=locations, persist_settings=not args.screenshot)
    _install_excepthook(lambda: window)
    if args.screenshot:
        return take_screenshot(app, window, args.screenshot, args.select, args.tab)
    window.show()
    if os.environ.get("MODEL_EXPLORER_STARTUP_PROBE"):
        _report_when_shown(app)
    window.start_background_work()
    code = app.exec()
    return _exit_after_jobs(code)


def _exit_after_jobs(code: int) -> int:
    """Give running jobs 2 s to stop after their cancel; a job stuck in a native call (a model load,
    an import) must not keep the app open, nor abort it when its QThread is torn down."""
    import threading

    from explorer.ui.workers import stop_all_jobs

    # A daemon thread still importing torch at interpreter shutdown can crash the exit too.
    if not stop_all_jobs(2000) or threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


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
