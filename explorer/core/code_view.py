"""The folder transformers loads a consented checkpoint from: its code copied as approved, the rest linked.

Consent is given to exact bytes: each code file's SHA-256. Handing transformers the
checkpoint's own folder would leave a window between the explorer's check and transformers'
import in which the code can change (someone editing it, a download finishing, an attacker
swapping it), and transformers would run whatever is there then. So the explorer builds a
view of the checkpoint in its own cache folder: every code file is read once, its bytes are
hashed and compared with the record, and exactly those bytes are written into the view;
every other file (config, weights, tokenizer) is a symbolic link to the original. transformers
then imports only code that was approved, and a file changed after consent is refused
before anything is copied.

The view is rebuilt at each use (code files are small) under a name stable per checkpoint and
approved code, so transformers' own module cache is not filled with copies.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from explorer.core import paths
from explorer.core.safe_io import UnreadableFile, read_bounded

MAX_CODE_FILE_BYTES = 16 * 1024 * 1024
MAX_MIRROR_DEPTH = 4


class CodeChanged(PermissionError):
    """A code file no longer has the bytes the user approved; nothing was copied or run."""


def views_dir() -> Path:
    return paths.cache_dir() / "code-views"


def _view_name(checkpoint: str, approved: dict[str, str]) -> str:
    identity = hashlib.sha256((checkpoint + "\0" + "\0".join(f"{k}={v}" for k, v in sorted(approved.items()))).encode("utf-8", "surrogateescape"))
    # transformers names its module package after the folder: keep the checkpoint's name recognisable.
    stem = re.sub(r"[^A-Za-z0-9_]", "_", os.path.basename(checkpoint.rstrip(os.sep)))[:40] or "checkpoint"
    return f"{stem}_{identity.hexdigest()[:12]}"


def _copy_approved_code(checkpoint: str, approved: dict[str, str], into: Path) -> None:
    for name, expected in sorted(approved.items()):
        parts = name.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise CodeChanged(f"the approved code file name {name!r} is not a path inside the checkpoint")
        try:
            data = read_bounded(os.path.join(checkpoint, *parts), name, MAX_CODE_FILE_BYTES)
        except UnreadableFile as exc:
            raise CodeChanged(f"{exc}; allow the code again once it is back") from None
        if hashlib.sha256(data).hexdigest() != expected:
            raise CodeChanged(f"{name} changed since you allowed it; allow it again to run it")
        target = into.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as handle:
            handle.write(data)


def _mirror(source: str, into: Path, code_folders: set[str], prefix: str = "", depth: int = 0) -> None:
    """Link every entry of ``source`` that is not Python code; folders holding approved code are rebuilt."""
    try:
        entries = list(os.scandir(source))
    except OSError:
        return
    for entry in entries:
        relative = prefix + entry.name
        if entry.name.endswith(".py") or entry.name == "__pycache__":
            continue  # code reaches the view only as approved copies
        target = into / entry.name
        if relative in code_folders:
            if depth < MAX_MIRROR_DEPTH:
                target.mkdir(exist_ok=True)
                _mirror(entry.path, target, code_folders, relative + "/", depth + 1)
            continue
        if target.exists():
            continue
        try:
            os.symlink(entry.path, target, target_is_directory=entry.is_dir())
        except OSError:
            continue


def _view_holds(view: Path, approved: dict[str, str]) -> bool:
    """Whether an existing view holds exactly the approved code, byte for byte, and no other code."""
    found: set[str] = set()
    for directory, folders, files in os.walk(view):
        folders[:] = [f for f in folders if not os.path.islink(os.path.join(directory, f))]
        relative = os.path.relpath(directory, view)
        for file_name in files:
            if file_name.endswith(".py"):
                found.add(file_name if relative == "." else f"{relative.replace(os.sep, '/')}/{file_name}")
    if found != set(approved):
        return False
    for name, expected in approved.items():
        try:
            data = read_bounded(view.joinpath(*name.split("/")), name, MAX_CODE_FILE_BYTES)
        except UnreadableFile:
            return False
        if hashlib.sha256(data).hexdigest() != expected:
            return False
    return True


def _code_folders(approved: dict[str, str]) -> set[str]:
    folders: set[str] = set()
    for code_name in approved:
        parts = code_name.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return folders


def build_code_view(checkpoint: str, approved: dict[str, str]) -> str:
    """The view folder of ``checkpoint`` (a real path) with exactly the ``approved`` code (name -> SHA-256).

    The code is always read from the checkpoint and checked against the record, even when a
    view already exists: that read is what makes the copy the approved code. An existing
    view with the same code is kept (another worker may be loading from it right now); only
    its links are refreshed. Raises CodeChanged when a code file differs from what was
    approved or cannot be read.
    """
    base = views_dir()
    base.mkdir(parents=True, exist_ok=True)
    name = _view_name(checkpoint, approved)
    target = base / name
    code_folders = _code_folders(approved)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base))
    try:
        _copy_approved_code(checkpoint, approved, staging)
        for _attempt in range(3):
            if target.is_dir() and _view_holds(target, approved):
                shutil.rmtree(staging, ignore_errors=True)
                _mirror(checkpoint, target, code_folders)
                return str(target)
            if target.exists() or target.is_symlink():
                aside = Path(tempfile.mkdtemp(prefix=f".{name}-old-", dir=base))
                try:
                    os.rename(target, aside / "view")
                except OSError:
                    pass
                shutil.rmtree(aside, ignore_errors=True)
            _mirror(checkpoint, staging, code_folders)
            try:
                os.rename(staging, target)
                return str(target)
            except OSError:
                continue  # another thread put its view in place first: check that one
        raise CodeChanged(f"the code view {target} could not be put in place")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


__all__ = ["CodeChanged", "MAX_CODE_FILE_BYTES", "build_code_view", "views_dir"]
