"""Listing checkpoint folders: one stat per file through links, loops and FIFOs named, change stamps kept.

Used by the scan (``explorer.core.discovery``); see its docstring for what a scan costs.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from dataclasses import dataclass, field

from explorer.core.checkpoint import Checkpoint, CheckpointFile, display_text

SKIPPED_DIR_NAMES = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".locks", ".no_exist"})


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


