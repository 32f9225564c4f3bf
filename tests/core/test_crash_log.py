"""The crash log: tracebacks of unexpected errors and native crashes land in one capped file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from explorer.core import crash_log
from explorer.core.paths import log_dir


@pytest.fixture
def installed_log():
    """The crash log as the app installs it, undone after the test (hooks are process-wide)."""
    crash_log.uninstall()
    log = crash_log.install("test")
    yield log
    crash_log.uninstall()


def run_python(code: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, MODEL_EXPLORER_HOME=str(home))
    env.pop("PYTHONFAULTHANDLER", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=timeout)


def test_the_log_lives_in_the_app_log_folder(isolated_home):
    assert crash_log.log_file() == isolated_home / "log" / crash_log.LOG_FILE_NAME
    assert log_dir() == isolated_home / "log"


def test_an_exception_in_a_thread_is_logged_with_its_traceback(installed_log, capsys):
    def worker_that_fails():
        {}["no such key"]

    thread = threading.Thread(target=worker_that_fails, name="doomed")
    thread.start()
    thread.join(5)
    text = installed_log.path.read_text()
    assert "unexpected error in thread doomed" in text
    assert "Traceback (most recent call last)" in text and "worker_that_fails" in text and "KeyError: 'no such key'" in text
    line = capsys.readouterr().err.strip()
    assert line == f"model-explorer: unexpected error: KeyError: 'no such key'; details in {installed_log.path}"


def test_a_thread_ending_with_system_exit_is_not_an_error(installed_log):
    thread = threading.Thread(target=sys.exit)
    thread.start()
    thread.join(5)
    assert installed_log.path.read_text() == ""


def test_the_same_error_repeated_is_written_a_few_times_only(installed_log):
    for _ in range(50):
        try:
            int("not a number")
        except ValueError as exc:
            assert crash_log.record_exception("a loop", exc) == installed_log.path
    text = installed_log.path.read_text()
    assert text.count("Traceback") == crash_log.REPEATS_WRITTEN
    assert text.count("further repeats of it are not written") == 1


def test_the_log_is_capped_and_rotated(installed_log, monkeypatch):
    monkeypatch.setattr(crash_log, "MAX_LOG_BYTES", 20_000)
    for index in range(200):  # each from its own line: none is a repeat
        try:
            exec(compile("\n" * index + "raise RuntimeError('x' * 500)", "<generated>", "exec"))
        except RuntimeError as exc:
            crash_log.record_exception(f"step {index}", exc)
    current, previous = installed_log.path, installed_log.path.with_name(crash_log.LOG_FILE_NAME + ".1")
    assert previous.exists()
    assert current.stat().st_size < 20_000 + crash_log.MAX_RECORD_CHARS
    assert previous.stat().st_size < 20_000 + crash_log.MAX_RECORD_CHARS
    assert sorted(p.name for p in current.parent.iterdir()) == [crash_log.LOG_FILE_NAME, crash_log.LOG_FILE_NAME + ".1"]
    assert "step 199" in current.read_text()


def test_a_huge_message_is_cut(installed_log):
    try:
        raise ValueError("w" * 1_000_000)
    except ValueError as exc:
        crash_log.record_exception("a big one", exc)
    text = installed_log.path.read_text()
    assert len(text) < crash_log.MAX_RECORD_CHARS + 1000 and "characters left out" in text


def test_when_the_log_cannot_be_written_the_line_says_so(isolated_home):
    (isolated_home / "log").write_text("a file where the log folder should be")
    try:
        raise KeyError("k")
    except KeyError as exc:
        line = crash_log.report_unexpected(exc, "a test")
    assert line.startswith("model-explorer: unexpected error: KeyError: 'k'; the details could not be written to")
    assert "\n" not in line


def test_a_native_crash_leaves_its_trace_in_the_log(tmp_path):
    result = run_python(
        """
        from explorer.core import crash_log
        crash_log.install("test")
        import faulthandler
        faulthandler._sigsegv()
        """,
        tmp_path,
    )
    assert result.returncode != 0
    text = (tmp_path / "log" / crash_log.LOG_FILE_NAME).read_text()
    assert "Fatal Python error: Segmentation fault" in text and "line 5" in text


def test_a_native_crash_after_a_rotation_goes_to_the_current_log(tmp_path):
    result = run_python(
        """
        from explorer.core import crash_log
        crash_log.MAX_LOG_BYTES = 5_000
        crash_log.install("test")
        for index in range(40):
            try:
                exec(compile("\\n" * index + "raise RuntimeError('y' * 300)", "<generated>", "exec"))
            except RuntimeError as exc:
                crash_log.record_exception("filler", exc)
        import faulthandler
        faulthandler._sigsegv()
        """,
        tmp_path,
    )
    assert result.returncode != 0
    folder = tmp_path / "log"
    assert (folder / (crash_log.LOG_FILE_NAME + ".1")).exists()
    assert "Fatal Python error: Segmentation fault" in (folder / crash_log.LOG_FILE_NAME).read_text()


FAULT_IN_THE_CLI = """
import json, sys
from explorer import cli

def broken_dump(*args, **kwargs):  # a fault no input triggers today: the CLI's last line of defence
    raise RuntimeError("json.dump failed\\nsecond line")

json.dump = broken_dump
sys.exit(cli.main(["scan", "--json", "--folder", {folder!r}]))
"""


def test_an_unexpected_error_in_the_cli_is_one_line_and_a_logged_traceback(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "models"
    folder.mkdir()
    result = run_python(FAULT_IN_THE_CLI.format(folder=str(folder)), home)
    log = home / "log" / crash_log.LOG_FILE_NAME
    assert result.returncode == 1
    assert result.stderr == f"model-explorer: unexpected error: RuntimeError: json.dump failed; details in {log}\n"
    text = log.read_text()
    assert "unexpected error in model-explorer scan" in text and "broken_dump" in text and "Traceback" in text


def test_the_cli_entry_point_logs_to_the_same_place(tmp_path):
    """`model-explorer scan` through the launcher, as a user runs it."""
    home, folder = tmp_path / "home", tmp_path / "models"
    folder.mkdir()
    code = FAULT_IN_THE_CLI.format(folder=str(folder)).replace(
        'sys.exit(cli.main(["scan", "--json", "--folder", ', 'from explorer.launcher import main\nsys.exit(main(["scan", "--json", "--folder", '
    )
    result = run_python(code, home)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "broken_dump" in (home / "log" / crash_log.LOG_FILE_NAME).read_text()
