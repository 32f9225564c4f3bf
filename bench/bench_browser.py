"""The browser on a big cache: the window's list against `huggingface_hub.scan_cache_dir()`, and the event loop's lag.

Builds (or reuses, with --keep) the synthetic hub cache of bench_scan.py at 10,000 repos (12,000 revisions),
then, in one run:

- baseline: `scan_cache_dir(cache)`, the listing a user would otherwise ask for (median of --repeat);
- window: a new window starting as it does after the first session, from the scan index the previous
  session saved, until its list is full, each start in a process of its own as a user's start is (median of
  --repeat); ratio = window / baseline (goal: 0.3x or less);
- memory: the process's resident memory before the first window and once its list is full (goal: under 200 MB);
- lag: a 4 ms timer measures how late the event loop serves it while the user types a filter word and
  deletes it again (one key every 80 ms, as a fast typist), and while the list is sorted by each column;
  p99 of the lateness (goal: under 16 ms).

    python bench/bench_browser.py [--repos 10000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import build_cache  # noqa: E402

from explorer.core.checkpoint import SOURCE_HUB_CACHE  # noqa: E402
from explorer.core.discovery import ScanLocation, Scanner  # noqa: E402
from explorer.core.jobs import run_to_end  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(cache: str, index: str) -> int:
    """One start of the window in this fresh process: prints the seconds until its list is full."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from explorer.core.settings import LoadedSettings, Settings
    from explorer.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(
        LoadedSettings(Settings(), None), locations=[ScanLocation(SOURCE_HUB_CACHE, cache)], persist_settings=False, scan_index=index
    )
    window.show()
    app.processEvents()
    loop = QEventLoop()
    window.scan_finished.connect(loop.quit)
    started = time.perf_counter()
    window.start_scan()
    loop.exec()
    print(f"{time.perf_counter() - started:.4f}")
    return 0


def main() -> int:
    if "--child" in sys.argv:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["MODEL_EXPLORER_WARM_UP"] = "0"
        return child(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="build the cache in this folder and keep it")
    args = parser.parse_args()

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["MODEL_EXPLORER_WARM_UP"] = "0"
    from huggingface_hub import scan_cache_dir

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-browser-"))
    cache = base / f"hub-{args.repos}"
    if not cache.exists():
        build_cache(cache, args.repos)
    location = [ScanLocation(SOURCE_HUB_CACHE, str(cache))]
    index = base / f"browser-index-{args.repos}.json"
    found, _ = run_to_end(Scanner(index_path=index).scan(location))  # the previous session, which saved the index
    scan_cache_dir(cache)  # warm the page cache for both sides

    baseline = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        scan_cache_dir(cache)
        baseline.append(time.perf_counter() - started)

    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from explorer.core.settings import LoadedSettings, Settings
    from explorer.ui.main_window import MainWindow

    fills = []
    for _ in range(args.repeat):
        started_child = subprocess.run(
            [sys.executable, __file__, "--child", str(cache), str(index)], capture_output=True, text=True, check=True
        )
        fills.append(float(started_child.stdout.split()[-1]))

    app = QApplication.instance() or QApplication([])
    memory_before = rss_mb()
    window = MainWindow(LoadedSettings(Settings(), None), locations=location, persist_settings=False, scan_index=index)
    window.show()
    app.processEvents()
    loop = QEventLoop()
    window.scan_finished.connect(loop.quit)
    window.start_scan()
    loop.exec()
    memory_filled = rss_mb()
    assert window.browser.source_model.checkpoint_count() == len(found)

    lateness: list[float] = []
    expected = [0.0]

    def probe() -> None:
        now = time.perf_counter()
        if expected[0]:
            lateness.append(max(0.0, now - expected[0]) * 1000)
        expected[0] = now + 0.004

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(probe)
    steps = [("type", ch) for ch in "bert-model-12"] + [("erase", None)] * 13 + [("type", ch) for ch in "org1"] + [("erase", None)] * 4
    steps += [("sort", (column, order)) for column in (1, 2, 3, 0) for order in (Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder)]

    def step(index: int = 0) -> None:
        if index == len(steps):
            QTimer.singleShot(400, loop.quit)  # a filter waiting for the pause in typing runs, and is measured
            return
        kind, value = steps[index]
        if kind == "type":
            window.filter_edit.setText(window.filter_edit.text() + value)
        elif kind == "erase":
            window.filter_edit.setText(window.filter_edit.text()[:-1])
        else:
            window.browser.sortByColumn(*value)
        QTimer.singleShot(80, lambda: step(index + 1))

    loop = QEventLoop()
    timer.start(4)
    QTimer.singleShot(0, step)
    loop.exec()
    timer.stop()
    lateness.sort()
    p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]

    hub = statistics.median(baseline)
    fill = statistics.median(fills)
    print(f"{'repos':>6} {'revisions':>9} {'scan_cache_dir':>15} {'window list full':>17} {'ratio':>6} {'memory':>8} {'lag p99':>8} {'lag max':>8}")
    print(
        f"{args.repos:>6} {len(found):>9} {hub * 1000:>12.0f} ms {fill * 1000:>14.0f} ms {fill / hub:>5.2f}x"
        f" {memory_filled - memory_before:>5.0f} MB {p99:>5.1f} ms {lateness[-1]:>5.1f} ms"
    )
    print(
        f"window / scan_cache_dir at {args.repos} repos: {fill / hub:.2f}x (goal 0.3x or less); the window's memory grew by "
        f"{memory_filled - memory_before:.0f} MB (goal under 200 MB); event-loop lag while typing a filter and sorting: p99 "
        f"{p99:.1f} ms over {len(lateness)} samples (goal under 16 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
