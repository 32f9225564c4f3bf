"""Every hostile checkpoint of the corpus through the command line, as a user would run it.

``model-explorer scan``, ``inspect`` and ``run`` on each case: no traceback, a message of one
line per problem, done within seconds, under 1.5 GB, and nothing written into what was read.
Each command runs in its own process so that its time and peak memory are its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import hostile_corpus as corpus

MEMORY_LIMIT = 1.5 * 1024**3
SECONDS_LIMIT = 45  # importing torch alone takes several seconds on a loaded 2-core machine
COMMANDS = {
    "scan": lambda path: ["scan", "--folder", str(path)],
    "inspect": lambda path: ["inspect", str(path), "--json"],
    "run": lambda path: ["run", "text-generation", str(path), "--text", "the capital of", "--max-new-tokens", "2", "--json"],
}


def _snapshot(folder: Path) -> dict:
    """Everything about the folder a read could change: names, kinds, sizes, times, and the content of small files."""
    state = {}
    for directory, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            entry = (st.st_mode, st.st_size, st.st_mtime_ns)
            if os.path.isfile(path) and not os.path.islink(path) and st.st_size < 64 * 1024 * 1024:
                with open(path, "rb") as handle:
                    entry += (hashlib.sha256(handle.read()).hexdigest(),)
            state[os.path.relpath(path, folder)] = entry
    return state


# Runs the command line and writes the process's peak resident memory (VmHWM) to PEAK_FILE on the way out.
# wait4's ru_maxrss would not do: on Linux it keeps the high-water mark of the memory the child had before
# exec, which is the whole test process's (well over a gigabyte once the suite has loaded its models).
_MEASURED = """
import os, runpy, sys
sys.argv = ["model-explorer", *sys.argv[1:]]
try:
    runpy.run_module("explorer", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status, open(os.environ["PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
"""


def _run(args: list[str], home: Path, scratch: Path) -> tuple[int, str, str, float, int]:
    """(exit code, stdout, stderr, seconds, peak resident bytes) of one command in a fresh process."""
    import threading

    env = dict(os.environ, MODEL_EXPLORER_HOME=str(home), HF_HUB_OFFLINE="1", HF_HOME=str(home / "hf"), XDG_CACHE_HOME=str(home / "xdg"))
    scratch.mkdir(parents=True, exist_ok=True)
    peak_file = scratch / "peak-kib"
    env["PEAK_FILE"] = str(peak_file)
    with open(scratch / "out", "w+") as out, open(scratch / "err", "w+") as err:
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-c", _MEASURED, *args], stdout=out, stderr=err, env=env, start_new_session=True)
        timer = threading.Timer(SECONDS_LIMIT * 2, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode == -signal.SIGKILL:
        pytest.fail(f"model-explorer {' '.join(args[:2])} did not finish in {SECONDS_LIMIT * 2} s")
    # A process killed or crashed before its last words: the kernel's figure, an upper bound.
    peak_kib = int(peak_file.read_text()) if peak_file.exists() and peak_file.read_text().strip() else usage.ru_maxrss
    return process.returncode, stdout, stderr, seconds, peak_kib * 1024


def _check_one_command(case: str, command: str, path: Path, home: Path) -> dict:
    code, out, err, seconds, peak = _run(COMMANDS[command](path), home, home / "output" / command)
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, f"{case} {command}: traceback\n{err}"
    assert all(len(line) <= 500 for line in lines), f"{case} {command}: a message line longer than a line\n{err}"
    assert code in (0, 1, 2), f"{case} {command}: exit code {code}\n{err}"
    if code != 0:
        assert lines, f"{case} {command}: failed without a message"
    if command == "inspect" and code == 0:
        report = json.loads(out, parse_constant=lambda token: pytest.fail(f"{case}: bare {token} in --json output"))
        assert all("\n" not in problem for problem in report["problems"])
    if command == "run" and code == 0:
        json.loads(out, parse_constant=lambda token: pytest.fail(f"{case}: bare {token} in --json output"))
    assert seconds < SECONDS_LIMIT, f"{case} {command} took {seconds:.0f} s"
    assert peak < MEMORY_LIMIT, f"{case} {command} used {peak / 1024**3:.2f} GB"
    return {"code": code, "seconds": round(seconds, 1), "peak_mb": peak // 1024**2, "message": lines[-1] if lines else ""}


def _run_case(case: str, build, tmp_path: Path) -> dict:
    folder = build(tmp_path / case)
    before = _snapshot(folder)
    home = tmp_path / "home"
    results = {command: _check_one_command(case, command, folder, home) for command in COMMANDS}
    assert _snapshot(folder) == before, f"{case}: a command changed the checkpoint it read"
    return results


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(corpus.CLI_CASES))
def test_every_command_handles_the_case(case, tmp_path):
    outcome = _run_case(case, corpus.CLI_CASES[case], tmp_path)
    print(json.dumps({case: outcome}))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(corpus.SLOW_CLI_CASES))
def test_every_command_handles_the_large_case(case, tmp_path):
    outcome = _run_case(case, corpus.SLOW_CLI_CASES[case], tmp_path)
    print(json.dumps({case: outcome}))
