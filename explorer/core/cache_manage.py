"""Delete and prune in a hub cache, with a preview that is exactly what goes.

huggingface_hub decides what a deletion is (``scan_cache_dir(cache).delete_revisions(*hashes)``): which
snapshot folders, refs, blobs and whole repo folders go and how many bytes that frees. This module takes its
strategy as the plan and adds what it lacks: a selection by repo id, ref name or short hash; removals
ordered and chained so that a failure or a cancel halfway leaves a cache huggingface_hub still reads
(``cache_delete.delete_job`` runs them); nothing outside the cache's real path, no link followed out of it;
and for "prune", blobs no revision links to besides detached revisions and ``.incomplete`` leftovers.

huggingface_hub is imported inside the functions: the window imports this module at start.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from explorer.core.jobs import Job, Progress

REF = "ref"
SNAPSHOT = "snapshot"
BLOB = "blob"
INCOMPLETE = "incomplete"  # blobs/<etag>.incomplete: an interrupted download
UNREFERENCED = "unreferenced"  # a blob no snapshot links to (a removal that failed before, a manual edit)
REPO = "repo"  # what is left of a repo folder once its refs, snapshots and blobs are gone
SHARED = "shared"  # a payload in huggingface_hub's cache-wide store of shared (Xet) blobs

IGNORED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")  # system files huggingface_hub skips
# What huggingface_hub writes in a repo folder: anything else there is the user's and stays.
HUB_ENTRIES = frozenset({"blobs", "refs", "snapshots", ".no_exist", *IGNORED_NAMES})
REPO_FOLDER_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
# A download in progress writes its .incomplete file (and renames it to the blob just before linking it):
# prune leaves alone what changed this recently.
RECENT_SECONDS = 60.0


class SelectionError(ValueError):
    """A repo or revision the cache does not hold (one line per unknown name)."""


@dataclass(frozen=True, slots=True)
class Selected:
    """One entry of a selection: a whole repo (revision None) or one of its revisions, named by full or
    short commit hash or by a ref (``main``, ``v1.0``, ``refs/pr/1``)."""

    repo_id: str
    revision: str | None = None
    repo_type: str | None = None  # None: a model, else a dataset or space with that id

    @classmethod
    def parse(cls, text: str) -> "Selected":
        """``org/name``, ``org/name@revision``, ``dataset/org/name[@revision]`` (the command line's words)."""
        name, _, revision = text.strip().partition("@")
        parts = name.strip("/").split("/")
        repo_type = None
        if len(parts) == 3 and parts[0] in ("model", "dataset", "space", "models", "datasets", "spaces"):
            repo_type = parts[0].rstrip("s")
            parts = parts[1:]
        return cls("/".join(parts), revision or None, repo_type)

    @classmethod
    def from_repo_folder(cls, repo_path: str, revision: str | None = None) -> "Selected":
        """The window's way: a scanned checkpoint's ``repo_path`` (models--org--name) and ``revision``."""
        kind, _, rest = os.path.basename(os.path.normpath(repo_path)).partition("--")
        return cls(rest.replace("--", "/"), revision, REPO_FOLDER_TYPES.get(kind, "model"))

    def __str__(self) -> str:
        prefix = f"{self.repo_type}/" if self.repo_type not in (None, "model") else ""
        return f"{prefix}{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True, slots=True)
class PlannedRevision:
    """A revision the plan deletes, for the preview."""

    repo_id: str
    repo_type: str
    commit: str
    refs: tuple[str, ...]
    size_bytes: int  # the revision's files, blobs shared with other revisions included (as hf reports it)
    whole_repo: bool  # its repo folder goes with it (every revision of the repo is selected)
    snapshot_path: str


@dataclass(frozen=True, slots=True)
class KeptPath:
    """A path huggingface_hub's strategy would remove or count that the plan leaves, and why."""

    path: str
    reason: str
    size_bytes: int = 0  # bytes hf's count includes that stay on disk


@dataclass(frozen=True, slots=True)
class Removal:
    """One removal, in the order the job runs them; ``needs``: removals that must have succeeded first."""

    kind: str
    path: str
    repo_path: str | None
    size_bytes: int = 0
    needs: tuple[str, ...] = ()
    expect: str | None = None  # a ref: the commit it must still name (else a download moved it: left)


@dataclass(frozen=True)
class DeletePlan:
    cache_root: str  # the cache's real path: everything removed is inside it
    freed_bytes: int
    revisions: tuple[PlannedRevision, ...] = ()
    repos: tuple[str, ...] = ()
    snapshots: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    blobs: tuple[str, ...] = ()
    incomplete: tuple[str, ...] = ()
    unreferenced: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    kept: tuple[KeptPath, ...] = ()
    steps: tuple[Removal, ...] = ()
    # Each touched repo's snapshot names when planned: a revision that appears later (a download while the
    # preview was open) may link the blobs planned to go, so they stay.
    known_revisions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # repos huggingface_hub could not read (never touched)

    @property
    def paths(self) -> list[str]:
        """Every path that goes, as huggingface_hub's strategy names them (a whole repo is its folder)."""
        return sorted({*self.repos, *self.snapshots, *self.refs, *self.blobs, *self.incomplete, *self.unreferenced, *self.shared})

    @property
    def is_empty(self) -> bool:
        return not self.steps

    def to_json(self) -> dict:
        return {"freed_bytes": self.freed_bytes, "delete": self.paths}


def real_cache_root(cache_root: str | os.PathLike) -> str:
    return os.path.realpath(os.path.expanduser(os.fspath(cache_root)))


def entry_inside(root_real: str, path: str) -> bool:
    """Is the entry ``path`` (itself, not what a link there points to) inside the folder ``root_real``?"""
    name = os.path.basename(path)
    if name in ("", ".", ".."):
        return False
    parent = os.path.realpath(os.path.dirname(path))
    return parent == root_real or parent.startswith(root_real.rstrip(os.sep) + os.sep)


def scan_cache(cache_root: str | os.PathLike):
    """huggingface_hub's scan of the cache (``HFCacheInfo``); raises FileNotFoundError when it is missing."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        return scan_cache_dir(real_cache_root(cache_root))
    except CacheNotFound as exc:
        raise FileNotFoundError(f"no hub cache at {cache_root}") from exc
    except ValueError as exc:  # a file, not a folder
        raise FileNotFoundError(str(exc)) from exc


def resolve_selection(info, selection: Iterable[Selected | str]) -> dict:
    """{CachedRepoInfo: set of CachedRevisionInfo} for the selection; SelectionError names what is unknown."""
    repos = {(repo.repo_type, repo.repo_id.lower()): repo for repo in info.repos}
    chosen: dict = {}
    unknown: list[str] = []
    for item in selection:
        selected = Selected.parse(item) if isinstance(item, str) else item
        repo = repos.get((selected.repo_type or "model", selected.repo_id.lower()))
        if repo is None:
            unknown.append(f"{selected}: no such repo in the hub cache {info.cache_dir}")
            continue
        if selected.revision is None:
            chosen.setdefault(repo, set()).update(repo.revisions)
            continue
        revision, problem = _find_revision(repo, selected.revision)
        if revision is None:
            unknown.append(f"{selected}: {problem}")
            continue
        chosen.setdefault(repo, set()).add(revision)
    if unknown:
        raise SelectionError("\n".join(unknown))
    return chosen


def _find_revision(repo, name: str):
    wanted = name.strip().lower()
    for revision in repo.revisions:
        if revision.commit_hash.lower() == wanted:
            return revision, ""
    by_ref = repo.refs
    for ref in (name, f"refs/{name}", name.removeprefix("refs/heads/")):
        if ref in by_ref:
            return by_ref[ref], ""
    if re.fullmatch(r"[0-9a-f]{4,40}", wanted):
        matches = [r for r in repo.revisions if r.commit_hash.lower().startswith(wanted)]
        if len(matches) == 1:
            return matches[0], ""
        if len(matches) > 1:
            return None, f"{len(matches)} revisions start with {name}: give more of the hash"
    known = ", ".join(sorted(by_ref)) or "none"
    return None, f"no revision or ref {name} in this repo (refs: {known}; {len(repo.revisions)} revision(s))"


def plan_delete(cache_root: str | os.PathLike, selection: Iterable[Selected | str], info=None) -> DeletePlan:
    """What deleting ``selection`` (repos and revisions, several at once) removes and frees.

    ``info``: a ``scan_cache_dir`` result of the same cache to reuse (the CLI's preview and plan share one).
    """
    info = info if info is not None else scan_cache(cache_root)
    chosen = resolve_selection(info, selection)
    return _plan(info, chosen)


def plan_delete_job(cache_root: str | os.PathLike, selection: list[Selected | str]) -> Job[DeletePlan]:
    """``plan_delete`` as a job, for the window (huggingface_hub's scan of a big cache takes seconds)."""
    yield Progress(0, None, "reading the hub cache")
    return plan_delete(cache_root, selection)


def plan_prune_job(cache_root: str | os.PathLike) -> Job[DeletePlan]:
    yield Progress(0, None, "reading the hub cache")
    return plan_prune(cache_root)


def plan_prune(cache_root: str | os.PathLike, info=None, recent_seconds: float = RECENT_SECONDS) -> DeletePlan:
    """Detached revisions (no ref names them), ``.incomplete`` leftovers and blobs no revision links to.

    The revisions go as ``delete_revisions`` would delete them; the leftovers as ``hf cache prune`` does,
    but for files changed in the last ``recent_seconds`` (a download may be writing them).
    """
    info = info if info is not None else scan_cache(cache_root)
    root_real = str(info.cache_dir)
    chosen = {}
    for repo in info.repos:
        detached = {revision for revision in repo.revisions if not revision.refs}
        if detached:
            chosen[repo] = detached
    now = time.time()
    incomplete = []
    for leftover in sorted(info.incomplete_files, key=lambda f: str(f.file_path)):
        path = str(leftover.file_path)
        if _changed_since(path, now - recent_seconds) or not entry_inside(root_real, path):
            continue
        incomplete.append(Removal(INCOMPLETE, path, str(leftover.file_path.parent.parent), leftover.size_on_disk))
    unreferenced = []
    for repo in sorted(info.repos, key=lambda r: str(r.repo_path)):
        unreferenced += _unreferenced_blobs(repo, root_real, now - recent_seconds)
    return _plan(info, chosen, incomplete, unreferenced, _unreferenced_shared(info))


def _changed_since(path: str, moment: float) -> bool:
    try:
        return os.lstat(path).st_mtime > moment
    except OSError:
        return True


def _unreferenced_blobs(repo, root_real: str, settled_before: float) -> list[Removal]:
    linked = {str(f.blob_path) for revision in repo.revisions for f in revision.files}
    blobs_dir = os.path.join(str(repo.repo_path), "blobs")
    found = []
    try:
        entries = sorted(os.scandir(blobs_dir), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        if entry.name.endswith(".incomplete") or entry.path in linked or not entry.is_file(follow_symlinks=False):
            continue
        st = entry.stat(follow_symlinks=False)
        if st.st_mtime > settled_before or not entry_inside(root_real, entry.path):
            continue
        found.append(Removal(UNREFERENCED, entry.path, str(repo.repo_path), st.st_size))
    return found


def shared_store():
    """huggingface_hub's shared-blob helpers (2.x; absent before): None when this version has none."""
    try:
        from huggingface_hub.utils import _shared_blobs
    except ImportError:
        return None
    return _shared_blobs


def _unreferenced_shared(info) -> list[Removal]:
    shared = shared_store()
    if shared is None or not hasattr(shared, "unreferenced_shared_blobs"):
        return []
    return [Removal(SHARED, str(path), None, size) for path, size in sorted(shared.unreferenced_shared_blobs(info.cache_dir).items())]


def _plan(info, chosen: dict, incomplete=(), unreferenced=(), shared_leftovers=()) -> DeletePlan:
    root_real = str(info.cache_dir)
    builder = _PlanBuilder(root_real)
    for repo in sorted(chosen, key=lambda r: str(r.repo_path)):
        if repo.revisions:
            # One strategy per repo: hf's matches a hash in whichever repo it meets first, and a duplicated
            # repo holds the same commit hashes as its original.
            only_this_repo = dataclasses.replace(info, repos=frozenset({repo}))
            builder.add_repo(repo, chosen[repo], only_this_repo.delete_revisions(*sorted(r.commit_hash for r in chosen[repo])))
        else:
            # A repo folder with no revision left (a deletion cancelled before its last step): hf plans nothing.
            builder.add_empty_repo(repo)
    steps = (
        list(incomplete)
        + builder.refs
        + builder.snapshots
        + builder.blobs
        + list(unreferenced)
        + builder.repo_folders
        + builder.shared_sweeps()
        + list(shared_leftovers)
    )
    # hf's own sizes, path by path; what stays (a file outside the cache behind a link) is not counted.
    freed = sum(step.size_bytes for step in steps)
    return DeletePlan(
        cache_root=root_real,
        freed_bytes=freed,
        revisions=tuple(builder.revisions),
        repos=tuple(sorted(r.path for r in builder.repo_folders)),
        snapshots=tuple(sorted(r.path for r in builder.snapshots if r.repo_path not in builder.whole)),
        refs=tuple(sorted(r.path for r in builder.refs if r.repo_path not in builder.whole)),
        blobs=tuple(sorted(r.path for r in builder.blobs if r.repo_path not in builder.whole)),
        incomplete=tuple(r.path for r in incomplete),
        unreferenced=tuple(r.path for r in unreferenced),
        shared=tuple(sorted({r.path for r in builder.shared_counted} | {r.path for r in shared_leftovers})),
        kept=tuple(builder.kept),
        steps=tuple(steps),
        known_revisions=builder.known_revisions,
        warnings=tuple(str(w) for w in info.warnings),
    )


class _PlanBuilder:
    """Turns huggingface_hub's strategy into ordered removals: refs, snapshot folders, blobs, repo folders."""

    def __init__(self, root_real: str) -> None:
        self.root_real = root_real
        self.refs: list[Removal] = []
        self.snapshots: list[Removal] = []
        self.blobs: list[Removal] = []
        self.repo_folders: list[Removal] = []
        self.kept: list[KeptPath] = []
        self.revisions: list[PlannedRevision] = []
        self.whole: set[str] = set()
        self.known_revisions: dict[str, frozenset[str]] = {}
        self.shared_links: dict[str, str] = {}  # repo blob link -> its payload in the shared store
        self.shared_counted: list[Removal] = []

    def add_repo(self, repo, revisions: set, strategy) -> None:
        repo_path = str(repo.repo_path)
        whole = Path(repo_path) in strategy.repos
        self.known_revisions[repo_path] = frozenset(r.snapshot_path.name for r in repo.revisions)
        for revision in sorted(revisions, key=lambda r: r.commit_hash):
            self.revisions.append(
                PlannedRevision(
                    repo.repo_id, repo.repo_type, revision.commit_hash, tuple(sorted(revision.refs)),
                    revision.size_on_disk, whole, str(revision.snapshot_path),
                )
            )
        if whole:
            self.whole.add(repo_path)
            if os.path.islink(repo_path):
                # The repo folder is a link: the link goes, what it points to stays (hf counts those bytes).
                self._add(Removal(REPO, repo_path, repo_path), self.repo_folders)
                counted = {f.blob_path: f.size_on_disk for r in repo.revisions for f in r.files}
                self.kept.append(KeptPath(os.path.realpath(repo_path), "the repo folder is a link to it: only the link goes", sum(counted.values())))
                return
        doomed = repo.revisions if whole else revisions
        doomed_blobs = {f.blob_path for r in repo.revisions for f in r.files} if whole else set(strategy.blobs)
        blob_users: dict[Path, list[str]] = {}
        own_sizes: dict[str, int] = {}
        for revision in sorted(doomed, key=lambda r: r.commit_hash):
            snapshot = str(revision.snapshot_path)
            ref_paths = [os.path.join(repo_path, "refs", ref) for ref in sorted(revision.refs)]
            for ref_path in ref_paths:
                self._add(Removal(REF, ref_path, repo_path, expect=revision.commit_hash), self.refs)
            own = 0
            for f in revision.files:
                if revision.snapshot_path in f.blob_path.parents:
                    own += f.size_on_disk  # a plain file in the snapshot folder: it goes with the folder
                else:
                    blob_users.setdefault(f.blob_path, []).append(snapshot)
            own_sizes[snapshot] = own
            self._add(Removal(SNAPSHOT, snapshot, repo_path, own, needs=tuple(ref_paths)), self.snapshots)
        sizes = {f.blob_path: f.size_on_disk for r in doomed for f in r.files}
        blobs_dir = os.path.realpath(os.path.join(repo_path, "blobs"))
        for blob_path in sorted(doomed_blobs & set(blob_users)):
            self._add_blob(repo_path, blobs_dir, str(blob_path), sizes[blob_path], tuple(sorted(set(blob_users[blob_path]))))
        if whole:
            self._keep_foreign(repo_path)
            needs = tuple(r.path for r in self.refs + self.snapshots + self.blobs if r.repo_path == repo_path)
            self._add(Removal(REPO, repo_path, repo_path, needs=needs), self.repo_folders)

    def _keep_foreign(self, repo_path: str) -> None:
        try:
            names = sorted(os.listdir(repo_path))
        except OSError:
            return
        for name in names:
            if name not in HUB_ENTRIES:
                self.kept.append(KeptPath(os.path.join(repo_path, name), "not written by huggingface_hub: it stays, and the repo folder with it"))

    def add_empty_repo(self, repo) -> None:
        repo_path = str(repo.repo_path)
        self._keep_foreign(repo_path)
        self.whole.add(repo_path)
        self.known_revisions[repo_path] = frozenset()
        self._add(Removal(REPO, repo_path, repo_path), self.repo_folders)

    def _add(self, removal: Removal, into: list[Removal]) -> None:
        if entry_inside(self.root_real, removal.path):
            into.append(removal)
        else:
            self.kept.append(KeptPath(removal.path, "outside the cache's real path", removal.size_bytes))

    def _add_blob(self, repo_path: str, blobs_dir: str, path: str, size: int, users: tuple[str, ...]) -> None:
        if os.path.realpath(os.path.dirname(path)) != blobs_dir or not entry_inside(self.root_real, path):
            where = "outside the cache" if not entry_inside(self.root_real, path) else "not in this repo's blobs folder"
            self.kept.append(KeptPath(path, f"{where}: the snapshot's link to it goes, the file stays", size))
            return
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            is_link = False
        if not is_link:
            self.blobs.append(Removal(BLOB, path, repo_path, size, needs=users))
            return
        store = self._shared_target(path)
        if store is not None:
            # hf counts the shared payload once, when its last link goes: the sweep after the blobs frees it.
            self.shared_links[path] = store
            self.blobs.append(Removal(BLOB, path, repo_path, 0, needs=users))
            return
        self.blobs.append(Removal(BLOB, path, repo_path, 0, needs=users))
        self.kept.append(KeptPath(os.path.realpath(path), f"{path} is a link to it: the link goes, the file stays", size))

    def _shared_target(self, path: str) -> str | None:
        shared = shared_store()
        if shared is None or not hasattr(shared, "shared_blob_target"):
            return None
        target = shared.shared_blob_target(path, self.root_real)
        return str(target) if target is not None else None

    def shared_sweeps(self) -> list[Removal]:
        """The shared payloads whose links the plan removes: the sweep frees those no other link uses."""
        if not self.shared_links:
            return []
        shared = shared_store()
        links = {Path(p) for p in self.shared_links}
        sweeps = []
        for store in sorted(set(self.shared_links.values())):
            expected = shared.expected_shared_blob_freed_size(Path(store), blob_paths_to_delete=links, cache_dir=Path(self.root_real))
            removal = Removal(SHARED, store, None, expected, needs=tuple(p for p, s in self.shared_links.items() if s == store))
            sweeps.append(removal)
            if expected:
                self.shared_counted.append(removal)
        return sweeps
