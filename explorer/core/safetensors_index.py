"""A checkpoint's safetensors weights as a whole: shard indexes and the scan's parameter summary.

The index (``*.safetensors.index.json``) maps tensors to shards; the summary adds up the
validated counts of every shard it names (``safetensors_header.count_parameters``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.safe_io import UnreadableFile, parse_json, read_bounded
from explorer.core.safetensors_header import _SIZE_LIMIT, SafetensorsHeaderError, TensorInfo, count_parameters, read_header


@dataclass(slots=True)
class WeightsSummary:
    """What a checkpoint's weights hold, from headers only."""

    num_parameters: int | None = None
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> parameter count
    files: list[str] = field(default_factory=list)
    tensors: list[TensorInfo] = field(default_factory=list)
    index_total_size: int | None = None
    problems: list[str] = field(default_factory=list)


# An index maps each tensor to its shard, ~80 bytes a tensor: 64 MiB is some 800,000 tensors.
MAX_INDEX_BYTES = 64 * 1024 * 1024


def _read_index_json(index_path: str, file_size: int | None = None):
    """The parsed index: bounded, never blocking on a FIFO; UnreadableFile (a ValueError) otherwise."""
    return parse_json(read_bounded(index_path, "the file", MAX_INDEX_BYTES), "the file")


def _total_size(index) -> int | None:
    """metadata.total_size when it is a plausible byte count (not NaN, infinite, negative or a bool)."""
    metadata = index.get("metadata")
    total = metadata.get("total_size") if isinstance(metadata, dict) else None
    if type(total) is float and total.is_integer():
        total = int(total)
    return total if type(total) is int and 0 <= total < _SIZE_LIMIT else None


def read_index(index_path: str) -> tuple[dict[str, str], int | None]:
    """Return (tensor -> shard file, metadata.total_size) from a *.safetensors.index.json."""
    index = _read_index_json(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise UnreadableFile("the file has no weight_map")
    # Checked by the set of value types (one C-level pass); JSON object keys are always strings,
    # and the freshly parsed map is nobody else's, so it is returned as it is.
    if not set(map(type, weight_map.values())) <= {str}:
        raise UnreadableFile("weight_map names a shard that is not a file name")
    return weight_map, _total_size(index)


def _index_shards(index_path: str, file_size: int | None = None) -> tuple[set[str], int | None]:
    """The shard files an index names and its total_size, without copying the weight map."""
    index = _read_index_json(index_path, file_size)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise UnreadableFile("the file has no weight_map")
    try:
        shards = set(weight_map.values())
    except TypeError:  # a list or object where a file name should be
        shards = None
    # Checked on the few distinct names rather than on every entry: one pass over the map, not two.
    if shards is None or any(type(shard) is not str for shard in shards):
        raise UnreadableFile("weight_map names a shard that is not a file name")
    return shards, _total_size(index)


def summarize_safetensors(
    files: dict[str, str],
    keep_tensors: bool = False,
    sizes: dict[str, int] | None = None,
    contents: dict[str, object] | None = None,
    read_once: dict | None = None,
    adapter: bool = False,
) -> WeightsSummary:
    """Sum parameters and dtypes over a checkpoint's safetensors weights.

    ``files`` maps each top-level file name of the checkpoint to a readable path (hub-cache
    snapshots and legacy caches store content under other names). When an index is present,
    every shard it names is read (a missing shard is a problem); otherwise every
    *.safetensors. Adapter files are left out: they are not the model's own weights; with
    ``adapter`` only they count (an adapter folder's ``adapter_model.safetensors``).
    ``sizes`` (name -> bytes, from a listing that stat-ed the files) spares a stat per shard and index.
    ``contents`` (name -> identity of the content, e.g. (device, inode, size)) with a
    ``read_once`` dict that the caller keeps across checkpoints lets content shared by
    several revisions of a hub repo be read once per scan.
    """
    summary = WeightsSummary()
    index_names: list[str] = []
    weight_files: list[str] = []
    for name in files:
        if name.endswith(".safetensors"):
            if name.startswith("adapter_model") == adapter:
                weight_files.append(name)
        elif name.endswith(".safetensors.index.json") and not adapter:
            index_names.append(name)
    index_names.sort()
    shard_files: list[str] = []
    for index_name in index_names:
        content = contents.get(index_name) if contents is not None and read_once is not None else None
        read = read_once.get((index_name, content, "index")) if content is not None else None
        if read is None:
            try:
                read = _index_shards(files[index_name], sizes.get(index_name) if sizes is not None else None)
            except (OSError, ValueError) as exc:
                read = exc
            if content is not None:
                read_once[(index_name, content, "index")] = read
        if isinstance(read, Exception):
            summary.problems.append(f"{index_name}: unreadable index ({read})")
            continue
        shards, total = read
        summary.index_total_size = total
        for shard in sorted(shards):
            if shard not in files:
                summary.problems.append(f"{index_name} names shard {shard}, which is missing")
            elif shard not in shard_files:
                shard_files.append(shard)
    if not index_names:
        shard_files = sorted(weight_files)
    if not shard_files:
        return summary
    total_params = 0
    data_bytes = 0
    for shard in shard_files:
        try:
            if keep_tensors:
                header = read_header(files[shard], shard)
                numel_by_dtype: dict[str, int] = {}
                for tensor in header.tensors:
                    numel_by_dtype[tensor.dtype] = numel_by_dtype.get(tensor.dtype, 0) + tensor.numel
                shard_params, shard_bytes = sum(numel_by_dtype.values()), header.data_bytes
                summary.tensors.extend(header.tensors)
            else:
                content = contents.get(shard) if contents is not None and read_once is not None else None
                # Keyed by name too: the messages name the file.
                counted = read_once.get((shard, content)) if content is not None else None
                if counted is None:
                    known_size = sizes.get(shard) if sizes is not None else None
                    try:
                        counted = count_parameters(files[shard], shard, known_size)
                    except SafetensorsHeaderError as exc:
                        counted = exc
                    if content is not None:
                        read_once[(shard, content)] = counted
                if isinstance(counted, SafetensorsHeaderError):
                    raise counted
                shard_params, numel_by_dtype, shard_bytes = counted
        except SafetensorsHeaderError as exc:
            summary.problems.append(str(exc))
            continue
        summary.files.append(shard)
        total_params += shard_params
        data_bytes += shard_bytes
        for dtype, numel in numel_by_dtype.items():
            summary.dtypes[dtype] = summary.dtypes.get(dtype, 0) + numel
    if summary.files:
        summary.num_parameters = total_params
    if summary.index_total_size is not None and summary.files and not summary.problems and summary.index_total_size != data_bytes:
        summary.problems.append(
            f"index says total_size={summary.index_total_size} bytes but the shard headers describe {data_bytes} bytes"
        )
    return summary
