"""Hash a file's content at the disk's speed, checking a CancelToken between reads.

Shared by verify (is a blob what its name says?) and duplicates (which files hold the same
content?). One read loop into a reused buffer: no allocation per chunk, and hashlib releases the
interpreter lock on chunks this large, so the window stays responsive while a worker hashes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from typing import Generator

from explorer.core.jobs import CancelToken
from explorer.core.safe_io import OPEN_FLAGS, UnreadableFile

SHA256 = "sha256"
GIT_SHA1 = "git-sha1"  # sha1(b"blob <size>\0" + content): how git, and the hub's cache, name small files
ALGORITHMS = (SHA256, GIT_SHA1)

# Large enough that a read costs little next to hashing it, small enough to cancel within milliseconds.
CHUNK_BYTES = 4 << 20
# Reading a file must not change its access time: the cache view's "last used" comes from it.
_NOATIME = getattr(os, "O_NOATIME", 0)
_HEX = frozenset("0123456789abcdef")

Identity = tuple[int, int, int, int]  # (device, inode, size, mtime_ns): one version of one file


def identity_of(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def is_hex(text: str, length: int) -> bool:
    return len(text) == length and _HEX.issuperset(text)


def expected_digest(blob_name: str) -> tuple[str, str] | None:
    """(algorithm, digest) that a blob named ``blob_name`` must hash to; None when the name is no content hash.

    The hub names a blob by its ETag: the sha256 of an LFS file (64 hex digits), the git sha1 of
    any other (40). Ollama names its blobs ``sha256-<64 hex digits>``.
    """
    name = blob_name.lower()
    if name.startswith(("sha256-", "sha256:")):
        name = name[7:]
        return (SHA256, name) if is_hex(name, 64) else None
    if is_hex(name, 64):
        return SHA256, name
    if is_hex(name, 40):
        return GIT_SHA1, name
    return None


def open_for_hashing(path: str) -> tuple[int, os.stat_result]:
    """A descriptor of a regular file, opened without touching its access time where the system allows it."""
    label = os.path.basename(path) or path
    fd = None
    if _NOATIME:
        try:
            fd = os.open(path, OPEN_FLAGS | _NOATIME)
        except PermissionError:
            fd = None  # O_NOATIME is for the file's owner only
        except FileNotFoundError:
            raise UnreadableFile(f"{label} does not exist (or is a broken link)", missing=True) from None
        except OSError as exc:
            raise UnreadableFile(f"{label} cannot be opened ({exc.strerror or exc})") from None
    if fd is None:
        try:
            fd = os.open(path, OPEN_FLAGS)
        except FileNotFoundError:
            raise UnreadableFile(f"{label} does not exist (or is a broken link)", missing=True) from None
        except OSError as exc:
            raise UnreadableFile(f"{label} cannot be opened ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise UnreadableFile(f"{label} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnreadableFile(f"{label} is not a regular file (a folder, FIFO, socket or device); not read")
    return fd, st


@dataclass(frozen=True, slots=True)
class Hashed:
    digests: dict[str, str]  # algorithm -> lowercase hex digest
    identity: Identity  # of the version that was read (unchanged from open to end)
    size: int


class Reader:
    """One buffer reused for every file a job hashes (a job hashes one file at a time)."""

    def __init__(self, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._buffer = bytearray(chunk_bytes)
        self._view = memoryview(self._buffer)

    def hash_file(self, path: str, algorithms: tuple[str, ...], cancel: CancelToken) -> Generator[int, None, Hashed]:
        """Yields the bytes read by each chunk; returns the digests. UnreadableFile when it cannot be read
        whole, or changed while it was read (the digests would then be of no version of it)."""
        label = os.path.basename(path) or path
        fd, st = open_for_hashing(path)
        try:
            hashers = [(_new_hasher(a, st.st_size), a) for a in algorithms]
            updates = [h.update for h, _ in hashers]
            if hasattr(os, "posix_fadvise"):
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)  # a larger read-ahead
                except OSError:
                    pass
            view, readinto = self._view, os.readv
            buffers = [self._buffer]
            total = 0
            while True:
                cancel.raise_if_cancelled()
                try:
                    count = readinto(fd, buffers)
                except OSError as exc:
                    raise UnreadableFile(f"{label} cannot be read ({exc.strerror or exc})") from None
                if not count:
                    break
                chunk = view[:count] if count < len(view) else view
                for update in updates:
                    update(chunk)
                total += count
                yield count
            try:
                after = os.fstat(fd)
            except OSError as exc:
                raise UnreadableFile(f"{label} cannot be read ({exc.strerror or exc})") from None
        finally:
            os.close(fd)
        if total != st.st_size or identity_of(after) != identity_of(st):
            raise UnreadableFile(f"{label} changed while it was read; verify it again once it is settled")
        return Hashed({a: h.hexdigest() for h, a in hashers}, identity_of(st), total)


def _new_hasher(algorithm: str, size: int):
    if algorithm == SHA256:
        return hashlib.sha256()
    if algorithm == GIT_SHA1:
        hasher = hashlib.sha1(usedforsecurity=False)
        hasher.update(b"blob %d\0" % size)
        return hasher
    raise ValueError(f"unknown algorithm {algorithm}")


def sample_key(path: str, size: int, span: int = 1 << 16) -> bytes:
    """A digest of a file's first, middle and last ``span`` bytes: files of one size that differ almost
    always differ there (two fine-tunes of one model share their header, not their last bytes)."""
    fd, st = open_for_hashing(path)
    try:
        hasher = hashlib.sha256()
        for offset in sorted({0, max(0, size // 2 - span // 2), max(0, size - span)}):
            hasher.update(os.pread(fd, span, offset))
    except OSError as exc:
        raise UnreadableFile(f"{os.path.basename(path)} cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if st.st_size != size:
        raise UnreadableFile(f"{os.path.basename(path)} changed since it was listed")
    return hasher.digest()


__all__ = ["ALGORITHMS", "CHUNK_BYTES", "GIT_SHA1", "SHA256", "Hashed", "Identity", "Reader", "expected_digest", "identity_of", "sample_key"]
