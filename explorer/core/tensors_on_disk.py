"""Every tensor a checkpoint stores, from file headers only: nothing is loaded, nothing is executed.

safetensors files describe themselves in a JSON header (see ``safetensors_header``). PyTorch
``.bin`` files are pickles, and unpickling runs arbitrary code, so they are read by
``pickle_reader``: their opcodes are walked first (``pickle_scan``: what they would import and
call, listed for the user), and only a pickle that needs nothing but torch's tensor rebuilding is
unpickled, to local stand-ins. No torch import is needed for either format.
"""

from __future__ import annotations

import math
import os
import pickle
from dataclasses import dataclass, field

from explorer.core.checkpoint import Checkpoint
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end
# The pickle reader's names stay importable from here, where they lived before.
from explorer.core.pickle_reader import (  # noqa: F401
    DamagedPickleError, RestrictedUnpickler, UnsafePickleError, describe_pytorch_file, pickle_imports_of, read_pytorch_bin,
)
from explorer.core.pickle_scan import DTYPE_BYTES, STORAGE_DTYPES, PickleImports  # noqa: F401
from explorer.core.safetensors_header import SafetensorsHeaderError, TensorInfo, read_header_counted
from explorer.core.safetensors_index import read_index

FORMAT_SAFETENSORS = "safetensors"
FORMAT_PYTORCH = "pytorch"

@dataclass(slots=True)
class Totals:
    tensors: int = 0
    params: int = 0
    bytes: int = 0

    def add(self, tensor: TensorInfo) -> None:
        self.tensors += 1
        self.params += tensor.numel
        self.bytes += tensor.nbytes


@dataclass(slots=True)
class DiskTensors:
    """What the weight files hold, per tensor, with totals; ``problems`` lists what could not be read."""

    format: str | None = None
    tensors: list[TensorInfo] = field(default_factory=list)
    by_dtype: dict[str, Totals] = field(default_factory=dict)
    by_file: dict[str, Totals] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # weight files read, in order
    file_paths: dict[str, str] = field(default_factory=dict)  # file label -> readable path
    index_total_size: int | None = None
    problems: list[str] = field(default_factory=list)
    # What each pickle file (.bin, .pt, .pth) would import and call, read without running it.
    pickle_imports: list[PickleImports] = field(default_factory=list)
    # Weight files the load would need that the reader refused (their reason is in ``problems``).
    unreadable: list[str] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(t.params for t in self.by_dtype.values())

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.by_dtype.values())

    def by_name(self) -> dict[str, TensorInfo]:
        return {t.name: t for t in self.tensors}

    def add_counted(self, file: str, tensors: list[TensorInfo], by_dtype: dict[str, Totals]) -> None:
        """Add one file's tensors whose per-dtype totals were counted while reading them."""
        self.tensors.extend(tensors)
        # get() first: setdefault(key, Totals()) would build a Totals on every call.
        file_totals = self.by_file.get(file) or self.by_file.setdefault(file, Totals())
        for dtype, counted in by_dtype.items():
            into = self.by_dtype.get(dtype) or self.by_dtype.setdefault(dtype, Totals())
            n, params, size = counted.tensors, counted.params, counted.bytes
            into.tensors += n
            into.params += params
            into.bytes += size
            file_totals.tensors += n
            file_totals.params += params
            file_totals.bytes += size

    def add(self, tensors: list[TensorInfo]) -> None:
        self.tensors.extend(tensors)
        by_dtype, by_file = self.by_dtype, self.by_file
        for tensor in tensors:
            numel = math.prod(tensor.shape)
            for totals in (by_dtype.get(tensor.dtype) or by_dtype.setdefault(tensor.dtype, Totals()),
                           by_file.get(tensor.file) or by_file.setdefault(tensor.file, Totals())):
                totals.tensors += 1
                totals.params += numel
                totals.bytes += tensor.nbytes


def weight_files(source: Checkpoint | str | os.PathLike) -> dict[str, str]:
    """Map each top-level file name of a checkpoint to a readable path."""
    if isinstance(source, Checkpoint):
        mapping = {f.name: f.path for f in source.files if f.size is not None and "/" not in f.name}
        if mapping:
            return mapping
        source = source.path
    folder = os.fspath(source)
    mapping = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file():
                    mapping[entry.name] = entry.path
    except OSError:
        pass
    return mapping


_WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json")


def unreadable_weight_files(source: Checkpoint | str | os.PathLike) -> list[str]:
    """Weight-file names present but not readable as files (broken links, loops, FIFOs): said, not skipped silently."""
    if isinstance(source, Checkpoint):
        names = [f.name for f in source.files if f.size is None and "/" not in f.name]
    else:
        names = []
        try:
            with os.scandir(os.fspath(source)) as entries:
                for entry in entries:
                    try:
                        regular = entry.is_file()
                    except OSError:
                        regular = False
                    if not regular and not entry.is_dir(follow_symlinks=False):
                        names.append(entry.name)
        except OSError:
            return []
    return sorted(n for n in names if n.endswith(_WEIGHT_SUFFIXES) and _is_weight_candidate(n))


_PICKLE_SUFFIXES = (".bin", ".pt", ".pth")


def _other_pickle_files(files: dict[str, str], shards: list[str]) -> list[str]:
    """Pickle files not read for tensors (training_args.bin, optimizer.pt, ...): their imports are listed too."""
    return sorted(name for name in files if name.endswith(_PICKLE_SUFFIXES) and name not in shards)


def _is_weight_candidate(name: str) -> bool:
    return not name.startswith(("adapter_model", "training_args", "optimizer", "scheduler", "rng_state"))


def weight_plan(files: dict[str, str], problems: list[str]) -> tuple[str | None, list[str], dict[str, str], int | None, list[str]]:
    """Pick the format transformers would load and the shard list: (format, shards, weight_map, total, index names)."""
    for fmt, index_suffix, file_suffix in (
        (FORMAT_SAFETENSORS, ".safetensors.index.json", ".safetensors"),
        (FORMAT_PYTORCH, ".bin.index.json", ".bin"),
    ):
        indexes = sorted(n for n in files if n.endswith(index_suffix) and _is_weight_candidate(n))
        if indexes:
            shards: list[str] = []
            weight_map: dict[str, str] = {}
            total = None
            for index_name in indexes:
                try:
                    index_map, index_total = read_index(files[index_name])
                except (OSError, ValueError) as exc:
                    problems.append(f"{index_name}: unreadable index ({exc})")
                    continue
                weight_map.update(index_map)
                total = index_total if total is None else total + (index_total or 0)
                for shard in sorted(set(index_map.values())):
                    if shard not in files:
                        problems.append(f"{index_name} names shard {shard}, which is missing")
                    elif shard not in shards:
                        shards.append(shard)
            if shards or weight_map:
                return fmt, shards, weight_map, total, indexes
        singles = sorted(n for n in files if n.endswith(file_suffix) and _is_weight_candidate(n))
        if singles:
            return fmt, singles, {}, None, []
    return None, [], {}, None, []


class _Irregular(Exception):
    pass


def read_safetensors_tensors(path: str, label: str) -> tuple[list[TensorInfo], dict[str, Totals]]:
    """The tensors of one safetensors file as ``read_header`` validates them, with their totals per dtype."""
    header, counts = read_header_counted(path, label)
    return header.tensors, {dtype: Totals(n, params, size) for dtype, (n, params, size) in counts.items()}


def read_disk_tensors_job(source: Checkpoint | str | os.PathLike, cancel: CancelToken | None = None) -> Job[DiskTensors]:
    """Read every weight file's header; yields Progress per file, returns DiskTensors."""
    cancel = cancel or CancelToken()
    files = weight_files(source)
    result = DiskTensors()
    for name in unreadable_weight_files(source):
        result.problems.append(f"{name}: not readable (a broken link, a link loop, or not a regular file)")
    fmt, shards, weight_map, total, indexes = weight_plan(files, result.problems)
    result.format = fmt
    result.index_total_size = total
    if fmt is None:
        for name in _other_pickle_files(files, []):
            cancel.raise_if_cancelled()
            result.pickle_imports.append(pickle_imports_of(files[name], name))
        if not result.problems:
            result.problems.append("no weight files (*.safetensors or pytorch_model*.bin) in this checkpoint")
        return result
    readable_data_bytes = 0
    for number, shard in enumerate(shards):
        cancel.raise_if_cancelled()
        yield Progress(number, len(shards), f"reading {shard}")
        try:
            if fmt == FORMAT_SAFETENSORS:
                tensors, totals = read_safetensors_tensors(files[shard], shard)
                result.add_counted(shard, tensors, totals)
                readable_data_bytes += sum(t.bytes for t in totals.values())
            else:
                report = describe_pytorch_file(files[shard], shard)
                result.pickle_imports.append(report.imports)
                if report.error is not None:
                    raise report.error
                result.add(report.tensors)
                readable_data_bytes += sum(t.nbytes for t in report.tensors)
        except (SafetensorsHeaderError, ValueError) as exc:
            result.problems.append(str(exc))
            result.unreadable.append(shard)
            continue
        result.files.append(shard)
        result.file_paths[shard] = files[shard]
    for name in _other_pickle_files(files, shards):
        cancel.raise_if_cancelled()
        yield Progress(len(shards), len(shards), f"reading what {name} would import")
        result.pickle_imports.append(pickle_imports_of(files[name], name))
    yield Progress(len(shards), len(shards), "headers read")
    if weight_map:
        _check_against_index(result, weight_map, indexes)
    read_everything = len(result.files) == len(set(weight_map.values()) or shards)
    if fmt == FORMAT_SAFETENSORS and total is not None and read_everything and total != readable_data_bytes:
        result.problems.append(
            f"{indexes[0]} says total_size={total} bytes but the shard headers describe {readable_data_bytes} bytes"
        )
    return result


def _check_against_index(result: DiskTensors, weight_map: dict[str, str], indexes: list[str]) -> None:
    found = {tensor.name: tensor.file for tensor in result.tensors}
    if found == weight_map:
        return  # the usual case, settled by one C-level comparison
    read_files = set(result.files)
    index_label = indexes[0] if len(indexes) == 1 else "the index"
    wrong = [n for n, shard in weight_map.items() if shard in read_files and found.get(n) != shard]
    if wrong:
        sample = ", ".join(wrong[:3])
        result.problems.append(f"{index_label} places {len(wrong)} tensor(s) in shards that do not hold them (e.g. {sample})")
    if not wrong and len(found) == len(weight_map):
        return  # every index entry was found where it says, and nothing else is there
    unlisted = [n for n in found if n not in weight_map]
    if unlisted:
        result.problems.append(f"{len(unlisted)} tensor(s) in the shards are not listed in {index_label} (e.g. {unlisted[0]})")


def pickle_weights_problem(source: Checkpoint | str | os.PathLike, error: BaseException) -> str | None:
    """Why loading a checkpoint's .bin weights failed, in our words, when that is what ``error`` is about.

    torch's refusal of a pickle advises loading it without its restriction: that advice never
    reaches the user. Its other failures on a pickle file say things like "[Errno 22] Invalid
    argument". Here the weight files are read again by this module and its first problem is the
    answer; when torch refused a pickle this reader accepts, the answer says the pickle asks for
    something a plain state dict never needs and was not run. None for any other failure.
    """
    text = str(error)
    refused = "weights_only" in text or "Weights only" in text
    if not refused and not isinstance(error, (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError)):
        return None
    disk = read_disk_tensors(source)
    if disk.format == FORMAT_PYTORCH:
        for problem in disk.problems:
            if problem.split(":", 1)[0].split(" ", 1)[0].endswith(_PICKLE_SUFFIXES):  # "<file>: ..." or "<file> is ..."
                return problem
    if refused:
        return "the checkpoint's pickle asks for something a plain state dict never needs; it was not run"
    return None


def read_disk_tensors(source: Checkpoint | str | os.PathLike, cancel: CancelToken | None = None) -> DiskTensors:
    return run_to_end(read_disk_tensors_job(source, cancel))
