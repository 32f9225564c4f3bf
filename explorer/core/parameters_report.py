"""Everything the Parameters tab and ``model-explorer inspect`` show, as one job and as plain JSON.

``parameters_job`` yields its partial results in the order they become available (tensors on
disk first: they need no model code, so they show even when the model cannot be built), then
the skeleton, then the head match, and returns a ``ParametersResult``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from explorer.core.checkpoint import Checkpoint
from explorer.core.head_matching import HeadMatch, match_head
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end
from explorer.core.skeleton import ModuleNode, Skeleton, SkeletonError, build_model_job, skeleton_from_model
from explorer.core.tensors_on_disk import DiskTensors, read_disk_tensors_job


@dataclass(slots=True)
class ParametersResult:
    disk: DiskTensors
    skeleton: Skeleton | None = None
    match: HeadMatch | None = None
    heads: list[str] = field(default_factory=list)
    head: str | None = None
    config_json: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what failed, for the user (disk problems included)


def parameters_job(source: Checkpoint | str | os.PathLike, head: str | None = None, cancel: CancelToken | None = None) -> Job[ParametersResult]:
    cancel = cancel or CancelToken()
    disk = yield from read_disk_tensors_job(source, cancel)
    yield disk
    result = ParametersResult(disk=disk, problems=list(disk.problems))
    try:
        built = yield from build_model_job(source, head, cancel)
    except SkeletonError as exc:
        result.problems.append(str(exc))
        result.heads, result.head = list(exc.heads), exc.head
        return result
    result.heads, result.head, result.config_json = built.heads, built.head, built.config_json
    yield Progress(2, 3, "walking the module tree")
    result.skeleton = skeleton_from_model(built.model, built.head, built.custom_code)
    yield result.skeleton
    cancel.raise_if_cancelled()
    if disk.tensors:
        yield Progress(3, 4, "matching checkpoint tensors to the model")
        try:
            result.match = match_head(built.model, disk.tensors, built.head)
        except Exception as exc:  # conversion code is model-specific; a failure must not hide the rest
            result.problems.append(f"head matching failed: {type(exc).__name__}: {exc}")
        else:
            result.problems.extend(result.match.problems)
            yield result.match
    return result


def _module_json(node: ModuleNode) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": node.name, "class": node.class_name, "params": node.total_params}
    if node.repeat > 1:
        entry["repeat"] = node.repeat
    if node.params:
        entry["parameters"] = [
            {"name": p.name, "shape": list(p.shape), "dtype": p.dtype, **({"tied_to": p.tied_to} if p.tied_to else {})}
            for p in node.params
        ]
    children = node.children
    if node.repeat > 1 and children:
        # One block stands for the group in JSON; the group line already says how many there are.
        children = children[:1]
    entry["children"] = [_module_json(child) for child in children]
    return entry


def report_json(result: ParametersResult, include_match: bool) -> dict[str, Any]:
    disk = result.disk
    skeleton = result.skeleton
    if skeleton is not None:
        parameters = {"total": skeleton.total_params, "by_dtype": dict(skeleton.by_dtype), "trainable": skeleton.trainable_params}
    else:
        parameters = {"total": disk.total_params if disk.tensors else None, "by_dtype": {k: v.params for k, v in disk.by_dtype.items()}, "trainable": None}
    report: dict[str, Any] = {
        "parameters": parameters,
        "modules": _module_json(skeleton.root) if skeleton is not None else None,
        "tensors": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "file": t.file} for t in disk.tensors],
        "tensors_on_disk": {
            "format": disk.format,
            "total_bytes": disk.total_bytes,
            "by_dtype": {k: {"tensors": v.tensors, "params": v.params, "bytes": v.bytes} for k, v in disk.by_dtype.items()},
            "by_file": {k: {"tensors": v.tensors, "params": v.params, "bytes": v.bytes} for k, v in disk.by_file.items()},
            "index_total_size": disk.index_total_size,
        },
        "pickle_imports": [imports.to_json() for imports in disk.pickle_imports],
        "head": result.head,
        "heads": list(result.heads),
        "problems": list(result.problems),
    }
    if include_match:
        match = result.match
        report["missing"] = match.missing if match else None
        report["unexpected"] = match.unexpected if match else None
        report["mismatched"] = (
            [{"name": k, "checkpoint_shape": list(a), "model_shape": list(b)} for k, a, b in match.mismatched] if match else None
        )
    return report


def inspect_parameters(path: str, head: str | None = None) -> dict[str, Any]:
    """The command line's view: parameters, modules, tensors; with ``head``, missing/unexpected/mismatched."""
    result = run_to_end(parameters_job(path, head))
    return report_json(result, include_match=head is not None)
