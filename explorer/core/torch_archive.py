"""The pickles inside a torch.save file, taken out with every size bounded, and walked.

A ``.bin`` or ``.pt`` file is a zip archive (torch 1.6 and later: ``<folder>/data.pkl`` plus one
record per storage) or torch's older format (five pickles in a row, then raw storages). Either
way the pickles are read through ``safe_io`` (no FIFO blocks), with bounded sizes: a zip member's
inflated size (a 2 MB zip can hold a 2 GiB ``data.pkl``), the zip's central directory, the
bytes of the older format's pickles. Every pickle is walked by ``pickle_scan`` (what it would
import and call) before anyone unpickles it. The zip's structure is checked as torch's own zip
reader (miniz) checks it, so a file accepted here is one torch opens.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from explorer.core.pickle_scan import (
    DamagedPickleError, PickleScanError, PickleWalk, UnsafePickleError, is_safe_global, printable_name, walk_pickle,
)
from explorer.core.safe_io import UnreadableFile, human_size, open_regular

# A data.pkl holds names, shapes and storage keys: a few MB for the largest models.
MAX_PICKLE_BYTES = 64 * 1024 * 1024
# One central-directory entry per stored tensor, about 100 bytes each: 16 MiB is 150k+ tensors.
MAX_CENTRAL_DIRECTORY = 16 * 1024 * 1024
MAX_PICKLE_MEMBERS = 16
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass(slots=True)
class TorchPickles:
    main: bytes
    main_opcodes: set[str]
    storage_sizes: dict[str, int] | None  # zip: storage key -> record size; legacy files: not checked


# The opcodes torch's weights-only loader (what transformers loads .bin files with) accepts:
# a pickle using any other is not a loadable state dict, and the unpickler's other paths stay unused.
TORCH_OPCODES = frozenset({
    "PROTO", "STOP", "GLOBAL", "NEWOBJ", "REDUCE", "BUILD", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "MARK",
    "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "NONE", "NEWFALSE", "NEWTRUE", "EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT",
    "EMPTY_SET", "BININT", "BININT1", "BININT2", "BINFLOAT", "BINUNICODE", "SHORT_BINSTRING", "BINPERSID", "BINGET",
    "LONG_BINGET", "BINPUT", "LONG_BINPUT", "LONG1",
})


@dataclass(frozen=True, slots=True)
class _Directory:
    entries: int
    size: int
    offset: int  # where the end-of-archive record says the directory starts
    end: int  # where the directory actually ends: its end record (zip64's, when there is one)


def _zip_directory(handle: BinaryIO, size: int) -> _Directory | None:
    """The central directory as the end-of-archive record describes it (zip64 too); None without one."""
    tail_length = min(size, 22 + 0xFFFF)
    handle.seek(size - tail_length)
    tail = handle.read(tail_length)
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    disk, directory_disk, entries_here, entries, directory, offset = struct.unpack_from("<HHHHII", tail, at + 4)
    if disk or directory_disk or entries_here != entries:
        return _Directory(-1, -1, -1, -1)  # spread over several disks: neither zipfile nor miniz reads those
    end = size - tail_length + at
    locator = at - 20
    # A zip64 locator right before the end record: its record's values stand (as zipfile and miniz read them).
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        record_at = struct.unpack_from("<Q", tail, locator + 8)[0]
        if record_at + 56 <= size:
            handle.seek(record_at)
            record = handle.read(56)
            if record[:4] == b"PK\x06\x06":
                entries, directory, offset = struct.unpack_from("<QQQ", record, 32)
                end = record_at
    return _Directory(entries, directory, offset, end)


def _check_directory(handle: BinaryIO, directory: _Directory, label: str) -> None:
    """As miniz checks it: the directory lies where it says, and its entries fill it exactly.

    zipfile forgives an entry whose name or extra lengths run past the directory (it reads what
    is there); torch's zip reader refuses such an archive, so this reader does too.
    """
    if directory.offset + directory.size != directory.end:
        raise DamagedPickleError(f"{label} is damaged: its zip directory is not where the archive says; not read")
    handle.seek(directory.offset)
    data = handle.read(directory.size)
    at = count = 0
    while at < len(data):
        if data[at : at + 4] != b"PK\x01\x02" or at + 46 > len(data):
            break
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, at + 28)
        at += 46 + name_length + extra_length + comment_length
        count += 1
    if len(data) != directory.size or at != directory.size or count != directory.entries:
        raise DamagedPickleError(f"{label} is damaged: its zip directory does not hold the {directory.entries:,} entries it says; not read")


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")


def _shown(info: zipfile.ZipInfo) -> str:
    """An entry's name for a message: the archive chose it, so control characters are escaped and length cut."""
    return printable_name(info.filename[:60])


def _cut_short(label: str) -> DamagedPickleError:
    return DamagedPickleError(f"{label} is cut short (a truncated download?)")


def _read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    too_big = (
        f"{label}: its {_shown(info)} would inflate to more than {human_size(MAX_PICKLE_BYTES)}, far more than a "
        "checkpoint's pickle holds (a zip bomb?); not read"
    )
    if info.file_size > MAX_PICKLE_BYTES:
        raise DamagedPickleError(too_big)
    # The header's size can lie: the read itself stops one chunk past the bound. Chunks, because
    # zipfile inflates as much as one read asks for before it cuts to the declared size.
    chunks: list[bytes] = []
    total = 0
    with archive.open(info) as member:
        while chunk := member.read(1024 * 1024):
            total += len(chunk)
            if total > MAX_PICKLE_BYTES:
                raise DamagedPickleError(too_big)
            chunks.append(chunk)
    return b"".join(chunks)


def _check_local_headers(handle: BinaryIO, infos: list[zipfile.ZipInfo], size: int, label: str) -> None:
    """Every entry's own header is where the directory says, names it, and its data fits the file.

    torch reads every storage record and checks each header as it does; zipfile checks only the
    entries it opens, which here are just the pickles.
    """
    for info in infos:
        # Encrypted, patch data, strongly encrypted, masked headers (bits 0, 5, 6, 13): miniz, torch's zip reader, refuses them.
        if info.flag_bits & 0x2061 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DamagedPickleError(f"{label}: the entry {_shown(info)} is encrypted or compressed in a way torch cannot read; not read")
        if (info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size) or (info.file_size and not info.compress_size):
            raise DamagedPickleError(f"{label} is damaged: the entry {_shown(info)} gives sizes that do not agree; not read")
        if info.volume:
            raise DamagedPickleError(f"{label} is damaged: the entry {_shown(info)} says it lies on another disk; not read")
        if info.external_attr & 0x10 and not info.filename.endswith("/"):  # miniz reads the DOS folder bit too
            raise DamagedPickleError(f"{label} is damaged: the entry {_shown(info)} is marked as a folder; not read")
        handle.seek(info.header_offset)
        header = handle.read(30)
        if len(header) < 30:
            raise _cut_short(label)
        if header[:4] != b"PK\x03\x04":
            raise DamagedPickleError(f"{label} is damaged: the entry {_shown(info)} is not where its archive says; not read")
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        name = handle.read(name_length)
        if name != _raw_name(info):
            raise DamagedPickleError(f"{label} is damaged: the entry {_shown(info)} has another name in its own header; not read")
        if info.header_offset + 30 + name_length + extra_length + info.compress_size > size:
            raise _cut_short(label)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_FORMAT_RECORDS = (
    ("version", lambda value: value.strip().isdigit()),
    (".data/version", lambda value: value.strip().isdigit()),
    (".format_version", lambda value: len(value) <= 16),
    ("byteorder", lambda value: value in (b"little", b"big")),
    (".storage_alignment", lambda value: value.strip().isdigit()),
    (".data/serialization_id", _is_utf8),
)


def _check_format_records(archive: zipfile.ZipFile, folder: str, label: str) -> None:
    """The small records torch.load reads before the pickle hold what it accepts."""
    names = set(archive.namelist())
    for record, accepted in _FORMAT_RECORDS:
        if folder + record in names:
            info = archive.getinfo(folder + record)
            value = archive.read(info) if info.file_size <= 256 else None
            if value is None or not accepted(value):
                raise DamagedPickleError(f"{label}: its {record} record holds what torch does not accept; not read")


def _read_zip(handle: BinaryIO, size: int, label: str, walk: PickleWalk) -> TorchPickles:
    directory = _zip_directory(handle, size)
    if directory is None:
        raise _cut_short(label)
    if directory.entries < 0:
        raise DamagedPickleError(f"{label} is damaged: its zip directory says the archive spans several disks; not read")
    if directory.size > MAX_CENTRAL_DIRECTORY:
        raise DamagedPickleError(
            f"{label}: its zip directory is {human_size(directory.size)}, more than the {human_size(MAX_CENTRAL_DIRECTORY)} a checkpoint needs; not read"
        )
    _check_directory(handle, directory, label)
    handle.seek(0)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, EOFError, struct.error) as exc:
        raise DamagedPickleError(f"{label} is damaged or cut short (a truncated download?): {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) != directory.entries:
            raise DamagedPickleError(f"{label} is damaged: its zip directory does not hold the {directory.entries:,} entries it says; not read")
        _check_local_headers(handle, infos, size, label)
        if not infos:
            raise DamagedPickleError(f"{label}: an empty zip archive, not a torch checkpoint")
        # torch reads the records under the folder of the archive's first entry.
        folder = infos[0].filename.split("/", 1)[0] + "/"
        main_name = folder + "data.pkl"
        mains = [info for info in infos if info.filename == main_name]
        if not mains:
            mains = [info for info in infos if info.filename.endswith("/data.pkl") or info.filename == "data.pkl"][:1]
            if not mains:
                raise DamagedPickleError(f"{label}: zip archive without data.pkl (not a torch checkpoint)")
            main_name = mains[0].filename
            folder = main_name[: -len("data.pkl")]
        if len(mains) > 1:
            raise DamagedPickleError(f"{label} holds {_shown(mains[0])} twice; which one torch would read is not defined; not read")
        pickles = [info for info in infos if info.filename.endswith(".pkl")]
        if len(pickles) > MAX_PICKLE_MEMBERS:
            raise DamagedPickleError(f"{label} holds {len(pickles)} pickles; a torch checkpoint holds one; not read")
        main, main_opcodes = b"", set()
        try:
            for info in pickles:
                data = _read_zip_member(archive, info, label)
                member_label = f"{label}: {_shown(info)}" if info is not mains[0] else label
                walk_pickle(io.BytesIO(data), member_label, walk)
                if info is mains[0]:
                    main, main_opcodes = data, walk.opcode_names
            _check_format_records(archive, folder, label)
        except (zipfile.BadZipFile, EOFError, struct.error, OSError) as exc:
            raise DamagedPickleError(f"{label} is damaged or cut short (a truncated download?): {exc}") from None
        except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encryption
            raise DamagedPickleError(f"{label}: a zip archive torch cannot read ({exc})") from None
        except Exception as exc:  # zlib.error and other decompressor failures
            if isinstance(exc, UnreadableFile):
                raise
            raise DamagedPickleError(f"{label} is damaged ({type(exc).__name__}: {exc})") from None
        prefix = folder + "data/"
        sizes = {info.filename[len(prefix) :]: info.file_size for info in infos if info.filename.startswith(prefix)}
    return TorchPickles(main=main, main_opcodes=main_opcodes, storage_sizes=sizes)


class _BoundedStream:
    """A file read from its start for at most ``limit`` bytes: the pickles of an older torch file."""

    def __init__(self, handle: BinaryIO, size: int, limit: int, label: str) -> None:
        self._handle, self._size, self._left, self._label, self._limit = handle, size, limit, label, limit

    def _allow(self, wanted: int) -> int:
        in_file = self._size - self._handle.tell()
        if wanted > self._left and in_file > self._left:
            raise DamagedPickleError(
                f"{self._label}: its pickle runs past {human_size(self._limit)}, far more than a checkpoint's pickle holds; not read"
            )
        # Never more than the file holds: a read allocates what it is asked for before it reads.
        return max(0, min(wanted, self._left, in_file))

    def read(self, n: int = -1) -> bytes:
        data = self._handle.read(self._allow(self._left + 1 if n is None or n < 0 else n))
        self._left -= len(data)
        return data

    def readline(self, n: int = -1) -> bytes:
        line = self._handle.readline(min(self._left + 1, max(1, self._size - self._handle.tell())))
        if len(line) > self._left:
            raise DamagedPickleError(
                f"{self._label}: its pickle runs past {human_size(self._limit)}, far more than a checkpoint's pickle holds; not read"
            )
        self._left -= len(line)
        return line

    def tell(self) -> int:
        return self._handle.tell()


def _read_legacy(handle: BinaryIO, size: int, label: str, walk: PickleWalk) -> TorchPickles:
    """Before torch 1.6: pickles of the magic number, the protocol, sys info, the object, the storage keys; then raw data."""
    stream = _BoundedStream(handle, size, MAX_PICKLE_BYTES, label)
    try:
        first = walk_pickle(stream, label, walk)
    except PickleScanError:
        if any(not is_safe_global(*key) for key in walk.found):
            raise UnsafePickleError(dangerous_message(label, walk)) from None
        raise DamagedPickleError(f"{label} is not a PyTorch checkpoint (neither a zip archive nor a pickle)") from None
    if first.lone_int != LEGACY_MAGIC:
        if any(not is_safe_global(*key) for key in walk.found):
            raise UnsafePickleError(dangerous_message(label, walk))
        raise DamagedPickleError(f"{label} is not a PyTorch checkpoint (neither a zip archive nor torch's older format)")
    walk_pickle(stream, label, walk)  # protocol version
    walk_pickle(stream, label, walk)  # sys info
    start = stream.tell()
    end = walk_pickle(stream, label, walk).end
    main_opcodes = walk.opcode_names
    walk_pickle(stream, label, walk)  # storage keys: torch unpickles them too
    handle.seek(start)
    return TorchPickles(main=handle.read(end - start), main_opcodes=main_opcodes, storage_sizes=None)


def dangerous_message(label: str, walk: PickleWalk) -> str:
    names = [f"{module}.{name}" for module, name in walk.found if not is_safe_global(module, name)]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{label}: refers to {shown}, which a plain state dict never needs (not run)"


def read_torch_pickles(path: str, label: str, walk: PickleWalk) -> TorchPickles:
    """The pickles of a torch.save file, each walked into ``walk``; UnreadableFile (subclasses) on any trouble."""
    with open_regular(path, label) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            # As torch decides: a zip archive when the file starts with a zip entry, torch's older format otherwise.
            if handle.read(4) == b"PK\x03\x04":
                return _read_zip(handle, size, label, walk)
            handle.seek(0)
            return _read_legacy(handle, size, label, walk)
        except OSError as exc:
            raise DamagedPickleError(f"{label} cannot be read ({exc.strerror or type(exc).__name__})") from None


__all__ = [
    "LEGACY_MAGIC",
    "MAX_CENTRAL_DIRECTORY",
    "MAX_PICKLE_BYTES",
    "TORCH_OPCODES",
    "TorchPickles",
    "dangerous_message",
    "read_torch_pickles",
]
