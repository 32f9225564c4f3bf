"""Where to look for checkpoints: the one answer for the window, the command line and repo-id lookups.

The usual places are the Hugging Face hub cache, the legacy transformers caches that exist, the
folders the user added (saved in the settings) and the samples folder. Places named on the command
line (``--hub-cache``, ``--folder``) replace them for that run: a one-off look whose results and
folders are not remembered, so the saved scan index is not used either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE
from explorer.core.discovery import ScanLocation, default_locations
from explorer.core.paths import samples_dir, scan_index_file


def named_locations(hub_caches: Iterable[str] = (), folders: Iterable[str] = ()) -> list[ScanLocation] | None:
    """The places named on a command line, as absolute paths; None when none was named."""
    hub_caches, folders = list(hub_caches), list(folders)
    if not hub_caches and not folders:
        return None
    return [ScanLocation(SOURCE_HUB_CACHE, os.path.abspath(p)) for p in hub_caches] + [
        ScanLocation(SOURCE_FOLDER, os.path.abspath(p)) for p in folders
    ]


def usual_locations(user_folders: Iterable[str]) -> list[ScanLocation]:
    """Hub cache, legacy caches, the user's folders, then the samples folder once it exists."""
    user_folders = list(user_folders)
    locations = default_locations(user_folders)
    samples = str(samples_dir())
    if os.path.isdir(samples) and samples not in user_folders:
        locations.append(ScanLocation(SOURCE_FOLDER, samples))
    return locations


def saved_user_folders(notices: list[str] | None = None) -> list[str]:
    """The folders the user added in the window; a settings file set aside is told through ``notices``."""
    from explorer.core.settings import load_settings

    loaded = load_settings()
    if loaded.notice and notices is not None:
        notices.append(loaded.notice)
    return list(loaded.settings.folders)


class ScanPlaces:
    """The places one session scans, and whether what it finds is remembered.

    ``named``: places from the command line (None: the usual places). ``remember``: False for a
    session that must leave nothing behind (a screenshot run) even on the usual places.
    """

    def __init__(self, named: Sequence[ScanLocation] | None = None, remember: bool = True) -> None:
        self._named = list(named) if named is not None else None
        self._remember = remember

    @classmethod
    def from_command_line(cls, hub_caches: Iterable[str] = (), folders: Iterable[str] = (), remember: bool = True) -> ScanPlaces:
        return cls(named_locations(hub_caches, folders), remember=remember)

    @property
    def named(self) -> bool:
        """True when the places came from the command line."""
        return self._named is not None

    @property
    def remembers(self) -> bool:
        """Whether settings and the scan index are written (never for command-line places)."""
        return self._remember and self._named is None

    def locations(self, user_folders: Iterable[str] | None = None, notices: list[str] | None = None) -> list[ScanLocation]:
        """The places to scan now. Without ``user_folders`` the saved settings give them."""
        if self._named is not None:
            return list(self._named)
        if user_folders is None:
            user_folders = saved_user_folders(notices)
        return usual_locations(user_folders)

    def index_path(self) -> Path | None:
        """The scan index to start from and save to, or None to read everything and keep nothing."""
        return scan_index_file() if self.remembers else None

    def folder_added(self, folder: str) -> None:
        """A folder the user added during the session is scanned with the named places too."""
        if self._named is not None:
            location = ScanLocation(SOURCE_FOLDER, folder)
            if location not in self._named:
                self._named.append(location)

    def folder_removed(self, folder: str) -> None:
        if self._named is not None:
            self._named = [loc for loc in self._named if loc.path != folder]


__all__ = ["ScanPlaces", "named_locations", "saved_user_folders", "usual_locations"]
