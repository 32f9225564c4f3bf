"""GGUF files (llama.cpp, Ollama, LM Studio): metadata and tensor infos, never the weights.

The header is parsed here, with the ``gguf`` package's own tables for type names and block sizes,
rather than by ``gguf.GGUFReader``, because that reader, given a file from anywhere:

- refuses the whole file when one tensor has a type id it does not know (``GGMLQuantizationType(n)``
  raises ValueError): a newer quantisation would make a model vanish instead of showing "unknown type N";
- loops over a declared array length without checking it against the bytes left (past the end its
  reads return empty arrays of zero size), so a header declaring 2**63 items spins forever;
- builds a numpy array per item of every array, 300k of them for a tokenizer's tokens and merges;
- memory-maps the file, so a file truncated while it is mapped kills the process with SIGBUS.

Here the header is read with bounded ``os.pread`` calls from a descriptor ``safe_io`` opened (regular
files only, never blocking), every count is checked against the bytes that could hold it, and long
arrays are walked (strings) or skipped (scalars) without keeping more than their first items. The tests
check this reader against ``GGUFReader`` on files both can read.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.core.safe_io import UnreadableFile, human_size, open_regular_fd

GGUF_MAGIC = b"GGUF"
# Version 1 used 32-bit counts and lengths; nothing current writes it and llama.cpp dropped it.
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Real headers hold a tokenizer of up to ~260k tokens plus its merges: tens of MB at most.
MAX_HEADER_BYTES = 256 << 20
FIRST_READ = 1 << 20
# The number of array items walked one by one (strings, nested arrays) in a file: a few real
# tokenizers' worth. Scalar arrays are skipped by arithmetic and do not count.
MAX_WALKED_ITEMS = 4_000_000
MAX_ARRAY_NESTING = 4
# ggml tensors have at most 4 dimensions (GGML_MAX_DIMS); a few more leaves room for the future.
MAX_DIMS = 8
# Arrays up to this length are kept whole in the metadata; longer ones keep their first items.
SHORT_ARRAY = 16
ARRAY_HEAD = 8
# Strings in the metadata are shown, not searched: a chat template is a few KB, a license text more.
MAX_KEPT_STRING = 64 << 10

# GGUFValueType ids -> (struct code, size). Mirrors gguf.constants.GGUFValueType; the ids are the format.
_SCALARS = {0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4), 6: ("f", 4),
            7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8)}
_STRING, _ARRAY = 8, 9
_VALUE_TYPE_NAMES = {0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32", 6: "float32",
                     7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64", 12: "float64"}

SPLIT_NAME = re.compile(r"^(?P<stem>.*)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class GgufTensor:
    name: str
    type_name: str  # "Q8_0", "F16", ... or "unknown type N" for an id the installed gguf does not know
    type_id: int
    # PyTorch order (outermost first, as transformers' weights have them); GGUF stores ggml's ne[],
    # innermost first, so the file's dims are reversed here.
    shape: tuple[int, ...]
    numel: int
    nbytes: int | None  # None when the type is unknown: its block size is not known either
    offset: int  # from the start of the data section of its file
    file: str


@dataclass
class GgufModel:
    architecture: str | None
    name: str | None
    metadata: dict[str, Any]
    tensors: list[GgufTensor]
    num_parameters: int
    dtypes: dict[str, int]  # type name -> parameter count
    bytes_by_type: dict[str, int | None]  # None for unknown types
    file_size: int  # all parts together
    files: list[str]
    version: int = 3

    def to_json(self) -> dict[str, Any]:
        """What ``model-explorer inspect FILE.gguf --json`` prints (the keys a scan entry will share first)."""
        return {
            "format": "gguf",
            "path": self.files[0] if self.files else None,
            "files": list(self.files),
            "model_type": self.architecture,  # general.architecture: GGUF's counterpart of config.json's model_type
            "name": self.name,
            "num_parameters": self.num_parameters,
            "dtypes": dict(self.dtypes),
            "bytes_by_type": dict(self.bytes_by_type),
            "size_bytes": self.file_size,
            "gguf_version": self.version,
            "metadata": self.metadata,
            "tensors": [
                {"name": t.name, "type": t.type_name, "shape": list(t.shape), "numel": t.numel, "nbytes": t.nbytes, "file": t.file}
                for t in self.tensors
            ],
        }


class _NeedMore(Exception):
    """The header goes on past the bytes read so far."""


class _Header:
    """A cursor over the bytes read so far of a header, refusing reads past them."""

    def __init__(self, data: bytes, file_size: int, label: str, order: str) -> None:
        self.data, self.file_size, self.label, self.order = data, file_size, label, order
        self.pos = 0
        self.walked = 0

    def take(self, size: int) -> int:
        start = self.pos
        if start + size > len(self.data):
            if start + size > self.file_size:
                raise UnreadableFile(f"{self.label} is truncated: its header goes past the end of the file ({human_size(self.file_size)})")
            raise _NeedMore
        self.pos = start + size
        return start

    def scalar(self, code: str, size: int) -> Any:
        return struct.unpack_from(self.order + code, self.data, self.take(size))[0]

    def count(self, what: str, min_item_size: int) -> int:
        # Each item takes at least min_item_size bytes, so the bytes left bound any honest count.
        value = self.scalar("Q", 8)
        if value * min_item_size > self.file_size - self.pos:
            raise UnreadableFile(f"{self.label} declares {value:,} {what}, more than its {human_size(self.file_size)} could hold; not read")
        return value

    def string(self, what: str, keep: int | None = None) -> str:
        length = self.count(f"bytes in {what}", 1)
        start = self.take(length)
        raw = self.data[start : start + (length if keep is None else min(length, keep))]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            if keep is not None and length > keep:  # cut inside a character
                return raw.decode("utf-8", errors="ignore") + "…"
            raise UnreadableFile(f"{self.label} has {what} that is not UTF-8 text") from None

    def walk(self, items: int) -> None:
        self.walked += items
        if self.walked > MAX_WALKED_ITEMS:
            raise UnreadableFile(f"{self.label} holds more than {MAX_WALKED_ITEMS:,} metadata array items, far more than a model needs; not read")


def _value(header: _Header, type_id: int, key: str, depth: int = 0) -> Any:
    if type_id in _SCALARS:
        return header.scalar(*_SCALARS[type_id])
    if type_id == _STRING:
        return header.string(f"the value of {key}", keep=MAX_KEPT_STRING)
    if type_id == _ARRAY:
        return _array(header, key, depth)
    raise UnreadableFile(f"{header.label} has metadata {key} of unknown value type {type_id}; not read")


def _array(header: _Header, key: str, depth: int) -> Any:
    if depth >= MAX_ARRAY_NESTING:
        raise UnreadableFile(f"{header.label} nests arrays more than {MAX_ARRAY_NESTING} deep in {key}; not read")
    item_type = header.scalar("I", 4)
    if item_type in _SCALARS:
        code, size = _SCALARS[item_type]
        length = header.count(f"items in {key}", size)
        start = header.take(length * size)
        kept = min(length, ARRAY_HEAD if length > SHORT_ARRAY else length)
        items = list(struct.unpack_from(f"{header.order}{kept}{code}", header.data, start))
    elif item_type in (_STRING, _ARRAY):
        length = header.count(f"items in {key}", 8 if item_type == _STRING else 12)
        header.walk(length)
        keep = ARRAY_HEAD if length > SHORT_ARRAY else length
        items = [_value(header, item_type, key, depth + 1) for _ in range(min(keep, length))]
        if item_type == _STRING:
            _skip_strings(header, length - len(items), key)
        else:
            for _ in range(length - len(items)):
                _value(header, item_type, key, depth + 1)
    else:
        raise UnreadableFile(f"{header.label} has an array {key} of unknown item type {item_type}; not read")
    if length <= SHORT_ARRAY:
        return items
    # A summary that stays a plain value (JSON-ready) yet says it is not the whole array.
    return {"array_of": _VALUE_TYPE_NAMES[item_type], "length": length, "first": items}


def _skip_strings(header: _Header, count: int, key: str) -> None:
    # A tokenizer's tokens and merges are 100k+ strings each: stepped over with one unpack per
    # string instead of a decode, a few milliseconds per array.
    data, pos, end, unpack = header.data, header.pos, len(header.data), struct.Struct(header.order + "Q").unpack_from
    for _ in range(count):
        if pos + 8 > end:
            break
        pos += 8 + unpack(data, pos)[0]
        if pos > end:
            break
    else:
        header.pos = pos
        return
    if pos > header.file_size or (pos + 8 > header.file_size and pos <= end):
        raise UnreadableFile(f"{header.label} is truncated: the array {key} goes past the end of the file ({human_size(header.file_size)})")
    raise _NeedMore


def _type_tables() -> tuple[dict[int, str], dict[int, tuple[int, int]]]:
    # Imported here: gguf pulls in numpy and yaml (about 0.1 s), which a scan without GGUF files skips.
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    names = {int(member): member.name for member in GGMLQuantizationType}
    return names, {int(kind): sizes for kind, sizes in GGML_QUANT_SIZES.items()}


def _parse(data: bytes, file_size: int, label: str, file: str) -> tuple[int, dict[str, Any], list[GgufTensor]]:
    if len(data) < 4 or data[:4] != GGUF_MAGIC:
        if file_size < 4:
            raise UnreadableFile(f"{label} is too short to be a GGUF file ({file_size} bytes)")
        raise UnreadableFile(f"{label} is not a GGUF file (its first bytes are not 'GGUF')")
    header = _Header(data, file_size, label, "<")
    header.take(4)
    version = header.scalar("I", 4)
    if version & 0xFFFF == 0 and version:  # written for the other byte order (big-endian GGUF exists)
        header.order = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in SUPPORTED_VERSIONS:
        raise UnreadableFile(f"{label} is GGUF version {version}; versions {', '.join(map(str, SUPPORTED_VERSIONS))} can be read")
    # The smallest tensor info is 8+0+4+4+8 bytes, the smallest key/value 8+0+4+1.
    tensor_count = header.count("tensors", 24)
    kv_count = header.count("metadata entries", 13)

    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = header.string("a metadata key", keep=1024)
        value_type = header.scalar("I", 4)
        value = _value(header, value_type, key)
        if key in metadata:
            raise UnreadableFile(f"{label} has the metadata key {key} twice; not read")
        metadata[key] = value

    type_names, type_sizes = _type_tables()
    infos = []
    for _ in range(tensor_count):
        name = header.string("a tensor name", keep=4096)
        n_dims = header.scalar("I", 4)
        if n_dims > MAX_DIMS:
            raise UnreadableFile(f"{label} gives tensor {name} {n_dims} dimensions; ggml has at most 4")
        dims = struct.unpack_from(f"{header.order}{n_dims}Q", header.data, header.take(8 * n_dims))
        type_id = header.scalar("I", 4)
        offset = header.scalar("Q", 8)
        infos.append((name, dims, type_id, offset))

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0 or alignment & (alignment - 1):
        raise UnreadableFile(f"{label} has general.alignment {alignment!r}; it must be a power of two")
    data_start = -(-header.pos // alignment) * alignment

    tensors: list[GgufTensor] = []
    seen: set[str] = set()
    for name, dims, type_id, offset in infos:
        if name in seen:
            raise UnreadableFile(f"{label} has the tensor {name} twice; not read")
        seen.add(name)
        numel = 1
        for dim in dims:
            numel *= dim
        sizes = type_sizes.get(type_id)
        type_name = type_names.get(type_id, f"unknown type {type_id}")
        nbytes = None
        if sizes is not None:
            block, block_bytes = sizes
            if numel % block or (dims and dims[0] % block):
                raise UnreadableFile(f"{label}: tensor {name} of {numel:,} values is not whole {type_name} blocks of {block}")
            nbytes = numel // block * block_bytes
            if data_start + offset + nbytes > file_size:
                raise UnreadableFile(f"{label} is truncated: tensor {name} ends past the end of the file ({human_size(file_size)})")
        elif data_start + offset > file_size or numel > 8 * file_size:
            # No ggml type packs a value in less than one bit (the smallest, IQ1_S, takes 1.56 bits), so
            # more values than 8 per byte of the file cannot be there, whatever the unknown type is.
            if numel > 8 * file_size:
                raise UnreadableFile(f"{label}: tensor {name} declares {numel:,} values, more than its file could hold")
            raise UnreadableFile(f"{label} is truncated: tensor {name} starts past the end of the file ({human_size(file_size)})")
        tensors.append(GgufTensor(name, type_name, type_id, tuple(reversed(dims)), numel, nbytes, offset, file))
    return version, metadata, tensors


def _read_part(path: str | os.PathLike) -> tuple[int, int, dict[str, Any], list[GgufTensor]]:
    """(file size, version, metadata, tensors) of one file, read with bounded preads."""
    file = os.fspath(path)
    label = Path(file).name
    fd, st = open_regular_fd(file, label)
    try:
        size = st.st_size
        want = min(size, FIRST_READ)
        while True:
            try:
                data = os.pread(fd, want, 0)
            except OSError as exc:
                raise UnreadableFile(f"{label} cannot be read ({exc.strerror or type(exc).__name__})") from None
            try:
                # A short read means the file shrank since the stat: what was read is all there is.
                version, metadata, tensors = _parse(data, size if len(data) == want else len(data), label, file)
                return size, version, metadata, tensors
            except _NeedMore:
                if want >= MAX_HEADER_BYTES:
                    raise UnreadableFile(f"{label} has a header larger than {human_size(MAX_HEADER_BYTES)}, far more than a model needs; not read") from None
                want = min(size, want * 4, MAX_HEADER_BYTES)
    finally:
        os.close(fd)


def _summarise(files: list[str], file_size: int, version: int, metadata: dict[str, Any], tensors: list[GgufTensor]) -> GgufModel:
    dtypes: dict[str, int] = {}
    bytes_by_type: dict[str, int | None] = {}
    for tensor in tensors:
        dtypes[tensor.type_name] = dtypes.get(tensor.type_name, 0) + tensor.numel
        known = bytes_by_type.get(tensor.type_name, 0)
        bytes_by_type[tensor.type_name] = None if known is None or tensor.nbytes is None else known + tensor.nbytes
    architecture = metadata.get("general.architecture")
    name = metadata.get("general.name")
    return GgufModel(
        architecture=architecture if isinstance(architecture, str) else None,
        name=name if isinstance(name, str) else None,
        metadata=metadata,
        tensors=tensors,
        num_parameters=sum(tensor.numel for tensor in tensors),
        dtypes=dtypes,
        bytes_by_type=bytes_by_type,
        file_size=file_size,
        files=files,
        version=version,
    )


def read_gguf(path: str | os.PathLike) -> GgufModel:
    """One GGUF file's metadata and tensor infos; UnreadableFile with a one-line message otherwise."""
    size, version, metadata, tensors = _read_part(path)
    return _summarise([os.fspath(path)], size, version, metadata, tensors)


def split_parts(path: str | os.PathLike) -> list[str] | None:
    """All part paths of a split model named like ``name-00001-of-00003.gguf``; None for a single file."""
    file = os.fspath(path)
    match = SPLIT_NAME.match(os.path.basename(file))
    if match is None:
        return None
    count = int(match["count"])
    if count < 1:
        return None
    folder = os.path.dirname(file)
    return [os.path.join(folder, f"{match['stem']}-{index:05d}-of-{count:05d}.gguf") for index in range(1, count + 1)]


def is_later_split_part(path: str | os.PathLike) -> bool:
    """A part after the first of a split model: listed through its first part, not on its own."""
    match = SPLIT_NAME.match(os.path.basename(os.fspath(path)))
    return match is not None and int(match["index"]) > 1


def read_gguf_split(path: str | os.PathLike) -> GgufModel:
    """A model from all parts of a split GGUF, given any part (or a single file, read as it is).

    Metadata comes from the first part, as llama.cpp reads it; tensors from every part. A missing
    part, or a ``split.count`` that disagrees with the names, is UnreadableFile naming the part.
    """
    parts = split_parts(path)
    if parts is None:
        return read_gguf(path)
    first_label = os.path.basename(parts[0])
    total_size = 0
    tensors: list[GgufTensor] = []
    metadata: dict[str, Any] = {}
    version = 3
    seen: set[str] = set()
    for index, part in enumerate(parts):
        if not os.path.lexists(part):
            raise UnreadableFile(f"{first_label}: part {index + 1} of {len(parts)} ({os.path.basename(part)}) is missing", missing=True)
        size, part_version, part_metadata, part_tensors = _read_part(part)
        if index == 0:
            metadata, version = part_metadata, part_version
            declared = metadata.get("split.count")
            if isinstance(declared, int) and not isinstance(declared, bool) and declared != len(parts):
                raise UnreadableFile(f"{first_label} says split.count {declared}, but its name says {len(parts)} parts")
        for tensor in part_tensors:
            if tensor.name in seen:
                raise UnreadableFile(f"{os.path.basename(part)} repeats the tensor {tensor.name} of an earlier part")
            seen.add(tensor.name)
        total_size += size
        tensors.extend(part_tensors)
    return _summarise(parts, total_size, version, metadata, tensors)


__all__ = [
    "GgufModel",
    "GgufTensor",
    "is_later_split_part",
    "read_gguf",
    "read_gguf_split",
    "split_parts",
]
