"""Digests already computed, remembered by (device, inode, size, mtime_ns), so an unchanged file is hashed once.

Verifying a cache of hundreds of gigabytes takes minutes to hours; doing it again after adding
one model should cost the new model only. A file whose size or modification time changed has
another key and is hashed again. Same-size corruption that also keeps the mtime (bit rot under
the file system) is not seen from memory: ``recheck`` in verify reads everything again.

The file is the app's own, in its cache folder. Like the scan index it is JSON behind a header
carrying a digest of the rest, each row checked on load: a file cut short, edited or written by
something else is ignored as a whole (and replaced at the next save), never trusted in part.
It is bounded: the most recently checked entries are kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from pathlib import Path

from explorer.core.atomic import write_bytes_atomically
from explorer.core.hashing import GIT_SHA1, SHA256, Identity, is_hex
from explorer.core.paths import cache_dir
from explorer.core.safe_io import UnreadableFile, parse_json, read_bounded

FORMAT = 1
MAX_ENTRIES = 200_000  # about 25 MB of JSON: far more blobs than a large cache holds
MAX_FILE_BYTES = 64 * 1024 * 1024
# A file modified this recently may change again within the same mtime tick, unseen: not remembered (as git does).
RACY_NS = 2_000_000_000
_LARGEST = 2**64 - 1
_DIGEST_LENGTHS = {SHA256: 64, GIT_SHA1: 40}


def hash_memory_file() -> Path:
    return cache_dir() / "hash-memory.json"


class HashMemory:
    """Thread-safe: the window may verify and look for duplicates at the same time, on one memory."""

    def __init__(self, path: str | os.PathLike | None = None, max_entries: int = MAX_ENTRIES) -> None:
        self.path = Path(path) if path is not None else None
        self.max_entries = max_entries
        # identity -> [sha256 | None, git sha1 | None, when it was checked (unix seconds)]
        self._entries: dict[Identity, list] = {}
        self._loaded = path is None
        self._ignored_file = False
        self._changed = False
        self._lock = threading.RLock()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, max_entries: int = MAX_ENTRIES) -> HashMemory:
        """The memory saved at ``path`` (default: the app's cache folder); empty when absent or untrusted.

        Read when first used, not here: the window creates one for its session on the GUI thread,
        and the first job using it reads the file in its worker.
        """
        return cls(hash_memory_file() if path is None else path, max_entries)

    def _ensure_loaded(self) -> None:
        with self._lock:
            if not self._loaded:
                self._loaded = True
                entries, trusted = _read(self.path)
                self._entries.update(entries)
                self._ignored_file = not trusted

    @property
    def ignored_file(self) -> bool:
        """True when a file was there but could not be trusted (it is replaced at the next save)."""
        self._ensure_loaded()
        return self._ignored_file

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)

    def digest(self, identity: Identity, algorithm: str) -> str | None:
        self._ensure_loaded()
        with self._lock:
            entry = self._entries.get(identity)
        if entry is None:
            return None
        return entry[0] if algorithm == SHA256 else entry[1]

    def remember(self, identity: Identity, digests: dict[str, str], read_started_ns: int | None = None) -> bool:
        """Keep ``digests`` for this version of the file; False when it was modified too recently to trust its mtime."""
        started = time.time_ns() if read_started_ns is None else read_started_ns
        if identity[3] >= started - RACY_NS:
            return False
        self._ensure_loaded()
        with self._lock:
            entry = self._entries.get(identity) or [None, None, 0.0]
            entry = [digests.get(SHA256, entry[0]), digests.get(GIT_SHA1, entry[1]), time.time()]
            self._entries[identity] = entry
            self._changed = True
        return True

    def save(self) -> str | None:
        """Write what was learnt, merged with what another process saved meanwhile; a message when it failed."""
        if self.path is None:
            return None
        with self._lock:
            if not self._changed:
                return None
            on_disk, _ = _read(self.path)
            on_disk.update(self._entries)
            entries = on_disk
            if len(entries) > self.max_entries:
                newest = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[: self.max_entries]
                entries = dict(newest)
            self._entries = entries
            rows = [[*identity, *entry] for identity, entry in entries.items()]
            data = json.dumps(rows, separators=(",", ":")).encode("ascii")
            header = json.dumps({"format": FORMAT, "sha256": hashlib.sha256(data).hexdigest()}).encode("ascii")
            try:
                # Not fsync-ed: losing it costs hashing again, and the digest rejects a torn write.
                write_bytes_atomically(self.path, header + b"\n" + data, durable=False)
            except OSError as exc:
                return f"what was verified could not be remembered ({exc.strerror or exc}); the next run hashes it again"
            self._changed = False
            self._ignored_file = False
        return None


def _read(path: Path | None) -> tuple[dict[Identity, list], bool]:
    """(entries, trusted): an absent file is trusted and empty; anything not as save() writes it is neither."""
    if path is None:
        return {}, True
    try:
        raw = read_bounded(path, "the hash memory", MAX_FILE_BYTES)
    except UnreadableFile as exc:
        return {}, exc.missing
    try:
        header_line, newline, data = raw.partition(b"\n")
        header = parse_json(header_line, "the hash memory") if newline else None
        if type(header) is not dict or header.get("format") != FORMAT or header.get("sha256") != hashlib.sha256(data).hexdigest():
            return {}, False
        rows = parse_json(data, "the hash memory", max_depth=2)
    except UnreadableFile:
        return {}, False
    if type(rows) is not list:
        return {}, False
    entries: dict[Identity, list] = {}
    for row in rows:
        if not _valid_row(row):
            return {}, False
        entries[tuple(row[:4])] = row[4:]
    return entries, True


def _valid_row(row) -> bool:
    if type(row) is not list or len(row) != 7:
        return False
    device, inode, size, mtime_ns, sha256, git_sha1, checked = row
    if any(type(n) is not int or not 0 <= n <= _LARGEST for n in (device, inode, size)) or type(mtime_ns) is not int or abs(mtime_ns) >= 2**63:
        return False
    if sha256 is None and git_sha1 is None:
        return False
    for value, algorithm in ((sha256, SHA256), (git_sha1, GIT_SHA1)):
        if value is not None and (type(value) is not str or not is_hex(value, _DIGEST_LENGTHS[algorithm])):
            return False
    return type(checked) in (int, float) and math.isfinite(checked)




def save_into(memory: "HashMemory | None", problems: list[str]) -> None:
    """Save what a job learnt (when it had a memory), a failure said among the job's ``problems``."""
    if memory is not None:
        problem = memory.save()
        if problem:
            problems.append(problem)


__all__ = ["HashMemory", "hash_memory_file", "save_into"]
