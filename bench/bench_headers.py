"""Headers of a 30-shard 70B-style safetensors checkpoint: explorer's reader vs safetensors.safe_open per shard.

The shards are sparse files (headers written, data truncated to size), so no disk space or page
cache is involved: both sides only parse headers. Goal: ratio at most 1x.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "core"))

REPEATS = 9


def write_checkpoint(folder: str) -> None:
    import json
    import struct

    layers, hidden, inter, vocab, kv = 80, 8192, 28672, 128256, 1024
    weight_map, total = {}, 0
    for shard in range(30):
        tensors = {}
        for layer in range(shard * layers // 30, (shard + 1) * layers // 30):
            base = f"model.layers.{layer}."
            for name, shape in (
                ("self_attn.q_proj.weight", [hidden, hidden]), ("self_attn.k_proj.weight", [kv, hidden]),
                ("self_attn.v_proj.weight", [kv, hidden]), ("self_attn.o_proj.weight", [hidden, hidden]),
                ("mlp.gate_proj.weight", [inter, hidden]), ("mlp.up_proj.weight", [inter, hidden]),
                ("mlp.down_proj.weight", [hidden, inter]), ("input_layernorm.weight", [hidden]),
                ("post_attention_layernorm.weight", [hidden]),
            ):
                tensors[base + name] = shape
        if shard == 0:
            tensors["model.embed_tokens.weight"] = [vocab, hidden]
        if shard == 29:
            tensors["lm_head.weight"] = [vocab, hidden]
            tensors["model.norm.weight"] = [hidden]
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in tensors.items():
            size = 2
            for dim in shape:
                size *= dim
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
        file_name = f"model-{shard + 1:05d}-of-00030.safetensors"
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(os.path.join(folder, file_name), "wb") as handle:
            handle.write(struct.pack("<Q", len(raw)) + raw)
            handle.truncate(8 + len(raw) + offset)
        total += offset
        weight_map.update({name: file_name for name in tensors})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as handle:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, handle)


def baseline(folder: str) -> int:
    """What a user would write: open every shard of the index with safe_open and read each tensor's shape."""
    import json

    from safetensors import safe_open

    with open(os.path.join(folder, "model.safetensors.index.json")) as handle:
        shards = sorted(set(json.load(handle)["weight_map"].values()))
    count = 0
    for shard in shards:
        with safe_open(os.path.join(folder, shard), framework="pt") as handle:
            for name in handle.keys():
                handle.get_slice(name).get_shape()
                count += 1
    return count


def ours(folder: str) -> int:
    from explorer.core.tensors_on_disk import read_disk_tensors

    disk = read_disk_tensors(folder)
    assert not disk.problems, disk.problems
    return len(disk.tensors)


def timed(function, folder: str, repeats: int = REPEATS) -> float:
    """Median wall time of ``function(folder)`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(folder)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import torch  # noqa: F401  safe_open(framework="pt") needs it; import it outside the timing

    with tempfile.TemporaryDirectory() as folder:
        write_checkpoint(folder)
        assert baseline(folder) == ours(folder)
        base = timed(baseline, folder)
        mine = timed(ours, folder)
    print(f"safetensors.safe_open per shard: {base * 1000:7.2f} ms")
    print(f"explorer header reader:          {mine * 1000:7.2f} ms (dtype/file totals and index checks included)")
    print(f"ratio: {mine / base:.2f}x (goal <= 1x)")


if __name__ == "__main__":
    main()
