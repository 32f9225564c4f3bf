"""Read safetensors headers (8-byte length + JSON) without touching tensor data.

The format: a little-endian u64 N, then N bytes of JSON mapping tensor names to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header), plus an optional ``__metadata__`` string map. Everything here validates against
the file size so that a truncated or corrupt file gives a message instead of an exception.
"""

from __future__ import annotations

import json
import math
import os
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


def read_header(path: str | os.PathLike, file_label: str | None = None) -> SafetensorsHeader:
    """Parse one safetensors file's header; raise SafetensorsHeaderError with a clear reason."""
    path = os.fspath(path)
    label = file_label or os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise SafetensorsHeaderError(f"{label}: file is {file_size} bytes, too short for a safetensors header (truncated?)")
            (header_size,) = struct.unpack("<Q", prefix)
            if header_size > MAX_HEADER_BYTES:
                raise SafetensorsHeaderError(f"{label}: header length {header_size} is implausible (corrupt file)")
            if 8 + header_size > file_size:
                raise SafetensorsHeaderError(
                    f"{label}: header length {header_size} runs past the end of the {file_size}-byte file (truncated or corrupt)"
                )
            raw = handle.read(header_size)
    except OSError as exc:
        raise SafetensorsHeaderError(f"{label}: cannot read ({exc.strerror or exc})") from exc
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SafetensorsHeaderError(f"{label}: header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise SafetensorsHeaderError(f"{label}: header is not a JSON object")
    data_size = file_size - 8 - header_size
    result = SafetensorsHeader(path=path, file_size=file_size, header_size=header_size)
    metadata = header.pop("__metadata__", None)
    if isinstance(metadata, dict):
        result.metadata = {str(k): str(v) for k, v in metadata.items()}
    truncated_at = None
    for name, entry in header.items():
        try:
            dtype = entry["dtype"]
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SafetensorsHeaderError(f"{label}: malformed entry for tensor {name!r}") from exc
        if end < begin or begin < 0:
            raise SafetensorsHeaderError(f"{label}: tensor {name!r} has invalid data offsets {begin}..{end}")
        if end > data_size:
            truncated_at = truncated_at if truncated_at is not None and truncated_at > end else end
        result.tensors.append(
            TensorInfo(
                name=name,
                dtype=DTYPE_TORCH_NAMES.get(dtype, dtype.lower()),
                shape=shape,
                file=label,
                nbytes=end - begin,
                data_offsets=(begin, end),
            )
        )
    if truncated_at is not None:
        raise SafetensorsHeaderError(
            f"{label}: tensor data ends at byte {8 + header_size + truncated_at} but the file has {file_size} bytes (truncated download?)"
        )
    return result


@dataclass(slots=True)
class WeightsSummary:
    """What a checkpoint's weights hold, from headers only."""

    num_parameters: int | None = None
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> parameter count
    files: list[str] = field(default_factory=list)
    tensors: list[TensorInfo] = field(default_factory=list)
    index_total_size: int | None = None
    problems: list[str] = field(default_factory=list)


def read_index(index_path: str) -> tuple[dict[str, str], int | None]:
    """Return (tensor -> shard file, metadata.total_size) from a *.safetensors.index.json."""
    with open(index_path, "rb") as handle:
        index = json.loads(handle.read())
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise ValueError("no weight_map")
    total = (index.get("metadata") or {}).get("total_size")
    return {str(k): str(v) for k, v in weight_map.items()}, (int(total) if isinstance(total, (int, float)) else None)


def summarize_safetensors(files: dict[str, str], keep_tensors: bool = False) -> WeightsSummary:
    """Sum parameters and dtypes over a checkpoint's safetensors weights.

    ``files`` maps each top-level file name of the checkpoint to a readable path (hub-cache
    snapshots and legacy caches store content under other names). When an index is present,
    every shard it names is read (a missing shard is a problem); otherwise every
    *.safetensors. Adapter files are left out: they are not the model's own weights.
    """
    summary = WeightsSummary()
    index_names = sorted(n for n in files if n.endswith(".safetensors.index.json"))
    shard_files: list[str] = []
    for index_name in index_names:
        try:
            weight_map, total = read_index(files[index_name])
        except (OSError, ValueError) as exc:
            summary.problems.append(f"{index_name}: unreadable index ({exc})")
            continue
        summary.index_total_size = total
        for shard in sorted(set(weight_map.values())):
            if shard not in files:
                summary.problems.append(f"{index_name} names shard {shard}, which is missing")
            elif shard not in shard_files:
                shard_files.append(shard)
    if not index_names:
        shard_files = sorted(n for n in files if n.endswith(".safetensors") and not n.startswith("adapter_model"))
    if not shard_files:
        return summary
    total_params = 0
    data_bytes = 0
    for shard in shard_files:
        try:
            header = read_header(files[shard], shard)
        except SafetensorsHeaderError as exc:
            summary.problems.append(str(exc))
            continue
        summary.files.append(shard)
        data_bytes += header.data_bytes
        for tensor in header.tensors:
            numel = tensor.numel
            total_params += numel
            summary.dtypes[tensor.dtype] = summary.dtypes.get(tensor.dtype, 0) + numel
        if keep_tensors:
            summary.tensors.extend(header.tensors)
    if summary.files:
        summary.num_parameters = total_params
    if summary.index_total_size is not None and summary.files and not summary.problems and summary.index_total_size != data_bytes:
        summary.problems.append(
            f"index says total_size={summary.index_total_size} bytes but the shard headers describe {data_bytes} bytes"
        )
    return summary
