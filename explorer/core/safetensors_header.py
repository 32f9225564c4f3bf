"""Read safetensors headers (8-byte length + JSON) without touching tensor data.

The format: a little-endian u64 N, then N bytes of JSON mapping tensor names to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header), plus an optional ``__metadata__`` string map. Every header is validated by the
rules the safetensors library applies before it maps a file (``_validated_entries``), so a
count is only given for a file that loads, and a truncated, corrupt or forged header gives a
message (``SafetensorsHeaderError``, an ``UnreadableFile``) instead of a wrong fact.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import os
import re
import stat
import struct
from dataclasses import dataclass, field

from explorer.core.safe_io import OPEN_FLAGS, UnreadableFile, human_size, parse_json

# Bits per element; fp4/fp6 pack below a byte, hence bits rather than bytes.
DTYPE_BITS = {
    "F64": 64, "F32": 32, "F16": 16, "BF16": 16,
    "I64": 64, "I32": 32, "I16": 16, "I8": 8,
    "U64": 64, "U32": 32, "U16": 16, "U8": 8, "BOOL": 8,
    "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8, "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4,
    "C64": 64,
}

# The torch spelling, which is what users see everywhere else.
DTYPE_TORCH_NAMES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu",
    "F6_E2M3": "float6_e2m3", "F6_E3M2": "float6_e3m2", "F4": "float4_e2m1",
    "C64": "complex64",
}

# A header is JSON describing tensors: about 100 bytes per tensor, so a 70B shard's header is
# ~30 KB and a single-file mixture of experts with 20,000 tensors ~2 MB. 32 MiB (some 300,000
# tensors) leaves ample room and keeps parsing under a second and a few hundred MB; the
# safetensors library itself stops at 100 MB.
MAX_HEADER_BYTES = 32 * 1024 * 1024
# safetensors sizes tensors in 64-bit unsigned arithmetic and refuses what overflows it.
_SIZE_LIMIT = 2**64


class SafetensorsHeaderError(UnreadableFile):
    """The file is not a readable safetensors file; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    dtype: str  # torch spelling, e.g. "bfloat16"
    shape: tuple[int, ...]
    file: str  # file name relative to the checkpoint folder
    nbytes: int
    data_offsets: tuple[int, int] = (0, 0)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


_new_object = object.__new__
_SET_TENSOR_FIELDS = tuple(TensorInfo.__dict__[f].__set__ for f in ("name", "dtype", "shape", "file", "nbytes", "data_offsets"))


def new_tensor_info(name: str, dtype: str, shape: tuple[int, ...], file: str, nbytes: int, data_offsets: tuple[int, int]) -> TensorInfo:
    """TensorInfo(...) for already validated fields, at under half the cost of the frozen dataclass's __init__.

    That __init__ goes through object.__setattr__ for each field (it must, to bypass the
    frozen guard); a 70B checkpoint has thousands of tensors, so its headers are built by
    writing the slots directly. The result is an ordinary, equal, immutable TensorInfo.
    """
    info = _new_object(TensorInfo)
    set_name, set_dtype, set_shape, set_file, set_nbytes, set_offsets = _SET_TENSOR_FIELDS
    set_name(info, name)
    set_dtype(info, dtype)
    set_shape(info, shape)
    set_file(info, file)
    set_nbytes(info, nbytes)
    set_offsets(info, data_offsets)
    return info


@dataclass(slots=True)
class SafetensorsHeader:
    path: str
    file_size: int
    header_size: int
    tensors: list[TensorInfo] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def data_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


def _read_raw_header(path: str, label: str, file_size: int | None = None) -> tuple[int, int, bytes]:
    """(file size, header length, header bytes); every failure is a SafetensorsHeaderError.

    ``file_size`` from a listing that already stat-ed the file saves a system call; the
    non-blocking open keeps a FIFO or device under a weight file's name from hanging the read.
    """
    try:
        fd = os.open(path, OPEN_FLAGS)
        try:
            if file_size is None:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise SafetensorsHeaderError(f"{label}: not a regular file")
                file_size = st.st_size
            prefix = os.read(fd, 8)
            if len(prefix) < 8:
                raise SafetensorsHeaderError(f"{label}: file is {file_size} bytes, too short for a safetensors header (truncated?)")
            (header_size,) = struct.unpack("<Q", prefix)
            if header_size > MAX_HEADER_BYTES:
                if 8 + header_size > file_size:
                    raise SafetensorsHeaderError(f"{label}: header length {header_size} is implausible (corrupt file)")
                raise SafetensorsHeaderError(
                    f"{label}: header is {human_size(header_size)}, more than the {human_size(MAX_HEADER_BYTES)} "
                    "any real checkpoint needs (some 300,000 tensors); not read"
                )
            if 8 + header_size > file_size:
                raise SafetensorsHeaderError(
                    f"{label}: header length {header_size} runs past the end of the {file_size}-byte file (truncated or corrupt)"
                )
            raw = os.read(fd, header_size)
            if len(raw) < header_size:
                raw += _read_exactly(fd, header_size - len(raw))
        finally:
            os.close(fd)
    except OSError as exc:
        raise SafetensorsHeaderError(f"{label}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) < header_size:
        raise SafetensorsHeaderError(f"{label}: file ended inside its header (truncated?)")
    return file_size, header_size, raw


def _read_exactly(fd: int, count: int) -> bytes:
    parts = []
    while count > 0:
        part = os.read(fd, min(count, 1 << 24))
        if not part:
            break
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


def _parse_header(raw: bytes, label: str) -> dict:
    try:
        # No walk for nesting: the entries are checked field by field and nothing recurses into them.
        header = parse_json(raw, f"{label}: header", max_depth=None)
    except UnreadableFile as exc:
        raise SafetensorsHeaderError(str(exc)) from None
    if not isinstance(header, dict):
        raise SafetensorsHeaderError(f"{label}: header is not a JSON object")
    return header


def _unsigned(text: str) -> int:
    if text.startswith("-"):
        raise _Negative
    return int(text)


class _Negative(ValueError):
    pass


def _refuse_negative_numbers(raw: bytes, label: str) -> None:
    """Every number of a safetensors header is a size or an offset, which the library reads as unsigned.

    Python reads "-0" as 0, so a negative sign must be found in the text: by a second parse that
    looks at each integer as written, done only when the header holds a minus sign at all (and
    after the validation, whose messages name the tensor for every other negative number).
    """
    if b"-" not in raw:
        return
    try:
        json.loads(raw, parse_int=_unsigned)
    except _Negative:
        raise SafetensorsHeaderError(f"{label}: the header holds a negative number where safetensors allows only sizes and offsets") from None
    except (ValueError, RecursionError):
        pass  # the first parse accepted it; nothing more to say here


def _load_header(path: str, label: str, file_size: int | None = None) -> tuple[int, int, dict]:
    """(file size, header length, parsed header) of one file; every failure is a SafetensorsHeaderError."""
    file_size, header_size, raw = _read_raw_header(path, label, file_size)
    return file_size, header_size, _parse_header(raw, label)


@dataclass(slots=True)
class _Entries:
    """A header's tensors as safetensors validates them: parallel lists, in header order."""

    names: list[str]
    dtypes: tuple[str, ...]  # safetensors spelling
    shapes: tuple[list[int], ...]
    begins: tuple[int, ...]
    ends: tuple[int, ...]
    numels: list[int]
    metadata: dict[str, str]


class _Invalid(Exception):
    """Some entry breaks a rule; ``_explain`` finds which and words it."""


_get_fields = operator.itemgetter("dtype", "shape", "data_offsets")
_EIGHTS = itertools.repeat(8)


def _validated_entries(header: dict, label: str, data_size: int) -> _Entries:
    """Every rule the safetensors library checks before it maps a file, applied to a parsed header.

    Known dtypes; shapes of non-negative whole numbers whose size fits 64 bits; each tensor's
    byte range exactly its shape times its dtype's size; ranges that tile the data after the
    header from its first byte to its last, without gap or overlap. A file that breaks any of
    them is one safetensors refuses to load, so its counts would be wrong facts: the error
    says which rule and which tensor. The checks run as whole-list operations in C; only a
    failure goes through the entries one by one to word it.
    """
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict) or not all(type(v) is str for v in metadata.values()):
        raise SafetensorsHeaderError(f"{label}: __metadata__ must map names to text (safetensors refuses this file)")
    names = list(header)
    entries = list(header.values())
    try:
        if not entries:
            if data_size:
                raise _Invalid
            return _Entries([], (), (), (), (), [], metadata)
        if set(map(type, entries)) != {dict}:
            raise _Invalid
        dtypes, shapes, offsets = zip(*map(_get_fields, entries))
        bits = list(map(DTYPE_BITS.__getitem__, dtypes))
        if set(map(type, shapes)) != {list} or set(map(type, offsets)) != {list} or set(map(len, offsets)) != {2}:
            raise _Invalid
        dims = list(itertools.chain.from_iterable(shapes))
        begins, ends = zip(*offsets)
        # type() rather than isinstance: JSON true is a bool, which the library refuses as a size.
        # A negative offset needs no test of its own: the tiling check below refuses it.
        if set(map(type, itertools.chain(dims, begins, ends))) != {int} or (dims and min(dims) < 0):
            raise _Invalid
        numels = list(map(math.prod, shapes))
        needed_bits = list(map(operator.mul, numels, bits))
        if max(needed_bits) >= _SIZE_LIMIT or needed_bits != list(map(operator.mul, map(operator.sub, ends, begins), _EIGHTS)):
            raise _Invalid
        # Writers list tensors in the order of their data; then each one starts where the last ended.
        if begins[0] != 0 or begins[1:] != ends[:-1] or ends[-1] != data_size:
            starts, stops = zip(*sorted(zip(begins, ends)))
            if starts[0] != 0 or starts[1:] != stops[:-1] or stops[-1] != data_size:
                raise _Invalid
    except (_Invalid, KeyError, TypeError, ValueError):
        _explain(names, entries, label, data_size)
        raise SafetensorsHeaderError(f"{label}: the header does not describe the file's data (safetensors refuses it)") from None
    return _Entries(names, dtypes, shapes, begins, ends, numels, metadata)


def _short(value: object, limit: int = 60) -> str:
    """A value from the file for a message: numbers of absurd length are abbreviated, names cut."""
    if type(value) is int and abs(value) >= 10**15:
        # Never str() it: past 4,300 digits Python refuses, and the digits say nothing anyway.
        return f"a {int(value.bit_length() * 0.30103) + 1}-digit number"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_short(v, 20) for v in list(value)[:6])
        return f"[{inner}{', …' if len(value) > 6 else ''}]"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _explain(names: list[str], entries: list, label: str, data_size: int) -> None:
    """Raise SafetensorsHeaderError naming the first tensor that breaks a rule (the slow path: only for bad files)."""
    checked: list[tuple[int, int, str]] = []
    for name, entry in zip(names, entries):
        tensor = _short(name)
        if not isinstance(entry, dict):
            raise SafetensorsHeaderError(f"{label}: malformed entry for tensor {tensor}")
        try:
            dtype = entry["dtype"]
            shape = entry["shape"]
            offsets = entry["data_offsets"]
        except KeyError as exc:
            raise SafetensorsHeaderError(f"{label}: malformed entry for tensor {tensor} (no {exc.args[0]})") from None
        if not isinstance(dtype, str):
            raise SafetensorsHeaderError(f"{label}: malformed dtype for tensor {tensor}")
        if dtype not in DTYPE_BITS:
            raise SafetensorsHeaderError(f"{label}: tensor {tensor} has dtype {_short(dtype)}, which safetensors does not know")
        if type(shape) is not list or not all(type(d) is int for d in shape):
            raise SafetensorsHeaderError(f"{label}: malformed shape for tensor {tensor}")
        if any(d < 0 for d in shape):
            raise SafetensorsHeaderError(f"{label}: tensor {tensor} has a negative dimension in its shape {_short(shape)}")
        if type(offsets) is not list or len(offsets) != 2 or not all(type(o) is int for o in offsets):
            raise SafetensorsHeaderError(f"{label}: malformed data offsets for tensor {tensor}")
        begin, end = offsets
        if begin < 0 or end < begin:
            raise SafetensorsHeaderError(f"{label}: tensor {tensor} has invalid data offsets {_short(begin)}..{_short(end)}")
        needed = math.prod(shape) * DTYPE_BITS[dtype]
        if needed >= _SIZE_LIMIT:
            raise SafetensorsHeaderError(f"{label}: tensor {tensor} has shape {_short(shape)}, too large for any file")
        if needed != 8 * (end - begin):
            if needed % 8:
                raise SafetensorsHeaderError(f"{label}: tensor {tensor} of {dtype} does not end on a byte boundary")
            raise SafetensorsHeaderError(
                f"{label}: tensor {tensor} has shape {_short(shape)} of {dtype}, which needs {_short(needed // 8)} bytes, "
                f"but its data offsets span {_short(end - begin)}"
            )
        checked.append((begin, end, name))
    checked.sort()
    position, previous = 0, None
    for begin, end, name in checked:
        if begin > data_size or end > data_size:
            raise SafetensorsHeaderError(
                f"{label}: tensor data needs {max(e for _b, e, _n in checked)} bytes after the header but the file holds only "
                f"{data_size} (truncated download?)"
            )
        if begin < position:
            raise SafetensorsHeaderError(f"{label}: tensors {_short(previous)} and {_short(name)} overlap in the file")
        if begin > position:
            after = f"after tensor {_short(previous)}" if previous is not None else "at the start of the data"
            raise SafetensorsHeaderError(f"{label}: {begin - position} bytes {after} belong to no tensor (safetensors refuses holes)")
        position, previous = end, name
    if position != data_size:
        raise SafetensorsHeaderError(f"{label}: the last {data_size - position} bytes of the file belong to no tensor (safetensors refuses such files)")
    if not checked and data_size:
        raise SafetensorsHeaderError(f"{label}: the header lists no tensor but {data_size} bytes of data follow it")


def _torch_dtype_name(dtype: str) -> str:
    return DTYPE_TORCH_NAMES.get(dtype) or dtype.lower()


def read_header(path: str | os.PathLike, file_label: str | None = None) -> SafetensorsHeader:
    """Parse and validate one safetensors file's header; raise SafetensorsHeaderError with a clear reason."""
    return read_header_counted(path, file_label)[0]


def read_header_counted(path: str | os.PathLike, file_label: str | None = None) -> tuple[SafetensorsHeader, dict[str, tuple[int, int, int]]]:
    """read_header, plus (tensors, parameters, bytes) per dtype (torch spelling).

    The Parameters view opens every shard of a checkpoint with this, so it must cost no more
    than safetensors' own reader (bench/bench_headers.py): one pass over the entries checks
    each and builds its record; the tiling of the data is checked on the collected offsets.
    Anything irregular goes through ``_validated_entries``, which words the problem.
    """
    path = os.fspath(path)
    label = file_label or os.path.basename(path)
    file_size, header_size, raw = _read_raw_header(path, label)
    header = _parse_header(raw, label)
    data_size = file_size - 8 - header_size
    metadata = header.get("__metadata__")
    # One search over the text settles that every dimension is a non-negative whole number, so the
    # loop below multiplies them without checking each (nothing else may reach math.prod: 10**9 * "x"
    # would build a gigabyte string).
    irregular = _IRREGULAR_SHAPE.search(raw) is not None
    if irregular or (metadata is not None and (type(metadata) is not dict or not all(type(v) is str for v in metadata.values()))):
        _validated_entries(header, label, data_size)  # raises, with the message
        if irregular:  # the text only looked irregular (a shape written in an unusual way): the slow path
            entries = _validated_entries(header, label, data_size)
            _refuse_negative_numbers(raw, label)
            return _counted_from_entries(path, label, file_size, header_size, entries)
    result = SafetensorsHeader(path=path, file_size=file_size, header_size=header_size, metadata=metadata or {})
    tensors = result.tensors
    append = tensors.append
    new_object, prod, bits_of, torch_of = _new_object, math.prod, DTYPE_BITS, DTYPE_TORCH_NAMES
    set_name, set_dtype, set_shape, set_file, set_nbytes, set_offsets = _SET_TENSOR_FIELDS
    counts: dict[str, list[int]] = {}
    position = 0  # where the next tensor's data should start, for writers that list tensors in data order
    in_order = True
    try:
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            dtype = entry["dtype"]
            shape = entry["shape"]
            begin, end = entry["data_offsets"]
            bits = bits_of[dtype]
            if type(shape) is not list or type(begin) is not int or type(end) is not int:
                raise _Invalid
            numel = prod(shape)
            if numel * bits != (end - begin) * 8 or numel * bits >= _SIZE_LIMIT:
                raise _Invalid
            info = new_object(TensorInfo)
            set_name(info, name)
            set_dtype(info, torch_of[dtype])
            set_shape(info, tuple(shape))
            set_file(info, label)
            set_nbytes(info, end - begin)
            set_offsets(info, (begin, end))
            append(info)
            if begin != position:
                in_order = False
            position = end
            counted = counts.get(dtype)
            if counted is None:
                counts[dtype] = [1, numel, end - begin]
            else:
                counted[0] += 1
                counted[1] += numel
                counted[2] += end - begin
        if not in_order or position != data_size:
            if not tensors:
                raise _Invalid
            starts, stops = zip(*sorted(info.data_offsets for info in tensors))
            if starts[0] != 0 or starts[1:] != stops[:-1] or stops[-1] != data_size:
                raise _Invalid
    except (_Invalid, KeyError, TypeError, ValueError):
        _validated_entries(header, label, data_size)  # raises, with the message
        raise SafetensorsHeaderError(f"{label}: the header does not describe the file's data (safetensors refuses it)") from None
    _refuse_negative_numbers(raw, label)
    return result, {torch_of[dtype]: (n, params, size) for dtype, (n, params, size) in counts.items()}


# A "shape" array holding anything but digits, commas and spaces: a sign, a fraction, true, a string, a list.
_IRREGULAR_SHAPE = re.compile(rb'"shape"\s*:\s*\[[0-9,\s]*[^0-9,\s\]]')


def _counted_from_entries(path: str, label: str, file_size: int, header_size: int, entries: _Entries):
    result = SafetensorsHeader(path=path, file_size=file_size, header_size=header_size, metadata=entries.metadata)
    counts: dict[str, list[int]] = {}
    for name, dtype, shape, begin, end, numel in zip(entries.names, entries.dtypes, entries.shapes, entries.begins, entries.ends, entries.numels):
        torch_name = _torch_dtype_name(dtype)
        result.tensors.append(new_tensor_info(name, torch_name, tuple(shape), label, end - begin, (begin, end)))
        counted = counts.setdefault(torch_name, [0, 0, 0])
        counted[0] += 1
        counted[1] += numel
        counted[2] += end - begin
    return result, {dtype: tuple(values) for dtype, values in counts.items()}


def count_parameters(
    path: str | os.PathLike, file_label: str | None = None, file_size: int | None = None
) -> tuple[int, dict[str, int], int]:
    """(parameters, parameters per dtype, tensor data bytes) of one validated file.

    The scanner calls this for every shard on the machine. The header is validated as
    safetensors validates it, so a count is only ever given for a file the library would
    load; anything else raises SafetensorsHeaderError saying why. Validation costs a JSON
    parse (~250 µs for a 7B shard's header), so its outcome is remembered by the header's
    bytes: the revisions of a fine-tune, and checkpoints of one architecture saved by one
    tool, carry byte-identical headers over different data.
    """
    path = os.fspath(path)
    label = file_label or os.path.basename(path)
    file_size, header_size, raw = _read_raw_header(path, label, file_size)
    data_size = file_size - 8 - header_size
    key = (raw, data_size)
    known = _COUNTED.get(key)
    if known is not None:
        return known[0], dict(known[1]), known[2]
    entries = _validated_entries(_parse_header(raw, label), label, data_size)
    _refuse_negative_numbers(raw, label)
    dtypes, numels = entries.dtypes, entries.numels
    if not dtypes:
        counted: tuple[int, dict[str, int], int] = (0, {}, 0)
    elif dtypes.count(dtypes[0]) == len(dtypes):
        total = sum(numels)
        counted = (total, {_torch_dtype_name(dtypes[0]): total}, data_size)
    else:
        by_dtype: dict[str, int] = {}
        for dtype, numel in zip(dtypes, numels):
            by_dtype[dtype] = by_dtype.get(dtype, 0) + numel
        counted = (sum(numels), {_torch_dtype_name(k): v for k, v in by_dtype.items()}, data_size)
    _remember_count(key, counted)
    return counted[0], dict(counted[1]), counted[2]


# Validated counts by (header bytes, data size), bounded by the bytes the keys hold.
_COUNTED: dict[tuple[bytes, int], tuple[int, dict[str, int], int]] = {}
_COUNTED_BYTES_LIMIT = 32 * 1024 * 1024
_counted_bytes = 0


def forget_counted_headers() -> None:
    """Empty the validated-header memory (a benchmark's "first scan ever" starts as a new process does)."""
    global _counted_bytes
    _COUNTED.clear()
    _counted_bytes = 0


def _remember_count(key: tuple[bytes, int], counted: tuple[int, dict[str, int], int]) -> None:
    global _counted_bytes
    size = len(key[0])
    if size > _COUNTED_BYTES_LIMIT // 8:
        return
    while _COUNTED and _counted_bytes + size > _COUNTED_BYTES_LIMIT:
        oldest = next(iter(_COUNTED))
        del _COUNTED[oldest]
        _counted_bytes -= len(oldest[0])
    _COUNTED[key] = counted
    _counted_bytes += size
