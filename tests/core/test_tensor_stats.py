"""One tensor is read (sampled when huge) and summarised; layer norms follow a parameter down the stack."""

from __future__ import annotations

import math

import pytest

from explorer.core.jobs import CancelToken, Cancelled
from explorer.core.tensor_stats import layer_norms_job, layer_pattern, tensor_stats, tensor_stats_job
from explorer.core.jobs import run_to_end
from explorer.core.tensors_on_disk import read_disk_tensors


@pytest.fixture
def known_checkpoint(tmp_path):
    import torch
    from safetensors.torch import save_file

    values = torch.arange(12, dtype=torch.float32).reshape(3, 4) - 5
    values[0, 0] = float("nan")
    layers = {f"model.layers.{i}.mlp.weight": torch.full((4, 4), float(i + 1)) for i in range(3)}
    save_file({"known": values, "big": torch.ones(1000, 50), "vector": torch.ones(5000), **layers}, str(tmp_path / "model.safetensors"))
    torch.save({"bin.weight": torch.ones(2, 3) * 2}, tmp_path / "pytorch_model.bin")
    return tmp_path


def test_statistics_of_a_known_tensor(known_checkpoint):
    stats = tensor_stats(read_disk_tensors(known_checkpoint), "known")
    finite = [v - 5 for v in range(1, 12)]
    assert stats.sampled == stats.numel == 12
    assert stats.nan_count == 1 and stats.inf_count == 0
    assert stats.min == -4 and stats.max == 6 and stats.absmax == 6
    assert stats.mean == pytest.approx(sum(finite) / 11)
    assert stats.zeros_share == pytest.approx(1 / 12)
    assert sum(stats.histogram_counts) == 11
    assert len(stats.histogram_edges) == len(stats.histogram_counts) + 1
    assert stats.heatmap is not None and len(stats.heatmap) == 3 and len(stats.heatmap[0]) == 4


def test_huge_tensors_are_sampled(known_checkpoint):
    disk = read_disk_tensors(known_checkpoint)
    stats = tensor_stats(disk, "big", max_elements=5000)
    assert stats.is_sample and stats.sampled <= 5000
    assert stats.norm == pytest.approx(math.sqrt(50_000))
    vector = tensor_stats(disk, "vector", max_elements=640)
    assert vector.is_sample and vector.mean == 1.0


def test_heatmap_is_downsampled():
    import torch

    from explorer.core.tensor_stats import summarize

    stats = summarize("m", (1000, 600), "float32", 600_000, torch.ones(1000, 600), heatmap_size=64)
    assert len(stats.heatmap) == 64 and len(stats.heatmap[0]) == 64


def test_bin_tensor_and_missing_name(tmp_path):
    import torch

    torch.save({"bin.weight": torch.ones(2, 3) * 2}, tmp_path / "pytorch_model.bin")
    disk = read_disk_tensors(tmp_path)
    stats = tensor_stats(disk, "bin.weight")
    assert stats.mean == 2.0 and stats.norm == pytest.approx(math.sqrt(24))
    with pytest.raises(LookupError):
        tensor_stats(disk, "nope")


def test_layer_norms_along_depth(known_checkpoint):
    disk = read_disk_tensors(known_checkpoint)
    assert layer_pattern("model.layers.2.mlp.weight") == "model.layers.{}.mlp.weight"
    norms = run_to_end(layer_norms_job(disk, "model.layers.1.mlp.weight"))
    assert norms.layers == [0, 1, 2]
    assert norms.norms == pytest.approx([4.0, 8.0, 12.0])


def test_cancel_stops_the_job(known_checkpoint):
    token = CancelToken()
    job = layer_norms_job(read_disk_tensors(known_checkpoint), "model.layers.0.mlp.weight", token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        next(job)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_to_end(tensor_stats_job(read_disk_tensors(known_checkpoint), "big", token, max_elements=10))
