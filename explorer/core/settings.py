"""Typed, versioned settings in the platformdirs config dir, written atomically.

A corrupt or unreadable file is moved aside (never deleted, never over an earlier backup) and
defaults are used; the notice says where the old file went so the window or the CLI can show it.

A file written by a newer version of the app is not corrupt: someone runs two versions side
by side, or went back to an older one for a while. The older version reads the settings it
understands (each checked on its own, defaults for the rest) and never writes over the file,
so the newer version finds its settings as it left them. Changes made in the older version
are not kept, and its notice says so: a second, version-specific file would silently diverge
from the one the newer version uses, which is more surprising than changes that are not kept.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from explorer.core.atomic import file_identity, set_aside, write_text_atomically
from explorer.core.paths import settings_file
from explorer.core.safe_io import UnreadableFile, one_line, read_json

SCHEMA_VERSION = 1
# Settings are a few kilobytes (a list of folders, a window geometry); a megabyte leaves room
# for thousands of folders and keeps a hostile file from costing memory or time.
MAX_SETTINGS_BYTES = 1024 * 1024
MAX_SETTINGS_VALUES = 100_000
MAX_BACKUPS_PER_SECOND = 1000
NOTICE_LIMIT = 2000  # two paths fit whole; one_line still makes it a single line


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
    notice: str | None = None  # shown to the user when the file had to be reset or is read-only


def _is_text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_path_list(value: Any) -> bool:
    # A NUL character makes every later os call on the path raise; no real path holds one.
    return isinstance(value, list) and all(isinstance(f, str) and f and "\x00" not in f for f in value)


# One check per field, so a newer file can keep each value this version understands.
_VALID: dict[str, tuple[Callable[[Any], bool], str]] = {
    "folders": (_is_path_list, "folders must be a list of paths"),
    "window_geometry": (_is_text_or_none, "window_geometry must be text"),
    "window_state": (_is_text_or_none, "window_state must be text"),
    "splitter_sizes": (
        # Qt takes 32-bit sizes: a larger one would overflow when the window restores the splitter.
        lambda v: isinstance(v, list) and all(type(n) is int and 0 <= n < 2**31 for n in v),
        "splitter_sizes must be a list of whole numbers",
    ),
    "last_selection": (_is_text_or_none, "last_selection must be text"),
    "folder_depth": (lambda v: type(v) is int and 0 <= v <= 32, "folder_depth must be a whole number from 0 to 32"),
}


def _schema_version(data: dict) -> int:
    version = data.get("version", 1)
    if type(version) is not int or version < 1:
        raise ValueError(f"its version {version!r} is not a version this app writes")
    return version


def _current_settings(data: dict) -> Settings:
    """A file of this version: every value must be valid, or the file is not trusted at all."""
    values = data.get("settings")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError("'settings' is not a JSON object")
    known = {k: v for k, v in values.items() if k in _VALID}
    for name, value in known.items():
        valid, problem = _VALID[name]
        if not valid(value):
            raise ValueError(problem)
    return Settings(**known)


def _understood_settings(data: dict) -> Settings:
    """A newer file: the values this version understands, defaults for the others."""
    values = data.get("settings")
    if not isinstance(values, dict):
        return Settings()
    return Settings(**{k: v for k, v in values.items() if k in _VALID and _VALID[k][0](v)})


def load_settings(path: Path | None = None) -> LoadedSettings:
    """The settings, or defaults with a one-line notice; never raises for anything in the file."""
    path = path or settings_file()
    identity = file_identity(path)
    try:
        data = read_json(path, "it", MAX_SETTINGS_BYTES, max_values=MAX_SETTINGS_VALUES)
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
        version = _schema_version(data)
        if version > SCHEMA_VERSION:
            return LoadedSettings(
                _understood_settings(data),
                notice=one_line(
                    f"Settings file {path} was written by a newer version of the app (settings version {version}); "
                    "this version uses the settings it understands and will not save changes, so the newer version's settings stay as they are.",
                    NOTICE_LIMIT,
                ),
            )
        return LoadedSettings(_current_settings(data))
    except UnreadableFile as exc:
        if exc.missing:
            return LoadedSettings(Settings())
        reason = str(exc)
    except (ValueError, TypeError) as exc:  # TypeError: a value of the wrong kind, however deep
        reason = str(exc)
    aside = set_aside(path, identity, "corrupt")
    where = f"; the old file was kept as {aside}" if aside else ""
    return LoadedSettings(Settings(), notice=one_line(f"Settings file {path} could not be read ({reason}); defaults are in use{where}.", NOTICE_LIMIT))


def _written_by_newer_version(path: Path) -> int | None:
    """The settings version of the file at ``path`` when it is newer than this app's; None otherwise."""
    try:
        data = read_json(path, "settings file", MAX_SETTINGS_BYTES, max_values=MAX_SETTINGS_VALUES)
    except UnreadableFile:
        return None
    if not isinstance(data, dict):
        return None
    version = data.get("version")
    return version if type(version) is int and version > SCHEMA_VERSION else None


def save_settings(settings: Settings, path: Path | None = None) -> bool:
    """Write the settings atomically; False, writing nothing, when the file on disk is a newer version's.

    The check is made at each save, not only at load: a newer version started while this one
    runs must not lose its settings when this one closes.
    """
    path = path or settings_file()
    if _written_by_newer_version(path) is not None:
        return False
    payload = json.dumps({"version": SCHEMA_VERSION, "settings": asdict(settings)}, indent=2)
    write_text_atomically(path, payload)
    return True
