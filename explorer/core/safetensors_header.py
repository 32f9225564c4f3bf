"""Read safetensors headers (8-byte length + JSON) without touching tensor data.

The format: a little-endian u64 N, then N bytes of JSON mapping tensor names to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header), plus an optional ``__metadata__`` string map. Everything here validates against
the file size so that a truncated or corrupt file gives a message instead of an exception.
"""

from __future__ import annotations

import collections
import json
import math
import operator
import os
import re
import stat
import struct
from dataclasses import dataclass, field

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

# A header is JSON describing tensors; real ones stay well under this even for huge models
# (a 70B shard header is ~30 KB). Refuse absurd lengths rather than allocate them.
MAX_HEADER_BYTES = 100 * 1024 * 1024


class SafetensorsHeaderError(ValueError):
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


# Never block on a FIFO or device that someone named *.safetensors.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _read_exactly(fd: int, count: int) -> bytes:
    parts = []
    while count > 0:
        part = os.read(fd, min(count, 1 << 30))
        if not part:
            break
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


def _read_raw_header(path: str, label: str, file_size: int | None = None) -> tuple[int, int, bytes]:
    """(file size, header length, header bytes); every failure is a SafetensorsHeaderError.

    ``file_size`` from a listing that already stat-ed the file saves a system call; the
    non-blocking open keeps a FIFO or device under a weight file's name from hanging the read.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
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
                raise SafetensorsHeaderError(f"{label}: header length {header_size} is implausible (corrupt file)")
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


def _parse_header(raw: bytes, label: str) -> dict:
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SafetensorsHeaderError(f"{label}: header is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise SafetensorsHeaderError(f"{label}: header is nested too deeply to be a tensor table") from exc
    if not isinstance(header, dict):
        raise SafetensorsHeaderError(f"{label}: header is not a JSON object")
    return header


def _load_header(path: str, label: str) -> tuple[int, int, dict]:
    """(file size, header length, parsed header) of one file; every failure is a SafetensorsHeaderError."""
    file_size, header_size, raw = _read_raw_header(path, label)
    return file_size, header_size, _parse_header(raw, label)


def _tensor_entries(header: dict, label: str, data_size: int):
    """Validated (name, safetensors dtype, shape, begin, end) of each tensor, in header order.

    Raises SafetensorsHeaderError for a malformed entry, and after the last entry if any
    tensor's data lies past the end of the file (an interrupted copy or download).
    """
    truncated_at = -1
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = entry["dtype"]
            shape = entry["shape"]
            begin, end = entry["data_offsets"]
        except (KeyError, TypeError, ValueError) as exc:
            raise SafetensorsHeaderError(f"{label}: malformed entry for tensor {name!r}") from exc
        if type(shape) is not list or not all(type(d) is int for d in shape) or type(begin) is not int or type(end) is not int:
            raise SafetensorsHeaderError(f"{label}: malformed shape or data offsets for tensor {name!r}")
        shape = tuple(shape)
        if not isinstance(dtype, str):
            raise SafetensorsHeaderError(f"{label}: malformed dtype for tensor {name!r}")
        if end < begin or begin < 0 or any(d < 0 for d in shape):
            raise SafetensorsHeaderError(f"{label}: tensor {name!r} has invalid shape or data offsets {begin}..{end}")
        if end > truncated_at:
            truncated_at = end
        yield name, dtype, shape, begin, end
    if truncated_at > data_size:
        raise SafetensorsHeaderError(
            f"{label}: tensor data needs {truncated_at} bytes after the header but the file holds only {data_size} (truncated download?)"
        )


def read_header(path: str | os.PathLike, file_label: str | None = None) -> SafetensorsHeader:
    """Parse one safetensors file's header; raise SafetensorsHeaderError with a clear reason."""
    path = os.fspath(path)
    label = file_label or os.path.basename(path)
    file_size, header_size, header = _load_header(path, label)
    result = SafetensorsHeader(path=path, file_size=file_size, header_size=header_size)
    metadata = header.get("__metadata__")
    if isinstance(metadata, dict):
        result.metadata = {str(k): str(v) for k, v in metadata.items()}
    for name, dtype, shape, begin, end in _tensor_entries(header, label, file_size - 8 - header_size):
        result.tensors.append(new_tensor_info(name, DTYPE_TORCH_NAMES.get(dtype, dtype.lower()), shape, label, end - begin, (begin, end)))
    return result


def count_parameters(
    path: str | os.PathLike, file_label: str | None = None, file_size: int | None = None
) -> tuple[int, dict[str, int], int]:
    """(parameters, parameters per dtype, tensor data bytes) of one file.

    The scanner calls this for every shard on the machine, where a JSON parse of each
    header would cost more than the whole rest of the scan. So it first reads the compact
    form every safetensors writer emits (``"dtype":"F32","shape":[..]``) with C-level
    searches, grouping tensors by shape, and accepts the result only if it is consistent:
    one shape and one dtype per tensor entry, and the tensors' sizes adding up to exactly
    the data after the header (a truncated file fails that). Anything else goes through
    the JSON parser, whose validation words the problem. The Parameters view always reads
    headers with ``read_header``.
    """
    path = os.fspath(path)
    label = file_label or os.path.basename(path)
    file_size, header_size, raw = _read_raw_header(path, label, file_size)
    data_size = file_size - 8 - header_size
    counted = _count_uniform(raw, data_size)
    if counted is None:
        counted = _count_compact(raw, data_size)
    if counted is not None:
        return counted
    header = _parse_header(raw, label)
    try:
        return _count_grouped(header, data_size)
    except (_Irregular, KeyError, TypeError, ValueError):
        pass
    total = 0
    data_bytes = 0
    by_dtype: dict[str, int] = {}
    for _name, dtype, shape, begin, end in _tensor_entries(header, label, data_size):
        numel = math.prod(shape)
        total += numel
        data_bytes += end - begin
        by_dtype[dtype] = by_dtype.get(dtype, 0) + numel
    return total, {DTYPE_TORCH_NAMES.get(k, k.lower()): v for k, v in by_dtype.items()}, data_bytes


_COMPACT_SHAPE = re.compile(rb'"shape":\[([0-9,]*)\]')
_COMPACT_DTYPE = re.compile(rb'"dtype":"([A-Z0-9_]+)"')
_COMPACT_DTYPE_SHAPE = re.compile(rb'"dtype":"([A-Z0-9_]+)","shape":\[([0-9,]*)\]')
_DTYPE_BITS_BYTES = {k.encode(): v for k, v in DTYPE_BITS.items()}


_DTYPE_NAMES_BYTES = {k.encode(): v for k, v in DTYPE_TORCH_NAMES.items()}
# Models on one machine repeat the same few hundred shapes; remembering their sizes saves
# most of the per-file arithmetic. Bounded so that odd files cannot grow it without end.
_SHAPE_NUMEL: dict[bytes, int] = {}
_SHAPE_NUMEL_LIMIT = 65536


def _shape_numel(shape: bytes) -> int | None:
    numel = 1
    if shape:
        for dim in shape.split(b","):
            if not dim:
                return None
            numel *= int(dim)
    if len(_SHAPE_NUMEL) >= _SHAPE_NUMEL_LIMIT:
        _SHAPE_NUMEL.clear()
    _SHAPE_NUMEL[shape] = numel
    return numel


def _closes_object(raw: bytes) -> bool:
    """Whether the header text ends with '}' before its space padding.

    Only the tail is stripped: ``raw.rstrip()`` would copy the whole header whenever it is
    padded, which writers do to align the data to 8 bytes.
    """
    return raw[-64:].rstrip(b" ").endswith(b"}")


def _count_uniform(raw: bytes, data_size: int) -> tuple[int, dict[str, int], int] | None:
    """Counts of a complete file whose tensors all share one dtype, from three byte searches.

    The format forbids holes: in a file the safetensors loader accepts, the tensors exactly
    fill the data after the header. So a uniform file's parameter count is its data size
    over the dtype's size, provided the file is complete. Uniform means no ``"dtype"`` key
    says anything but the first one's value (one regular-expression pass, which runs faster
    here than two counts that compared entries with dtypes). Completeness is checked from the
    offsets: some tensor must end at the file's last byte (``,<size>]}``) and none may start
    there (``[<size>,``, which is what a cut exactly between two tensors leaves). Anything
    else (mixed dtypes, other spacing or key order, zero-size tensors at the end) returns
    None and takes the slower paths. An entry with no dtype at all, which the loader refuses,
    is not noticed here; the Parameters view's full parse words that problem.
    """
    if not (raw.startswith(b"{") and _closes_object(raw)):
        return None
    first = raw.find(b'"dtype":"')
    if first < 0:
        return None
    end_of_name = raw.find(b'"', first + 9)
    dtype = raw[first + 9 : end_of_name]
    bits = _DTYPE_BITS_BYTES.get(dtype)
    if bits is None or (data_size * 8) % bits:
        return None
    if _other_dtype_pattern(dtype).search(raw) is not None:
        return None
    size = str(data_size).encode()
    # The last tensor's end is usually the header's last number, so the reverse search is short.
    if raw.rfind(b"," + size + b"]}") < 0 or raw.find(b"[" + size + b",") >= 0:
        return None
    params = data_size * 8 // bits
    name = _DTYPE_NAMES_BYTES.get(dtype) or dtype.decode("ascii").lower()
    return params, {name: params}, data_size


_OTHER_DTYPE_PATTERNS: dict[bytes, re.Pattern] = {}


def _other_dtype_pattern(dtype: bytes) -> re.Pattern:
    """Finds a ``"dtype"`` key whose value is not ``dtype`` (compiled once per dtype name)."""
    pattern = _OTHER_DTYPE_PATTERNS.get(dtype)
    if pattern is None:
        pattern = _OTHER_DTYPE_PATTERNS[dtype] = re.compile(rb'"dtype"(?!:"' + re.escape(dtype) + rb'")')
    return pattern


def _count_compact(raw: bytes, data_size: int) -> tuple[int, dict[str, int], int] | None:
    """Counts from the compact header text, or None when it is not plainly consistent."""
    if not (raw.startswith(b"{") and _closes_object(raw)):
        return None
    entries = raw.count(b'"data_offsets":[')
    if entries == 0:
        return None
    first_dtype = _COMPACT_DTYPE.search(raw)
    if first_dtype is None:
        return None
    dtype = first_dtype.group(1)
    if raw.count(b'"dtype":"' + dtype + b'"') == entries:
        shapes = _COMPACT_SHAPE.findall(raw)
        if len(shapes) != entries:
            return None
        groups = {(dtype, shape): count for shape, count in collections.Counter(shapes).items()}
    else:
        pairs = _COMPACT_DTYPE_SHAPE.findall(raw)
        if len(pairs) != entries:
            return None
        groups = collections.Counter(pairs)
    total = 0
    data_bits = 0
    by_dtype: dict[str, int] = {}
    for (dtype, shape), count in groups.items():
        bits = _DTYPE_BITS_BYTES.get(dtype)
        if bits is None:
            return None
        numel = _SHAPE_NUMEL.get(shape)
        if numel is None:
            numel = _shape_numel(shape)
            if numel is None:
                return None
        numel *= count
        total += numel
        data_bits += numel * bits
        name = _DTYPE_NAMES_BYTES.get(dtype) or dtype.decode("ascii").lower()
        by_dtype[name] = by_dtype.get(name, 0) + numel
    if data_bits != data_size * 8:
        return None
    return total, by_dtype, data_size


class _Irregular(Exception):
    """The header needs the per-tensor path (to validate it and word the problem)."""


_get_dtype = operator.itemgetter("dtype")
_get_shape = operator.itemgetter("shape")
_get_offsets = operator.itemgetter("data_offsets")
_get_first = operator.itemgetter(0)
_get_second = operator.itemgetter(1)


def _count_grouped(header: dict, data_size: int) -> tuple[int, dict[str, int], int]:
    entries = [v for k, v in header.items() if k != "__metadata__"] if "__metadata__" in header else list(header.values())
    if not entries:
        return 0, {}, 0
    offsets = list(map(_get_offsets, entries))
    if set(map(len, offsets)) != {2}:
        raise _Irregular
    begins = list(map(_get_first, offsets))
    ends = list(map(_get_second, offsets))
    begin_total, end_total = sum(begins), sum(ends)
    if type(begin_total) is not int or type(end_total) is not int or min(begins) < 0 or max(ends) > data_size:
        raise _Irregular
    if not all(map(operator.le, begins, ends)):
        raise _Irregular
    groups = collections.Counter(zip(map(_get_dtype, entries), map(tuple, map(_get_shape, entries))))
    total = 0
    by_dtype: dict[str, int] = {}
    for (dtype, shape), count in groups.items():
        if type(dtype) is not str or not all(type(d) is int and d >= 0 for d in shape):
            raise _Irregular
        numel = math.prod(shape) * count
        total += numel
        name = DTYPE_TORCH_NAMES.get(dtype) or dtype.lower()
        by_dtype[name] = by_dtype.get(name, 0) + numel
    return total, by_dtype, end_total - begin_total


@dataclass(slots=True)
class WeightsSummary:
    """What a checkpoint's weights hold, from headers only."""

    num_parameters: int | None = None
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> parameter count
    files: list[str] = field(default_factory=list)
    tensors: list[TensorInfo] = field(default_factory=list)
    index_total_size: int | None = None
    problems: list[str] = field(default_factory=list)


MAX_INDEX_BYTES = 256 * 1024 * 1024


def _read_index_json(index_path: str, file_size: int | None = None):
    """The parsed index; never blocks on a FIFO, refuses absurd sizes. OSError/ValueError otherwise.

    ``file_size`` from a listing that found a regular file spares the stat.
    """
    fd = os.open(index_path, _OPEN_FLAGS)
    try:
        if file_size is None:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ValueError("not a regular file")
            file_size = st.st_size
        if file_size > MAX_INDEX_BYTES:
            raise ValueError(f"{file_size // (1024 * 1024)} MiB is too large for an index")
        raw = _read_exactly(fd, file_size)
    finally:
        os.close(fd)
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def read_index(index_path: str) -> tuple[dict[str, str], int | None]:
    """Return (tensor -> shard file, metadata.total_size) from a *.safetensors.index.json."""
    index = _read_index_json(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise ValueError("no weight_map")
    # Checked by the set of value types (one C-level pass); JSON object keys are always strings,
    # and the freshly parsed map is nobody else's, so it is returned as it is.
    if not set(map(type, weight_map.values())) <= {str}:
        raise ValueError("weight_map names a shard that is not a file name")
    metadata = index.get("metadata")
    total = metadata.get("total_size") if isinstance(metadata, dict) else None
    return weight_map, (int(total) if isinstance(total, (int, float)) else None)


def _index_shards(index_path: str, file_size: int | None = None) -> tuple[set[str], int | None]:
    """The shard files an index names and its total_size, without copying the weight map."""
    index = _read_index_json(index_path, file_size)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise ValueError("no weight_map")
    try:
        shards = set(weight_map.values())
    except TypeError:  # a list or object where a file name should be
        shards = None
    # Checked on the few distinct names rather than on every entry: one pass over the map, not two.
    if shards is None or any(type(shard) is not str for shard in shards):
        raise ValueError("weight_map names a shard that is not a file name")
    metadata = index.get("metadata")
    total = metadata.get("total_size") if isinstance(metadata, dict) else None
    return shards, (int(total) if isinstance(total, (int, float)) else None)


def summarize_safetensors(
    files: dict[str, str],
    keep_tensors: bool = False,
    sizes: dict[str, int] | None = None,
    contents: dict[str, object] | None = None,
    read_once: dict | None = None,
) -> WeightsSummary:
    """Sum parameters and dtypes over a checkpoint's safetensors weights.

    ``files`` maps each top-level file name of the checkpoint to a readable path (hub-cache
    snapshots and legacy caches store content under other names). When an index is present,
    every shard it names is read (a missing shard is a problem); otherwise every
    *.safetensors. Adapter files are left out: they are not the model's own weights.
    ``sizes`` (name -> bytes, from a listing that stat-ed the files) spares a stat per shard and index.
    ``contents`` (name -> identity of the content, e.g. (device, inode, size)) with a
    ``read_once`` dict that the caller keeps across checkpoints lets content shared by
    several revisions of a hub repo be read once per scan.
    """
    summary = WeightsSummary()
    index_names: list[str] = []
    weight_files: list[str] = []
    for name in files:
        if name.endswith(".safetensors"):
            if not name.startswith("adapter_model"):
                weight_files.append(name)
        elif name.endswith(".safetensors.index.json"):
            index_names.append(name)
    index_names.sort()
    shard_files: list[str] = []
    for index_name in index_names:
        content = contents.get(index_name) if contents is not None and read_once is not None else None
        read = read_once.get((index_name, content, "index")) if content is not None else None
        if read is None:
            try:
                read = _index_shards(files[index_name], sizes.get(index_name) if sizes is not None else None)
            except (OSError, ValueError) as exc:
                read = exc
            if content is not None:
                read_once[(index_name, content, "index")] = read
        if isinstance(read, Exception):
            summary.problems.append(f"{index_name}: unreadable index ({read})")
            continue
        shards, total = read
        summary.index_total_size = total
        for shard in sorted(shards):
            if shard not in files:
                summary.problems.append(f"{index_name} names shard {shard}, which is missing")
            elif shard not in shard_files:
                shard_files.append(shard)
    if not index_names:
        shard_files = sorted(weight_files)
    if not shard_files:
        return summary
    total_params = 0
    data_bytes = 0
    for shard in shard_files:
        try:
            if keep_tensors:
                header = read_header(files[shard], shard)
                numel_by_dtype: dict[str, int] = {}
                for tensor in header.tensors:
                    numel_by_dtype[tensor.dtype] = numel_by_dtype.get(tensor.dtype, 0) + tensor.numel
                shard_params, shard_bytes = sum(numel_by_dtype.values()), header.data_bytes
                summary.tensors.extend(header.tensors)
            else:
                content = contents.get(shard) if contents is not None and read_once is not None else None
                # Keyed by name too: the messages name the file.
                counted = read_once.get((shard, content)) if content is not None else None
                if counted is None:
                    known_size = sizes.get(shard) if sizes is not None else None
                    try:
                        counted = count_parameters(files[shard], shard, known_size)
                    except SafetensorsHeaderError as exc:
                        counted = exc
                    if content is not None:
                        read_once[(shard, content)] = counted
                if isinstance(counted, SafetensorsHeaderError):
                    raise counted
                shard_params, numel_by_dtype, shard_bytes = counted
        except SafetensorsHeaderError as exc:
            summary.problems.append(str(exc))
            continue
        summary.files.append(shard)
        total_params += shard_params
        data_bytes += shard_bytes
        for dtype, numel in numel_by_dtype.items():
            summary.dtypes[dtype] = summary.dtypes.get(dtype, 0) + numel
    if summary.files:
        summary.num_parameters = total_params
    if summary.index_total_size is not None and summary.files and not summary.problems and summary.index_total_size != data_bytes:
        summary.problems.append(
            f"index says total_size={summary.index_total_size} bytes but the shard headers describe {data_bytes} bytes"
        )
    return summary
