"""Safetensors headers read without tensor data, checked against the safetensors library itself."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from explorer.core.safetensors_header import SafetensorsHeaderError, count_parameters, read_header
from explorer.core.safetensors_index import read_index, summarize_safetensors


def write_raw(path, header: dict | bytes, data_bytes: int) -> None:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw + b"\0" * data_bytes)


@pytest.fixture
def mixed_file(tmp_path):
    path = tmp_path / "mixed.safetensors"
    save_file(
        {
            "embed.weight": np.zeros((10, 4), dtype=np.float32),
            "layer.weight": np.zeros((4, 4), dtype=np.float16),
            "layer.bias": np.zeros((4,), dtype=np.float16),
            "step": np.zeros((), dtype=np.int64),
        },
        str(path),
        metadata={"format": "np"},
    )
    return path


def test_read_header_matches_the_safetensors_library(sample):
    path = sample("tiny-bert-mlm") / "model.safetensors"
    header = read_header(path)
    with safe_open(str(path), "np") as reference:
        expected = {name: list(reference.get_slice(name).get_shape()) for name in reference.keys()}
        assert header.metadata == reference.metadata()
    assert {t.name: list(t.shape) for t in header.tensors} == expected
    assert header.file_size == path.stat().st_size
    assert 8 + header.header_size + header.data_bytes == header.file_size
    assert all(t.dtype == "float32" and t.file == "model.safetensors" for t in header.tensors)


def test_mixed_dtypes_and_scalars(mixed_file):
    total, by_dtype, data_bytes = count_parameters(mixed_file)
    assert total == 40 + 16 + 4 + 1
    assert by_dtype == {"float32": 40, "float16": 20, "int64": 1}
    assert data_bytes == 40 * 4 + 20 * 2 + 8
    header = read_header(mixed_file)
    assert {t.name: t.numel for t in header.tensors} == {"embed.weight": 40, "layer.weight": 16, "layer.bias": 4, "step": 1}
    assert header.metadata == {"format": "np"}


def test_counts_agree_for_compact_and_spaced_headers(tmp_path, mixed_file):
    # Other writers may space their JSON or order keys differently: the result must not change.
    raw = mixed_file.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    spaced = tmp_path / "spaced.safetensors"
    reordered = {name: dict(reversed(list(entry.items()))) if name != "__metadata__" else entry for name, entry in header.items()}
    write_raw(spaced, json.dumps(reordered, indent=2).encode(), len(raw) - 8 - length)
    assert count_parameters(spaced) == count_parameters(mixed_file)


def test_sample_counts_equal_a_full_json_parse(sample):
    path = sample("tiny-t5") / "model.safetensors"
    header = read_header(path)
    total, by_dtype, data_bytes = count_parameters(path)
    assert total == sum(t.numel for t in header.tensors)
    assert by_dtype == {"float32": total}
    assert data_bytes == header.data_bytes


def test_sub_byte_dtypes_are_sized_in_bits(tmp_path):
    path = tmp_path / "fp4.safetensors"
    write_raw(path, {"w": {"dtype": "F4", "shape": [4, 4], "data_offsets": [0, 8]}}, 8)
    assert count_parameters(path) == (16, {"float4_e2m1": 16}, 8)


def test_truncated_file(tmp_path, mixed_file):
    with open(mixed_file, "r+b") as handle:
        handle.truncate(mixed_file.stat().st_size - 10)
    for reader in (read_header, count_parameters):
        with pytest.raises(SafetensorsHeaderError, match="truncated"):
            reader(mixed_file)


def test_header_length_past_the_end(tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b'{"a":')
    with pytest.raises(SafetensorsHeaderError, match="runs past the end"):
        count_parameters(path)


def test_implausible_header_length(tmp_path):
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(b"\xff" * 64)
    with pytest.raises(SafetensorsHeaderError, match="implausible"):
        read_header(path)


def test_too_short_for_a_header(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"abc")
    with pytest.raises(SafetensorsHeaderError, match="too short"):
        count_parameters(path)


def test_header_that_is_not_json(tmp_path):
    path = tmp_path / "garbage.safetensors"
    write_raw(path, b"\x80\x81 not json", 0)
    with pytest.raises(SafetensorsHeaderError, match="not UTF-8 text"):
        count_parameters(path)
    write_raw(path, b"{not json", 0)
    with pytest.raises(SafetensorsHeaderError, match="not valid JSON"):
        count_parameters(path)


def test_header_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.safetensors"
    write_raw(path, b"[1, 2]", 0)
    with pytest.raises(SafetensorsHeaderError, match="not a JSON object"):
        read_header(path)


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F32", "shape": [2]},  # no offsets
        {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]},
        {"dtype": 5, "shape": [2], "data_offsets": [0, 8]},
        {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]},
        {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]},
    ],
)
def test_malformed_tensor_entries(tmp_path, entry):
    path = tmp_path / "bad.safetensors"
    write_raw(path, {"w": entry}, 8)
    for reader in (read_header, count_parameters):
        with pytest.raises(SafetensorsHeaderError, match="'w'"):
            reader(path)


def test_not_a_regular_file(tmp_path):
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    with pytest.raises(SafetensorsHeaderError, match="not a regular file"):
        count_parameters(path)


def test_summary_over_an_index_reads_every_shard(tmp_path):
    shards = {}
    for i, shape in enumerate([(6, 4), (4,)]):
        name = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({f"t{i}": np.zeros(shape, dtype=np.float32)}, str(tmp_path / name))
        shards[f"t{i}"] = name
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": (24 + 4) * 4}, "weight_map": shards}))
    files = {p.name: str(p) for p in tmp_path.iterdir()}
    summary = summarize_safetensors(files)
    assert summary.problems == []
    assert summary.num_parameters == 28 and summary.dtypes == {"float32": 28}
    assert sorted(summary.files) == sorted(set(shards.values()))
    assert read_index(str(index)) == (shards, 112)

    del files["model-00002-of-00002.safetensors"]
    summary = summarize_safetensors(files)
    assert summary.num_parameters == 24
    assert any("model-00002-of-00002.safetensors" in p and "missing" in p for p in summary.problems)


def test_summary_reports_an_index_size_mismatch(tmp_path):
    save_file({"t": np.zeros((3,), dtype=np.float32)}, str(tmp_path / "model-00001-of-00001.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 999}, "weight_map": {"t": "model-00001-of-00001.safetensors"}})
    )
    summary = summarize_safetensors({p.name: str(p) for p in tmp_path.iterdir()})
    assert any("total_size=999" in p for p in summary.problems)


def test_summary_reports_an_unreadable_index(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text('{"weight_map": ')
    summary = summarize_safetensors({p.name: str(p) for p in tmp_path.iterdir()})
    assert summary.num_parameters is None
    assert any("unreadable index" in p for p in summary.problems)


def test_summary_reports_an_index_whose_shard_names_are_lists(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": ["x.safetensors"]}}))
    summary = summarize_safetensors({p.name: str(p) for p in tmp_path.iterdir()})
    assert summary.problems == ["model.safetensors.index.json: unreadable index (weight_map names a shard that is not a file name)"]
    with pytest.raises(ValueError, match="not a file name"):
        read_index(str(tmp_path / "model.safetensors.index.json"))


def test_summary_leaves_adapters_out(tmp_path, mixed_file):
    save_file({"lora_A": np.zeros((2, 2), dtype=np.float32)}, str(tmp_path / "adapter_model.safetensors"))
    summary = summarize_safetensors({p.name: str(p) for p in tmp_path.iterdir()})
    assert summary.num_parameters == 61
    assert summary.files == ["mixed.safetensors"]


def test_summary_keeps_tensors_on_request(mixed_file):
    summary = summarize_safetensors({"mixed.safetensors": str(mixed_file)}, keep_tensors=True)
    assert summary.num_parameters == 61
    assert sorted(t.name for t in summary.tensors) == ["embed.weight", "layer.bias", "layer.weight", "step"]


def single_dtype_file(tmp_path, name="uniform.safetensors"):
    path = tmp_path / name
    save_file(
        {"a": np.zeros((8, 4), dtype=np.float32), "b": np.zeros((4,), dtype=np.float32), "c": np.zeros((2, 2), dtype=np.float32)},
        str(path),
    )
    return path


def test_uniform_file_counts_match_a_full_parse(tmp_path):
    path = single_dtype_file(tmp_path)
    header = read_header(path)
    assert count_parameters(path) == (40, {"float32": 40}, header.data_bytes)


def test_uniform_file_cut_exactly_between_two_tensors_is_truncated(tmp_path):
    path = single_dtype_file(tmp_path)
    header = read_header(path)
    last = max(header.tensors, key=lambda t: t.data_offsets[1])
    with open(path, "r+b") as handle:  # drop the last tensor whole: the rest still looks tidy
        handle.truncate(8 + header.header_size + last.data_offsets[0])
    with pytest.raises(SafetensorsHeaderError, match="truncated"):
        count_parameters(path)


def test_uniform_file_with_extra_bytes_is_refused_as_safetensors_refuses_it(tmp_path):
    path = single_dtype_file(tmp_path)
    with open(path, "ab") as handle:
        handle.write(b"\0" * 16)  # trailing bytes no tensor covers
    for reader in (read_header, count_parameters):
        with pytest.raises(SafetensorsHeaderError, match="last 16 bytes of the file belong to no tensor"):
            reader(path)
