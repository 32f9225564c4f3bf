"""Start-up: process start to window shown, against `python -c "import torch, transformers"`.

Both run as fresh processes in this same run, several times; medians are compared.
Goal (issue 2): the window shows in 0.25x the time of importing torch + transformers or less.
Run: python bench/bench_startup.py [--runs 5]   (offscreen; under Xvfb set QT_QPA_PLATFORM=xcb)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def time_window(env: dict) -> tuple[float, str]:
    started = time.time()
    out = subprocess.run([sys.executable, "-m", "explorer"], env=env, capture_output=True, text=True, timeout=120)
    line = next((l for l in out.stdout.splitlines() if l.startswith("shown-at")), None)
    if line is None:
        raise SystemExit(f"the app did not report being shown:\n{out.stderr[-2000:]}")
    parts = line.split()
    return float(parts[1]) - started, parts[3]


def time_command(args: list[str], env: dict) -> float:
    started = time.time()
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    return time.time() - started


BARE_WINDOW = (
    "from PySide6.QtWidgets import QApplication, QMainWindow; from PySide6.QtCore import QTimer; "
    "app = QApplication([]); w = QMainWindow(); w.show(); QTimer.singleShot(0, app.quit); app.exec()"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ, MODEL_EXPLORER_STARTUP_PROBE="1", MODEL_EXPLORER_HOME=tempfile.mkdtemp(prefix="bench-home-"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Warm the OS file cache once so the first run does not measure the disk.
    time_window(env)
    time_command([sys.executable, "-c", "import torch, transformers"], env)
    window, heavy_seen = [], set()
    baseline, bare = [], []
    for _ in range(args.runs):
        seconds, heavy = time_window(env)
        window.append(seconds)
        heavy_seen.add(heavy)
        baseline.append(time_command([sys.executable, "-c", "import torch, transformers"], env))
        bare.append(time_command([sys.executable, "-c", BARE_WINDOW], env))
    w, b, p = statistics.median(window), statistics.median(baseline), statistics.median(bare)
    print(f"model-explorer window shown:        {w * 1000:7.0f} ms (median of {args.runs}); torch/transformers loaded at that point: {', '.join(heavy_seen)}")
    print(f"python -c 'import torch, transformers': {b * 1000:7.0f} ms")
    print(f"bare PySide6 window (reference):     {p * 1000:7.0f} ms")
    print(f"ratio window / import baseline: {w / b:.2f}x  (goal <= 0.25x)")


if __name__ == "__main__":
    main()
