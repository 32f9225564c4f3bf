"""One rule for every reader of a file the app finds on disk, and of its own records.

Checkpoints and caches come from anywhere: a file may be a FIFO or a device under a model
file's name, hundreds of megabytes where kilobytes are expected, JSON nested a hundred
thousand levels deep, or numbers with thousands of digits. Every reader in ``explorer.core``
goes through the functions here, so that each of them:

- never blocks: files are opened non-blocking and must be regular files;
- reads a bounded number of bytes, said in the message when a file is larger;
- accepts bounded nesting and a bounded number of values, checked without recursion;
- raises one error type, ``UnreadableFile``, whose text is one line for the user.

Any other exception escaping a reader is a bug (the fuzz tests in ``tests/core`` hold them to it).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from typing import Any, BinaryIO, Iterator

# Never block on a FIFO, socket or device that someone named like a model file.
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

# Real configs nest a handful of levels (a quantization config's groups, a composite model's
# sub-configs); a hundred leaves room for anything legitimate and stays far from Python's
# recursion limit in every walk that comes after the parse.
MAX_JSON_DEPTH = 100
MESSAGE_LIMIT = 300


class UnreadableFile(ValueError):
    """A file could not be read safely or is not what its name says.

    ``str(error)`` is one line for the user: which file, what is wrong with it. ``missing``
    is true when there was no file at all, which callers often word differently.
    """

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(one_line(message))
        self.missing = missing


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Whitespace and line breaks collapsed, cut at ``limit`` characters: a message fits a status line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def open_regular_fd(path: str | os.PathLike, label: str) -> tuple[int, os.stat_result]:
    """A descriptor of a regular file, opened without blocking, and its stat.

    FIFOs, sockets, devices and folders are refused before any read. The caller closes the descriptor.
    """
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        raise UnreadableFile(f"{label} does not exist (or is a broken link)", missing=True) from None
    except OSError as exc:
        raise UnreadableFile(f"{label} cannot be opened ({_os_reason(exc)})") from None
    try:
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise UnreadableFile(f"{label} cannot be read ({_os_reason(exc)})") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnreadableFile(f"{label} is not a regular file (a folder, FIFO, socket or device); not read")
    return fd, st


def read_bounded(path: str | os.PathLike, label: str, limit: int) -> bytes:
    """The whole content of a regular file of at most ``limit`` bytes; UnreadableFile otherwise."""
    fd, st = open_regular_fd(path, label)
    try:
        if st.st_size > limit:
            raise UnreadableFile(f"{label} is {human_size(st.st_size)}, more than the {human_size(limit)} such a file can sensibly hold; not read")
        parts: list[bytes] = []
        remaining = limit + 1  # one byte more shows a file that grew since the stat
        # os.read allocates what it is asked for: ask for the size the stat gave, then small chunks.
        request = st.st_size + 1
        while remaining > 0:
            try:
                part = os.read(fd, min(remaining, request))
                request = 1 << 20
            except OSError as exc:
                raise UnreadableFile(f"{label} cannot be read ({_os_reason(exc)})") from None
            if not part:
                break
            parts.append(part)
            remaining -= len(part)
    finally:
        os.close(fd)
    data = b"".join(parts)
    if len(data) > limit:
        raise UnreadableFile(f"{label} grew past {human_size(limit)} while it was read; not read")
    return data


@contextlib.contextmanager
def open_regular(path: str | os.PathLike, label: str) -> Iterator[BinaryIO]:
    """A binary file object of a regular file (for streaming reads such as hashing); never blocks on open."""
    fd, _st = open_regular_fd(path, label)
    try:
        handle = os.fdopen(fd, "rb")
    except OSError as exc:
        os.close(fd)
        raise UnreadableFile(f"{label} cannot be read ({_os_reason(exc)})") from None
    with handle:
        try:
            yield handle
        except OSError as exc:
            raise UnreadableFile(f"{label} cannot be read ({_os_reason(exc)})") from None


def decode_utf8(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{label} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_json(data: bytes | str, label: str, *, max_depth: int | None = MAX_JSON_DEPTH, max_values: int | None = None) -> Any:
    """JSON text parsed as Python's json module parses it, with nesting and size bounded.

    NaN and Infinity are accepted, as transformers' own reader accepts them: whoever uses a
    number must check that it is finite. Integers longer than Python's digit limit, nesting
    deeper than ``max_depth`` and more than ``max_values`` values are refused with a message.
    ``max_depth=None`` is for readers that check the structure field by field and never walk
    the value recursively (safetensors headers): the parser's own recursion limit is bound enough.
    """
    if isinstance(data, bytes):
        data = decode_utf8(data, label)
    try:
        value = json.loads(data)
    except RecursionError:
        raise UnreadableFile(f"{label} is nested too deeply to read (more than {max_depth or 'a few hundred'} levels)") from None
    except ValueError as exc:  # JSONDecodeError, and integers past the digit limit
        if "integer string conversion" in str(exc):
            raise UnreadableFile(f"{label} holds a number with thousands of digits, which no real file needs; not read") from None
        raise UnreadableFile(f"{label} is not valid JSON: {exc}") from None
    # Most files settle both bounds by their text alone: no deeper than their brackets, no more
    # values than characters. Only the others are walked.
    if max_depth is None and max_values is None:
        return value
    depth_bound = max_depth if max_depth is not None else len(data)
    if data.count("{") + data.count("[") > depth_bound or (max_values is not None and len(data) > max_values):
        check_nesting(value, label, max_depth=depth_bound, max_values=max_values)
    return value


def check_nesting(value: Any, label: str, *, max_depth: int = MAX_JSON_DEPTH, max_values: int | None = None) -> None:
    """Refuse parsed JSON deeper than ``max_depth`` or with more than ``max_values`` values, without recursing."""
    if not isinstance(value, (dict, list)):
        return
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        container, depth = pop()
        if depth > max_depth:
            raise UnreadableFile(f"{label} is nested more than {max_depth} levels deep; not read")
        children = container.values() if isinstance(container, dict) else container
        count += len(children)
        if max_values is not None and count > max_values:
            raise UnreadableFile(f"{label} holds more than {max_values:,} values, far more than such a file needs; not read")
        for child in children:
            if isinstance(child, (dict, list)):
                push((child, depth + 1))


def read_json(path: str | os.PathLike, label: str, limit: int, *, max_depth: int = MAX_JSON_DEPTH, max_values: int | None = None) -> Any:
    """read_bounded + parse_json: a JSON file from the disk, under every bound."""
    return parse_json(read_bounded(path, label, limit), label, max_depth=max_depth, max_values=max_values)


def blocking_entries(folder: str | os.PathLike, depth: int = 1) -> list[str]:
    """Names in ``folder`` (and its subfolders, to ``depth``) that are FIFOs, sockets or devices.

    Libraries that open a checkpoint's files by name (transformers, tokenizers, safetensors) do
    so with blocking reads: a FIFO named config.json would make them wait forever. Checked before
    handing a folder to them. Links are followed; broken links are left to the library's own error.
    """
    found: list[str] = []
    pending = [(os.fspath(folder), "", 0)]
    while pending:
        directory, prefix, level = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if level < depth and not entry.name.startswith("."):
                    pending.append((entry.path, prefix + entry.name + "/", level + 1))
            elif not stat.S_ISREG(st.st_mode):
                found.append(prefix + entry.name)
    return sorted(found)


def is_finite_number(value: Any) -> bool:
    """A JSON number that arithmetic and Qt can use: not bool, not NaN or infinite."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value == value and value not in (float("inf"), float("-inf"))


__all__ = [
    "MAX_JSON_DEPTH",
    "blocking_entries",
    "OPEN_FLAGS",
    "UnreadableFile",
    "check_nesting",
    "decode_utf8",
    "human_size",
    "is_finite_number",
    "one_line",
    "open_regular",
    "open_regular_fd",
    "parse_json",
    "read_bounded",
    "read_json",
]
