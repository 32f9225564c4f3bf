"""Find checkpoints: the Hugging Face hub cache, legacy transformers caches, user folders.

Only metadata is read: directory listings, ``config.json`` and safetensors headers. Nothing
is written anywhere. Every oddity on disk (broken links, loops, unreadable folders, bad
JSON, truncated files, interrupted downloads, FIFOs under a file's name) becomes a problem
on the checkpoint, and the scan goes on.

Cost, which matters on caches of thousands of repos (bench/bench_scan.py): one stat per file
(through the hub's links, so it reads the blob), one listing per folder, one small read for
each config and ref, and two for each safetensors header, whose parameter count usually
comes from a few byte searches rather than a JSON parse (see
``safetensors_header.count_parameters``); a weights blob shared by several revisions of a
repo is read once per scan. Nothing imports torch or transformers.
"""

from __future__ import annotations

import codecs
import errno
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
from explorer.core import scan_index
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.safe_io import UnreadableFile, parse_json
from explorer.core.safetensors_index import summarize_safetensors
from explorer.core.transformers_tables import known_model_types, model_types_stamp

MAX_CONFIG_BYTES = 16 * 1024 * 1024
# The largest real configs hold label tables of some 20,000 classes (id2label and label2id,
# 40,000 values); ten times that is still a model config, 850,000 keys is not.
MAX_CONFIG_VALUES = 400_000
DEFAULT_FOLDER_DEPTH = 4
RACY_SECONDS_NS = 2_000_000_000
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


# Never block on a FIFO or device that someone named config.json.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _read_small_file(path: str, limit: int) -> bytes:
    """Up to ``limit`` bytes (at most 16 MiB) of a regular file, with the fewest system calls.

    One read: a regular file's read comes back short only at its end, so reading again to
    hear "nothing more" would double the reads of a scan (a ref and a config per revision).
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


_BYTE_ORDER_MARKS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # UTF-32 LE starts like UTF-16 LE


class ConfigUnreadable(ValueError):
    """config.json exists but cannot be used; the message says why, for the user."""


def read_config_file(path: str) -> dict:
    """A checkpoint's config.json read as the scan reads it: never blocking on a FIFO, bounded, validated.

    Raises FileNotFoundError when there is none, ConfigUnreadable for everything else.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigUnreadable(f"config.json cannot be read ({exc.strerror or exc})") from None
    if not stat_module.S_ISREG(st.st_mode):
        raise ConfigUnreadable("config.json is not a regular file (a folder, FIFO, socket or device); not read")
    problems: list[str] = []
    config = _read_config(path, st.st_size, problems)
    if config is None:
        raise ConfigUnreadable(problems[0] if problems else "config.json cannot be read")
    return config


def _read_config(path: str, size: int | None, problems: list[str]) -> dict | None:
    if size is not None and size > MAX_CONFIG_BYTES:
        problems.append(f"config.json is {size // (1024 * 1024)} MiB, too large to be a model config; not read")
        return None
    try:
        # The listing gave the size: asking for that (+1 to see growth) avoids a 16 MiB buffer per read.
        raw = _read_small_file(path, size + 1 if size is not None else MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        problems.append(f"config.json cannot be read ({exc.strerror or exc})")
        return None
    if len(raw) > MAX_CONFIG_BYTES:
        problems.append("config.json is larger than 16 MiB, too large to be a model config; not read")
        return None
    if not raw.strip():
        problems.append("config.json is empty (or not a regular file)")
        return None
    if raw.startswith(_BYTE_ORDER_MARKS):
        # json.loads would read these; transformers, which reads the file as UTF-8 text, refuses them.
        encoding = "UTF-8 with a byte-order mark" if raw.startswith(codecs.BOM_UTF8) else "UTF-16 or UTF-32 text"
        problems.append(f"config.json is {encoding}, which transformers cannot read: save it as plain UTF-8")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"config.json is not UTF-8 text, which transformers requires ({exc.reason} at byte {exc.start})")
        return None
    try:
        config = parse_json(text, "config.json", max_values=MAX_CONFIG_VALUES)
    except UnreadableFile as exc:
        problems.append(str(exc))
        return None
    if not isinstance(config, dict):
        problems.append("config.json is not a JSON object")
        return None
    return config


# How describe_checkpoint sorts a checkpoint's top-level files: one dict lookup by name, then
# one by extension, instead of a chain of endswith tests per file (a scan sees thousands).
_SAFETENSORS, _OTHER_WEIGHTS, _TOKENIZER, _CONFIG, _JSON, _CODE, _CARD = range(7)
_KIND_BY_NAME = {**dict.fromkeys(TOKENIZER_FILES, _TOKENIZER), "config.json": _CONFIG, "README.md": _CARD}
_KIND_BY_EXTENSION = {
    **dict.fromkeys(WEIGHT_SUFFIXES, _OTHER_WEIGHTS),
    ".safetensors": _SAFETENSORS,
    ".json": _JSON,
    ".py": _CODE,
}


def describe_checkpoint(ckpt: Checkpoint, check_model_type: bool = True, read_once: dict | None = None) -> Checkpoint:
    """Fill model facts from the files already listed on ``ckpt`` (config, headers, markers).

    ``read_once``, a dict kept by the caller over one scan, lets weight files whose content
    (device, inode, size) was already read for another revision be counted from memory.
    """
    weights: dict[str, str] = {}  # safetensors files and indexes whose content is there -> readable path
    # Sizes and content identities only for the files the weights summary reads.
    sizes: dict[str, int] = {}
    contents: dict[str, tuple] = {}
    remote_code: list[str] = []
    has_tokenizer = has_weights = has_model_card = False
    config_entry = None
    kind_by_name = _KIND_BY_NAME.get
    kind_by_extension = _KIND_BY_EXTENSION.get
    for f in ckpt.files:
        name = f.name
        kind = kind_by_name(name)
        if kind is None:
            dot = name.rfind(".")
            if dot < 0 or "/" in name:
                continue
            kind = kind_by_extension(name[dot:])
            if kind is None or (kind == _JSON and not name.endswith(".safetensors.index.json")):
                continue
        if kind == _SAFETENSORS or kind == _JSON:  # weights, or the index of sharded weights
            has_weights = has_weights or kind == _SAFETENSORS
            size = f.size
            if size is not None:
                weights[name] = f.path
                sizes[name] = size
                if f.content is not None:
                    contents[name] = (*f.content, size)
        elif kind == _TOKENIZER:
            has_tokenizer = True
        elif kind == _CONFIG:
            config_entry = f
        elif kind == _OTHER_WEIGHTS:
            has_weights = True
        elif kind == _CODE:
            remote_code.append(name)
        else:
            has_model_card = True
    if config_entry is None:
        ckpt.problems.append("no config.json: the Auto classes cannot resolve this checkpoint")
    elif config_entry.size is None:
        # The listing has already said why when config.json is there but is no regular file (a FIFO, a link loop).
        if not any(p.startswith("config.json:") for p in ckpt.problems):
            ckpt.problems.append("config.json is missing its content (broken link or interrupted download)")
    else:
        config = _read_config(config_entry.path, config_entry.size, ckpt.problems)
        if config is not None:
            model_type = config.get("model_type")
            if isinstance(model_type, str):
                ckpt.model_type = model_type
            elif model_type is not None:
                ckpt.problems.append(f"config.json: model_type should be a string, found {type(model_type).__name__}")
            architectures = config.get("architectures")
            if isinstance(architectures, list):
                ckpt.architectures = [a for a in architectures if isinstance(a, str) and a]
                if len(ckpt.architectures) != len(architectures):
                    ckpt.problems.append("config.json: architectures should list class names; some entries are empty or not text")
            elif architectures is not None:
                ckpt.problems.append("config.json: architectures should be a list of class names")
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
    ckpt.remote_code_files = sorted(remote_code)
    if remote_code:
        ckpt.needs_remote_code = True
    ckpt.has_tokenizer = has_tokenizer
    ckpt.has_model_card = has_model_card
    summary = summarize_safetensors(weights, sizes=sizes, contents=contents, read_once=read_once)
    ckpt.problems.extend(summary.problems)
    ckpt.num_parameters = summary.num_parameters
    ckpt.dtypes = summary.dtypes
    if not has_weights:
        ckpt.problems.append("no weight files (config only)")
    if not ckpt.size_bytes:
        ckpt.size_bytes = sum(f.size or 0 for f in ckpt.files)
    return ckpt


# --------------------------------------------------------------------------- listing folders


@dataclass(slots=True)
class _Listing:
    """What one pass over a checkpoint folder found; the change detector comes from it too."""

    files: list[CheckpointFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    subfolders: list[str] = field(default_factory=list)  # paths, for the hub fingerprint
    file_stamps: list[tuple] = field(default_factory=list)  # (name, size, mtime_ns), for folders
    latest_mtime: float | None = None
    size_bytes: int = 0  # hub: blobs shared by several names counted once
    folder_mtime_ns: int | None = None  # of the listed folder itself, when the lister had it at hand

    def checkpoint(self, **identity) -> Checkpoint:
        """The Checkpoint record of this listing; ``identity`` gives id, source, path (and revision...)."""
        return Checkpoint(
            files=self.files, problems=self.problems, size_bytes=self.size_bytes, last_modified=self.latest_mtime, **identity
        )


def _link_problem(name: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{display_text(name)}: symbolic link loop"
    if exc.errno == errno.ENOENT:
        return f"{display_text(name)}: broken symbolic link (its target is missing)"
    return f"{display_text(name)}: cannot be read ({exc.strerror or exc})"


def _list_files(folder: str, root_stat: os.stat_result | None = None, max_depth: int = 2, stamped: bool = True) -> _Listing:
    """Files of a checkpoint folder (and its small subfolders), following links safely.

    One stat per file, following links: in a hub snapshot each name is a relative link into
    the repo's blobs/, so this reads the blob's size and mtime directly, and the blob's
    identity (device, inode) lets content shared by several names or revisions be counted
    once, as `hf cache` does. Reading the links themselves is left for when a blob name is
    asked for (CheckpointFile.blob).
    """
    listing = _Listing()
    problems = listing.problems
    files = listing.files
    # Per-file stamps are the change detector of user folders; hub snapshots use folder mtimes.
    stamps = listing.file_stamps if stamped else None
    latest_ns = -1
    counted: set[tuple[int, int]] = set()
    if root_stat is None:
        try:
            root_stat = os.stat(folder)
        except OSError as exc:
            problems.append(f"{display_text(folder)}: cannot be read ({exc.strerror or exc})")
            return listing
    ancestors = [(root_stat.st_dev, root_stat.st_ino)]
    is_dir_mode = stat_module.S_ISDIR
    is_regular_mode = stat_module.S_ISREG

    def walk(directory: str, prefix: str, depth: int) -> None:
        nonlocal latest_ns
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            problems.append(f"{display_text(prefix) or display_text(directory)}: cannot list folder ({exc.strerror or exc})")
            return
        for entry in entries:
            entry_name = entry.name
            name = prefix + entry_name if prefix else entry_name
            if not entry_name.isascii() and _bad_name(entry_name):
                problems.append(f"file name {display_text(name)!r} is not valid UTF-8")
            try:
                st = entry.stat()
            except OSError as exc:
                problems.append(_link_problem(name, exc))
                files.append(CheckpointFile(name, entry.path, None))
                continue
            if is_dir_mode(st.st_mode):
                identity = (st.st_dev, st.st_ino)
                if identity in ancestors:
                    problems.append(f"{display_text(name)}: symbolic link loop; not followed")
                    continue
                if depth >= max_depth or entry_name in SKIPPED_DIR_NAMES or entry_name.startswith("."):
                    continue
                listing.subfolders.append(entry.path)
                if stamps is not None:
                    stamps.append((name + "/", None, st.st_mtime_ns))
                ancestors.append(identity)
                walk(entry.path, name + "/", depth + 1)
                ancestors.pop()
                continue
            if not is_regular_mode(st.st_mode):
                problems.append(f"{display_text(name)}: not a regular file (a FIFO, socket or device); not read")
                files.append(CheckpointFile(name, entry.path, None))
                continue
            size = st.st_size
            mtime_ns = st.st_mtime_ns
            content = (st.st_dev, st.st_ino)
            files.append(CheckpointFile(name, entry.path, size, content))
            if stamps is not None:
                stamps.append((name, size, mtime_ns))
            if mtime_ns > latest_ns:
                latest_ns = mtime_ns
            if content not in counted:
                counted.add(content)
                listing.size_bytes += size

    walk(folder, "", 0)
    del walk  # the recursive closure refers to itself: leave no garbage cycle per listed folder
    files.sort(key=_file_name)
    if latest_ns >= 0:
        listing.latest_mtime = latest_ns / 1e9
    return listing


_STAT_RELATIVE = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd and hasattr(os, "O_DIRECTORY")
_DIR_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_S_IFMT = 0o170000
_S_IFREG = 0o100000


def _list_flat_snapshot(folder: str) -> _Listing | None:
    """A hub snapshot's listing when it is flat (no subfolder), by the cheapest route; None otherwise.

    Hub snapshots are nearly always one folder of links into ../../blobs. Stat-ing each name
    relative to the open folder (fstatat) spares the kernel the long absolute path per file,
    and one flat loop skips the generic walk's name prefixes, stamps and ancestry checks.
    Anything else in the folder (a subfolder, a FIFO, a link to a folder) returns None, and the
    generic ``_list_files`` does the whole folder with its loop and depth handling. A ``folder``
    that is a file raises NotADirectoryError: a stray file among the snapshots is no revision.
    """
    if not _STAT_RELATIVE:
        return None
    try:
        fd = os.open(folder, _DIR_OPEN_FLAGS)
    except NotADirectoryError:
        raise
    except OSError:
        return None
    listing = _Listing()
    files = listing.files
    problems = listing.problems
    counted: set[tuple[int, int]] = set()
    size_bytes = 0
    latest_ns = -1
    prefix = folder + os.sep
    stat = os.stat
    try:
        # The open folder's own mtime (the snapshot's change detector) without another path walk.
        listing.folder_mtime_ns = os.fstat(fd).st_mtime_ns
        # Listed by path, not by the open descriptor: listing a descriptor costs three more system
        # calls (dup, checks, rewind). Sorted as plain strings up front: cheaper than sorting records.
        names = sorted(os.listdir(folder))
        for name in names:
            if not name.isascii() and _bad_name(name):
                problems.append(f"file name {display_text(name)!r} is not valid UTF-8")
            try:
                st = stat(name, dir_fd=fd)
            except OSError as exc:
                problems.append(_link_problem(name, exc))
                files.append(CheckpointFile(name, prefix + name, None))
                continue
            if st.st_mode & _S_IFMT != _S_IFREG:
                return None
            size = st.st_size
            content = (st.st_dev, st.st_ino)
            files.append(CheckpointFile(name, prefix + name, size, content))
            mtime_ns = st.st_mtime_ns
            if mtime_ns > latest_ns:
                latest_ns = mtime_ns
            if content not in counted:
                counted.add(content)
                size_bytes += size
    except OSError:
        return None
    finally:
        os.close(fd)
    listing.size_bytes = size_bytes
    if latest_ns >= 0:
        listing.latest_mtime = latest_ns / 1e9
    return listing


def _file_name(entry: CheckpointFile) -> str:
    return entry.name


def _bad_name(name: str) -> bool:
    try:
        name.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


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
            if location.kind == SOURCE_FOLDER:
                producer = self._scan_folder(location, cancel, stats, new_cache)
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
            checkpoints.append(ckpt)
        repo_size = _repo_size(checkpoints)
        for ckpt in checkpoints:
            ckpt.repo_size_bytes = repo_size
        return checkpoints

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
            if _looks_like_checkpoint(folder, names):
                yield self._folder_checkpoint(folder, st, stats, new_cache)
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

    def _folder_checkpoint(self, folder: str, folder_stat: os.stat_result, stats: ScanStats, new_cache) -> Checkpoint:
        listing = _list_files(folder, folder_stat, max_depth=1)
        fingerprint = (folder_stat.st_mtime_ns, tuple(sorted(listing.file_stamps, key=repr)))
        ckpt = self._reuse(folder, fingerprint, stats, new_cache)
        if ckpt is not None:
            return ckpt
        ckpt = listing.checkpoint(id=display_text(os.path.basename(os.path.normpath(folder)) or folder), source=SOURCE_FOLDER, path=folder)
        describe_checkpoint(ckpt, self.check_model_type)
        self._remember(new_cache, folder, fingerprint, ckpt, (folder_stat.st_mtime_ns, *(stamp[2] for stamp in listing.file_stamps)))
        return ckpt


def _looks_like_checkpoint(folder: str, names: set[str]) -> bool:
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
