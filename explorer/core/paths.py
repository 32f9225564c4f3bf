"""Where the app keeps its own files (never inside a user's checkpoints or caches).

``MODEL_EXPLORER_HOME`` puts all of them under one folder: tests and portable installs use it.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "model-explorer"


def _home_override() -> Path | None:
    value = os.environ.get("MODEL_EXPLORER_HOME")
    return Path(value).expanduser() if value else None


def _app_dir(kind: str) -> Path:
    """``kind`` is config, data, cache or log: under MODEL_EXPLORER_HOME if set, else where platformdirs says."""
    override = _home_override()
    if override is not None:
        return override / kind
    import platformdirs

    locate = getattr(platformdirs, f"user_{kind}_dir")
    return Path(locate(APP_DIR_NAME, appauthor=False))


def config_dir() -> Path:
    return _app_dir("config")


def data_dir() -> Path:
    return _app_dir("data")


def cache_dir() -> Path:
    return _app_dir("cache")


def log_dir() -> Path:
    """Where the crash log goes (explorer.core.crash_log): ~/.local/state/model-explorer/log on Linux."""
    return _app_dir("log")


def samples_dir() -> Path:
    return data_dir() / "samples"


def settings_file() -> Path:
    return config_dir() / "settings.json"


def consent_file() -> Path:
    return data_dir() / "consent.json"


def scan_index_file() -> Path:
    """What the last completed scan read, for the next session's first scan (explorer.core.scan_index)."""
    return cache_dir() / "scan-index.json"
