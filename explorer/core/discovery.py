"""Find checkpoints: the Hugging Face hub cache, legacy transformers caches, user folders.

Only metadata is read: directory listings, ``config.json`` and safetensors headers. Nothing
is written anywhere. Every oddity on disk (broken links, loops, unreadable folders, bad
JSON, truncated files, interrupted downloads) becomes a problem on the checkpoint, and the
scan goes on.
"""

from __future__ import annotations

import json
import os
import stat as stat_module
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from explorer.core.checkpoint import (
    SOURCE_FOLDER,
    SOURCE_HUB_CACHE,
    SOURCE_LEGACY,
    TOKENIZER_FILES,
    Checkpoint,
    CheckpointFile,
    display_text,
)
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.safetensors_header import summarize_safetensors

MAX_CONFIG_BYTES = 16 * 1024 * 1024
DEFAULT_FOLDER_DEPTH = 4
SKIPPED_DIR_NAMES = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".locks", ".no_exist"})
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf")


# --------------------------------------------------------------------------- locations


def default_hf_home() -> str:
    home = os.environ.get("HF_HOME")
    if home:
        return os.path.expanduser(home)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "huggingface")


def default_hub_cache() -> str:
    """Where huggingface_hub stores downloads: HF_HUB_CACHE, then HF_HOME/hub, then the default."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(variable)
        if value:
            return os.path.expanduser(value)
    return os.path.join(default_hf_home(), "hub")


def legacy_cache_candidates() -> list[str]:
    """Caches older transformers releases used (flat url-hashed files, or hub layout)."""
    candidates = []
    for variable in ("TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE"):
        value = os.environ.get(variable)
        if value:
            candidates.append(os.path.expanduser(value))
    home = os.path.expanduser("~")
    candidates.append(os.path.join(default_hf_home(), "transformers"))
    candidates.append(os.path.join(home, ".cache", "torch", "transformers"))
    candidates.append(os.path.join(home, ".cache", "torch", "pytorch_transformers"))
    seen, unique = set(), []
    hub = os.path.realpath(default_hub_cache())
    for c in candidates:
        real = os.path.realpath(c)
        if real not in seen and real != hub:
            seen.add(real)
            unique.append(c)
    return unique


@dataclass(frozen=True, slots=True)
class ScanLocation:
    kind: str  # SOURCE_HUB_CACHE, SOURCE_FOLDER or SOURCE_LEGACY
    path: str


def default_locations(user_folders: Iterable[str] = ()) -> list[ScanLocation]:
    locations = [ScanLocation(SOURCE_HUB_CACHE, default_hub_cache())]
    locations += [ScanLocation(SOURCE_LEGACY, p) for p in legacy_cache_candidates() if os.path.isdir(p)]
    locations += [ScanLocation(SOURCE_FOLDER, os.path.expanduser(p)) for p in user_folders]
    return locations


# --------------------------------------------------------------------------- facts of one checkpoint


def _read_config(path: str, problems: list[str]) -> dict | None:
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        problems.append(f"config.json cannot be read ({exc.strerror or exc})")
        return None
    if size > MAX_CONFIG_BYTES:
        problems.append(f"config.json is {size // (1024 * 1024)} MiB, too large to be a model config; not read")
        return None
    try:
        with open(path, "rb") as handle:
            config = json.loads(handle.read())
    except OSError as exc:
        problems.append(f"config.json cannot be read ({exc.strerror or exc})")
        return None
    except (UnicodeDecodeError, ValueError) as exc:
        problems.append(f"config.json is not valid JSON: {exc}")
        return None
    if not isinstance(config, dict):
        problems.append("config.json is not a JSON object")
        return None
    return config


_known_model_types: frozenset[str] | None = None


def known_model_types() -> frozenset[str] | None:
    """model_type values the installed transformers knows; None when transformers is absent.

    Importing transformers' auto-config table costs seconds (it pulls in torch), far more
    than a whole scan, so the table is read from its source text instead. Resolution and
    inspection later use the real import.
    """
    global _known_model_types
    if _known_model_types is None:
        import importlib.util
        import re

        try:
            spec = importlib.util.find_spec("transformers")
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            return None
        auto_dir = os.path.join(list(spec.submodule_search_locations)[0], "models", "auto")
        pattern = re.compile(r'[(]?\s*"([^"]+)"\s*[,:]\s*"[A-Za-z0-9_]+Config"')
        found: set[str] = set()
        for name in ("auto_mappings.py", "configuration_auto.py"):
            try:
                with open(os.path.join(auto_dir, name), encoding="utf-8") as handle:
                    found.update(pattern.findall(handle.read()))
            except OSError:
                continue
        if not found:
            return None
        _known_model_types = frozenset(found)
    return _known_model_types


def describe_checkpoint(ckpt: Checkpoint, check_model_type: bool = True) -> Checkpoint:
    """Fill model facts from the files already listed on ``ckpt`` (config, headers, markers)."""
    names = {f.name: f for f in ckpt.files}
    top_level = [n for n in names if "/" not in n]
    config_entry = names.get("config.json")
    if config_entry is None:
        ckpt.problems.append("no config.json: the Auto classes cannot resolve this checkpoint")
    elif config_entry.size is None:
        ckpt.problems.append("config.json is missing its content (broken link or interrupted download)")
    else:
        config = _read_config(config_entry.path, ckpt.problems)
        if config is not None:
            model_type = config.get("model_type")
            if isinstance(model_type, str):
                ckpt.model_type = model_type
            elif model_type is not None:
                ckpt.problems.append(f"config.json: model_type should be a string, found {type(model_type).__name__}")
            architectures = config.get("architectures")
            if isinstance(architectures, list):
                ckpt.architectures = [str(a) for a in architectures]
            if isinstance(config.get("auto_map"), dict):
                ckpt.needs_remote_code = True
            if ckpt.model_type is None:
                ckpt.problems.append("config.json has no model_type")
            elif check_model_type:
                known = known_model_types()
                if known is not None and ckpt.model_type not in known and not ckpt.needs_remote_code:
                    ckpt.problems.append(
                        f"model_type '{ckpt.model_type}' is unknown to the installed transformers and the checkpoint has no auto_map"
                    )
    ckpt.remote_code_files = sorted(n for n in top_level if n.endswith(".py"))
    if ckpt.remote_code_files:
        ckpt.needs_remote_code = True
    ckpt.has_tokenizer = any(n in TOKENIZER_FILES for n in top_level)
    ckpt.has_model_card = "README.md" in names
    present = {n: names[n].path for n in top_level if names[n].size is not None}
    summary = summarize_safetensors(present)
    ckpt.problems.extend(summary.problems)
    ckpt.num_parameters = summary.num_parameters
    ckpt.dtypes = summary.dtypes
    has_weights = any(n.endswith(WEIGHT_SUFFIXES) for n in top_level)
    if not has_weights:
        ckpt.problems.append("no weight files (config only)")
    for entry in ckpt.files:
        if entry.size is None:
            ckpt.problems.append(f"{display_text(entry.name)}: content missing (broken link or interrupted download)")
    ckpt.size_bytes = sum(f.size or 0 for f in ckpt.files)
    return ckpt


# --------------------------------------------------------------------------- listing folders


def _list_files(folder: str, problems: list[str], max_depth: int = 2) -> list[CheckpointFile]:
    """Files of a checkpoint folder (and its small subfolders), following links safely."""
    files: list[CheckpointFile] = []
    visited: set[tuple[int, int]] = set()

    def walk(directory: str, prefix: str, depth: int) -> None:
        try:
            st = os.stat(directory)
        except OSError:
            return
        if (st.st_dev, st.st_ino) in visited:
            problems.append(f"{display_text(prefix) or '.'}: symbolic link loop; not followed")
            return
        visited.add((st.st_dev, st.st_ino))
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            problems.append(f"{display_text(prefix) or display_text(directory)}: cannot list folder ({exc.strerror or exc})")
            return
        for entry in entries:
            name = prefix + entry.name
            if _bad_name(entry.name):
                problems.append(f"file name {display_text(entry.name)!r} is not valid UTF-8")
            try:
                is_dir = entry.is_dir()  # follows links
            except OSError:
                is_dir = False
            if is_dir:
                if depth < max_depth and entry.name not in SKIPPED_DIR_NAMES and not entry.name.startswith("."):
                    walk(entry.path, name + "/", depth + 1)
                continue
            blob = None
            try:
                size = entry.stat().st_size  # follows links: the blob's size
                if entry.is_symlink():
                    blob = os.path.basename(os.readlink(entry.path))
            except OSError:
                size = None  # broken symlink or loop
                if entry.is_symlink():
                    problems.append(f"{display_text(name)}: broken symbolic link")
            files.append(CheckpointFile(name=name, path=entry.path, size=size, blob=blob))

    walk(folder, "", 0)
    files.sort(key=lambda f: f.name)
    return files


def _bad_name(name: str) -> bool:
    try:
        name.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _fingerprint(folder: str, extra: Iterable[str] = ()) -> tuple:
    """Cheap change detector for incremental rescans: listing plus size and mtime of each entry."""
    parts = []
    for directory in (folder, *extra):
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    try:
                        st = entry.stat()
                        parts.append((entry.name, st.st_size, st.st_mtime_ns))
                    except OSError:
                        parts.append((entry.name, None, None))
        except OSError:
            parts.append((directory, None, None))
    parts.sort(key=repr)
    return tuple(parts)


# --------------------------------------------------------------------------- hub cache


def _read_refs(repo_dir: str) -> dict[str, list[str]]:
    """commit hash -> ref names (main, tags, refs/pr/N)."""
    refs: dict[str, list[str]] = {}
    refs_dir = os.path.join(repo_dir, "refs")
    for root, _dirs, names in os.walk(refs_dir):
        for name in names:
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    commit = handle.read().strip()
            except (OSError, UnicodeDecodeError):
                continue
            ref = os.path.relpath(path, refs_dir).replace(os.sep, "/")
            refs.setdefault(commit, []).append(ref)
    return refs


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


class Scanner:
    """Scans locations, streaming checkpoints; keeps fingerprints so a rescan re-reads only changes."""

    def __init__(self, folder_depth: int = DEFAULT_FOLDER_DEPTH, check_model_type: bool = True) -> None:
        self.folder_depth = folder_depth
        self.check_model_type = check_model_type
        self._cache: dict[str, tuple[tuple, Checkpoint]] = {}

    def scan(self, locations: Iterable[ScanLocation], cancel: CancelToken | None = None) -> Job[tuple[list[Checkpoint], ScanStats]]:
        """Yields Progress and Checkpoint objects as found; returns (all checkpoints, stats)."""
        cancel = cancel or CancelToken()
        started = time.perf_counter()
        stats = ScanStats()
        found: list[Checkpoint] = []
        new_cache: dict[str, tuple[tuple, Checkpoint]] = {}
        locations = list(locations)
        for index, location in enumerate(locations):
            cancel.raise_if_cancelled()
            stats.locations.append(location.path)
            yield Progress(index, len(locations), f"Scanning {display_text(location.path)}")
            if not os.path.isdir(location.path):
                stats.missing_locations.append(location.path)
                continue
            if location.kind == SOURCE_FOLDER:
                producer = self._scan_folder(location, cancel, stats, new_cache)
            else:
                producer = self._scan_cache_root(location, location.kind, cancel, stats, new_cache)
            for ckpt in producer:
                ckpt.origin = location.path
                found.append(ckpt)
                yield ckpt
        self._cache = new_cache
        stats.checkpoints = len(found)
        stats.seconds = time.perf_counter() - started
        yield Progress(len(locations), len(locations), "Scan complete")
        return found, stats

    def _described(self, key: str, fingerprint: tuple, build, stats: ScanStats, new_cache) -> Checkpoint:
        cached = self._cache.get(key)
        if cached is not None and cached[0] == fingerprint:
            stats.reused += 1
            ckpt = cached[1]
        else:
            ckpt = describe_checkpoint(build(), self.check_model_type)
        new_cache[key] = (fingerprint, ckpt)
        return ckpt

    # hub layout: <root>/models--org--name/{blobs,refs,snapshots/<commit>}
    def _scan_cache_root(self, location: ScanLocation, source: str, cancel, stats, new_cache) -> Iterator[Checkpoint]:
        root = location.path
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
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
            cancel.raise_if_cancelled()
            yield from self._scan_repo(entry.path, repo_id, source, stats, new_cache)
        if source == SOURCE_LEGACY and not has_hub_layout:
            yield from scan_flat_legacy_cache(root, stats)

    def _scan_repo(self, repo_dir: str, repo_id: str, source: str, stats: ScanStats, new_cache) -> Iterator[Checkpoint]:
        refs = _read_refs(repo_dir)
        repo_problems: list[str] = []
        blobs_dir = os.path.join(repo_dir, "blobs")
        repo_size = 0
        incomplete = 0
        try:
            with os.scandir(blobs_dir) as it:
                for blob in it:
                    if blob.name.endswith(".incomplete"):
                        incomplete += 1
                    try:
                        repo_size += blob.stat(follow_symlinks=False).st_size
                    except OSError:
                        pass
        except OSError:
            pass
        if incomplete:
            repo_problems.append(f"{incomplete} interrupted download(s) (.incomplete blobs) in this repo")
        snapshots_dir = os.path.join(repo_dir, "snapshots")
        try:
            snapshots = sorted(os.scandir(snapshots_dir), key=lambda e: e.name)
        except OSError:
            stats.problems.append(f"{repo_id}: no snapshots folder")
            return
        for snap in snapshots:
            if not snap.is_dir():
                continue
            commit = snap.name

            def build(snap_path=snap.path, commit=commit) -> Checkpoint:
                problems = list(repo_problems)
                files = _list_files(snap_path, problems)
                return Checkpoint(
                    id=repo_id,
                    source=source,
                    path=snap_path,
                    revision=commit,
                    repo_path=repo_dir,
                    files=files,
                    problems=problems,
                    last_modified=_latest_mtime(files),
                )

            fingerprint = (_fingerprint(snap.path), tuple(repo_problems))
            ckpt = self._described(snap.path, fingerprint, build, stats, new_cache)
            ckpt.refs = sorted(refs.get(commit, []))
            ckpt.repo_size_bytes = repo_size
            yield ckpt

    # user folders: bounded-depth search for checkpoint folders
    def _scan_folder(self, location: ScanLocation, cancel, stats, new_cache) -> Iterator[Checkpoint]:
        visited: set[tuple[int, int]] = set()
        root = location.path

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
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                stats.problems.append(f"{display_text(folder)}: cannot list folder ({exc.strerror or exc})")
                return
            names = {e.name for e in entries}
            if any(repo_id_from_folder(n) for n in names) and any(n.startswith("models--") for n in names):
                # A hub cache the user pointed at (or one nested in their folder).
                yield from self._scan_cache_root(ScanLocation(SOURCE_HUB_CACHE, folder), SOURCE_HUB_CACHE, cancel, stats, new_cache)
                return
            if _looks_like_checkpoint(folder, names):
                def build(folder=folder) -> Checkpoint:
                    problems: list[str] = []
                    files = _list_files(folder, problems, max_depth=1)
                    return Checkpoint(
                        id=display_text(os.path.basename(os.path.normpath(folder)) or folder),
                        source=SOURCE_FOLDER,
                        path=folder,
                        files=files,
                        problems=problems,
                        last_modified=_latest_mtime(files),
                    )

                yield self._described(folder, _fingerprint(folder), build, stats, new_cache)
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

        yield from walk(root, 0)


def _looks_like_checkpoint(folder: str, names: set[str]) -> bool:
    if any(n.endswith(".safetensors") or n == "model.safetensors.index.json" for n in names):
        return True
    if any(n.startswith("pytorch_model") and (n.endswith(".bin") or n.endswith(".bin.index.json")) for n in names):
        return True
    if "config.json" in names:
        # A config.json alone counts if it is a model config (or unreadable: then we say so).
        try:
            with open(os.path.join(folder, "config.json"), "rb") as handle:
                head = handle.read(65536)
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
            with open(entry.path, encoding="utf-8") as handle:
                meta = json.load(handle)
            url = meta["url"]
        except (OSError, ValueError, KeyError, TypeError):
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
        ckpt = Checkpoint(id=repo_id, source=SOURCE_LEGACY, path=root, revision=revision, files=files, last_modified=_latest_mtime(files))
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
