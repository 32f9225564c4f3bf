"""What a pickle would import and call, found by reading its opcodes, never by running them.

Unpickling a ``.bin`` or ``.pt`` file can run any function the file names: that is how a
malicious checkpoint calls ``os.system``. This module walks the opcodes with pickletools'
argument readers and emulates just enough of the unpickler's stack and memo to know which
name each GLOBAL, STACK_GLOBAL, INST or EXT opcode would import, and which of those would be
called (REDUCE, NEWOBJ, INST, OBJ) or would have an object's state set (BUILD). A name is safe
when torch's state-dict rebuilding needs it (the allowlist below, the same one
``pickle_reader.RestrictedUnpickler`` resolves); anything else is dangerous.

The walk also vouches for the bytes before the restricted unpickler reads them: every declared
length is checked against the data (CPython's unpickler allocates a BINBYTES or LONG_BINPUT size
before it reads), memo indices stay within the opcodes seen, and the number of opcodes is bounded,
so time and memory follow the size of the input. Trouble is reported as a problem, never raised.
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from explorer.core.safe_io import UnreadableFile

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

# The one spelling torch writes and its safe loader accepts (torch.UntypedStorage, TypedStorage and
# _UntypedStorage are refused by it, so a pickle naming them is not a loadable state dict).
UNTYPED_STORAGE_NAMES = {("torch.storage", "UntypedStorage")}

# What torch.save writes for tensors, parameters and (ordered) dicts of them. The two rebuilders
# of quantized and sparse tensors are torch's own and harmless; the reader declines to describe them.
REBUILD_FUNCTIONS = {
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._utils", "_rebuild_qtensor"), ("torch._utils", "_rebuild_sparse_tensor"),
    ("collections", "OrderedDict"),
}


def is_safe_global(module: str, name: str) -> bool:
    """True for the names a plain state dict's pickle needs: the RestrictedUnpickler's allowlist."""
    if (module, name) in REBUILD_FUNCTIONS or (module, name) in UNTYPED_STORAGE_NAMES:
        return True
    return module == "torch" and (name in STORAGE_DTYPES or name in DTYPE_BYTES)


# A torch.save pickle takes about 30 opcodes per tensor: two million covers 60k tensors in one
# file, and keeps both this walk and the unpickling after it to seconds and hundreds of megabytes.
MAX_OPCODES = 2_000_000
# Memo slots beyond the opcodes seen so far (hand-written pickles skip a few; no pickler skips more).
MEMO_SLACK = 1024
# Module and attribute names are short; longer strings are only data.
MAX_NAME_LENGTH = 512


def printable_name(text: str) -> str:
    """A name from a pickle as it can be shown: control characters escaped, cut at MAX_NAME_LENGTH.

    Names the allowlist holds are plain ASCII and come out unchanged, so this never makes a
    dangerous name look safe.
    """
    if len(text) > MAX_NAME_LENGTH:
        text = text[:MAX_NAME_LENGTH] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class UnsafePickleError(UnreadableFile):
    """The pickle refers to something a plain state dict never contains; it was not run."""


class DamagedPickleError(UnreadableFile):
    """The file is not a sensible torch.save state dict: cut short, malformed, absurd sizes, a bomb."""


class PickleScanError(DamagedPickleError):
    """The pickle's opcodes cannot be read to the end (malformed, cut short, or past a bound)."""


@dataclass(frozen=True, slots=True)
class PickleImport:
    """One name the pickle would import, how often it would call it, and whether that is dangerous."""

    module: str
    name: str
    calls: int = 0  # REDUCE, NEWOBJ, NEWOBJ_EX, INST and OBJ on it (or on what it returned)
    builds: int = 0  # BUILD on an object it made: its __setstate__ would run
    dangerous: bool = True

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"module": self.module, "name": self.name, "calls": self.calls, "builds": self.builds, "dangerous": self.dangerous}


@dataclass(slots=True)
class PickleImports:
    """What one file's pickle(s) would import; ``problem`` says why the walk stopped early, if it did."""

    file: str
    imports: list[PickleImport] = field(default_factory=list)
    problem: str | None = None

    @property
    def dangerous(self) -> list[PickleImport]:
        return [item for item in self.imports if item.dangerous]

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "imports": [item.to_json() for item in self.imports], "problem": self.problem}


class _Global:
    """The stack holds an imported name here."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key


class _Made:
    """The stack holds what calling an imported name returned."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key


_UNKNOWN = object()
_STRING_OPCODES = frozenset({"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING", "SHORT_BINSTRING"})
_INT_OPCODES = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"})
_PUT_OPCODES = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPCODES = frozenset({"GET", "BINGET", "LONG_BINGET"})
_IN_PLACE = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"})
_MARK_OBJECT = pickletools.markobject
# Per opcode: how many items it takes from above the last mark (None: none, it takes no mark),
# how many from the stack otherwise, and how many it leaves.
_EFFECTS: dict[str, tuple[int | None, int, int]] = {}
for _op in pickletools.opcodes:
    _before = _op.stack_before
    if _MARK_OBJECT in _before:
        _EFFECTS[_op.name] = (_before.index(_MARK_OBJECT), 0, len(_op.stack_after))
    else:
        _EFFECTS[_op.name] = (None, len(_before), len(_op.stack_after))
del _op, _before


_OPCODE_OF = {op.code.encode("latin-1"): op for op in pickletools.opcodes}


def _read_name_pair(stream: BinaryIO) -> tuple[str, str]:
    """GLOBAL's and INST's two lines, decoded as the unpickler decodes them (pickletools undoes escapes it does not)."""
    names = []
    for _ in range(2):
        line = stream.readline()
        if not line.endswith(b"\n"):
            raise ValueError("no newline found after a module or attribute name")
        names.append(line[:-1].decode("utf-8"))
    return names[0], names[1]


def _opcodes(stream: BinaryIO):
    """(opcode, argument, position) up to STOP, as ``pickletools.genops`` yields them, but names as pairs."""
    while True:
        position = stream.tell()
        code = stream.read(1)
        opcode = _OPCODE_OF.get(code)
        if opcode is None:
            raise ValueError("pickle exhausted before seeing STOP" if not code else f"at position {position}, opcode {code!r} unknown")
        if opcode.arg is None:
            argument = None
        elif opcode.arg.name == "stringnl_noescape_pair":
            argument = _read_name_pair(stream)
        else:
            argument = opcode.arg.reader(stream)
        yield opcode, argument, position
        if code == b".":
            return


@dataclass(slots=True)
class PickleWalk:
    """Walks of one file's pickles: what they import (key -> [calls, builds]), opcodes counted over all.

    ``end``, ``lone_int`` and ``opcode_names`` describe the last pickle walked.
    """

    found: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    end: int = 0
    opcodes: int = 0
    lone_int: int | None = None  # legacy torch files start with a pickle of one magic number
    opcode_names: set[str] = field(default_factory=set)


def walk_pickle(stream: BinaryIO, label: str, walk: PickleWalk | None = None, max_opcodes: int = MAX_OPCODES) -> PickleWalk:
    """Walk one pickle from ``stream``'s position to its STOP; imports land in ``walk.found`` as they are met.

    Raises PickleScanError when the opcodes cannot be read; what was found before stays in ``walk``.
    """
    walk = walk if walk is not None else PickleWalk()
    found = walk.found
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    opcodes = 0
    first_opcodes: list[str] = []
    names_used = walk.opcode_names = set()
    last_int: int | None = None

    def note(key: tuple[str, str], calls: int = 0, builds: int = 0) -> None:
        key = (printable_name(key[0]), printable_name(key[1]))
        counts = found.get(key)
        if counts is None:
            found[key] = [calls, builds]
        else:
            counts[0] += calls
            counts[1] += builds

    def take(count: int) -> list[Any]:
        floor = marks[-1] if marks else 0
        if len(stack) - count < floor:
            raise PickleScanError(f"{label}: the pickle takes more from its stack than it put there (malformed)")
        if count == 0:
            return []
        taken = stack[-count:]
        del stack[-count:]
        return taken

    def take_to_mark() -> list[Any]:
        if not marks:
            raise PickleScanError(f"{label}: the pickle closes a group it never opened (malformed)")
        start = marks.pop()
        taken = stack[start:]
        del stack[start:]
        return taken

    try:
        for opcode, arg, _position in _opcodes(stream):
            opcodes += 1
            if walk.opcodes + opcodes > max_opcodes:
                raise PickleScanError(f"{label}: the pickle has more than {max_opcodes:,} opcodes, far more than a state dict needs; not read")
            name = opcode.name
            names_used.add(name)
            if len(first_opcodes) < 4:
                first_opcodes.append(name)
            if name in _STRING_OPCODES:
                stack.append(arg if isinstance(arg, str) and len(arg) <= MAX_NAME_LENGTH else _UNKNOWN)
            elif name in _INT_OPCODES:
                last_int = arg if isinstance(arg, int) and not isinstance(arg, bool) else None
                stack.append(_UNKNOWN)
            elif name == "MARK":
                marks.append(len(stack))
            elif name in _PUT_OPCODES:
                # Picklers number memo slots in order; the unpickler sizes its memo by the highest slot.
                if not isinstance(arg, int) or arg < 0 or arg > walk.opcodes + opcodes + MEMO_SLACK:
                    raise PickleScanError(f"{label}: the pickle stores into memo slot {arg!r:.40}, past any real pickle's; not read")
                if not stack or (marks and len(stack) == marks[-1]):
                    raise PickleScanError(f"{label}: the pickle stores nothing into its memo (malformed)")
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                if not stack or (marks and len(stack) == marks[-1]):
                    raise PickleScanError(f"{label}: the pickle stores nothing into its memo (malformed)")
                memo[len(memo)] = stack[-1]
            elif name in _GET_OPCODES:
                if arg not in memo:
                    raise PickleScanError(f"{label}: the pickle reads memo slot {arg!r:.40}, which it never filled (malformed)")
                stack.append(memo[arg])
            elif name == "GLOBAL" or name == "INST":
                key = arg
                if name == "GLOBAL":
                    note(key)
                    stack.append(_Global(key))
                else:
                    take_to_mark()
                    note(key, calls=1)
                    stack.append(_Made(key))
            elif name == "STACK_GLOBAL":
                module, attribute = take(2)
                if not isinstance(module, str) or not isinstance(attribute, str):
                    raise PickleScanError(f"{label}: the pickle imports a name it computes, which this walk cannot follow; not read")
                key = (module, attribute)
                note(key)
                stack.append(_Global(key))
            elif name in ("EXT1", "EXT2", "EXT4"):
                # copyreg's extension registry of the loading process decides: unknowable here, so dangerous.
                key = ("copyreg", f"extension {arg}")
                note(key)
                stack.append(_Global(key))
            elif name in ("REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ"):
                if name == "OBJ":
                    items = take_to_mark()
                    if not items:
                        raise PickleScanError(f"{label}: the pickle builds an object from nothing (malformed)")
                    target = items[0]
                else:
                    target = take({"REDUCE": 2, "NEWOBJ": 2, "NEWOBJ_EX": 3}[name])[0]
                if isinstance(target, (_Global, _Made)):
                    note(target.key, calls=1)
                    stack.append(_Made(target.key))
                else:
                    stack.append(_UNKNOWN)
            elif name == "BUILD":
                take(1)
                if not stack or (marks and len(stack) == marks[-1]):
                    raise PickleScanError(f"{label}: the pickle sets the state of nothing (malformed)")
                target = stack[-1]
                if isinstance(target, (_Global, _Made)):
                    note(target.key, builds=1)
            elif name == "DUP":
                if not stack or (marks and len(stack) == marks[-1]):
                    raise PickleScanError(f"{label}: the pickle copies nothing (malformed)")
                stack.append(stack[-1])
            elif name == "POP" and (not stack or (marks and len(stack) == marks[-1])):
                take_to_mark()  # POP on an empty group drops the group's mark, as the unpickler does
            else:
                from_mark, plain, pushed = _EFFECTS[name]
                if from_mark is not None:
                    take_to_mark()
                    taken = take(from_mark)
                else:
                    taken = take(plain)
                if name in _IN_PLACE:
                    stack.append(taken[0])  # the same container, filled: a BUILD on it later still knows what made it
                else:
                    stack.extend([_UNKNOWN] * pushed)
    except PickleScanError:
        walk.opcodes += opcodes
        raise
    except RecursionError:
        walk.opcodes += opcodes
        raise PickleScanError(f"{label}: the pickle cannot be read (too deeply nested)") from None
    except Exception as exc:  # unknown opcodes, truncation, bad arguments (ValueError mostly)
        walk.opcodes += opcodes
        raise PickleScanError(f"{label}: the pickle is damaged or cut short ({_reason(exc)})") from None
    walk.opcodes += opcodes
    walk.end = stream.tell()
    core = [name for name in first_opcodes if name not in ("PROTO", "FRAME")]
    if opcodes <= len(first_opcodes) and len(core) == 2 and core[0] in _INT_OPCODES and core[1] == "STOP":
        walk.lone_int = last_int
    return walk


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "integer string conversion" in text or "Exceeds the limit" in text:
        return "a number with thousands of digits"
    text = text[:160]
    return text or type(exc).__name__


def imports_of(walk: PickleWalk) -> list[PickleImport]:
    """The walk's findings as PickleImport entries: dangerous ones first, then by name."""
    items = [
        PickleImport(module, name, calls, builds, dangerous=not is_safe_global(module, name))
        for (module, name), (calls, builds) in walk.found.items()
    ]
    items.sort(key=lambda item: (not item.dangerous, item.module, item.name))
    return items


def scan_pickle(data: bytes, label: str, max_opcodes: int = MAX_OPCODES) -> PickleImports:
    """What one in-memory pickle would import and call; parse trouble lands in ``problem``."""
    walk = PickleWalk()
    problem = None
    try:
        walk_pickle(io.BytesIO(data), label, walk, max_opcodes)
    except UnreadableFile as exc:
        problem = str(exc)
    return PickleImports(file=label, imports=imports_of(walk), problem=problem)


__all__ = [
    "DTYPE_BYTES",
    "DamagedPickleError",
    "MAX_OPCODES",
    "PickleImport",
    "PickleImports",
    "PickleScanError",
    "PickleWalk",
    "printable_name",
    "REBUILD_FUNCTIONS",
    "STORAGE_DTYPES",
    "UNTYPED_STORAGE_NAMES",
    "UnsafePickleError",
    "imports_of",
    "is_safe_global",
    "scan_pickle",
    "walk_pickle",
]
