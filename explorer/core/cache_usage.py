"""What each repo of a hub cache holds: size, revisions, last accessed and last modified; sort, filter, totals.

Read from each repo's ``blobs`` folder (one stat per blob, each blob once however many revisions link it)
and the names in ``snapshots`` and ``refs``: no walk through the snapshot trees, so a cache of thousands of
repos lists faster than ``scan_cache_dir`` (which stats every link of every revision). On a cache without
stray blobs the sizes and dates are the ones ``scan_cache_dir`` reports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable

from explorer.core.cache_manage import IGNORED_NAMES, REPO_FOLDER_TYPES, real_cache_root
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end

SORT_KEYS = ("size", "accessed", "modified", "name", "revisions")
# As `hf cache ls`: biggest and newest first, names A to Z.
_DESCENDING = {"size": True, "accessed": True, "modified": True, "revisions": True, "name": False}


@dataclass(frozen=True, slots=True)
class RepoUsage:
    id: str  # org/name for a model, dataset/org/name or space/org/name otherwise
    repo_type: str
    path: str
    size_bytes: int  # its blobs, each once (.incomplete leftovers apart)
    blobs: int
    revisions: int
    refs: tuple[str, ...]
    last_accessed: float | None  # newest access time of its blobs (see AccessTimes for how far to trust it)
    last_modified: float | None  # newest modification time of its blobs
    incomplete_bytes: int = 0

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "size_bytes": self.size_bytes,
            "revisions": self.revisions,
            "last_accessed": self.last_accessed,
            "last_modified": self.last_modified,
        }


@dataclass(frozen=True, slots=True)
class AccessTimes:
    """Whether the file system records when files are read, so whether "last accessed" means "last used"."""

    recorded: bool | None  # False: not recorded; None: cannot tell
    note: str  # for the user; empty when access times are exact
    mount_options: str | None = None


@dataclass
class CacheUsage:
    cache_root: str
    repos: list[RepoUsage] = field(default_factory=list)
    access_times: AccessTimes = AccessTimes(None, "")
    problems: list[str] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return sum(r.size_bytes for r in self.repos)

    @property
    def revisions(self) -> int:
        return sum(r.revisions for r in self.repos)

    @property
    def incomplete_bytes(self) -> int:
        return sum(r.incomplete_bytes for r in self.repos)


def cache_usage(cache_root: str | os.PathLike) -> CacheUsage:
    return run_to_end(cache_usage_job(cache_root))


def cache_usage_job(cache_root: str | os.PathLike, cancel: CancelToken | None = None) -> Job[CacheUsage]:
    """Yields Progress and each RepoUsage as it is read; returns the CacheUsage (access-time note included)."""
    root = real_cache_root(cache_root)
    usage = CacheUsage(root)
    try:
        names = sorted(n for n in os.listdir(root) if "--" in n and n.partition("--")[0] in REPO_FOLDER_TYPES)
    except OSError as exc:
        usage.problems.append(f"{cache_root}: {exc.strerror or exc}")
        names = []
    times: list[tuple[float, float]] = []
    for done, name in enumerate(names):
        if cancel is not None:
            cancel.raise_if_cancelled()
        repo = _repo_usage(os.path.join(root, name), name, times, usage.problems)
        if repo is not None:
            usage.repos.append(repo)
            yield repo
        yield Progress(done + 1, len(names), name)
    usage.access_times = access_times(root, times)
    return usage


def _repo_usage(path: str, name: str, times: list, problems: list[str]) -> RepoUsage | None:
    kind, _, rest = name.partition("--")
    repo_type = REPO_FOLDER_TYPES[kind]
    repo_id = rest.replace("--", "/")
    if not os.path.isdir(os.path.join(path, "snapshots")):
        problems.append(f"{name}: no snapshots folder (not a hub cache repo, or a broken one)")
        return None
    size = incomplete = count = 0
    accessed = modified = None
    try:
        entries = list(os.scandir(os.path.join(path, "blobs")))
    except OSError:
        entries = []
    for entry in entries:
        try:
            st = entry.stat()  # through a link: a blob in huggingface_hub's shared store
        except OSError:
            continue
        if entry.name.endswith(".incomplete"):
            incomplete += st.st_size
            continue
        size += st.st_size
        count += 1
        accessed = st.st_atime if accessed is None else max(accessed, st.st_atime)
        modified = st.st_mtime if modified is None else max(modified, st.st_mtime)
        times.append((st.st_atime, st.st_mtime))
    if accessed is None:
        try:
            st = os.stat(path)
            accessed, modified = st.st_atime, st.st_mtime
        except OSError:
            pass
    revisions = [n for n in _listdir(os.path.join(path, "snapshots")) if n not in IGNORED_NAMES]
    refs_dir = os.path.join(path, "refs")
    refs = sorted(
        os.path.relpath(os.path.join(d, n), refs_dir).replace(os.sep, "/")
        for d, _, files in os.walk(refs_dir)
        for n in files
        if n not in IGNORED_NAMES
    )
    shown_id = repo_id if repo_type == "model" else f"{repo_type}/{repo_id}"
    return RepoUsage(shown_id, repo_type, path, size, count, len(revisions), tuple(refs), accessed, modified, incomplete)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def sort_usage(repos: Iterable[RepoUsage], by: str = "size", descending: bool | None = None) -> list[RepoUsage]:
    """``by``: size, accessed, modified, name or revisions, optionally ``:asc`` or ``:desc``; ties by name."""
    key, _, order = by.partition(":")
    if key not in SORT_KEYS or order not in ("", "asc", "desc"):
        raise ValueError(f"cannot sort by {by!r}: one of {', '.join(SORT_KEYS)} (optionally :asc or :desc)")
    if descending is None:
        descending = _DESCENDING[key] if not order else order == "desc"
    by_name = sorted(repos, key=lambda r: r.id.lower())
    if key == "name":
        return list(reversed(by_name)) if descending else by_name
    value = {
        "size": lambda r: r.size_bytes,
        "accessed": lambda r: r.last_accessed or 0.0,
        "modified": lambda r: r.last_modified or 0.0,
        "revisions": lambda r: r.revisions,
    }[key]
    return sorted(by_name, key=value, reverse=descending)  # stable: equal values stay A to Z


def filter_usage(repos: Iterable[RepoUsage], text: str) -> list[RepoUsage]:
    """Repos whose id holds every word of ``text`` (any case)."""
    words = text.lower().split()
    return [r for r in repos if all(w in r.id.lower() for w in words)]


def mount_options(path: str, mounts_file: str = "/proc/mounts") -> str | None:
    """The options of the mount holding ``path`` (Linux); None where there is no mount table to read."""
    real = os.path.realpath(path)
    best, options = "", None
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 4:
                    continue
                point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, options = point, fields[3]
    except OSError:
        return None
    return options


def access_times(cache_root: str, times: list[tuple[float, float]] = (), mounts_file: str = "/proc/mounts") -> AccessTimes:
    """How far "last accessed" can be trusted on the file system holding ``cache_root``.

    From the mount options where the system has a mount table (noatime: never recorded; relatime, Linux's
    default: updated at most once a day), else from the files: an access time equal to the modification
    time on every blob says they were never read since written, or that reads are not recorded.
    """
    options = mount_options(cache_root, mounts_file)
    flags = set(options.split(",")) if options else set()
    if "noatime" in flags:
        return AccessTimes(False, "this file system is mounted noatime: it does not record reads, so 'last accessed' is when the files were written", options)
    never_read = bool(times) and all(abs(a - m) < 1.0 or a < m for a, m in times)
    if never_read:
        return AccessTimes(None, "every blob's access time equals its modification time: never read since downloaded, or this file system does not record reads", options)
    if "strictatime" in flags:
        return AccessTimes(True, "", options)
    if options is not None and "relatime" in flags:
        return AccessTimes(True, "this file system records reads at most once a day (relatime): 'last accessed' is right to the day", options)
    if options is not None:
        return AccessTimes(True, "", options)
    return AccessTimes(None, "", None)


@dataclass(frozen=True, slots=True)
class RevisionUsage:
    commit: str
    refs: tuple[str, ...]
    files: int  # its files (links whose blob is there)
    size_bytes: int  # its files' blobs, each once
    own_bytes: int  # the part no other revision of the repo links to: what deleting it alone frees
    last_modified: float | None  # newest of its blobs (the snapshot folder's when it has none)
    snapshot_path: str


def repo_revisions(repo_path: str) -> list[RevisionUsage]:
    """One repo's revisions, newest first: for a view that opens a repo to pick revisions to delete.

    Follows each snapshot link one step, as huggingface_hub does (a blob in its shared store is a link in
    ``blobs``: its size is the payload's).
    """
    snapshots = os.path.join(repo_path, "snapshots")
    refs_dir = os.path.join(repo_path, "refs")
    names: dict[str, list[str]] = {}
    for directory, _, files in os.walk(refs_dir):
        for name in files:
            try:
                with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as handle:
                    commit = handle.read(200).strip()
            except OSError:
                continue
            names.setdefault(commit, []).append(os.path.relpath(os.path.join(directory, name), refs_dir).replace(os.sep, "/"))
    stats: dict[str, os.stat_result | None] = {}
    linked: dict[str, set[str]] = {}
    entries: dict[str, int] = {}
    for commit in sorted(n for n in _listdir(snapshots) if n not in IGNORED_NAMES):
        blobs: set[str] = set()
        entries[commit] = 0
        for directory, dirnames, files in os.walk(os.path.join(snapshots, commit)):
            for name in files + [d for d in dirnames if os.path.islink(os.path.join(directory, d))]:
                path = os.path.join(directory, name)
                try:
                    blob = os.path.abspath(os.path.join(directory, os.readlink(path)))
                except OSError:
                    blob = path  # a plain file in the snapshot
                if blob not in stats:
                    try:
                        stats[blob] = os.stat(blob)
                    except OSError:
                        stats[blob] = None
                blobs.add(blob)
                entries[commit] += stats[blob] is not None
        linked[commit] = blobs
    users: dict[str, int] = {}
    for blobs in linked.values():
        for blob in blobs:
            users[blob] = users.get(blob, 0) + 1
    rows = []
    for commit, blobs in linked.items():
        present = [stats[b] for b in blobs if stats[b] is not None]
        own = sum(stats[b].st_size for b in blobs if stats[b] is not None and users[b] == 1)
        modified = max((st.st_mtime for st in present), default=None)
        if modified is None:
            try:
                modified = os.stat(os.path.join(snapshots, commit)).st_mtime
            except OSError:
                pass
        rows.append(
            RevisionUsage(
                commit, tuple(sorted(names.get(commit, []))), entries[commit], sum(st.st_size for st in present), own,
                modified, os.path.join(snapshots, commit),
            )
        )
    return sorted(rows, key=lambda r: (-(r.last_modified or 0.0), r.commit))


@dataclass(frozen=True, slots=True)
class SourceTotal:
    source: str
    checkpoints: int
    size_bytes: int  # each file's content once (the blobs several revisions share, a hard-linked copy)


def source_totals(checkpoints: Iterable) -> list[SourceTotal]:
    """Totals per source (hub cache, folders, Ollama, ...) of scanned ``Checkpoint`` records, biggest first."""
    seen: dict[str, set] = {}
    totals: dict[str, list[int]] = {}
    for ckpt in checkpoints:
        entry = totals.setdefault(ckpt.source, [0, 0])
        entry[0] += 1
        contents = seen.setdefault(ckpt.source, set())
        for f in ckpt.files:
            if f.size is None:
                continue
            identity = f.content if f.content is not None else f.path
            if identity not in contents:
                contents.add(identity)
                entry[1] += f.size
    rows = [SourceTotal(source, count, size) for source, (count, size) in totals.items()]
    return sorted(rows, key=lambda r: (-r.size_bytes, r.source))
