"""Tensors on disk are listed from headers and restricted pickles only; bad files give problems, not crashes."""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile

import pytest

from explorer.core.safe_io import UnreadableFile
from explorer.core.tensors_on_disk import UnsafePickleError, read_disk_tensors, read_pytorch_bin


def _write_safetensors(path, tensors: dict[str, tuple[str, list[int]]], sparse: bool = False, data: bool = True):
    """Write a header (and zeroed or sparse data) describing tensors: name -> (dtype, shape)."""
    sizes = {"BF16": 2, "F32": 4, "F16": 2}
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        nbytes = sizes[dtype]
        for dim in shape:
            nbytes *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        if sparse:
            handle.truncate(8 + len(raw) + offset)
        elif data:
            handle.write(b"\0" * offset)
    return offset


def test_single_safetensors_lists_every_tensor(sample):
    disk = read_disk_tensors(sample("tiny-bert-mlm"))
    assert disk.format == "safetensors"
    assert not disk.problems
    names = {t.name for t in disk.tensors}
    assert "bert.embeddings.word_embeddings.weight" in names
    assert disk.by_file["model.safetensors"].tensors == len(disk.tensors)
    assert disk.total_params == sum(t.numel for t in disk.tensors)
    assert disk.by_dtype["float32"].bytes == disk.total_params * 4


def test_sharded_index_and_total_size_checked(tmp_path):
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))
    model.save_pretrained(tmp_path, max_shard_size="40KB")
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1
    disk = read_disk_tensors(tmp_path)
    assert disk.problems == []
    assert sorted(disk.files) == shards
    assert disk.index_total_size == disk.total_bytes
    assert len(disk.tensors) == len(model.state_dict())

    index_path = tmp_path / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["metadata"]["total_size"] += 4
    index_path.write_text(json.dumps(index))
    assert any("total_size" in p for p in read_disk_tensors(tmp_path).problems)

    os.remove(tmp_path / shards[-1])
    disk = read_disk_tensors(tmp_path)
    assert any(shards[-1] in p and "missing" in p for p in disk.problems)
    assert disk.tensors, "the readable shards are still listed"


def test_truncated_and_overlong_header(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    _write_safetensors(folder / "model-00001-of-00002.safetensors", {"a.weight": ("F32", [4, 4])})
    size = _write_safetensors(folder / "model-00002-of-00002.safetensors", {"b.weight": ("F32", [4, 4])})
    with open(folder / "model-00002-of-00002.safetensors", "r+b") as handle:
        handle.truncate(os.path.getsize(folder / "model-00002-of-00002.safetensors") - size // 2)
    disk = read_disk_tensors(folder)
    assert [t.name for t in disk.tensors] == ["a.weight"]
    assert any("truncated" in p for p in disk.problems)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(struct.pack("<Q", 10_000) + b"{}")
    disk = read_disk_tensors(bad)
    assert disk.tensors == []
    assert any("runs past the end" in p for p in disk.problems)


def test_pytorch_bin_read_without_unpickling(tmp_path):
    import torch

    state = {
        "w": torch.zeros(3, 4, dtype=torch.bfloat16),
        "p": torch.nn.Parameter(torch.ones(2)),
        "f8": torch.zeros(5, dtype=torch.float8_e4m3fn),
    }
    state["view"] = state["w"][1]
    torch.save(state, tmp_path / "pytorch_model.bin")
    disk = read_disk_tensors(tmp_path)
    assert disk.format == "pytorch"
    got = {t.name: (t.shape, t.dtype, t.nbytes) for t in disk.tensors}
    assert got == {
        "w": ((3, 4), "bfloat16", 24),
        "p": ((2,), "float32", 8),
        "f8": ((5,), "float8_e4m3fn", 5),
        "view": ((4,), "bfloat16", 8),
    }


def test_model_saved_as_bin_only(tmp_path):
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    import torch

    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    disk = read_disk_tensors(tmp_path)
    assert not disk.problems
    assert {t.name for t in disk.tensors} == set(model.state_dict())
    # What the pickle would import is listed, all of it torch's own tensor rebuilding.
    (imports,) = disk.pickle_imports
    assert imports.file == "pytorch_model.bin" and imports.imports and not imports.dangerous and imports.problem is None


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": _Exploit(marker)}, protocol=2)
    with zipfile.ZipFile(tmp_path / "pytorch_model.bin", "w") as archive:
        archive.writestr("archive/data.pkl", payload)
    with pytest.raises(UnsafePickleError, match="never needs"):
        read_pytorch_bin(tmp_path / "pytorch_model.bin")
    disk = read_disk_tensors(tmp_path)
    assert disk.tensors == []
    assert any("not run" in p for p in disk.problems)
    # A bare (non-zip) pickle goes through the same restricted reader.
    (tmp_path / "pytorch_model.bin").write_bytes(payload)
    assert read_disk_tensors(tmp_path).problems
    assert not marker.exists()


def test_no_weights_and_garbage_bin(tmp_path):
    assert "no weight files" in read_disk_tensors(tmp_path).problems[0]
    (tmp_path / "pytorch_model.bin").write_bytes(b"not a pickle at all")
    disk = read_disk_tensors(tmp_path)
    assert disk.tensors == [] and disk.problems


def test_sparse_70b_headers_are_instant(tmp_path):
    import time

    layers, hidden, inter, vocab, kv = 80, 8192, 28672, 128256, 1024
    weight_map = {}
    total = 0
    for shard in range(30):
        tensors = {}
        for layer in range(shard * layers // 30, (shard + 1) * layers // 30):
            base = f"model.layers.{layer}."
            tensors.update({
                base + "self_attn.q_proj.weight": ("BF16", [hidden, hidden]),
                base + "self_attn.k_proj.weight": ("BF16", [kv, hidden]),
                base + "self_attn.v_proj.weight": ("BF16", [kv, hidden]),
                base + "self_attn.o_proj.weight": ("BF16", [hidden, hidden]),
                base + "mlp.gate_proj.weight": ("BF16", [inter, hidden]),
                base + "mlp.up_proj.weight": ("BF16", [inter, hidden]),
                base + "mlp.down_proj.weight": ("BF16", [hidden, inter]),
                base + "input_layernorm.weight": ("BF16", [hidden]),
                base + "post_attention_layernorm.weight": ("BF16", [hidden]),
            })
        if shard == 0:
            tensors["model.embed_tokens.weight"] = ("BF16", [vocab, hidden])
        if shard == 29:
            tensors["lm_head.weight"] = ("BF16", [vocab, hidden])
            tensors["model.norm.weight"] = ("BF16", [hidden])
        name = f"model-{shard + 1:05d}-of-00030.safetensors"
        total += _write_safetensors(tmp_path / name, tensors, sparse=True)
        weight_map.update({t: name for t in tensors})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    start = time.perf_counter()
    disk = read_disk_tensors(tmp_path)
    elapsed = time.perf_counter() - start
    assert disk.problems == []
    assert disk.total_params == 70_553_706_496
    assert disk.total_bytes == total
    assert elapsed < 1.0


def test_sharded_pytorch_bin_index(tmp_path):
    import torch
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))
    state = model.state_dict()
    names = sorted(state)
    halves = {"pytorch_model-00001-of-00002.bin": names[: len(names) // 2], "pytorch_model-00002-of-00002.bin": names[len(names) // 2 :]}
    weight_map = {}
    for file_name, keys in halves.items():
        torch.save({k: state[k] for k in keys}, tmp_path / file_name)
        weight_map.update({k: file_name for k in keys})
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    disk = read_disk_tensors(tmp_path)
    assert disk.format == "pytorch" and disk.problems == []
    assert sorted(disk.files) == sorted(halves)
    assert {t.name for t in disk.tensors} == set(names)


def test_index_naming_shards_that_are_not_file_names(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": 5, "b": None}}))
    disk = read_disk_tensors(tmp_path)
    assert disk.tensors == []
    assert disk.problems == ["model.safetensors.index.json: unreadable index (weight_map names a shard that is not a file name)"]


def test_broken_weight_links_are_named(tmp_path):
    os.symlink(tmp_path / "gone", tmp_path / "model.safetensors")
    os.symlink("loop-b.bin", tmp_path / "pytorch_model.bin")
    os.symlink("pytorch_model.bin", tmp_path / "loop-b.bin")
    disk = read_disk_tensors(tmp_path)
    assert disk.tensors == []
    assert [p.split(":")[0] for p in disk.problems] == ["loop-b.bin", "model.safetensors", "pytorch_model.bin"]
    assert all("not readable" in p for p in disk.problems)


def test_hostile_pickles_are_unreadable_not_crashes(tmp_path):
    nested = b"\x80\x02" + b"}q\x00(X\x01\x00\x00\x00aq\x01" * 5000 + b"N" + b"u" * 5000 + b"."
    (tmp_path / "nested.bin").write_bytes(nested)
    (tmp_path / "bad-storage.bin").write_bytes(
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x07\x00\x00\x00storageq\x00tR."
    )
    for name in ("nested.bin", "bad-storage.bin"):
        with pytest.raises(UnreadableFile, match=name):
            read_pytorch_bin(tmp_path / name)
