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


def config_dir() -> Path:
    override = _home_override()
    if override is not None:
        return override / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False))


def data_dir() -> Path:
    override = _home_override()
    if override is not None:
        return override / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))


def cache_dir() -> Path:
    override = _home_override()
    if override is not None:
        return override / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_DIR_NAME, appauthor=False))


def samples_dir() -> Path:
    return data_dir() / "samples"


def settings_file() -> Path:
    return config_dir() / "settings.json"


def consent_file() -> Path:
    return data_dir() / "consent.json"
