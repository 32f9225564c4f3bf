"""Find checkpoints: the Hugging Face hub cache, legacy transformers caches, user folders.

Only metadata is read: directory listings, ``config.json`` and safetensors headers. Nothing
is written anywhere. Every oddity on disk (broken links, loops, unreadable folders, bad
JSON, truncated files, interrupted downloads, FIFOs under a file's name) becomes a problem
on the checkpoint, and the scan goes on.

Cost, which matters on caches of thousands of repos (bench/bench_scan.py): one stat per file
(through the hub's links, so it reads the blob), one listing per folder (``listing``), one
small read for each config and ref, and two for each safetensors header, which is parsed and
validated as the safetensors library validates it (``safetensors_header.count_parameters``,
remembered by the header's bytes); a weights blob shared by several revisions of a repo is
read once per scan. What one checkpoint is comes from ``describe``. Nothing imports torch or
transformers.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from explorer.core.checkpoint import (
    SOURCE_FOLDER,
    SOURCE_HUB_CACHE,
    SOURCE_LEGACY,
    SOURCE_LM_STUDIO,
    SOURCE_OLLAMA,
    Checkpoint,
    CheckpointFile,
    display_text,
)
from explorer.core.adapters import ADAPTER_CONFIG
from explorer.core.gguf_listing import gguf_entry, gguf_models, is_gguf_name, ollama_blob_stamp, ollama_entry, ollama_manifests
from explorer.core import scan_index
# The scan's inputs and its reading of config.json are part of its interface: importable from here.
from explorer.core.cache_places import ScanLocation, default_hub_cache, default_locations
from explorer.core.describe import ConfigUnreadable, _read_small_file, describe_checkpoint, read_config_file
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.listing import SKIPPED_DIR_NAMES, _list_files, _list_flat_snapshot
from explorer.core.safe_io import UnreadableFile, parse_json
from explorer.core.transformers_tables import model_types_stamp

DEFAULT_FOLDER_DEPTH = 4
RACY_SECONDS_NS = 2_000_000_000


# --------------------------------------------------------------------------- hub cache


def _read_refs(repo_dir: str) -> dict[str, list[str]]:
    """commit hash -> ref names (main, tags, refs/pr/N)."""
    refs: dict[str, list[str]] = {}
    # A list of folders still to read rather than a recursive inner function: such a closure
    # refers to itself, and one such cycle per repo kept the garbage collector busy during scans.
    pending = [(repo_dir + os.sep + "refs", "", 0)]
    while pending:
        directory, prefix, depth = pending.pop()
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = directory + "/" + name
            try:
                commit = _read_small_file(path, 256).decode("ascii").strip()
            except IsADirectoryError:  # refs/pr/<n>, refs/refs/...: opening a folder works, reading it does not
                if depth < 4:
                    pending.append((path, prefix + name + "/", depth + 1))
                continue
            except (OSError, UnicodeDecodeError):
                continue
            if commit:
                refs.setdefault(commit, []).append(prefix + name)
    return refs


_HEX_DIGITS = frozenset("0123456789abcdef")


def _revision_names(snapshots_dir: str, refs: dict[str, list[str]], listed: bool = False) -> tuple[list[str], bool]:
    """The revision folders of a repo's snapshots/, sorted, and whether they were inferred from its refs.

    Listing the folder is one of the larger fixed costs of a repo. A folder's link count is 2
    plus its subfolders on the usual Unix filesystems, so when it equals the number of commits
    the refs name (full commit hashes, never paths), those commits are the revisions. Each is
    opened next, and one that is missing sends the caller back here with ``listed``. Where
    link counts mean something else (btrfs reports 1, APFS counts files too) the folder is
    simply listed. Raises OSError when snapshots/ cannot be read.
    """
    if not listed and refs and all(len(commit) == 40 and _HEX_DIGITS.issuperset(commit) for commit in refs):
        if os.stat(snapshots_dir).st_nlink == 2 + len(refs):
            return sorted(refs), True
    # Names only: the listing of each snapshot tells folders from stray files anyway.
    return sorted(os.listdir(snapshots_dir)), False


def repo_id_from_folder(folder_name: str) -> tuple[str, str] | None:
    """'models--org--name' -> ('model', 'org/name')."""
    kind, sep, rest = folder_name.partition("--")
    if not sep or kind not in ("models", "datasets", "spaces"):
        return None
    return kind[:-1], rest.replace("--", "/")


@dataclass(slots=True)
class ScanStats:
    locations: list[str] = field(default_factory=list)
    missing_locations: list[str] = field(default_factory=list)
    checkpoints: int = 0
    reused: int = 0
    skipped_repos: dict[str, int] = field(default_factory=dict)  # 'dataset'/'space' -> count
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _interrupted_downloads(blobs_dir: str) -> int:
    """How many ``*.incomplete`` blobs a repo holds (downloads that stopped midway)."""
    try:
        return sum(1 for name in os.listdir(blobs_dir) if name.endswith(".incomplete"))
    except OSError:
        return 0


def _repo_size(checkpoints: list[Checkpoint]) -> int:
    """Like `hf cache`: the blobs some revision uses, each once."""
    if len(checkpoints) == 1:
        return checkpoints[0].size_bytes
    used: dict[object, int] = {}
    for ckpt in checkpoints:
        for f in ckpt.files:
            if f.size is not None:
                used[f.content if f.content is not None else f.path] = f.size
    return sum(used.values())


def _mtime_ns(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class Scanner:
    """Scans locations, streaming checkpoints; remembers what it read so a rescan re-reads only changes.

    Change detection is by modification times of folders, not of every file: a hub snapshot
    only changes by links being added or removed (its folder's mtime moves) and blobs only
    by being added or removed (``blobs/``'s mtime moves), so a hub rescan costs a few stats
    per revision. User folders can be edited in place, so there every file's size and mtime
    count; they are read by the listing a scan does anyway. Anything modified in the last
    couple of seconds is not trusted (mtimes tick coarsely) and is read again next time.
    Refs are re-read on every scan: moving ``main`` does not touch a snapshot.

    With ``index_path`` that memory outlives the session (``scan_index``): the first scan
    loads what the last completed scan saved there, and each completed scan that found a
    change saves it again, so a start-up scan re-reads only what changed meanwhile.
    """

    def __init__(
        self, folder_depth: int = DEFAULT_FOLDER_DEPTH, check_model_type: bool = True, index_path: str | os.PathLike | None = None
    ) -> None:
        self.folder_depth = folder_depth
        self.check_model_type = check_model_type
        self.index_path = index_path
        self._index_loaded = False
        self._cache: dict[str, tuple[tuple, Checkpoint]] = {}
        self._settled_before_ns = 0
        # Weight-file counts by content, for one scan: revisions of a repo share blobs.
        self._read_once: dict = {}

    def _index_stamp(self) -> list:
        # What the saved results depend on besides the files: the model-type table they were checked against.
        return [self.check_model_type, model_types_stamp() if self.check_model_type else []]

    def scan(self, locations: Iterable[ScanLocation], cancel: CancelToken | None = None) -> Job[tuple[list[Checkpoint], ScanStats]]:
        """Yields Progress and Checkpoint objects as found; returns (all checkpoints, stats)."""
        cancel = cancel or CancelToken()
        started = time.perf_counter()
        # Folder mtimes tick coarsely: a change within the same tick as the last look would go
        # unseen, so anything touched in the last seconds is read again next time (as git does).
        self._settled_before_ns = time.time_ns() - RACY_SECONDS_NS
        self._read_once = {}
        stats = ScanStats()
        if self.index_path is not None and not self._index_loaded:
            self._index_loaded = True
            self._cache = scan_index.load(self.index_path, self._index_stamp())
        previous_entries = len(self._cache)
        found: list[Checkpoint] = []
        seen_keys: set[str] = set()
        new_cache: dict[str, tuple[tuple, Checkpoint]] = {}
        locations = list(locations)
        for index, location in enumerate(locations):
            cancel.raise_if_cancelled()
            stats.locations.append(location.path)
            yield Progress(index, len(locations), f"Scanning {display_text(location.path)}")
            if not os.path.isdir(location.path):
                stats.missing_locations.append(location.path)
                continue
            if location.kind in (SOURCE_FOLDER, SOURCE_LM_STUDIO):
                producer = self._scan_folder(location, cancel, stats, new_cache)
            elif location.kind == SOURCE_OLLAMA:
                producer = self._scan_ollama(location.path, cancel, stats, new_cache)
            else:
                producer = self._scan_cache_root(location.path, location.kind, cancel, stats, new_cache)
            for ckpt in producer:
                if ckpt.key in seen_keys:
                    continue  # one place reached twice (a folder inside another, or a cache also added as a folder)
                seen_keys.add(ckpt.key)
                ckpt.origin = location.path
                found.append(ckpt)
                yield ckpt
        self._cache = new_cache
        self._read_once = {}
        stats.checkpoints = len(found)
        stats.seconds = time.perf_counter() - started
        if self.index_path is not None and not (stats.reused == len(new_cache) == previous_entries):
            try:
                scan_index.save(self.index_path, self._index_stamp(), new_cache)
            except (OSError, ValueError, TypeError) as exc:
                stats.problems.append(
                    f"the scan's results could not be saved for the next start ({exc}); the next start reads everything again"
                )
        yield Progress(len(locations), len(locations), "Scan complete")
        return found, stats

    def _reuse(self, key: str, fingerprint: tuple, stats: ScanStats, new_cache) -> Checkpoint | None:
        cached = self._cache.get(key)
        if cached is not None and cached[0] == fingerprint:
            stats.reused += 1
            new_cache[key] = cached
            return cached[1]
        return None

    def _remember(self, new_cache, key: str, fingerprint: tuple, ckpt: Checkpoint, mtimes: tuple) -> None:
        settled = self._settled_before_ns
        for mtime in mtimes:
            if mtime is not None and mtime >= settled:
                return
        new_cache[key] = (fingerprint, ckpt)

    # hub layout: <root>/models--org--name/{blobs,refs,snapshots/<commit>}
    def _scan_cache_root(self, root: str, source: str, cancel, stats, new_cache) -> Iterator[Checkpoint]:
        try:
            with os.scandir(root) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            stats.problems.append(f"{display_text(root)}: cannot list ({exc.strerror or exc})")
            return
        has_hub_layout = False
        for entry in entries:
            parsed = repo_id_from_folder(entry.name)
            if parsed is None:
                continue
            has_hub_layout = True
            repo_type, repo_id = parsed
            if repo_type != "model":
                stats.skipped_repos[repo_type] = stats.skipped_repos.get(repo_type, 0) + 1
                continue
            try:
                if not entry.is_dir():
                    continue
            except OSError:
                continue
            cancel.raise_if_cancelled()
            yield from self._scan_repo(entry.path, repo_id, source, stats, new_cache)
        if source == SOURCE_LEGACY and not has_hub_layout:
            yield from scan_flat_legacy_cache(root, stats)

    def _scan_repo(
        self, repo_dir: str, repo_id: str, source: str, stats: ScanStats, new_cache, list_snapshots: bool = False
    ) -> list[Checkpoint]:
        refs = _read_refs(repo_dir)
        # repo_dir is a listing's entry path (no trailing separator): joined by hand, as os.path.join costs more here.
        blobs_dir = repo_dir + os.sep + "blobs"
        snapshots_dir = repo_dir + os.sep + "snapshots"
        # Stamped before anything is read, so a change during the scan shows at the next one.
        blobs_mtime = _mtime_ns(blobs_dir)
        incomplete: int | None = None
        checkpoints: list[Checkpoint] = []
        try:
            snapshots, inferred = _revision_names(snapshots_dir, refs, list_snapshots)
        except OSError as exc:
            problems = [f"no downloaded revision: the snapshots folder cannot be listed ({exc.strerror or exc})"]
            incomplete = _interrupted_downloads(blobs_dir)
            if incomplete:
                problems.append(f"{incomplete} interrupted download(s) (.incomplete blobs) in this repo")
            return [Checkpoint(id=repo_id, source=source, path=repo_dir, repo_path=repo_dir, problems=problems, repo_size_bytes=0)]
        reused_before = stats.reused
        for revision in snapshots:
            snap_path = snapshots_dir + os.sep + revision
            ckpt = None
            cached = self._cache.get(snap_path)
            if cached is not None:
                snap_mtime = _mtime_ns(snap_path)
                subfolders = cached[0][2]
                fingerprint = (snap_mtime, blobs_mtime, subfolders, tuple(map(_mtime_ns, subfolders)) if subfolders else ())
                ckpt = self._reuse(snap_path, fingerprint, stats, new_cache)
            if ckpt is None:
                try:
                    listing = _list_flat_snapshot(snap_path)
                    if listing is None:
                        snap_stat = os.stat(snap_path)
                        if not stat_module.S_ISDIR(snap_stat.st_mode):
                            continue
                        listing = _list_files(snap_path, snap_stat, stamped=False)
                        listing.folder_mtime_ns = snap_stat.st_mtime_ns
                except OSError:  # a stray file, or a link to nothing, among the revisions
                    if inferred:  # a ref names a revision that is not there: list the folder after all
                        stats.reused = reused_before
                        return self._scan_repo(repo_dir, repo_id, source, stats, new_cache, list_snapshots=True)
                    continue
                if incomplete is None:
                    incomplete = _interrupted_downloads(blobs_dir)
                if incomplete:
                    listing.problems.append(f"{incomplete} interrupted download(s) (.incomplete blobs) in this repo")
                ckpt = listing.checkpoint(id=repo_id, source=source, path=snap_path, revision=revision, repo_path=repo_dir)
                describe_checkpoint(ckpt, self.check_model_type, self._read_once)
                snap_mtime = listing.folder_mtime_ns
                subfolders = tuple(listing.subfolders)
                sub_mtimes = tuple(map(_mtime_ns, subfolders)) if subfolders else ()
                fingerprint = (snap_mtime, blobs_mtime, subfolders, sub_mtimes)
                self._remember(new_cache, snap_path, fingerprint, ckpt, (snap_mtime, blobs_mtime or 0, *sub_mtimes))
            ckpt.refs = sorted(refs[revision]) if revision in refs else []
            # Most revisions hold no GGUF: one pass over the names decides it (a start-up meets thousands).
            has_gguf = any(f.name[-5:].lower() == ".gguf" for f in ckpt.files)
            gguf_found = self._snapshot_ggufs(ckpt, repo_id, source, fingerprint, stats, new_cache) if has_gguf else ()
            if not gguf_found or _is_transformers_snapshot(ckpt):
                checkpoints.append(ckpt)
            checkpoints.extend(gguf_found)
        repo_size = _repo_size(checkpoints)
        for ckpt in checkpoints:
            ckpt.repo_size_bytes = repo_size
        return checkpoints

    def _snapshot_ggufs(self, snapshot: Checkpoint, repo_id: str, source: str, fingerprint: tuple, stats, new_cache) -> list[Checkpoint]:
        """The GGUF models of one hub revision, each an entry of its own, remembered with the revision."""
        found = []
        for parts in gguf_models(snapshot.files):
            key = snapshot.path + os.sep + parts[0].name
            ckpt = self._reuse(key, fingerprint, stats, new_cache)
            if ckpt is None:
                ckpt = gguf_entry(
                    parts, id=f"{repo_id}/{parts[0].name}", source=source, path=key, revision=snapshot.revision, repo_path=snapshot.repo_path
                )
                if snapshot.path in new_cache:  # the revision itself could be trusted: so can what it holds
                    new_cache[key] = (fingerprint, ckpt)
            ckpt.refs = list(snapshot.refs)
            found.append(ckpt)
        return found

    # Ollama: manifests/<host>/<namespace>/<model>/<tag> naming blobs/sha256-<hex>
    def _scan_ollama(self, root: str, cancel, stats, new_cache) -> Iterator[Checkpoint]:
        for manifest in ollama_manifests(root):
            cancel.raise_if_cancelled()
            cached = self._cache.get(manifest.path)
            ckpt = None
            if cached is not None and cached[0][0] == manifest.stamp:
                ckpt = self._reuse(manifest.path, (manifest.stamp, ollama_blob_stamp(cached[1].files)), stats, new_cache)
            if ckpt is None:
                ckpt = ollama_entry(root, manifest)
                if ckpt is None:
                    continue
                fingerprint = (manifest.stamp, ollama_blob_stamp(ckpt.files))
                self._remember(new_cache, manifest.path, fingerprint, ckpt, (manifest.stamp[0],))
            yield ckpt

    def _folder_ggufs(self, location: ScanLocation, entries: list, stats, new_cache) -> Iterator[Checkpoint]:
        """The GGUF models among one folder's entries (LM Studio names them publisher/repo/file)."""
        files = []
        stamps = {}
        for entry in entries:
            if not is_gguf_name(entry.name):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if not stat_module.S_ISREG(st.st_mode):
                continue
            files.append(CheckpointFile(entry.name, entry.path, st.st_size, (st.st_dev, st.st_ino)))
            stamps[entry.name] = (st.st_size, st.st_mtime_ns, st.st_ino)
        for parts in gguf_models(files):
            key = parts[0].path
            fingerprint = tuple((p.name, *stamps[p.name]) for p in parts)
            ckpt = self._reuse(key, fingerprint, stats, new_cache)
            if ckpt is None:
                if location.kind == SOURCE_LM_STUDIO:
                    name = os.path.relpath(key, location.path).replace(os.sep, "/")
                else:
                    name = parts[0].name
                ckpt = gguf_entry(parts, id=display_text(name), source=location.kind, path=key)
                self._remember(new_cache, key, fingerprint, ckpt, tuple(stamps[p.name][1] for p in parts))
            yield ckpt

    # user folders: bounded-depth search for checkpoint folders
    def _scan_folder(self, location: ScanLocation, cancel, stats, new_cache) -> Iterator[Checkpoint]:
        visited: set[tuple[int, int]] = set()

        def walk(folder: str, depth: int) -> Iterator[Checkpoint]:
            cancel.raise_if_cancelled()
            try:
                st = os.stat(folder)
            except OSError as exc:
                stats.problems.append(f"{display_text(folder)}: {exc.strerror or exc}")
                return
            if (st.st_dev, st.st_ino) in visited:
                return  # symlink loop or a second link to a folder already seen
            visited.add((st.st_dev, st.st_ino))
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                stats.problems.append(f"{display_text(folder)}: cannot list folder ({exc.strerror or exc})")
                return
            names = {e.name for e in entries}
            if any(n.startswith("models--") and repo_id_from_folder(n) for n in names):
                # A hub cache the user pointed at (or one nested in their folder).
                yield from self._scan_cache_root(folder, SOURCE_HUB_CACHE, cancel, stats, new_cache)
                return
            if "manifests" in names and "blobs" in names and os.path.isdir(os.path.join(folder, "manifests")):
                # An Ollama model store the user pointed at (OLLAMA_MODELS somewhere else).
                yield from self._scan_ollama(folder, cancel, stats, new_cache)
                return
            if _looks_like_checkpoint(folder, names):
                yield self._folder_checkpoint(folder, st, stats, new_cache, location.kind)
            yield from self._folder_ggufs(location, entries, stats, new_cache)
            if depth >= self.folder_depth:
                return
            for entry in entries:
                if entry.name in SKIPPED_DIR_NAMES or entry.name.startswith("."):
                    continue
                try:
                    if not entry.is_dir():
                        continue
                except OSError:
                    continue
                yield from walk(entry.path, depth + 1)

        yield from walk(location.path, 0)

    def _folder_checkpoint(self, folder: str, folder_stat: os.stat_result, stats: ScanStats, new_cache, source: str = SOURCE_FOLDER) -> Checkpoint:
        listing = _list_files(folder, folder_stat, max_depth=1)
        fingerprint = (folder_stat.st_mtime_ns, tuple(sorted(listing.file_stamps, key=repr)))
        ckpt = self._reuse(folder, fingerprint, stats, new_cache)
        if ckpt is not None:
            return ckpt
        ckpt = listing.checkpoint(id=display_text(os.path.basename(os.path.normpath(folder)) or folder), source=source, path=folder)
        describe_checkpoint(ckpt, self.check_model_type)
        self._remember(new_cache, folder, fingerprint, ckpt, (folder_stat.st_mtime_ns, *(stamp[2] for stamp in listing.file_stamps)))
        return ckpt


def _is_transformers_snapshot(ckpt: Checkpoint) -> bool:
    """Whether a hub revision that holds GGUF files is also a transformers checkpoint (or adapter) of its own."""
    return any(
        f.name in ("config.json", ADAPTER_CONFIG) or (f.name.endswith((".safetensors", ".bin")) and "/" not in f.name) for f in ckpt.files
    )


def _looks_like_checkpoint(folder: str, names: set[str]) -> bool:
    if ADAPTER_CONFIG in names:
        return True
    if any(n.endswith(".safetensors") or n == "model.safetensors.index.json" for n in names):
        return True
    if any(n.startswith("pytorch_model") and (n.endswith(".bin") or n.endswith(".bin.index.json")) for n in names):
        return True
    if "config.json" in names:
        # A config.json alone counts if it is a model config (or unreadable: then we say so).
        try:
            head = _read_small_file(os.path.join(folder, "config.json"), 65536)
        except OSError:
            return True
        return any(key in head for key in (b'"model_type"', b'"architectures"', b'"transformers_version"')) or not head.lstrip().startswith(b"{")
    return False


def _latest_mtime(files: list[CheckpointFile]) -> float | None:
    latest = None
    for f in files:
        if f.size is None:
            continue
        try:
            m = os.stat(f.path).st_mtime
        except OSError:
            continue
        latest = m if latest is None or m > latest else latest
    return latest


# --------------------------------------------------------------------------- flat legacy cache


def scan_flat_legacy_cache(root: str, stats: ScanStats) -> Iterator[Checkpoint]:
    """transformers < 4.22 stored files as <sha256(url)>[.<sha256(etag)>] with a .json sidecar
    holding the url. Group them back by repo and revision from the url."""
    groups: dict[tuple[str, str], list[CheckpointFile]] = {}
    try:
        entries = list(os.scandir(root))
    except OSError as exc:
        stats.problems.append(f"{display_text(root)}: cannot list ({exc.strerror or exc})")
        return
    for entry in entries:
        if not entry.name.endswith(".json") or entry.name.endswith(".lock"):
            continue
        try:
            meta = parse_json(_read_small_file(entry.path, 1024 * 1024), entry.name)
            url = meta["url"]
        except (OSError, UnreadableFile, KeyError, TypeError):
            continue
        parsed = _parse_legacy_url(str(url))
        data_path = entry.path[: -len(".json")]
        if parsed is None:
            continue
        repo_id, revision, filename = parsed
        try:
            size = os.stat(data_path).st_size
        except OSError:
            size = None
        groups.setdefault((repo_id, revision), []).append(CheckpointFile(name=filename, path=data_path, size=size))
    for (repo_id, revision), files in sorted(groups.items()):
        files.sort(key=lambda f: f.name)
        missing = [f"{display_text(f.name)}: content missing (its cache file is gone)" for f in files if f.size is None]
        ckpt = Checkpoint(
            id=repo_id, source=SOURCE_LEGACY, path=root, revision=revision, files=files, problems=missing, last_modified=_latest_mtime(files)
        )
        yield describe_checkpoint(ckpt)


def _parse_legacy_url(url: str) -> tuple[str, str, str] | None:
    # https://huggingface.co/<repo>/resolve/<revision>/<file>  or the old S3/CDN form
    # https://cdn.huggingface.co/<repo>/<file> and https://s3.amazonaws.com/models.huggingface.co/bert/<repo>-<file>
    marker = "/resolve/"
    if marker in url:
        before, _, after = url.partition(marker)
        repo_id = before.split("://", 1)[-1].split("/", 1)[-1]
        revision, _, filename = after.partition("/")
        if repo_id and filename:
            return repo_id, revision, filename
    if "cdn.huggingface.co/" in url or "cdn-lfs.huggingface.co/" in url:
        path = url.split(".co/", 1)[1]
        repo_id, _, filename = path.rpartition("/")
        if repo_id and filename:
            return repo_id, "main", filename
    if "models.huggingface.co/bert/" in url:
        tail = url.split("models.huggingface.co/bert/", 1)[1]
        for known in ("-config.json", "-pytorch_model.bin", "-vocab.txt", "-vocab.json", "-merges.txt", "-spiece.model"):
            if tail.endswith(known):
                return tail[: -len(known)], "main", known[1:]
    return None


def scan_all(locations: Iterable[ScanLocation], cancel: CancelToken | None = None) -> tuple[list[Checkpoint], ScanStats]:
    """Convenience for the command line and tests: run a one-off scan to the end."""
    from explorer.core.jobs import run_to_end

    return run_to_end(Scanner().scan(locations, cancel))


__all__ = [
    "ConfigUnreadable", "ScanLocation", "ScanStats", "Scanner", "default_hub_cache", "default_locations",
    "describe_checkpoint", "read_config_file", "repo_id_from_folder", "scan_all", "scan_flat_legacy_cache",
]
