"""Shared fixtures: an isolated app home for every test, and the sample checkpoints built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The hub is unreachable here and the app is offline by default; make any accidental call fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Tests import torch on the main thread at any moment; the window's background warm-up import
# would race with them (two first imports of torch crash it). Tests of the warm-up opt back in.
os.environ["MODEL_EXPLORER_WARM_UP"] = "0"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Settings, consent records and data go to a fresh folder; no real cache is scanned."""
    home = tmp_path_factory.mktemp("explorer-home")
    monkeypatch.setenv("MODEL_EXPLORER_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg-cache"))
    return home


@pytest.fixture(autouse=True)
def no_crash_log_left_installed():
    """A test that runs the command line in-process installs the crash log; the next test starts without it."""
    yield
    from explorer.core import crash_log

    crash_log.uninstall()


@pytest.fixture(scope="session")
def samples_root(tmp_path_factory) -> Path:
    """All sample checkpoints (tiny, random weights, real tokenizers), built once per test run."""
    from explorer.core.samples import create_samples_now

    root = tmp_path_factory.mktemp("samples")
    create_samples_now(root)
    return root


@pytest.fixture(scope="session")
def sample(samples_root):
    """sample('tiny-bert-mlm') -> Path of that sample checkpoint."""

    def get(name: str) -> Path:
        path = samples_root / name
        assert path.is_dir(), f"no sample named {name}"
        return path

    return get


# An unmarked test may take a second; one that takes this long belongs under "slow", so that
# `pytest -m "not slow"` stays a quick loop (under a minute here). Generous for a loaded machine.
UNMARKED_TEST_SECONDS = 5.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    import time

    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    if elapsed > UNMARKED_TEST_SECONDS and item.get_closest_marker("slow") is None:
        pytest.fail(f"took {elapsed:.1f} s without the slow marker (tests over a second are marked slow)", pytrace=False)
