"""The static walk of a pickle: every import and call found without running anything, trouble reported not raised.

The reference is CPython's own unpickler: on any pickle the walk reads to the end, every name
the unpickler would import (its ``find_class`` calls) must be in the walk's list. The fuzz
tests check that on random, generated and mutated pickles, with a recording unpickler whose
``find_class`` hands out harmless stand-ins.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import io
import os
import pickle
import struct
import time
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from explorer.core.pickle_reader import RestrictedUnpickler, UnsafePickleError
from explorer.core.pickle_scan import (
    DTYPE_BYTES, REBUILD_FUNCTIONS, STORAGE_DTYPES, UNTYPED_STORAGE_NAMES, PickleImports, PickleScanError, is_safe_global,
    printable_name, scan_pickle,
)
from explorer.core.safe_io import UnreadableFile
from tests.core.pickle_builders import Payload, global_ops, mutate, push

SYSTEM = ("posix" if os.name == "posix" else "nt", "system")


def _found(imports: PickleImports) -> dict[tuple[str, str], tuple[int, int, bool]]:
    return {(i.module, i.name): (i.calls, i.builds, i.dangerous) for i in imports.imports}


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_os_system_is_found_in_every_protocol(tmp_path, protocol):
    marker = tmp_path / "ran"
    scanned = scan_pickle(pickle.dumps([Payload(marker), Payload(marker)], protocol=protocol), "payload.pkl")
    assert scanned.problem is None
    # Protocol 4 and 5 import through STACK_GLOBAL, the second time from memoized strings.
    assert _found(scanned) == {SYSTEM: (2, 0, True)}
    assert not marker.exists()


def test_stack_global_names_come_from_the_memo():
    data = (
        b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94"  # builtins.eval, memoized
        b"h\x00h\x01\x93\x8c\x011\x85R"  # the same strings again, from the memo: a second import
        b"h\x02\x8c\x012\x85R\x86."
    )
    assert _found(scan_pickle(data, "x")) == {("builtins", "eval"): (2, 0, True)}


def test_inst_obj_newobj_build_and_extensions_are_all_listed():
    inst = b"(S'ls'\nisubprocess\nPopen\n"  # INST: imports and calls
    obj = b"(" + global_ops("os", "popen") + push("id") + b"o"  # OBJ: the class is the first item
    newobj = global_ops("subprocess", "run") + push(("id",)) + b"\x81"  # NEWOBJ
    newobj_ex = global_ops("subprocess", "call") + push(("id",)) + b"}\x92"  # NEWOBJ_EX
    build = global_ops("collections", "OrderedDict") + b")R}b"  # BUILD on what OrderedDict() made
    extension = b"\x82\x05"  # EXT1: whatever copyreg's registry of the loading process holds
    data = b"\x80\x04(" + inst + obj + newobj + newobj_ex + build + extension + b"t."
    assert _found(scan_pickle(data, "x")) == {
        ("subprocess", "Popen"): (1, 0, True),
        ("os", "popen"): (1, 0, True),
        ("subprocess", "run"): (1, 0, True),
        ("subprocess", "call"): (1, 0, True),
        ("collections", "OrderedDict"): (1, 1, False),
        ("copyreg", "extension 5"): (0, 0, True),
    }


def test_dangerous_imports_come_first():
    data = b"\x80\x02(" + global_ops("collections", "OrderedDict") + global_ops("builtins", "exec") + b"t."
    assert [i.qualified_name for i in scan_pickle(data, "x").imports] == ["builtins.exec", "collections.OrderedDict"]


def test_names_with_control_characters_are_shown_escaped():
    data = b"\x80\x04\x8c\x05os\x1b[2\x94\x8c\x06sys\ntm\x94\x93."
    (found,) = scan_pickle(data, "x").imports
    assert found.module == "os\\x1b[2" and found.name == "sys\\ntm" and found.dangerous


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x80\x02\xff.", "damaged or cut short"),
        (b"\x80\x02(", "damaged or cut short"),
        (b"", "damaged or cut short"),
        (b"\x80\x02R.", "takes more from its stack"),
        (b"\x80\x02u.", "closes a group it never opened"),
        (b"\x80\x02h\x05.", "never filled"),
        (b"\x80\x02Nr" + struct.pack("<I", 2**30) + b".", "memo slot"),
        (b"\x80\x04K\x01K\x02\x93.", "computes"),
        (b"\x80\x02L" + b"9" * 100_000 + b"L\n.", "thousands of digits"),
        (b"\x80\x03B" + struct.pack("<I", 2**31 - 1) + b"abc.", "damaged or cut short"),
    ],
)
def test_trouble_is_reported_not_raised(data, message):
    tracemalloc.start()
    try:
        scanned = scan_pickle(data, "x.pkl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert scanned.problem is not None and message in scanned.problem and scanned.problem.startswith("x.pkl: ")
    assert peak < 1024 * 1024


def test_what_was_found_before_the_trouble_is_kept():
    data = b"\x80\x02" + global_ops("os", "system") + push(("id",)) + b"R\xff"
    scanned = scan_pickle(data, "x")
    assert scanned.problem and _found(scanned) == {("os", "system"): (1, 0, True)}


def test_the_opcode_budget_bounds_the_walk():
    data = b"\x80\x02" + b"N0" * 5000 + b"N."
    assert scan_pickle(data, "x").problem is None
    assert "more than 1,000 opcodes" in scan_pickle(data, "x", max_opcodes=1000).problem


def test_the_allowlist_is_exactly_what_the_restricted_unpickler_resolves():
    torch_names = [("torch", name) for name in list(STORAGE_DTYPES) + list(DTYPE_BYTES)]
    for module, name in sorted(REBUILD_FUNCTIONS | UNTYPED_STORAGE_NAMES) + torch_names:
        assert is_safe_global(module, name)
        data = b"\x80\x02" + global_ops(module, name) + b"."
        assert RestrictedUnpickler(io.BytesIO(data)).load() is not None
    for module, name in [SYSTEM, ("builtins", "eval"), ("torch", "load"), ("torch._utils", "_rebuild_device_tensor_from_numpy"),
                         ("collections", "Counter"), ("torch.nn", "Module"), ("torch", "FloatStorage.__init__")]:
        assert not is_safe_global(module, name)
        with pytest.raises(UnsafePickleError, match="never needs"):
            RestrictedUnpickler(io.BytesIO(b"\x80\x02" + global_ops(module, name) + b".")).load()


def test_a_real_state_dict_lists_only_safe_imports():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Embedding(4, 2))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    scanned = scan_pickle(data, "data.pkl")
    assert scanned.problem is None and scanned.imports and not scanned.dangerous
    assert _found(scanned)[("torch._utils", "_rebuild_tensor_v2")][0] == len(model.state_dict())


def test_a_large_real_pickle_is_walked_in_about_a_second():
    entries = b"".join(push(f"model.layers.{i}.weight") + global_ops("collections", "OrderedDict") + b")R" for i in range(50_000))
    data = b"\x80\x02}(" + entries + b"u."
    started = time.perf_counter()
    scanned = scan_pickle(data, "x")
    assert scanned.problem is None and _found(scanned) == {("collections", "OrderedDict"): (50_000, 0, False)}
    assert time.perf_counter() - started < 3


# --------------------------------------------------------------------------- fuzzing against CPython's unpickler


class _Anything:
    """What the recording unpickler hands out for every name: takes any arguments and any state."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __setstate__(self, state) -> None:
        pass


class _Recording(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.imported: set[tuple[str, str]] = set()

    def find_class(self, module, name):
        self.imported.add((module, name))
        return _Anything

    def persistent_load(self, pid):
        return _Anything()


def _check_walk(data: bytes) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        scanned = scan_pickle(data, "fuzz.pkl")
        peak = tracemalloc.get_traced_memory()[1]
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"scan_pickle raised {exc!r}") from exc
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1 and peak < 4 * 1024 * 1024
    if scanned.problem is not None:
        assert "\n" not in scanned.problem
        return
    # The walk vouched for these bytes: the real unpickler may run on them, and imports nothing unlisted.
    recording = _Recording(data)
    try:
        recording.load()
    except Exception:  # noqa: BLE001 (a walkable pickle may still fail to build: stack types, bad args)
        pass
    listed = {(i.module, i.name) for i in scanned.imports}
    imported = {(printable_name(module), printable_name(name)) for module, name in recording.imported}
    assert imported <= listed, imported - listed


_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8), st.binary(max_size=8))
_OBJECTS = st.recursive(
    st.one_of(
        _LEAVES,
        st.builds(collections.OrderedDict),
        st.builds(datetime.date, st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28)),
        st.builds(fractions.Fraction, st.integers(), st.integers(1, 100)),
        st.builds(decimal.Decimal, st.integers()),
        st.builds(lambda n: Payload(n), st.text(max_size=4)),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=4), children, max_size=4),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=12,
)
_EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)), max_size=4)




FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(obj=_OBJECTS, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL), edits=_EDITS)
def test_generated_and_mutated_pickles_never_hide_an_import(obj, protocol, edits):
    _check_walk(mutate(pickle.dumps(obj, protocol=protocol), edits))


@FAST
@given(data=st.binary(max_size=300))
def test_random_bytes_are_walked_without_raising(data):
    _check_walk(data)


@pytest.mark.slow
@DEEP
@given(obj=_OBJECTS, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL), edits=st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)), max_size=10))
def test_generated_and_mutated_pickles_never_hide_an_import_deeply(obj, protocol, edits):
    _check_walk(mutate(pickle.dumps(obj, protocol=protocol), edits))


@pytest.mark.slow
@DEEP
@given(data=st.binary(max_size=2000))
def test_random_bytes_are_walked_without_raising_deeply(data):
    _check_walk(data)


def test_scan_errors_are_reader_errors():
    assert issubclass(PickleScanError, UnreadableFile)
