"""Parameter counts of ``.bin`` checkpoints for the browser, from the pickle's tensor records, never run.

A checkpoint saved with ``torch.save`` (``pytorch_model.bin``, or shards named by
``pytorch_model.bin.index.json``) records each tensor's dtype and shape in its pickle. The
restricted reader (``pickle_reader``) builds stubs from those records without importing or
calling anything, so the scan can count them as it counts safetensors headers. A pickle that
would call anything else is a problem, never a count. Only the files transformers would load
are read (``tensors_on_disk``'s plan), so ``training_args.bin`` or ``optimizer.pt`` never count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.pickle_reader import describe_pytorch_file
from explorer.core.tensors_on_disk import FORMAT_PYTORCH, weight_plan

# Content identity (device, inode, size, mtime) -> counts: revisions and scans that meet the same
# file again count it from memory. Bounded like the safetensors header memory.
_COUNTED: dict[tuple, "PickleCount"] = {}
_MEMORY_LIMIT = 4096


@dataclass
class PickleCount:
    num_parameters: int | None = None
    dtypes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def count_pickle_weights(files: dict[str, str], identities: dict[str, tuple] | None = None) -> PickleCount:
    """Count the tensors of the pickle weight files transformers would load from ``files`` (name -> path).

    ``identities`` (name -> content identity) lets a file already counted be taken from memory.
    A file that cannot be counted (dangerous, damaged, cut short) makes the whole count unknown,
    with its reason among the problems: half a model's count would mislead.
    """
    result = PickleCount()
    fmt, shards, _weight_map, _total, _indexes = weight_plan(files, result.problems)
    if fmt != FORMAT_PYTORCH or not shards:
        return result
    total, dtypes = 0, {}
    for shard in shards:
        identity = (identities or {}).get(shard)
        counted = _COUNTED.get(identity) if identity is not None else None
        if counted is None:
            counted = _count_file(files[shard], shard)
            if identity is not None:
                if len(_COUNTED) >= _MEMORY_LIMIT:
                    _COUNTED.clear()
                _COUNTED[identity] = counted
        if counted.num_parameters is None:
            result.problems.extend(counted.problems)
            return result
        total += counted.num_parameters
        for dtype, count in counted.dtypes.items():
            dtypes[dtype] = dtypes.get(dtype, 0) + count
    result.num_parameters, result.dtypes = total, dtypes
    return result


def count_pickle_file(path: str, label: str) -> PickleCount:
    """One .bin file's tensors (an adapter's ``adapter_model.bin``), counted like a checkpoint's shards."""
    return _count_file(path, label)


def _count_file(path: str, label: str) -> PickleCount:
    report = describe_pytorch_file(path, label)
    if report.error is not None:
        return PickleCount(problems=[report.problem or f"{label}: not readable"])
    dtypes: dict[str, int] = {}
    aliases = set(report.aliases)  # tied weights, stored once: counted once, as transformers counts them
    for tensor in report.tensors:
        if tensor.name not in aliases:
            dtypes[tensor.dtype] = dtypes.get(tensor.dtype, 0) + tensor.numel
    return PickleCount(num_parameters=sum(dtypes.values()), dtypes=dtypes)


def forget_counted_pickles() -> None:
    """Empty the memory of counted files (benchmarks measure a first scan)."""
    _COUNTED.clear()


__all__ = ["PickleCount", "count_pickle_file", "count_pickle_weights", "forget_counted_pickles"]
