"""The tensors of a PyTorch pickle checkpoint (``.bin``, ``.pt``), described without running the pickle.

Unpickling runs whatever functions a file names, so a torch.save file is read in three steps:

1. ``torch_archive`` takes its pickles out of the file with every size bounded, through
   ``safe_io`` (no FIFO ever blocks);
2. ``pickle_scan`` walks their opcodes without running them: what they would import and call,
   with every declared length and memo index checked against the data;
3. only a pickle that imports nothing but torch's state-dict rebuilding, in the opcodes torch's
   safe loader accepts, is unpickled, by ``RestrictedUnpickler``: it resolves those names to local
   stand-ins (never to torch or any other importable object). Shapes, strides and storages are
   checked as torch checks them, and the state dict is flattened without recursion, with bounded
   depth and entries.

Every failure ends as an ``UnreadableFile`` (the subclasses from ``pickle_scan``) whose text is
one line for the user.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from explorer.core.pickle_scan import (
    DTYPE_BYTES, STORAGE_DTYPES, UNTYPED_STORAGE_NAMES, DamagedPickleError, PickleImports, PickleWalk, UnsafePickleError,
    imports_of, is_safe_global, printable_name,
)
from explorer.core.safe_io import UnreadableFile, human_size
from explorer.core.safetensors_header import TensorInfo
from explorer.core.torch_archive import MAX_PICKLE_BYTES, TORCH_OPCODES, TorchPickles, dangerous_message, read_torch_pickles

MAX_TENSOR_DIMS = 64
INT64_MAX = 2**63 - 1
# Real checkpoints nest a state dict a few levels ({"model": {"state_dict": ...}}).
MAX_NESTING = 64
MAX_ENTRIES = 2_000_000
MAX_NAME_CHARACTERS = 64 * 1024 * 1024


# --------------------------------------------------------------------------- stand-ins


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
    numel: int  # elements for a typed storage, bytes for an untyped one, as torch writes it

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES[self.dtype] if self.dtype else self.numel


@dataclass(frozen=True, slots=True)
class _TensorStub:
    storage: _StorageRef
    dtype: str
    shape: tuple[int, ...]
    offset: int = 0  # in elements, into the storage
    strides: tuple[int, ...] = ()


def _dims(values: Any, what: str) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)):
        raise DamagedPickleError(f"gives a tensor {what} that is not a list of numbers; not read")
    if len(values) > MAX_TENSOR_DIMS:
        raise DamagedPickleError(f"gives a tensor {len(values):,} dimensions, more than any model uses; not read")
    for value in values:
        if type(value) is not int or not 0 <= value <= INT64_MAX:
            raise DamagedPickleError(f"gives a tensor {what} with an impossible value (negative, not a whole number, or past 2**63); not read")
    return tuple(values)


def _tensor_stub(storage, storage_offset, size, stride, dtype: str | None) -> _TensorStub:
    if not isinstance(storage, _StorageRef):
        raise DamagedPickleError("holds a tensor without a storage reference; not read")
    # torch reads an untyped storage as bytes unless the rebuild call names the element type.
    dtype = dtype or storage.dtype or "uint8"
    shape = _dims(size, "shape")
    strides = _dims(stride, "stride")
    if len(strides) != len(shape) or type(storage_offset) is not int or not 0 <= storage_offset <= INT64_MAX:
        raise DamagedPickleError(f"holds a tensor of shape {list(shape)} with strides or an offset that do not fit it; not read")
    numel = math.prod(shape)
    if numel > INT64_MAX:
        raise DamagedPickleError("holds a tensor with more elements than torch can count; not read")
    if numel:
        # The last element must lie inside the storage, as torch's set_() checks.
        available = storage.nbytes // DTYPE_BYTES[dtype]
        last = storage_offset + sum((dim - 1) * step for dim, step in zip(shape, strides))
        if last >= available:
            raise DamagedPickleError(
                f"holds a tensor of shape {list(shape)} that reaches past the end of its storage ({available:,} elements); not read"
            )
    return _TensorStub(storage=storage, dtype=dtype, shape=shape, offset=storage_offset, strides=strides)


# Only these element types can require gradients (torch refuses the flag on the others).
_GRADIENT_DTYPES = {"float64", "float32", "float16", "bfloat16", "complex64", "complex128"}


def _check_requires_grad(requires_grad: Any, dtype: str) -> None:
    if type(requires_grad) is not bool or (requires_grad and dtype not in _GRADIENT_DTYPES):
        raise DamagedPickleError("marks a tensor as trainable in a way torch refuses; not read")


def _check_metadata(metadata: Any) -> None:
    # torch applies a truthy metadata as {"conj": bool, "neg": bool} flags.
    if metadata and not (isinstance(metadata, dict) and all(type(k) is str and type(v) is bool for k, v in metadata.items())):
        raise DamagedPickleError("gives a tensor metadata torch never writes; not read")


def _wrong_arguments(what: str) -> DamagedPickleError:
    return DamagedPickleError(f"calls torch's {what} rebuilding with arguments torch never writes; not read")


# Each stand-in takes exactly what torch's function takes, so a call torch would refuse is refused here.
def _rebuild_tensor(*args, **kwargs):
    if len(args) != 4 or kwargs:
        raise _wrong_arguments("tensor")
    return _tensor_stub(*args, None)


def _rebuild_tensor_v2(*args, **kwargs):
    if len(args) not in (6, 7) or kwargs:
        raise _wrong_arguments("tensor")
    stub = _tensor_stub(*args[:4], None)
    _check_requires_grad(args[4], stub.dtype)
    _check_metadata(args[6] if len(args) == 7 else None)
    return stub


def _rebuild_tensor_v3(*args, **kwargs):
    if len(args) not in (7, 8) or kwargs or not isinstance(args[6], _DtypeName):
        raise _wrong_arguments("tensor")
    stub = _tensor_stub(*args[:4], args[6].name)
    _check_requires_grad(args[4], stub.dtype)
    _check_metadata(args[7] if len(args) == 8 else None)
    return stub


def _rebuild_parameter(*args, **kwargs):
    if len(args) != 3 or kwargs or not isinstance(args[0], _TensorStub):
        raise _wrong_arguments("parameter")
    _check_requires_grad(args[1], args[0].dtype)
    return args[0]


def _rebuild_parameter_with_state(*args, **kwargs):
    # A state would set arbitrary attributes on the parameter; plain state dicts carry none.
    if len(args) != 4 or kwargs or args[3]:
        raise _wrong_arguments("parameter")
    return _rebuild_parameter(*args[:3])


class _StateDict(dict):
    """Stands in for OrderedDict; state_dict() pickles carry a ``_metadata`` attribute (set via BUILD).

    torch (and OrderedDict's own pickling) build it empty and add the items after; arguments here
    would let a tiny pickle rebuild one large dict over and over.
    """

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise DamagedPickleError("builds an OrderedDict from arguments, which torch.save never writes; not read")
        super().__init__()


def _unsupported(kind: str):
    def refuse(*args, **kwargs):
        raise DamagedPickleError(f"contains a {kind}, which this reader does not describe")

    return refuse


_REBUILDERS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("collections", "OrderedDict"): _StateDict,
    ("torch._utils", "_rebuild_qtensor"): _unsupported("quantized tensor"),
    ("torch._utils", "_rebuild_sparse_tensor"): _unsupported("sparse tensor"),
}


def refused_global_message(module: str, name: str) -> str:
    return f"refers to {printable_name(module)}.{printable_name(name)}, which a plain state dict never needs (not run)"


class RestrictedUnpickler(pickle.Unpickler):
    """Reads torch.save state dicts; every global resolves to a local stand-in or is refused.

    Give it only bytes ``pickle_scan.walk_pickle`` has read to the end: CPython's unpickler
    allocates declared sizes before reading them, which the walk checks. ``legacy``: the pickle of
    a file from before torch 1.6, whose storage references carry a view.
    """

    def __init__(self, file: BinaryIO, legacy: bool = False) -> None:
        super().__init__(file)
        self._legacy = legacy

    def find_class(self, module: str, name: str):
        if not is_safe_global(module, name):
            raise UnsafePickleError(refused_global_message(module, name))
        stand_in = _REBUILDERS.get((module, name))
        if stand_in is not None:
            return stand_in
        if (module, name) in UNTYPED_STORAGE_NAMES:
            return _StorageType(None)
        if name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        return _DtypeName(name)

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel), as torch.save writes it and torch.load unpacks it;
        # files from before torch 1.6 add a view: None, or (view key, offset, size) inside that storage.
        if (
            not isinstance(pid, tuple) or len(pid) != (6 if self._legacy else 5) or pid[0] != "storage"
            or not isinstance(pid[1], _StorageType)
        ):
            raise DamagedPickleError("holds a reference to stored data in a form torch does not write; not read")
        if not isinstance(pid[3], str):
            raise DamagedPickleError("places a storage on a device that is not named; not read")
        key, numel = _storage_key(pid[2]), pid[4]
        if key is None or type(numel) is not int or not 0 <= numel <= INT64_MAX:
            raise DamagedPickleError("names a storage with an impossible key or size; not read")
        view = pid[5] if self._legacy else None
        if view is not None:
            if not (isinstance(view, tuple) and len(view) == 3 and _storage_key(view[0]) is not None
                    and type(view[1]) is int and type(view[2]) is int and 0 <= view[1] and 0 <= view[2] and view[1] + view[2] <= numel):
                raise DamagedPickleError("names a view outside its storage; not read")
            key, numel = _storage_key(view[0]), view[2]
        return _StorageRef(key=key, dtype=pid[1].dtype, numel=numel)


def _storage_key(key: Any) -> str | None:
    if type(key) is int and 0 <= key <= INT64_MAX:
        return str(key)  # torch names the record f"data/{key}": a number works as well as its text
    return key if isinstance(key, str) and len(key) <= 256 else None


# --------------------------------------------------------------------------- flattening


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)) or key is None:
        return str(key)  # optimizer states are keyed by parameter number
    raise DamagedPickleError(f"holds a dict keyed by a {type(key).__name__}, which no state dict has; not read")


def _check_shape_of_nesting(root: dict) -> None:
    """Refuse containers inside themselves and shared containers that multiply the entries to list.

    One pass over the distinct dicts (depth first, without recursion) orders them parents first;
    a second counts the paths into each: the entries a walk would produce, known before walking.
    """
    state: dict[int, int] = {id(root): 1}  # 1 on the current path, 2 done
    postorder: list[dict] = []
    stack: list[tuple[dict, Any]] = [(root, iter(root.values()))]
    while stack:
        container, children = stack[-1]
        for child in children:
            if isinstance(child, dict):
                seen = state.get(id(child))
                if seen == 1:
                    raise DamagedPickleError("puts a container inside itself, as a decompression bomb would; not read")
                if seen is None:
                    state[id(child)] = 1
                    stack.append((child, iter(child.values())))
                    break
        else:
            stack.pop()
            state[id(container)] = 2
            postorder.append(container)
    paths: dict[int, int] = {id(root): 1}
    depth: dict[int, int] = {id(root): 1}
    entries = 0
    cap = MAX_ENTRIES + 1
    for container in reversed(postorder):
        reach, level = paths[id(container)], depth[id(container)]
        if level > MAX_NESTING:
            raise DamagedPickleError(f"nests its dicts more than {MAX_NESTING} levels deep, far more than a state dict needs; not read")
        entries = min(cap, entries + reach * len(container))
        for child in container.values():
            if isinstance(child, dict):
                paths[id(child)] = min(cap, paths.get(id(child), 0) + reach)
                depth[id(child)] = max(depth.get(id(child), 0), level + 1)
    if entries > MAX_ENTRIES:
        shared = sum(1 for reach in paths.values() if reach > 1)
        raise DamagedPickleError(
            f"the pickle nests one container inside itself {shared} times (more than {MAX_ENTRIES:,} entries to list), "
            "as a decompression bomb would; not read"
        )


def _flatten_state_dict(root: Any) -> list[tuple[str, _TensorStub]]:
    """(dotted name, tensor stub) pairs; checkpoints sometimes nest the state dict ({'state_dict': ...})."""
    if isinstance(root, _TensorStub):
        return [("", root)]
    if not isinstance(root, dict):
        return []
    _check_shape_of_nesting(root)
    found: list[tuple[str, _TensorStub]] = []
    characters = 0
    stack: list[tuple[str, dict]] = [("", root)]
    while stack:
        prefix, container = stack.pop()
        nested: list[tuple[str, dict]] = []
        for key, value in container.items():
            if not isinstance(value, (_TensorStub, dict)):
                continue
            text = _key_text(key)
            name = f"{prefix}.{text}" if prefix else text
            characters += len(name)
            if characters > MAX_NAME_CHARACTERS:
                raise DamagedPickleError(f"its tensor names add up to more than {human_size(MAX_NAME_CHARACTERS)} of text; not read")
            if isinstance(value, _TensorStub):
                found.append((name, value))
            else:
                nested.append((name, value))
        # Reversed onto the stack, so nested dicts come out in the order they were stored.
        stack.extend(reversed(nested))
    return found


# --------------------------------------------------------------------------- the file


@dataclass(slots=True)
class PytorchFileReport:
    """One pickle checkpoint: what its pickle would import, and its tensors if they could be read."""

    file: str
    imports: PickleImports
    tensors: list[TensorInfo] = field(default_factory=list)
    error: UnreadableFile | None = None
    # Tensors that are the same data as an earlier one (tied weights torch.save stored once): a model
    # has their parameters once, as the safetensors files transformers writes store them once.
    aliases: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        return str(self.error) if self.error is not None else None


def _with_label(error: UnreadableFile, label: str) -> UnreadableFile:
    text = str(error)
    if text.startswith(label):
        return error
    return type(error)(f"{label}: {text}")


def describe_pytorch_file(path: str | os.PathLike, file_label: str | None = None, *, read_tensors: bool = True) -> PytorchFileReport:
    """What a torch.save file's pickle would import, and (with ``read_tensors``) its tensors; never raises for its content."""
    path = os.fspath(path)
    label = file_label or os.path.basename(path)
    walk = PickleWalk()
    try:
        pickles = read_torch_pickles(path, label, walk)
    except UnreadableFile as exc:
        return PytorchFileReport(label, PickleImports(label, imports_of(walk), str(exc)), error=exc)
    except Exception as exc:  # a bug or an OS surprise: still one line, never a traceback
        error = DamagedPickleError(f"{label} cannot be read ({type(exc).__name__}: {exc})")
        return PytorchFileReport(label, PickleImports(label, imports_of(walk), str(error)), error=error)
    report = PytorchFileReport(label, PickleImports(label, imports_of(walk)))
    if not read_tensors:
        return report
    if report.imports.dangerous:
        report.error = UnsafePickleError(dangerous_message(label, walk))
        return report
    try:
        report.tensors, report.aliases = _tensors_of(pickles, label)
    except UnreadableFile as exc:
        report.error = _with_label(exc, label)
    return report


def _tensors_of(pickles: TorchPickles, label: str) -> tuple[list[TensorInfo], list[str]]:
    foreign = sorted(pickles.main_opcodes - TORCH_OPCODES)
    if foreign:
        raise DamagedPickleError(
            f"{label}: the pickle uses opcodes torch's safe loader refuses ({', '.join(foreign[:3])}); not a loadable state dict, not read"
        )
    if "EMPTY_SET" in pickles.main_opcodes:
        # torch accepts sets, but no state dict holds one, and each costs 200 bytes for the opcode's one.
        raise DamagedPickleError(f"{label}: the pickle builds sets, which no state dict holds; not read")
    try:
        root = RestrictedUnpickler(io.BytesIO(pickles.main), legacy=pickles.storage_sizes is None).load()
        stubs = _flatten_state_dict(root)
    except UnreadableFile:
        raise
    except RecursionError:
        raise DamagedPickleError(f"{label}: the pickle is nested too deeply to read; not read") from None
    except Exception as exc:  # untrusted bytes: any other unpickling failure is "unreadable"
        text = " ".join(str(exc).split())[:160]
        raise DamagedPickleError(f"{label}: not a readable PyTorch checkpoint ({type(exc).__name__}: {text})") from None
    if not stubs:
        raise DamagedPickleError(f"{label}: holds no tensors")
    if pickles.storage_sizes is not None:
        checked: set[str] = set()
        for _name, stub in stubs:
            storage = stub.storage
            if storage.key in checked:
                continue
            checked.add(storage.key)
            stored = pickles.storage_sizes.get(storage.key)
            if stored is None:
                raise DamagedPickleError(f"{label}: names storage data/{printable_name(storage.key[:40])}, which the archive does not hold; not read")
            if stored != storage.nbytes:
                raise DamagedPickleError(
                    f"{label}: storage data/{printable_name(storage.key[:40])} holds {stored:,} bytes but the pickle describes {storage.nbytes:,}; not read"
                )
    seen: set[tuple] = set()
    aliases = []
    for name, stub in stubs:
        view = (stub.storage.key, stub.offset, stub.shape, stub.strides, stub.dtype)
        if view in seen:
            aliases.append(name)
        seen.add(view)
    tensors = [
        TensorInfo(name=name, dtype=stub.dtype, shape=stub.shape, file=label, nbytes=math.prod(stub.shape) * DTYPE_BYTES[stub.dtype])
        for name, stub in stubs
    ]
    return tensors, aliases


def read_pytorch_bin(path: str | os.PathLike, file_label: str | None = None) -> list[TensorInfo]:
    """The tensors of a torch.save file, without running its pickle; raises UnreadableFile (subclasses) only.

    UnsafePickleError when the pickle asks for anything but tensors, dicts and parameters;
    DamagedPickleError when it is cut short, malformed, or describes impossible tensors.
    """
    report = describe_pytorch_file(path, file_label)
    if report.error is not None:
        raise report.error
    return report.tensors


_TORCH_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def torch_load_error(error: BaseException, path: str | os.PathLike, file_label: str | None = None) -> UnreadableFile:
    """Our own one-line words for torch.load failing on a pickle checkpoint.

    torch's refusals of a pickle advise turning its safety off; that advice never reaches the
    user. The file is described again by this module (it says why, when it can); otherwise the
    message says that the pickle asks for something a plain state dict never needs and was not run.
    """
    label = file_label or os.path.basename(os.fspath(path))
    report = describe_pytorch_file(path, label)
    if report.error is not None:
        return report.error
    text = str(error)
    if "weights_only" in text or "Weights only" in text or isinstance(error, pickle.UnpicklingError):
        named = _TORCH_GLOBAL.search(text)
        what = f"{named.group(1)}, which" if named else "something"
        return UnsafePickleError(f"{label}: the pickle asks for {what} a plain state dict never needs; it was not run")
    first = " ".join(text.split("\n", 1)[0].split())[:160] or type(error).__name__
    return DamagedPickleError(f"{label} could not be loaded by torch ({first})")


def pickle_imports_of(path: str | os.PathLike, file_label: str | None = None) -> PickleImports:
    """What a pickle file (a .bin, .pt or .pth that is not read for tensors) would import and call."""
    return describe_pytorch_file(path, file_label, read_tensors=False).imports


__all__ = [
    "DamagedPickleError",
    "MAX_PICKLE_BYTES",
    "PytorchFileReport",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "describe_pytorch_file",
    "pickle_imports_of",
    "read_pytorch_bin",
    "refused_global_message",
    "torch_load_error",
]
