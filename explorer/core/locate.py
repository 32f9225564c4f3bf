"""Turn what a user types (a folder, a file in it, or a repo id like ``org/name@rev``) into a
checkpoint folder that transformers can load by file name, offline.

Flat legacy caches store files under hashed names; for those, a folder of named links is made
in the app's own cache dir (never in the user's cache) so every tool sees ordinary file names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

from explorer.core.checkpoint import Checkpoint
from explorer.core.paths import cache_dir


class CheckpointNotFound(LookupError):
    """No checkpoint matches what the user named; the message says where the app looked."""


def needs_named_view(ckpt: Checkpoint) -> bool:
    """True when the files are not readable under their own names in ckpt.path (flat legacy caches)."""
    return any(
        f.size is not None and os.path.join(ckpt.path, f.name) != f.path and os.path.basename(f.path) != os.path.basename(f.name)
        for f in ckpt.files
    )


def loadable_checkpoint(ckpt: Checkpoint) -> Checkpoint:
    """The same checkpoint with .path pointing at a folder where every file has its real name."""
    if not needs_named_view(ckpt):
        return ckpt
    key = hashlib.sha256(f"{ckpt.path}\0{ckpt.id}\0{ckpt.revision}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
    view = cache_dir() / "named-views" / key
    view.mkdir(parents=True, exist_ok=True)
    for entry in ckpt.files:
        if entry.size is None:
            continue
        link = view / entry.name
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            if os.path.islink(link) and os.readlink(link) == entry.path:
                continue
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(entry.path, link)
        except OSError:
            continue
    # A file the cache no longer holds must not linger in the view, where a loader would find it.
    current = {f.name.split("/", 1)[0] for f in ckpt.files if f.size is not None}
    for stale in os.listdir(view):
        if stale not in current and os.path.islink(view / stale):
            try:
                os.unlink(view / stale)
            except OSError:
                continue
    files = [dataclasses.replace(f, path=str(view / f.name)) for f in ckpt.files]
    return dataclasses.replace(ckpt, path=str(view), files=files)


def locate_checkpoint(text: str, locations=None, notices: list[str] | None = None) -> str:
    """A loadable folder for a path, a file inside a checkpoint, or a repo id (``org/name`` or ``org/name@rev``).

    ``notices`` receives what the user must hear on the way (a settings file that had to be set aside).
    """
    expanded = os.path.expanduser(text)
    if os.path.isdir(expanded):
        return os.path.abspath(expanded)
    if os.path.isfile(expanded):
        return os.path.dirname(os.path.abspath(expanded))
    from explorer.core.discovery import scan_all
    from explorer.core.locations import ScanPlaces

    repo_id, _, revision = text.partition("@")
    if locations is None:
        locations = ScanPlaces().locations(notices=notices)
    checkpoints, stats = scan_all(locations)
    matches = [c for c in checkpoints if c.id == repo_id]
    if revision:
        matches = [c for c in matches if (c.revision or "").startswith(revision) or revision in c.refs]
    if not matches:
        where = ", ".join(stats.locations) or "nowhere"
        raise CheckpointNotFound(
            f"{text} is neither a folder nor a checkpoint found on this machine (looked in: {where}). "
            "Model Explorer works offline: download the model first, or give its folder."
        )
    matches.sort(key=lambda c: ("main" not in c.refs, -(c.last_modified or 0)))
    return loadable_checkpoint(matches[0]).path


def locate_base_checkpoint(base_model: str | None, revision: str | None = None, locations=None, notices: list[str] | None = None) -> Checkpoint | None:
    """The checkpoint an adapter's ``base_model_name_or_path`` names on this machine, ready to load; None when absent.

    A folder is read where it is; a hub id is looked up in the usual places (or ``locations``) as
    ``explorer.core.adapters.find_base_checkpoint`` matches it: the adapter's revision, else main.
    """
    if not base_model:
        return None
    from explorer.core.adapters import find_base_checkpoint
    from explorer.core.discovery import ScanLocation, Scanner
    from explorer.core.jobs import run_to_end
    from explorer.core.locations import ScanPlaces

    folder = os.path.expanduser(base_model)
    if os.path.isabs(folder) or base_model.startswith("."):
        if not os.path.isdir(folder):
            return None
        found, _ = run_to_end(Scanner(folder_depth=0).scan([ScanLocation("folder", os.path.abspath(folder))]))
    else:
        if locations is None:
            locations = ScanPlaces().locations(notices=notices)
        found, _ = run_to_end(Scanner().scan(locations))
    base = find_base_checkpoint(base_model, found, revision)
    return loadable_checkpoint(base) if base is not None else None
