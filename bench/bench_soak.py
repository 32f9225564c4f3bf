"""Long use: load/run/unload cycles across the sample checkpoints in one process.

Each cycle loads the next sample through ``ModelSession`` (the app's one loaded model), runs
its task once with the demo's defaults and unloads it, in turn over every sample. Printed:
resident memory after the first cycle (the baseline: torch, transformers and their caches
are in), every tenth cycle and at the end, with its growth (goal: under 5%), and the live
threads at the start, after the first cycle and at the end (goal: as at the start). The
baseline of the figures is the first cycle itself; what a leak would add is the slope.

Two ways, each in a fresh process so one does not inherit the other's memory:
  plain:   jobs driven on the calling thread, as the command line drives them (run_to_end);
  workers: each job in a JobRunner's QThread, waited for in a Qt event loop, as the window runs them.

    python bench/bench_soak.py [--cycles 100] [--mode both|plain|workers] [--samples DIR]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

# Short generations: the cycle is about loading and unloading, not about decoding speed.
VALUES = {"text-generation": {"max_new_tokens": 16, "show_top_k": 0}, "text2text-generation": {"max_length": 16}}
GOAL_GROWTH = 0.05


def rss_bytes() -> int:
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def os_threads() -> int:
    try:
        import psutil

        return psutil.Process().num_threads()
    except ImportError:
        return len(os.listdir("/proc/self/task"))


def python_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate())


def trim_heap() -> bool:
    """Give freed heap pages back to the system (glibc), to tell a leak from fragmentation."""
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def plain_runner():
    from explorer.core.jobs import run_to_end

    return run_to_end


def worker_runner():
    """Each job in a JobRunner (a QThread), the GUI thread waiting in an event loop, deferred deletes done."""
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop

    from explorer.ui.workers import JobRunner

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])

    def run(job):
        outcome: dict = {}
        runner = JobRunner(lambda cancel: job)
        runner.finished.connect(lambda value: outcome.__setitem__("value", value))
        runner.failed.connect(lambda message, details: outcome.__setitem__("error", f"{message}\n{details}"))
        loop = QEventLoop()
        runner.stopped.connect(loop.quit)
        runner.start()
        loop.exec()
        # What the window's own event loop does between jobs: delete what deleteLater() marked.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
        if "error" in outcome:
            raise RuntimeError(outcome["error"])
        return outcome.get("value")

    return run


def soak(samples: Path, cycles: int, mode: str) -> dict:
    from explorer.core.samples import SAMPLES
    from explorer.tasks.session import LoadRequest, ModelSession

    threads_at_start, python_at_start = os_threads(), python_threads()
    run = worker_runner() if mode == "workers" else plain_runner()
    session = ModelSession()
    memory: list[tuple[int, int]] = []
    started = time.perf_counter()
    threads_after_first = 0
    for cycle in range(1, cycles + 1):
        spec = SAMPLES[(cycle - 1) % len(SAMPLES)]
        request = LoadRequest(str(samples / spec.name), None)
        result = run(session.run(spec.pipeline_tag, request, VALUES.get(spec.pipeline_tag, {})))
        assert result and result.task == spec.pipeline_tag, f"cycle {cycle}: {spec.name} gave no result"
        run(session.unload())
        assert session.loaded is None
        if cycle == 1:
            threads_after_first = os_threads()
        if cycle in (1, len(SAMPLES)) or cycle % 10 == 0 or cycle == cycles:
            gc.collect()
            memory.append((cycle, rss_bytes()))
    seconds = time.perf_counter() - started
    end_rss = memory[-1][1]
    trim_heap()
    return {
        "memory": memory,
        "trimmed": rss_bytes(),
        "end": end_rss,
        "seconds": seconds,
        "threads": (threads_at_start, threads_after_first, os_threads()),
        "python_threads": (python_at_start, python_threads()),
    }


def report(mode: str, figures: dict) -> bool:
    memory = figures["memory"]
    base = memory[0][1]
    mib = 1024 * 1024
    print(f"\n{mode}: {memory[-1][0]} cycles in {figures['seconds']:.0f} s")
    print("  RSS after cycle " + ", ".join(f"{cycle}: {rss / mib:.0f}" for cycle, rss in memory) + " MiB")
    growth = (figures["end"] - base) / base
    print(f"  growth from cycle 1 to the end: {growth * 100:+.1f}% (goal under {GOAL_GROWTH * 100:.0f}%)"
          f"; after malloc_trim: {figures['trimmed'] / mib:.0f} MiB ({(figures['trimmed'] - base) / base * 100:+.1f}%)")
    if len(memory) > 2:
        # Cycles 2 to n_samples bring in each other sample's code paths once; a leak grows after them.
        round_cycle, round_rss = memory[1]
        per_cycle = (figures["end"] - round_rss) / max(1, memory[-1][0] - round_cycle)
        print(f"  from the first round over every sample (cycle {round_cycle}) to the end: "
              f"{(figures['end'] - round_rss) / round_rss * 100:+.1f}% ({per_cycle / 1024:+.0f} KiB a cycle)")
    start, first, end = figures["threads"]
    python_start, python_end = figures["python_threads"]
    print(f"  OS threads: at start {start}, after cycle 1 {first}, at the end {end}")
    print(f"  Python threads: at start {python_start}, at the end {python_end}")
    return growth < GOAL_GROWTH and end <= first and python_end == python_start


def child(args) -> int:
    import json

    figures = soak(Path(args.samples), args.cycles, args.mode)
    print("FIGURES " + json.dumps(figures), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--mode", choices=("both", "plain", "workers"), default="both")
    parser.add_argument("--samples", help="a folder of samples already built (explorer.core.samples)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    import json

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        samples = Path(args.samples) if args.samples else Path(tmp) / "samples"
        if not args.samples:
            # In a child too, so this process never imports torch and the soaks start alike.
            code = "import sys; from explorer.core.samples import create_samples_now; create_samples_now(sys.argv[1])"
            subprocess.run([sys.executable, "-c", code, str(samples)], check=True)
        ok = True
        for mode in ("plain", "workers") if args.mode == "both" else (args.mode,):
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--mode", mode, "--cycles", str(args.cycles), "--samples", str(samples)],
                capture_output=True, text=True, check=False,
            )
            line = next((l for l in out.stdout.splitlines() if l.startswith("FIGURES ")), None)
            if line is None:
                print(f"\n{mode}: the soak failed\n{out.stderr[-3000:]}")
                ok = False
                continue
            ok = report(mode, json.loads(line.removeprefix("FIGURES "))) and ok
    print("\n" + ("every goal met" if ok else "a goal was missed (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
