"""Forged and broken safetensors headers: refused with a message, never counted, never a crash.

The reference is the safetensors library itself: a header our reader accepts must be one the
library loads, with the same tensors, and one the library refuses must be refused with a
message. The fuzz tests check that on random and mutated headers.
"""

from __future__ import annotations

import json
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from safetensors import safe_open
from safetensors.numpy import save_file

from explorer.core.safe_io import UnreadableFile
from explorer.core.safetensors_header import MAX_HEADER_BYTES, SafetensorsHeaderError, count_parameters, read_header
from tests import hostile_corpus as corpus

READERS = (read_header, count_parameters)


@pytest.mark.parametrize(
    "build, message",
    [
        (corpus.huge_digit_dimensions, "too large for any file"),
        (corpus.huge_dimensions_tiny_data, r"needs 4835703278458516698824704 bytes|too large"),
        (corpus.negative_dimension, "negative dimension"),
        (corpus.zero_padded_dimension, "not valid JSON"),
        (corpus.overlapping_offsets, "overlap"),
        (corpus.unknown_dtype, "dtype 'F33', which safetensors does not know"),
        (corpus.gap_between_tensors, "8 bytes after tensor 'a' belong to no tensor"),
        (corpus.deep_header, "nested too deeply|nested more than"),
    ],
)
def test_forged_headers_are_refused_with_a_reason(tmp_path, build, message):
    path = build(tmp_path / "case") / "model.safetensors"
    for reader in READERS:
        with pytest.raises(SafetensorsHeaderError, match=message) as raised:
            reader(path)
        assert "\n" not in str(raised.value) and len(str(raised.value)) <= 300
    with pytest.raises(Exception):  # the library refuses every one of them too
        safe_open(str(path), "np")


def test_a_huge_dimension_is_abbreviated_in_the_message(tmp_path):
    path = corpus.write_config(tmp_path / "case") / "model.safetensors"
    big = 10**40
    path.write_bytes(corpus.safetensors_bytes({"w": {"dtype": "F32", "shape": [big], "data_offsets": [0, 8]}}, bytes(8)))
    with pytest.raises(SafetensorsHeaderError) as raised:
        count_parameters(path)
    assert "a 41-digit number" in str(raised.value) and str(big) not in str(raised.value)


def test_metadata_must_map_names_to_text(tmp_path):
    path = tmp_path / "meta.safetensors"
    path.write_bytes(corpus.safetensors_bytes({"__metadata__": {"k": 1}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)))
    for reader in READERS:
        with pytest.raises(SafetensorsHeaderError, match="__metadata__"):
            reader(path)


def test_a_zero_sized_tensor_inside_another_is_refused_as_the_library_refuses_it(tmp_path):
    path = tmp_path / "z.safetensors"
    entries = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}}
    path.write_bytes(corpus.safetensors_bytes(entries, bytes(8)))
    for reader in READERS:
        with pytest.raises(SafetensorsHeaderError, match="overlap"):
            reader(path)


def test_data_listed_in_another_order_than_the_header_is_fine(tmp_path):
    path = tmp_path / "order.safetensors"
    entries = {"b": {"dtype": "F16", "shape": [2], "data_offsets": [8, 12]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    path.write_bytes(corpus.safetensors_bytes(entries, bytes(12)))
    assert count_parameters(path) == (4, {"float16": 2, "float32": 2}, 12)
    assert [t.name for t in read_header(path).tensors] == ["b", "a"]


def test_a_header_larger_than_any_checkpoint_needs_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.safetensors"
    length = MAX_HEADER_BYTES + 8
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", length))
        handle.truncate(8 + length + 16)
    tracemalloc.start()
    try:
        with pytest.raises(SafetensorsHeaderError, match="more than the 32.0 MiB"):
            count_parameters(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


@pytest.mark.slow
def test_the_issue_s_header_of_1_4_million_tensors_is_refused_in_a_moment(tmp_path):
    path = corpus.many_tensors_header(tmp_path / "case") / "model.safetensors"
    for reader in READERS:
        with pytest.raises(SafetensorsHeaderError, match="more than the 32.0 MiB"):
            reader(path)


# --------------------------------------------------------------------------- differential fuzzing against the library

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "U8": np.uint8, "BOOL": np.bool_}


@st.composite
def real_files(draw):
    """A real safetensors file written by the library: a few tensors of assorted dtypes and shapes."""
    count = draw(st.integers(0, 5))
    tensors = {}
    for index in range(count):
        dtype = draw(st.sampled_from(sorted(DTYPES)))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        tensors[f"t{index}"] = np.zeros(shape, dtype=DTYPES[dtype])
    return tensors


def _library_view(path) -> dict | None:
    try:
        with safe_open(str(path), "np") as handle:
            return {name: list(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception:
        return None


def _check_agreement(path) -> None:
    """Our reader and the library agree: both refuse, or both accept with the same tensors."""
    expected = _library_view(path)
    try:
        header = read_header(path)
    except UnreadableFile as exc:
        assert "\n" not in str(exc)
        assert expected is None, f"we refused a file the library loads: {exc}"
        with pytest.raises(UnreadableFile):
            count_parameters(path)
        return
    assert expected is not None, "we accepted a file the library refuses"
    assert {t.name: list(t.shape) for t in header.tensors} == expected
    total, _by_dtype, data_bytes = count_parameters(path)
    assert total == sum(t.numel for t in header.tensors)
    assert data_bytes == header.data_bytes


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DEEP = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutated(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, byte) edits inside the header: replace, insert or delete one byte."""
    (length,) = struct.unpack("<Q", data[:8])
    header = bytearray(data[8 : 8 + length])
    for kind, position, value in edits:
        if not header:
            break
        at = position % len(header)
        if kind == 0:
            header[at] = value
        elif kind == 1:
            header.insert(at, value)
        else:
            del header[at]
    return struct.pack("<Q", len(header)) + bytes(header) + data[8 + length :]


# Bytes that keep a mutated header close to JSON, so the mutations reach the validation rules.
_JSON_BYTES = st.sampled_from(list(b'0123456789,[]{}":-. FIU') + [0x80])


def _fuzz_one(tmp_path, tensors, edits):
    path = tmp_path / "fuzz.safetensors"
    save_file(tensors, str(path))
    path.write_bytes(_mutated(path.read_bytes(), edits))
    _check_agreement(path)


@FAST
@given(tensors=real_files(), edits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), _JSON_BYTES), max_size=3))
def test_mutated_headers_are_judged_as_the_library_judges_them(tmp_path, tensors, edits):
    _fuzz_one(tmp_path, tensors, edits)


@pytest.mark.slow
@DEEP
@given(tensors=real_files(), edits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), _JSON_BYTES), max_size=6))
def test_mutated_headers_are_judged_as_the_library_judges_them_deeply(tmp_path, tensors, edits):
    _fuzz_one(tmp_path, tensors, edits)


@FAST
@given(data=st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_the_reader_error(tmp_path, data):
    path = tmp_path / "random.safetensors"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        for reader in READERS:
            try:
                reader(path)
            except UnreadableFile:
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024


@FAST
@given(header=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                           max_leaves=20),
       data_size=st.integers(0, 64))
def test_arbitrary_json_headers_are_judged_as_the_library_judges_them(tmp_path, header, data_size):
    path = tmp_path / "json.safetensors"
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(data_size))
    _check_agreement(path)


@pytest.mark.parametrize("raw", [
    b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[-0,8]}}',
    b'{"w":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}',
])
def test_negative_zero_is_refused_as_the_library_refuses_it(tmp_path, raw):
    """Python reads -0 as 0; the library reads sizes as unsigned and refuses the sign (found by the fuzzer)."""
    path = tmp_path / "minus.safetensors"
    data = 8 if b"[2]" in raw else 0
    path.write_bytes(corpus.safetensors_bytes({}, bytes(data), raw))
    for reader in READERS:
        with pytest.raises(SafetensorsHeaderError, match="negative"):
            reader(path)
    assert _library_view(path) is None
