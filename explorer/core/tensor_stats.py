"""Statistics of one stored tensor, reading only that tensor (and only a sample of a huge one).

safetensors tensors are read through ``safe_open`` slices, which map just the requested rows;
a tensor above ``max_elements`` is sampled as evenly spaced row blocks, so a 128k x 8k embedding
costs a few megabytes. ``.bin`` tensors come from ``torch.load(weights_only=True, mmap=True)``:
the restricted loader, memory-mapped; when it refuses a file, the message is ours
(``pickle_reader.torch_load_error``), never torch's advice to load without that restriction.
Every function here is a job: it yields Progress, checks the cancel token between reads and
returns its result.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from explorer.core.jobs import CancelToken, ExpectedFailure, Job, Progress, run_to_end
from explorer.core.pickle_reader import torch_load_error
from explorer.core.safe_io import open_regular_fd
from explorer.core.safetensors_header import TensorInfo
from explorer.core.tensors_on_disk import FORMAT_SAFETENSORS, DiskTensors
from explorer.core.torch_import import import_torch

DEFAULT_MAX_ELEMENTS = 4_000_000
HISTOGRAM_BINS = 64
HEATMAP_SIZE = 256


@dataclass(slots=True)
class TensorStats:
    name: str
    shape: tuple[int, ...]
    dtype: str
    numel: int
    sampled: int  # elements the statistics are computed on
    mean: float
    std: float
    min: float
    max: float
    absmax: float
    zeros_share: float
    nan_count: int
    inf_count: int
    norm: float  # L2 norm; estimated from the sample when sampled < numel
    histogram_counts: list[int] = field(default_factory=list)
    histogram_edges: list[float] = field(default_factory=list)
    heatmap: list[list[float]] | None = None  # rows of a downsampled 2-D view (mean of |x| per cell)
    heatmap_rows: tuple[int, int] | None = None  # the tensor rows/cols the heatmap spans

    @property
    def is_sample(self) -> bool:
        return self.sampled < self.numel


def _row_blocks(rows: int, rows_wanted: int) -> list[tuple[int, int]]:
    """Evenly spaced contiguous row ranges covering about rows_wanted rows."""
    if rows_wanted >= rows:
        return [(0, rows)]
    blocks = min(64, rows_wanted)
    per_block = max(1, rows_wanted // blocks)
    step = rows / blocks
    ranges = []
    for index in range(blocks):
        start = int(index * step)
        ranges.append((start, min(rows, start + per_block)))
    return ranges


class _Reader:
    """Reads (a sample of) one tensor from its file; safetensors sliced, .bin via mmap'd torch.load."""

    def __init__(self, path: str, tensor: TensorInfo, file_format: str | None):
        self.path = path
        self.tensor = tensor
        # By the checkpoint's format, not the file name: legacy caches store files under content hashes.
        self.is_safetensors = file_format == FORMAT_SAFETENSORS if file_format else path.endswith(".safetensors")

    def read(self, max_elements: int, cancel: CancelToken):
        torch = import_torch()

        tensor = self.tensor
        if self.is_safetensors:
            from safetensors import safe_open

            with safe_open(self.path, framework="pt", device="cpu") as handle:
                view = handle.get_slice(tensor.name)
                if tensor.numel <= max_elements or not tensor.shape:
                    return view[...]
                return self._sample(view, max_elements, cancel)
        state = _load_state_dict(torch, self.path, tensor.file)
        full = _lookup(state, tensor.name)
        if tensor.numel <= max_elements or full.dim() == 0:
            return full.clone()
        return self._sample(full, max_elements, cancel)

    def _sample(self, view, max_elements: int, cancel: CancelToken):
        import torch

        shape = self.tensor.shape
        rows = shape[0]
        per_row = max(1, math.prod(shape[1:]))
        if len(shape) == 1:
            # 1-D: chunks of the vector itself.
            chunk = max(1, max_elements // 64)
            parts = []
            for start, _ in _row_blocks(rows, 64):
                cancel.raise_if_cancelled()
                parts.append(view[start : min(rows, start + chunk)])
            return torch.cat(parts)
        rows_wanted = max(1, max_elements // per_row)
        parts = []
        for start, end in _row_blocks(rows, rows_wanted):
            cancel.raise_if_cancelled()
            parts.append(view[start:end])
        return torch.cat(parts)


def _load_state_dict(torch, path: str, label: str):
    """torch.load's restricted loader, memory-mapped; its failures in our words (never its advice to turn safety off)."""
    # The file may have been swapped since it was listed: a FIFO must not block torch's open.
    descriptor, _stat = open_regular_fd(path, label)
    os.close(descriptor)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many types for a bad file; each becomes one message
        raise torch_load_error(exc, path, label) from None


def _lookup(state, name: str):
    import torch

    if isinstance(state, torch.Tensor):
        return state
    node = state
    if name in node:
        return node[name]
    # A nested state dict ({'state_dict': {...}}) flattened by tensors_on_disk with dots.
    for part in name.split("."):
        node = node[part]
    return node


def summarize(name: str, shape: tuple[int, ...], dtype: str, numel: int, sample, heatmap_size: int = HEATMAP_SIZE) -> TensorStats:
    import torch

    values = sample.detach().to(torch.float32)
    flat = values.reshape(-1)
    finite_mask = torch.isfinite(flat)
    nan_count = int(torch.isnan(flat).sum())
    inf_count = int(torch.isinf(flat).sum())
    finite = flat[finite_mask]
    count = int(flat.numel())
    if finite.numel():
        mean = float(finite.mean())
        std = float(finite.std(unbiased=False)) if finite.numel() > 1 else 0.0
        minimum, maximum = float(finite.min()), float(finite.max())
        absmax = max(abs(minimum), abs(maximum))
        sq_sum = float(finite.double().pow(2).sum())
        norm = math.sqrt(sq_sum * (numel / max(1, finite.numel())))
        low, high = (minimum, maximum) if minimum < maximum else (minimum - 0.5, maximum + 0.5)
        counts = torch.histc(finite, bins=HISTOGRAM_BINS, min=low, max=high)
        edges = torch.linspace(low, high, HISTOGRAM_BINS + 1)
        histogram_counts = [int(c) for c in counts.tolist()]
        histogram_edges = [float(e) for e in edges.tolist()]
    else:
        mean = std = minimum = maximum = absmax = norm = float("nan")
        histogram_counts, histogram_edges = [], []
    zeros_share = float((flat == 0).sum()) / count if count else 0.0
    heatmap = None
    heatmap_rows = None
    if values.dim() == 2 and values.numel():
        heatmap = _downsample(values.nan_to_num(0.0, 0.0, 0.0).abs(), heatmap_size)
        heatmap_rows = (int(values.shape[0]), int(values.shape[1]))
    return TensorStats(
        name=name, shape=tuple(shape), dtype=dtype, numel=numel, sampled=count, mean=mean, std=std, min=minimum,
        max=maximum, absmax=absmax, zeros_share=zeros_share, nan_count=nan_count, inf_count=inf_count, norm=norm,
        histogram_counts=histogram_counts, histogram_edges=histogram_edges, heatmap=heatmap, heatmap_rows=heatmap_rows,
    )


def _downsample(matrix, size: int) -> list[list[float]]:
    """Average-pool a 2-D tensor to at most size x size cells (the view never shows more)."""
    import torch.nn.functional as functional

    rows, cols = matrix.shape
    out_rows, out_cols = min(rows, size), min(cols, size)
    pooled = functional.adaptive_avg_pool2d(matrix[None, None], (out_rows, out_cols))[0, 0]
    return pooled.tolist()


class TensorUnavailable(ExpectedFailure, LookupError):
    """The tensor asked for is not in the checkpoint, or its file could not be read; the message says which."""


def tensor_stats_job(
    disk: DiskTensors, name: str, cancel: CancelToken | None = None, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Job[TensorStats]:
    cancel = cancel or CancelToken()
    tensor = disk.by_name().get(name)
    if tensor is None:
        raise TensorUnavailable(f"{name} is not stored in this checkpoint")
    path = disk.file_paths.get(tensor.file)
    if path is None:
        raise TensorUnavailable(f"the file holding {name} ({tensor.file}) could not be read")
    yield Progress(0, 2, f"reading {name}")
    sample = _Reader(path, tensor, disk.format).read(max_elements, cancel)
    cancel.raise_if_cancelled()
    yield Progress(1, 2, "computing statistics")
    return summarize(tensor.name, tensor.shape, tensor.dtype, tensor.numel, sample)


def tensor_stats(disk: DiskTensors, name: str, max_elements: int = DEFAULT_MAX_ELEMENTS) -> TensorStats:
    return run_to_end(tensor_stats_job(disk, name, max_elements=max_elements))


_LAYER_NUMBER = re.compile(r"\.(\d+)\.")


def layer_pattern(name: str) -> str | None:
    """'model.layers.7.mlp.down_proj.weight' -> 'model.layers.{}.mlp.down_proj.weight' (the last block index)."""
    matches = list(_LAYER_NUMBER.finditer(name))
    if not matches:
        return None
    last = matches[-1]
    return name[: last.start(1)] + "{}" + name[last.end(1) :]


def same_parameter_across_layers(disk: DiskTensors, name: str) -> list[tuple[int, TensorInfo]]:
    pattern = layer_pattern(name)
    if pattern is None:
        return []
    prefix, suffix = pattern.split("{}")
    found = []
    for tensor in disk.tensors:
        if tensor.name.startswith(prefix) and tensor.name.endswith(suffix):
            middle = tensor.name[len(prefix) : len(tensor.name) - len(suffix)]
            if middle.isdigit():
                found.append((int(middle), tensor))
    return sorted(found, key=lambda item: item[0])


@dataclass(slots=True)
class LayerNorms:
    pattern: str
    layers: list[int] = field(default_factory=list)
    norms: list[float] = field(default_factory=list)
    estimated: bool = False  # some norms were extrapolated from a sample


def layer_norms_job(
    disk: DiskTensors, name: str, cancel: CancelToken | None = None, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Job[LayerNorms]:
    """L2 norm of one parameter in every repeated block, along the depth."""
    torch = import_torch()

    cancel = cancel or CancelToken()
    members = same_parameter_across_layers(disk, name)
    result = LayerNorms(pattern=layer_pattern(name) or name)
    for done, (layer, tensor) in enumerate(members):
        cancel.raise_if_cancelled()
        yield Progress(done, len(members), f"layer {layer}")
        sample = _Reader(disk.file_paths[tensor.file], tensor, disk.format).read(max_elements, cancel).to(torch.float32)
        sq_sum = float(sample.double().pow(2).sum())
        scale = tensor.numel / max(1, sample.numel())
        result.estimated = result.estimated or scale > 1
        result.layers.append(layer)
        result.norms.append(math.sqrt(sq_sum * scale))
    yield Progress(len(members), len(members), "done")
    return result
