"""Hand-built torch.save files for the pickle tests: any shape, stride, storage or opcode an attacker could write.

``pickle.dumps`` cannot write torch's rebuild calls without torch's own objects, so the pickles
here are spelled in opcodes: ``push(value)`` cuts the opcodes that push a plain value out of a
protocol-2 pickle, and ``tensor_ops`` writes the REDUCE of ``_rebuild_tensor_v2`` the way
torch.save does.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def push(value) -> bytes:
    """The opcodes that push ``value`` (an int, str, tuple, bool ...), without PROTO and STOP."""
    return pickle.dumps(value, protocol=2)[2:-1]


def global_ops(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def tensor_ops(size, stride, *, offset=0, key="0", numel=None, storage="FloatStorage") -> bytes:
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) in opcodes."""
    if numel is None:
        numel = 1
        for dim in size:
            numel *= dim
    persistent_id = b"(" + push("storage") + global_ops("torch", storage) + push(key) + push("cpu") + push(numel) + b"tQ"
    return (
        global_ops("torch._utils", "_rebuild_tensor_v2")
        + b"("
        + persistent_id
        + push(offset)
        + push(tuple(size))
        + push(tuple(stride))
        + b"\x89"
        + global_ops("collections", "OrderedDict")
        + b")R"
        + b"tR"
    )


def state_dict_pickle(entries: dict[str, bytes]) -> bytes:
    """A protocol-2 pickle of a plain dict: name -> the opcodes of its value."""
    body = b"".join(push(name) + ops for name, ops in entries.items())
    return b"\x80\x02}(" + body + b"u."


def write_torch_zip(path: Path, data_pkl: bytes, storages: dict[str, int] | None = None, compress: bool = False) -> Path:
    """A torch.save zip: archive/data.pkl, one zeroed record per storage key (bytes), archive/version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        for key, size in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", bytes(size))
        archive.writestr("archive/version", "3\n")
    return path


def float_tensor_file(path: Path, size=(2, 3), stride=(3, 1), **tensor) -> Path:
    """One float32 tensor "w" whose storage record holds ``size`` elements (unless ``record`` says otherwise)."""
    record = tensor.pop("record", None)
    elements = tensor.get("numel")
    if elements is None:
        elements = 1
        for dim in size:
            elements *= dim
    key = tensor.get("key", "0")
    storages = {} if record is False else {str(key): 4 * elements if record is None else record}
    return write_torch_zip(path, state_dict_pickle({"w": tensor_ops(size, stride, **tensor)}), storages)


class Payload:
    """Pickles as a call to os.system: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def legacy_file(path: Path, main_pickle: bytes, keys: list[str] | None = None) -> Path:
    """torch's pre-1.6 layout: magic number, protocol, sys info, the object, the storage keys (no data)."""
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    path.write_bytes(
        pickle.dumps(LEGACY_MAGIC, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps(sys_info, protocol=2)
        + main_pickle
        + pickle.dumps(keys or [], protocol=2)
    )
    return path


def mutate(data: bytes, edits) -> bytes:
    """Apply fuzzer edits (kind, position, byte): 0 replace, 1 insert, 2 delete, 3 flip one bit."""
    mutated = bytearray(data)
    for kind, position, value in edits:
        if not mutated:
            break
        at = position % len(mutated)
        if kind == 0:
            mutated[at] = value
        elif kind == 1:
            mutated.insert(at, value)
        elif kind == 2:
            del mutated[at]
        else:
            mutated[at] ^= 1 << (value % 8)
    return bytes(mutated)
