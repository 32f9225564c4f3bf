"""What to verify: the blobs of one revision, of a repo, of a whole hub cache, or of scanned checkpoints.

A hub snapshot holds links named like the repo's files, each pointing at a blob named by its
content hash (``../../blobs/<hash>``). A target is one file to read, named by the hash it must
have, with every revision and file name that uses it: a blob shared by ten revisions is read
once and reported with its ten names. Only listings and links are read here, never content.

A snapshot link is followed one step only: the name to check is the repo's ``blobs/<hash>``.
huggingface_hub's shared store (``<cache>/blobs/<xx>/<xet hash>``, linked from the repos' blobs)
names its files by Xet hash, which is no sha256: read through the repo's link, never judged by its own name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Union

from explorer.core.checkpoint import SOURCE_FOLDER, Checkpoint, display_text

_REPO_PREFIXES = ("models--", "datasets--", "spaces--")
_INCOMPLETE = ".incomplete"


# What a job is given: targets, or a function listing them, which the job then calls in its worker
# (listing a whole cache's links takes a while: not on the window's thread).
Targets = Union[Iterable["BlobTarget"], Callable[[], Iterable["BlobTarget"]]]


def listed(targets: Targets) -> list[BlobTarget]:
    return list(targets() if callable(targets) else targets)


class TargetNotFound(LookupError):
    """What the user named is not in the cache; the message says where it was looked for."""


@dataclass(frozen=True, slots=True)
class BlobUse:
    """One name under which a blob appears: a file of a revision of a repo (or of a checkpoint folder)."""

    repo: str
    revision: str | None
    file: str

    def __str__(self) -> str:
        where = f"{self.repo}@{self.revision[:7]}" if self.revision else self.repo
        return display_text(f"{where}/{self.file}")

    def to_json(self) -> dict:
        return {"repo": display_text(self.repo), "revision": self.revision, "file": display_text(self.file)}


@dataclass(frozen=True, slots=True)
class BlobTarget:
    path: str  # the file that is read
    blob: str  # its name in the store, which its content must hash to when ``named_by_content``
    uses: tuple[BlobUse, ...] = ()  # empty: a blob no revision links to
    named_by_content: bool = True  # False for a plain file (a user's folder, a copy where links were not possible)

    @property
    def label(self) -> str:
        return str(self.uses[0]) if self.uses else display_text(self.path)


class _Collector:
    """Targets by the path read, in the order first met, with their uses merged."""

    def __init__(self) -> None:
        self._found: dict[str, list] = {}

    def add(self, path: str, blob: str, use: BlobUse | None, named_by_content: bool) -> None:
        entry = self._found.get(path)
        if entry is None:
            entry = self._found[path] = [blob, [], named_by_content]
        if use is not None and use not in entry[1]:
            entry[1].append(use)

    def has(self, path: str) -> bool:
        return path in self._found

    def targets(self) -> list[BlobTarget]:
        return [BlobTarget(path, blob, tuple(uses), named) for path, (blob, uses, named) in self._found.items()]


def _in_blob_store(path: str) -> bool:
    """Hub caches and Ollama keep content in a folder named blobs, each file named by its hash."""
    return os.path.basename(os.path.dirname(path)) == "blobs"


def _add_entry(collector: _Collector, path: str, repo: str, revision: str | None, name: str) -> None:
    """One entry of a snapshot or folder: a link read as the blob it names, a plain file as itself."""
    try:
        target = os.readlink(path)
    except OSError:  # not a link: a file copied where links were not possible, or a user's file
        collector.add(path, os.path.basename(path), BlobUse(repo, revision, name), _in_blob_store(path))
        return
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
    collector.add(resolved, os.path.basename(resolved), BlobUse(repo, revision, name), _in_blob_store(resolved))


def _walk_files(folder: str) -> list[tuple[str, str]]:
    """(path, '/'-separated name) of every file and link under ``folder``; links are not followed."""
    found: list[tuple[str, str]] = []
    pending = [(folder, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if is_folder:
                pending.append((entry.path, prefix + entry.name + "/"))
            elif _links_to_folder(entry):
                continue  # not followed: it could lead out of the folder, or round in a loop
            else:
                found.append((entry.path, prefix + entry.name))
    return sorted(found, key=lambda item: item[1])


def _links_to_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_symlink() and entry.is_dir()
    except OSError:
        return False


def repo_id_of(repo_dir: str) -> str:
    """'.../models--org--name' -> 'org/name' (datasets and spaces keep their kind: 'datasets/org/name')."""
    name = os.path.basename(os.path.normpath(repo_dir))
    kind, _, rest = name.partition("--")
    repo = rest.replace("--", "/") or name
    return repo if kind == "models" else f"{kind}/{repo}"


def _collect_revision(collector: _Collector, snapshot: str, repo: str, revision: str | None) -> None:
    for path, name in _walk_files(snapshot):
        _add_entry(collector, path, repo, revision, name)


def revision_targets(snapshot: str) -> list[BlobTarget]:
    """The blobs one revision's snapshot links to (a link to nothing is a target that will be missing)."""
    snapshot = os.path.abspath(snapshot)
    repo_dir = os.path.dirname(os.path.dirname(snapshot))
    collector = _Collector()
    _collect_revision(collector, snapshot, repo_id_of(repo_dir), os.path.basename(snapshot))
    return collector.targets()


def resolve_revision(repo_dir: str, revision: str) -> str:
    """The snapshot folder name for a commit, a unique commit prefix, or a ref (main, a tag, refs/pr/1)."""
    snapshots = os.path.join(repo_dir, "snapshots")
    try:
        names = sorted(os.listdir(snapshots))
    except OSError:
        names = []
    if revision in names:
        return revision
    ref = os.path.join(repo_dir, "refs", *revision.split("/"))
    try:
        with open(ref, "rb") as handle:
            commit = handle.read(256).decode("ascii", "replace").strip()
        if commit in names:
            return commit
    except OSError:
        pass
    matches = [name for name in names if len(revision) >= 4 and name.startswith(revision)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(name[:7] for name in names) or "none"
    raise TargetNotFound(f"revision {revision} is not in {display_text(repo_dir)} (revisions on disk: {known})")


def repo_targets(repo_dir: str, revision: str | None = None) -> list[BlobTarget]:
    """Every blob of a repo (the ones no revision uses too), or only those of ``revision``."""
    repo_dir = os.path.abspath(repo_dir)
    repo = repo_id_of(repo_dir)
    collector = _Collector()
    snapshots = os.path.join(repo_dir, "snapshots")
    if revision is not None:
        commit = resolve_revision(repo_dir, revision)
        _collect_revision(collector, os.path.join(snapshots, commit), repo, commit)
        return collector.targets()
    try:
        commits = sorted(os.listdir(snapshots))
    except OSError:
        commits = []
    for commit in commits:
        _collect_revision(collector, os.path.join(snapshots, commit), repo, commit)
    blobs = os.path.join(repo_dir, "blobs")
    try:
        names = sorted(os.listdir(blobs))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(blobs, name)
        # An interrupted download is not a blob yet: it has no hash to match (prune removes it).
        if not name.endswith(_INCOMPLETE) and not collector.has(path):
            collector.add(path, name, None, True)
    return collector.targets()


def is_repo_folder(path: str) -> bool:
    return os.path.basename(os.path.normpath(path)).startswith(_REPO_PREFIXES) and os.path.isdir(os.path.join(path, "blobs"))


def cache_targets(cache: str) -> list[BlobTarget]:
    """Every blob of every repo in a hub cache."""
    try:
        names = sorted(os.listdir(cache))
    except OSError as exc:
        raise TargetNotFound(f"{display_text(cache)} cannot be listed ({exc.strerror or exc})") from None
    targets: list[BlobTarget] = []
    for name in names:
        path = os.path.join(cache, name)
        if name.startswith(_REPO_PREFIXES) and os.path.isdir(path):
            targets.extend(repo_targets(path))
    return targets


def checkpoint_targets(checkpoints: Iterable[Checkpoint]) -> list[BlobTarget]:
    """The files of checkpoints the scan listed (hub revisions, Ollama models, folders), each read once."""
    collector = _Collector()
    for ckpt in checkpoints:
        repo = ckpt.id if ckpt.source != SOURCE_FOLDER else ckpt.path
        for entry in ckpt.files:
            _add_entry(collector, entry.path, repo, ckpt.revision, entry.name)
    return collector.targets()


def find_targets(text: str | None, hub_cache: str, everything: bool = False) -> list[BlobTarget]:
    """What the command line names: the whole cache, a repo id (org/name[@revision]), or a path
    (a hub cache, a repo folder, a snapshot, any folder, one file)."""
    if everything:
        return cache_targets(hub_cache)
    if not text:
        raise TargetNotFound("name a repo (org/name[@revision]), a folder or a file, or use --all for the whole cache")
    path = os.path.abspath(os.path.expanduser(text))
    if os.path.isdir(path):
        if is_repo_folder(path):
            return repo_targets(path)
        if os.path.basename(os.path.dirname(path)) == "snapshots":
            return revision_targets(path)
        if any(name.startswith(_REPO_PREFIXES) for name in _listing(path)):
            return cache_targets(path)
        collector = _Collector()
        _collect_revision(collector, path, path, None)
        return collector.targets()
    if os.path.lexists(path):
        collector = _Collector()
        _add_entry(collector, path, os.path.dirname(path), None, os.path.basename(path))
        return collector.targets()
    repo_id, _, revision = text.partition("@")
    if repo_id.count("/") != 1:
        raise TargetNotFound(f"{text} is neither a file, a folder nor a repo id (org/name[@revision])")
    repo_dir = os.path.join(hub_cache, "models--" + repo_id.replace("/", "--"))
    if not os.path.isdir(repo_dir):
        raise TargetNotFound(f"{repo_id} is not in the hub cache {display_text(hub_cache)} (Model Explorer works offline: nothing is downloaded)")
    return repo_targets(repo_dir, revision or None)


def _listing(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


__all__ = [
    "Targets",
    "listed",
    "BlobTarget",
    "BlobUse",
    "TargetNotFound",
    "cache_targets",
    "checkpoint_targets",
    "find_targets",
    "repo_targets",
    "resolve_revision",
    "revision_targets",
]
