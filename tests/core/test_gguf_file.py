"""The GGUF reader: real files written with gguf.GGUFWriter (F32, F16, Q8_0; one split in two), checked
against the numbers the shapes give and against gguf.GGUFReader; unknown type ids, FIFOs, truncated and
hostile headers, and mutated bytes, which may only ever give UnreadableFile."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from gguf.quants import quantize
from hypothesis import HealthCheck, given, settings, strategies as st

from explorer.core.gguf_file import read_gguf, read_gguf_split, split_parts
from explorer.core.safe_io import UnreadableFile

from tests.format_builders import GGUF_CHAT_TEMPLATE as CHAT_TEMPLATE, GGUF_LONG_SCORES as LONG_SCORES, GGUF_TOKENS as TOKENS
from tests.format_builders import write_gguf as _write


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    _write(path)
    return path


def test_counts_types_bytes_and_shapes(gguf_path):
    model = read_gguf(gguf_path)
    assert model.architecture == "llama"
    assert model.name == "Tiny Llama"
    assert model.num_parameters == 6 * 64 + 64 + 8 * 64
    assert model.dtypes == {"F32": 384, "F16": 64, "Q8_0": 512}
    # Q8_0: blocks of 32 values in 34 bytes.
    assert model.bytes_by_type == {"F32": 384 * 4, "F16": 128, "Q8_0": 512 // 32 * 34}
    shapes = {tensor.name: tensor.shape for tensor in model.tensors}
    assert shapes == {"token_embd.weight": (6, 64), "blk.0.attn_norm.weight": (64,), "blk.0.attn_q.weight": (8, 64)}
    assert model.file_size == gguf_path.stat().st_size
    assert model.files == [str(gguf_path)]


def test_metadata_plain_values(gguf_path):
    metadata = read_gguf(gguf_path).metadata
    assert metadata["llama.context_length"] == 128
    assert metadata["llama.attention.head_count"] == 4
    assert metadata["llama.embedding_length"] == 64
    assert metadata["llama.rope.freq_base"] == 10000.0
    assert metadata["tokenizer.ggml.tokens"] == TOKENS  # short arrays whole
    assert metadata["tokenizer.chat_template"] == CHAT_TEMPLATE
    assert metadata["general.quantization_version"] == 2
    assert metadata["test.flag"] is True
    # Long arrays: their length and first items only.
    assert metadata["test.long_scores"] == {"array_of": "float32", "length": 40, "first": LONG_SCORES[:8]}


def test_agrees_with_gguf_reader(gguf_path):
    reference = GGUFReader(gguf_path)
    model = read_gguf(gguf_path)
    assert [t.name for t in model.tensors] == [t.name for t in reference.tensors]
    for ours, theirs in zip(model.tensors, reference.tensors):
        assert ours.shape == tuple(reversed(theirs.shape.tolist()))
        assert ours.numel == theirs.n_elements and ours.nbytes == theirs.n_bytes
        assert ours.type_name == theirs.tensor_type.name
    for key in ("llama.context_length", "tokenizer.ggml.tokens", "tokenizer.chat_template", "general.architecture"):
        assert model.metadata[key] == reference.fields[key].contents()


def test_large_tokenizer_is_summarised_and_quick(tmp_path):
    path = tmp_path / "vocab.gguf"
    writer = GGUFWriter(path, "llama")
    tokens = [f"tok{i}" for i in range(150_000)]
    writer.add_token_list(tokens)
    writer.add_token_merges([f"a{i} b{i}" for i in range(150_000)])
    writer.add_tensor("w", np.zeros((2, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    started = time.perf_counter()
    metadata = read_gguf(path).metadata
    assert time.perf_counter() - started < 2
    assert metadata["tokenizer.ggml.tokens"] == {"array_of": "string", "length": 150_000, "first": tokens[:8]}
    assert metadata["tokenizer.ggml.merges"]["length"] == 150_000


def test_split_in_two_reads_as_one_model(tmp_path):
    _write(tmp_path / "tiny.gguf", split_max_tensors=2)
    first, second = tmp_path / "tiny-00001-of-00002.gguf", tmp_path / "tiny-00002-of-00002.gguf"
    assert first.exists() and second.exists()
    assert split_parts(second) == [str(first), str(second)]
    model = read_gguf_split(first)
    assert model.num_parameters == 6 * 64 + 64 + 8 * 64
    assert model.dtypes == {"F32": 384, "F16": 64, "Q8_0": 512}
    assert model.metadata["split.count"] == 2
    assert model.architecture == "llama"
    assert model.files == [str(first), str(second)]
    assert model.file_size == first.stat().st_size + second.stat().st_size
    # One part alone is only part of the model.
    assert read_gguf(first).num_parameters < model.num_parameters
    second.unlink()
    with pytest.raises(UnreadableFile, match="part 2 of 2 .*missing"):
        read_gguf_split(first)


def _patch_type(data: bytes, tensor_name: str, new_type: int) -> bytes:
    # Tensor info: u64 name length, name, u32 n_dims, n_dims * u64, u32 type, u64 offset.
    encoded = tensor_name.encode()
    at = data.index(struct.pack("<Q", len(encoded)) + encoded) + 8 + len(encoded)
    (n_dims,) = struct.unpack_from("<I", data, at)
    type_at = at + 4 + 8 * n_dims
    return data[:type_at] + struct.pack("<I", new_type) + data[type_at + 4 :]


def test_unknown_type_id_is_named_not_refused(gguf_path, tmp_path):
    path = tmp_path / "future.gguf"
    path.write_bytes(_patch_type(gguf_path.read_bytes(), "blk.0.attn_q.weight", 250))
    with pytest.raises(ValueError):  # why the reader is our own: GGUFReader refuses the file
        GGUFReader(path)
    model = read_gguf(path)
    tensor = next(t for t in model.tensors if t.name == "blk.0.attn_q.weight")
    assert tensor.type_name == "unknown type 250" and tensor.nbytes is None
    assert tensor.shape == (8, 64) and tensor.numel == 512
    assert model.num_parameters == 6 * 64 + 64 + 8 * 64
    assert model.dtypes["unknown type 250"] == 512
    assert model.bytes_by_type["unknown type 250"] is None
    assert model.bytes_by_type["F32"] == 384 * 4


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.gguf"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_gguf(fifo)


@pytest.mark.parametrize("cut", [0, 3, 10, 30, 200, -5])
def test_truncated(gguf_path, tmp_path, cut):
    data = gguf_path.read_bytes()
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(UnreadableFile) as error:
        read_gguf(path)
    assert "\n" not in str(error.value)


def test_wrong_magic_and_version(gguf_path, tmp_path):
    data = gguf_path.read_bytes()
    path = tmp_path / "bad.gguf"
    path.write_bytes(b"GGML" + data[4:])
    with pytest.raises(UnreadableFile, match="not a GGUF file"):
        read_gguf(path)
    path.write_bytes(data[:4] + struct.pack("<I", 99) + data[8:])
    with pytest.raises(UnreadableFile, match="version 99"):
        read_gguf(path)


@pytest.mark.parametrize("field_at, what", [(8, "tensors"), (16, "metadata entries")])
def test_huge_declared_counts(gguf_path, tmp_path, field_at, what):
    data = gguf_path.read_bytes()
    path = tmp_path / "huge.gguf"
    path.write_bytes(data[:field_at] + struct.pack("<Q", 2**63) + data[field_at + 8 :])
    started = time.perf_counter()
    with pytest.raises(UnreadableFile, match=what):
        read_gguf(path)
    assert time.perf_counter() - started < 1


def test_huge_array_length_is_refused_quickly(tmp_path):
    # An array of 2**62 uint8 declared in a 40-byte file: GGUFReader would loop over it.
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    key = b"k"
    entry = struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 0, 2**62)
    path = tmp_path / "array.gguf"
    path.write_bytes(header + entry)
    with pytest.raises(UnreadableFile, match="items in k"):
        read_gguf(path)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6)


def _mutate(data: bytes, edits) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in edits:
        # Most of a file is weight bytes; aim most edits at the header, where the parsing is.
        at = position % min(len(buffer), 600) if position % 4 else position % len(buffer)
        if kind == 0:
            buffer[at] = value
        elif kind == 1:
            buffer.insert(at, value)
        elif kind == 2:
            del buffer[at]
        else:  # a large number written over a length or count
            buffer[at : at + 8] = struct.pack("<Q", value << (position % 57))
    return bytes(buffer)


@FUZZ
@given(edits=EDITS)
def test_mutated_files_only_raise_unreadable(gguf_path, tmp_path, edits):
    path = tmp_path / "fuzz.gguf"
    path.write_bytes(_mutate(gguf_path.read_bytes(), edits))
    started = time.perf_counter()
    try:
        model = read_gguf(path)
    except UnreadableFile as error:
        assert "\n" not in str(error)
    else:
        assert model.num_parameters >= 0
    assert time.perf_counter() - started < 2


def test_unknown_type_with_impossible_shape_is_refused(gguf_path, tmp_path):
    data = _patch_type(gguf_path.read_bytes(), "blk.0.attn_q.weight", 250)
    encoded = b"blk.0.attn_q.weight"
    dims_at = data.index(struct.pack("<Q", len(encoded)) + encoded) + 8 + len(encoded) + 4
    path = tmp_path / "impossible.gguf"
    path.write_bytes(data[:dims_at] + struct.pack("<Q", 2**60) + data[dims_at + 8 :])
    with pytest.raises(UnreadableFile, match="more than its file could hold"):
        read_gguf(path)
