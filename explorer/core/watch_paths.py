"""Which folders to watch so that a download landing in a scanned place shows without Refresh.

Every change a download makes to a hub cache passes through a folder listed here: a new repo
appears in the cache's root, each file of a download is written to ``blobs/`` (as ``.incomplete``,
then renamed), and a new or moved ref is written in ``refs/``. Watching those, rather than every
snapshot folder, keeps the watch count near three per repo; the rescan that follows a change
finds the snapshot's new links by folder times, as every rescan does. A user folder is watched
with the checkpoint folders found in it. Above ``limit`` paths (inotify's per-user budget is
shared with every other program) the roots come first, then the repos most recently modified.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE, SOURCE_LEGACY, SOURCE_LM_STUDIO, SOURCE_OLLAMA, Checkpoint
from explorer.core.cache_places import ScanLocation

DEFAULT_WATCH_LIMIT = 4000


@dataclass(frozen=True)
class WatchPlan:
    paths: list[str]
    wanted: int  # how many paths would cover everything
    roots: list[str]

    @property
    def complete(self) -> bool:
        return len(self.paths) >= self.wanted


def watch_plan(locations: list[ScanLocation], checkpoints: list[Checkpoint], limit: int = DEFAULT_WATCH_LIMIT) -> WatchPlan:
    """The folders to watch for these places and what their last scan found, at most ``limit``."""
    roots = [loc.path for loc in locations if os.path.isdir(loc.path)]
    for loc in locations:
        if loc.kind == SOURCE_OLLAMA:
            roots += [os.path.join(loc.path, "manifests"), os.path.join(loc.path, "blobs")]
    by_folder: dict[str, float] = {}
    for ckpt in checkpoints:
        modified = ckpt.last_modified or 0.0
        if ckpt.source in (SOURCE_HUB_CACHE, SOURCE_LEGACY) and ckpt.repo_path:
            for sub in ("blobs", "refs", "snapshots"):
                folder = os.path.join(ckpt.repo_path, sub)
                by_folder[folder] = max(by_folder.get(folder, 0.0), modified)
        elif ckpt.source in (SOURCE_FOLDER, SOURCE_LM_STUDIO):
            folder = ckpt.path if os.path.isdir(ckpt.path) else os.path.dirname(ckpt.path)
            by_folder[folder] = max(by_folder.get(folder, 0.0), modified)
            # A new checkpoint beside this one lands in the parent, up to the place the user added.
            parent = os.path.dirname(folder)
            if ckpt.origin and parent.startswith(ckpt.origin) and parent != folder:
                by_folder.setdefault(parent, modified)
    seen = set(roots)
    rest = [folder for folder, _ in sorted(by_folder.items(), key=lambda item: -item[1]) if folder not in seen]
    wanted = len(roots) + len(rest)
    paths = (roots + rest)[:limit]
    return WatchPlan(paths=paths, wanted=wanted, roots=roots)


__all__ = ["DEFAULT_WATCH_LIMIT", "WatchPlan", "watch_plan"]
