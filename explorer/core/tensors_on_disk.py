"""Every tensor a checkpoint stores, from file headers only: nothing is loaded, nothing is executed.

safetensors files describe themselves in a JSON header (see ``safetensors_header``). PyTorch
``.bin`` files are pickles, and unpickling runs arbitrary code, so they are read with
``RestrictedUnpickler``: it resolves only the handful of torch names a state dict uses, and
resolves them to local stand-ins, never to the real (or any other) importable object. Anything
else in the pickle stops the read with a message. No torch import is needed for either format.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable

from explorer.core.checkpoint import Checkpoint
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end
from explorer.core.safetensors_header import (
    DTYPE_BITS, DTYPE_TORCH_NAMES, SafetensorsHeaderError, TensorInfo, _SET_TENSOR_FIELDS, _load_header, read_header, read_index,
)

FORMAT_SAFETENSORS = "safetensors"
FORMAT_PYTORCH = "pytorch"

# Legacy typed storage classes name their element type; torch.save still pickles them.
STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
    "QInt8Storage": "qint8", "QUInt8Storage": "quint8", "QInt32Storage": "qint32",
}

DTYPE_BYTES = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16,
    "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1, "float8_e8m0fnu": 1,
    "qint8": 1, "quint8": 1, "qint32": 4,
}


class UnsafePickleError(ValueError):
    """The pickle refers to something a plain state dict never contains; it was not run."""


@dataclass(frozen=True, slots=True)
class _StorageType:
    dtype: str | None  # None for UntypedStorage: the tensor's rebuild call carries the dtype


@dataclass(frozen=True, slots=True)
class _DtypeName:
    name: str


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    dtype: str | None
    numel: int


@dataclass(frozen=True, slots=True)
class _TensorStub:
    storage: _StorageRef
    dtype: str
    shape: tuple[int, ...]


def _rebuild_tensor(storage, storage_offset, size, stride, *rest):
    dtype = storage.dtype if isinstance(storage, _StorageRef) else None
    # _rebuild_tensor_v3 passes the dtype explicitly (storage is untyped there).
    for extra in rest:
        if isinstance(extra, _DtypeName):
            dtype = extra.name
    if not isinstance(storage, _StorageRef):
        raise UnsafePickleError("tensor without a storage reference")
    return _TensorStub(storage=storage, dtype=dtype or "unknown", shape=tuple(int(d) for d in size))


def _rebuild_parameter(data, *rest):
    return data


class _StateDict(dict):
    """Stands in for OrderedDict; state_dict() pickles carry a ``_metadata`` attribute (set via BUILD)."""


def _unsupported(kind: str):
    def refuse(*args, **kwargs):
        raise UnsafePickleError(f"contains a {kind}, which this reader does not describe")

    return refuse


class RestrictedUnpickler(pickle.Unpickler):
    """Reads torch.save state dicts; every global resolves to a local stand-in or is refused."""

    _GLOBALS: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("collections", "OrderedDict"): _StateDict,
        ("torch._utils", "_rebuild_qtensor"): _unsupported("quantized tensor"),
        ("torch._utils", "_rebuild_sparse_tensor"): _unsupported("sparse tensor"),
    }

    def __init__(self, file, storage_numel: dict[str, int] | None = None):
        super().__init__(file)
        self._storage_numel = storage_numel or {}

    def find_class(self, module: str, name: str):
        stand_in = self._GLOBALS.get((module, name))
        if stand_in is not None:
            return stand_in
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if module in ("torch", "torch.storage") and name in ("UntypedStorage", "TypedStorage", "_UntypedStorage"):
            return _StorageType(None)
        if module == "torch" and name in DTYPE_BYTES:
            return _DtypeName(name)
        raise UnsafePickleError(f"refers to {module}.{name}, which a plain state dict never needs (not run)")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType):
            raise UnsafePickleError(f"unexpected persistent id {pid!r:.80}")
        return _StorageRef(key=str(pid[2]), dtype=pid[1].dtype, numel=int(pid[4]))


def _flatten_state_dict(obj: Any, prefix: str = "") -> Iterable[tuple[str, _TensorStub]]:
    """Yield (dotted name, tensor stub); checkpoints sometimes nest the state dict ({'state_dict': ...})."""
    if isinstance(obj, _TensorStub):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _flatten_state_dict(value, f"{prefix}.{key}" if prefix else str(key))


def _stubs_to_infos(stubs: Iterable[tuple[str, _TensorStub]], label: str) -> list[TensorInfo]:
    infos = []
    for name, stub in stubs:
        numel = math.prod(stub.shape)
        infos.append(TensorInfo(name=name, dtype=stub.dtype, shape=stub.shape, file=label, nbytes=numel * DTYPE_BYTES.get(stub.dtype, 0)))
    return infos


def read_pytorch_bin(path: str | os.PathLike, file_label: str | None = None) -> list[TensorInfo]:
    """Describe the tensors of a torch.save file without executing its pickle.

    Raises ValueError with a user-facing reason (UnsafePickleError when the pickle asks for
    anything but tensors, dicts and parameters).
    """
    path = os.fspath(path)
    label = file_label or os.path.basename(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
                if not pickles:
                    raise ValueError(f"{label}: zip archive without data.pkl (not a torch checkpoint)")
                data = archive.read(pickles[0])
            root = RestrictedUnpickler(io.BytesIO(data)).load()
        else:
            root = _read_legacy_torch_file(path)
        infos = _stubs_to_infos(_flatten_state_dict(root), label)
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{label}: {exc}") from None
    except OSError as exc:
        raise ValueError(f"{label}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # untrusted bytes: any parser failure (nesting, overflow, bad opcodes) is "unreadable"
        raise ValueError(f"{label}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if not infos:
        raise ValueError(f"{label}: holds no tensors")
    return infos


def _read_legacy_torch_file(path: str) -> Any:
    """Pre-1.6 torch.save: magic, protocol, sys info, then the object pickle (storages follow)."""
    with open(path, "rb") as handle:
        magic = RestrictedUnpickler(handle).load()
        if magic != 0x1950A86A20F9469CFC6C:
            raise ValueError("not a PyTorch file (neither zip nor legacy magic number)")
        RestrictedUnpickler(handle).load()  # protocol version
        RestrictedUnpickler(handle).load()  # sys info
        return RestrictedUnpickler(handle).load()


@dataclass(slots=True)
class Totals:
    tensors: int = 0
    params: int = 0
    bytes: int = 0

    def add(self, tensor: TensorInfo) -> None:
        self.tensors += 1
        self.params += tensor.numel
        self.bytes += tensor.nbytes


@dataclass(slots=True)
class DiskTensors:
    """What the weight files hold, per tensor, with totals; ``problems`` lists what could not be read."""

    format: str | None = None
    tensors: list[TensorInfo] = field(default_factory=list)
    by_dtype: dict[str, Totals] = field(default_factory=dict)
    by_file: dict[str, Totals] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # weight files read, in order
    file_paths: dict[str, str] = field(default_factory=dict)  # file label -> readable path
    index_total_size: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(t.params for t in self.by_dtype.values())

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.by_dtype.values())

    def by_name(self) -> dict[str, TensorInfo]:
        return {t.name: t for t in self.tensors}

    def add_counted(self, file: str, tensors: list[TensorInfo], by_dtype: dict[str, Totals]) -> None:
        """Add one file's tensors whose per-dtype totals were counted while reading them."""
        self.tensors.extend(tensors)
        # get() first: setdefault(key, Totals()) would build a Totals on every call.
        file_totals = self.by_file.get(file) or self.by_file.setdefault(file, Totals())
        for dtype, counted in by_dtype.items():
            into = self.by_dtype.get(dtype) or self.by_dtype.setdefault(dtype, Totals())
            n, params, size = counted.tensors, counted.params, counted.bytes
            into.tensors += n
            into.params += params
            into.bytes += size
            file_totals.tensors += n
            file_totals.params += params
            file_totals.bytes += size

    def add(self, tensors: list[TensorInfo]) -> None:
        self.tensors.extend(tensors)
        by_dtype, by_file = self.by_dtype, self.by_file
        for tensor in tensors:
            numel = math.prod(tensor.shape)
            for totals in (by_dtype.get(tensor.dtype) or by_dtype.setdefault(tensor.dtype, Totals()),
                           by_file.get(tensor.file) or by_file.setdefault(tensor.file, Totals())):
                totals.tensors += 1
                totals.params += numel
                totals.bytes += tensor.nbytes


def weight_files(source: Checkpoint | str | os.PathLike) -> dict[str, str]:
    """Map each top-level file name of a checkpoint to a readable path."""
    if isinstance(source, Checkpoint):
        mapping = {f.name: f.path for f in source.files if f.size is not None and "/" not in f.name}
        if mapping:
            return mapping
        source = source.path
    folder = os.fspath(source)
    mapping = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file():
                    mapping[entry.name] = entry.path
    except OSError:
        pass
    return mapping


_WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json")


def unreadable_weight_files(source: Checkpoint | str | os.PathLike) -> list[str]:
    """Weight-file names present but not readable as files (broken links, loops, FIFOs): said, not skipped silently."""
    if isinstance(source, Checkpoint):
        names = [f.name for f in source.files if f.size is None and "/" not in f.name]
    else:
        names = []
        try:
            with os.scandir(os.fspath(source)) as entries:
                for entry in entries:
                    try:
                        regular = entry.is_file()
                    except OSError:
                        regular = False
                    if not regular and not entry.is_dir(follow_symlinks=False):
                        names.append(entry.name)
        except OSError:
            return []
    return sorted(n for n in names if n.endswith(_WEIGHT_SUFFIXES) and _is_weight_candidate(n))


def _is_weight_candidate(name: str) -> bool:
    return not name.startswith(("adapter_model", "training_args", "optimizer", "scheduler", "rng_state"))


def _plan(files: dict[str, str], problems: list[str]) -> tuple[str | None, list[str], dict[str, str], int | None, list[str]]:
    """Pick the format transformers would load and the shard list: (format, shards, weight_map, total, index names)."""
    for fmt, index_suffix, file_suffix in (
        (FORMAT_SAFETENSORS, ".safetensors.index.json", ".safetensors"),
        (FORMAT_PYTORCH, ".bin.index.json", ".bin"),
    ):
        indexes = sorted(n for n in files if n.endswith(index_suffix) and _is_weight_candidate(n))
        if indexes:
            shards: list[str] = []
            weight_map: dict[str, str] = {}
            total = None
            for index_name in indexes:
                try:
                    index_map, index_total = read_index(files[index_name])
                except (OSError, ValueError) as exc:
                    problems.append(f"{index_name}: unreadable index ({exc})")
                    continue
                weight_map.update(index_map)
                total = index_total if total is None else total + (index_total or 0)
                for shard in sorted(set(index_map.values())):
                    if shard not in files:
                        problems.append(f"{index_name} names shard {shard}, which is missing")
                    elif shard not in shards:
                        shards.append(shard)
            if shards or weight_map:
                return fmt, shards, weight_map, total, indexes
        singles = sorted(n for n in files if n.endswith(file_suffix) and _is_weight_candidate(n))
        if singles:
            return fmt, singles, {}, None, []
    return None, [], {}, None, []


class _Irregular(Exception):
    pass


def read_safetensors_tensors(path: str, label: str) -> tuple[list[TensorInfo], dict[str, Totals]]:
    """The tensors of one safetensors file, as ``read_header`` gives them, by a quicker route for regular files.

    Opening a 30-shard index must cost no more than safetensors' own reader. Every entry is
    checked the way safetensors checks it (its byte range equals shape x dtype size, inside
    the file); anything irregular is re-read with ``read_header``, whose messages explain it.
    Returns the tensors and their totals per dtype (counted in the same pass).
    """
    file_size, header_size, header = _load_header(path, label)
    data_size = file_size - 8 - header_size
    names, bits_of, prod = DTYPE_TORCH_NAMES, DTYPE_BITS, math.prod
    # new_tensor_info, inlined: this loop runs once per tensor of every shard.
    new_object = object.__new__
    set_name, set_dtype, set_shape, set_file, set_nbytes, set_offsets = _SET_TENSOR_FIELDS
    tensors: list[TensorInfo] = []
    append = tensors.append
    # Per safetensors dtype: [tensors, parameters]; bytes follow from the check below.
    counts: dict[str, list[int]] = {}
    try:
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            dtype = entry["dtype"]
            shape = tuple(entry["shape"])
            offsets = entry["data_offsets"]
            begin, end = offsets
            numel = prod(shape)
            if type(numel) is not int or numel < 0 or not 0 <= begin <= end <= data_size or numel * bits_of[dtype] != (end - begin) * 8:
                raise _Irregular
            if type(begin) is not int or type(end) is not int:
                raise _Irregular
            info = new_object(TensorInfo)
            set_name(info, name)
            set_dtype(info, names[dtype])
            set_shape(info, shape)
            set_file(info, label)
            set_nbytes(info, end - begin)
            set_offsets(info, (begin, end))
            append(info)
            counted = counts.get(dtype)
            if counted is None:
                counts[dtype] = [1, numel]
            else:
                counted[0] += 1
                counted[1] += numel
        totals = {names[dtype]: Totals(n, params, params * bits_of[dtype] // 8) for dtype, (n, params) in counts.items()}
    except (_Irregular, KeyError, TypeError, ValueError):
        tensors = read_header(path, label).tensors
        totals = {}
        for tensor in tensors:
            totals.setdefault(tensor.dtype, Totals()).add(tensor)
    return tensors, totals


def read_disk_tensors_job(source: Checkpoint | str | os.PathLike, cancel: CancelToken | None = None) -> Job[DiskTensors]:
    """Read every weight file's header; yields Progress per file, returns DiskTensors."""
    cancel = cancel or CancelToken()
    files = weight_files(source)
    result = DiskTensors()
    for name in unreadable_weight_files(source):
        result.problems.append(f"{name}: not readable (a broken link, a link loop, or not a regular file)")
    fmt, shards, weight_map, total, indexes = _plan(files, result.problems)
    result.format = fmt
    result.index_total_size = total
    if fmt is None:
        if not result.problems:
            result.problems.append("no weight files (*.safetensors or pytorch_model*.bin) in this checkpoint")
        return result
    readable_data_bytes = 0
    for number, shard in enumerate(shards):
        cancel.raise_if_cancelled()
        yield Progress(number, len(shards), f"reading {shard}")
        try:
            if fmt == FORMAT_SAFETENSORS:
                tensors, totals = read_safetensors_tensors(files[shard], shard)
                result.add_counted(shard, tensors, totals)
                readable_data_bytes += sum(t.bytes for t in totals.values())
            else:
                tensors = read_pytorch_bin(files[shard], shard)
                result.add(tensors)
                readable_data_bytes += sum(t.nbytes for t in tensors)
        except (SafetensorsHeaderError, ValueError) as exc:
            result.problems.append(str(exc))
            continue
        result.files.append(shard)
        result.file_paths[shard] = files[shard]
    yield Progress(len(shards), len(shards), "headers read")
    if weight_map:
        _check_against_index(result, weight_map, indexes)
    read_everything = len(result.files) == len(set(weight_map.values()) or shards)
    if fmt == FORMAT_SAFETENSORS and total is not None and read_everything and total != readable_data_bytes:
        result.problems.append(
            f"{indexes[0]} says total_size={total} bytes but the shard headers describe {readable_data_bytes} bytes"
        )
    return result


def _check_against_index(result: DiskTensors, weight_map: dict[str, str], indexes: list[str]) -> None:
    found = {tensor.name: tensor.file for tensor in result.tensors}
    if found == weight_map:
        return  # the usual case, settled by one C-level comparison
    read_files = set(result.files)
    index_label = indexes[0] if len(indexes) == 1 else "the index"
    wrong = [n for n, shard in weight_map.items() if shard in read_files and found.get(n) != shard]
    if wrong:
        sample = ", ".join(wrong[:3])
        result.problems.append(f"{index_label} places {len(wrong)} tensor(s) in shards that do not hold them (e.g. {sample})")
    if not wrong and len(found) == len(weight_map):
        return  # every index entry was found where it says, and nothing else is there
    unlisted = [n for n in found if n not in weight_map]
    if unlisted:
        result.problems.append(f"{len(unlisted)} tensor(s) in the shards are not listed in {index_label} (e.g. {unlisted[0]})")


def read_disk_tensors(source: Checkpoint | str | os.PathLike, cancel: CancelToken | None = None) -> DiskTensors:
    return run_to_end(read_disk_tensors_job(source, cancel))
