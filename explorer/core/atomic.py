"""Write a file so that readers see the old content or the new one, never half of it."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

# A temporary file whose writer left no trace of being alive (no pid in its name: written by an
# older version of the app) is someone's leftover after this long.
_NAMELESS_LEFTOVER_AGE_S = 3600.0


def write_bytes_atomically(target: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary file in the same folder, then rename it over the target.

    ``durable`` fsyncs the file before the rename and the folder after it, for records
    (settings, consent); a cache that can be rebuilt skips both (a torn write after a power
    loss must then be detected by its reader). A process killed mid-write leaves only its
    temporary file, named with its pid; the next write removes the ones of dead writers.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f"{_temporary_prefix(target)}{os.getpid()}-", suffix=target.suffix, dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    if durable:
        _sync_folder(target.parent)
    remove_leftovers(target)


def write_text_atomically(target: Path, text: str) -> None:
    """UTF-8 text written durably and atomically (see write_bytes_atomically)."""
    write_bytes_atomically(target, text.encode("utf-8"))


def _temporary_prefix(target: Path) -> str:
    return f".{target.stem}-"


def _sync_folder(folder: Path) -> None:
    """The rename itself survives a power loss only once the folder's entry is on disk (POSIX)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _writer_is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing right now
    if os.name != "posix":
        return True  # os.kill would terminate the process on Windows; age decides there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def remove_leftovers(target: Path) -> list[Path]:
    """Delete temporary files of ``target`` that writers killed mid-write left behind; the removed paths.

    A file stays while its writer may still be running (its pid is alive), so a concurrent
    writer's rename never loses its file. Errors are ignored: this is tidying, not writing.
    """
    prefix = _temporary_prefix(target)
    with_pid = re.compile(re.escape(prefix) + r"(\d+)-[A-Za-z0-9_]+" + re.escape(target.suffix) + r"\Z")
    without_pid = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}" + re.escape(target.suffix) + r"\Z")
    removed: list[Path] = []
    try:
        entries = [name for name in os.listdir(target.parent) if name.startswith(prefix)]
    except OSError:
        return removed
    now = time.time()
    for name in entries:
        path = target.parent / name
        match = with_pid.match(name)
        try:
            if match:
                stale = not _writer_is_alive(int(match.group(1))) or now - path.lstat().st_mtime > _NAMELESS_LEFTOVER_AGE_S
            elif without_pid.match(name):
                stale = now - path.lstat().st_mtime > _NAMELESS_LEFTOVER_AGE_S
            else:
                continue
            if stale:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


MAX_BACKUPS_PER_SECOND = 1000


def file_identity(path: Path) -> tuple | None:
    """What tells one version of a file from another: (device, inode, size, mtime); None when it is gone."""
    try:
        st = path.lstat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _reserve_backup_name(path: Path, kind: str) -> Path:
    """A backup name no other backup has, claimed on disk (O_EXCL), so two never overwrite each other."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for counter in range(1, MAX_BACKUPS_PER_SECOND + 1):
        suffix = "" if counter == 1 else f"-{counter}"
        candidate = path.with_name(f"{path.name}.{kind}-{stamp}{suffix}")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"more than {MAX_BACKUPS_PER_SECOND} backups of {path.name} in one second")


def set_aside(path: Path, identity: tuple | None, kind: str = "corrupt") -> Path | None:
    """Rename an unreadable record (settings, consent) to a fresh backup name; None when it could not be moved.

    A file that changed since it was read (``identity`` from file_identity; another instance
    saved a good one meanwhile) stays where it is.
    """
    if identity is None or file_identity(path) != identity:
        return None
    try:
        aside = _reserve_backup_name(path, kind)
    except OSError:
        return None
    try:
        os.replace(path, aside)  # over the empty placeholder this process just created
    except OSError:
        try:
            os.unlink(aside)
        except OSError:
            pass
        return None
    return aside
