"""Typed, versioned settings in the platformdirs config dir, written atomically.

A corrupt or unreadable file is moved aside (never deleted) and defaults are used; the
notice says where the old file went so the window can show it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from explorer.core.atomic import write_text_atomically
from explorer.core.paths import settings_file

SCHEMA_VERSION = 1


@dataclass
class Settings:
    folders: list[str] = field(default_factory=list)
    window_geometry: str | None = None  # base64 of QWidget.saveGeometry()
    window_state: str | None = None
    splitter_sizes: list[int] = field(default_factory=list)
    last_selection: str | None = None  # Checkpoint.key
    folder_depth: int = 4


@dataclass
class LoadedSettings:
    settings: Settings
    notice: str | None = None  # shown to the user when the file had to be reset


def _migrate(data: dict) -> dict:
    """Bring older schema versions up to date; version 1 is the first."""
    version = data.get("version", 1)
    if version > SCHEMA_VERSION:
        raise ValueError(f"settings were written by a newer version (schema {version})")
    return data


def _check_types(settings: Settings) -> None:
    """A hand-edited file with a wrong type would fail later, far from its cause (a scan, the window's geometry)."""
    if not isinstance(settings.folders, list) or not all(isinstance(f, str) for f in settings.folders):
        raise ValueError("folders must be a list of paths")
    for name in ("window_geometry", "window_state", "last_selection"):
        if not isinstance(getattr(settings, name), (str, type(None))):
            raise ValueError(f"{name} must be text")
    if not isinstance(settings.splitter_sizes, list) or not all(type(n) is int and n >= 0 for n in settings.splitter_sizes):
        raise ValueError("splitter_sizes must be a list of whole numbers")
    if type(settings.folder_depth) is not int or not 0 <= settings.folder_depth <= 32:
        raise ValueError("folder_depth must be a whole number from 0 to 32")


def load_settings(path: Path | None = None) -> LoadedSettings:
    path = path or settings_file()
    if not path.exists():
        return LoadedSettings(Settings())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        data = _migrate(data)
        known = {f.name for f in fields(Settings)}
        values = {k: v for k, v in (data.get("settings") or {}).items() if k in known}
        settings = Settings(**values)
        _check_types(settings)
        return LoadedSettings(settings)
    except (OSError, ValueError, TypeError, RecursionError) as exc:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
            where = f"; the old file was kept as {aside}"
        except OSError:
            where = ""
        return LoadedSettings(Settings(), notice=f"Settings file {path} could not be read ({exc}); defaults are in use{where}.")


def save_settings(settings: Settings, path: Path | None = None) -> None:
    payload = json.dumps({"version": SCHEMA_VERSION, "settings": asdict(settings)}, indent=2)
    write_text_atomically(path or settings_file(), payload)
