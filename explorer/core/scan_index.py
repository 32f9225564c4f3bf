"""What the last scan read, kept on disk so that a new session re-reads only what changed.

On a large hub cache a first scan spends its time on one stat per file and one read per
config and safetensors header. The Scanner already remembers each revision's result keyed by
folder modification times, so that a rescan costs a few stats per revision; this module keeps
that memory across sessions: saved in the app's cache folder when a scan completes, loaded by
the first scan of the next session. On a slow or network disk that is the difference between
reading every file's inode and header and reading only the folders'.

The file is the app's own, in its cache folder, never beside the checkpoints. It is JSON
behind a one-line header carrying a digest of the rest, so a file cut short, altered or
written by another version (or for another transformers, whose model-type table the
problems depend on) is simply not used, and the next completed scan writes it anew.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

from explorer.core.atomic import write_bytes_atomically
from explorer.core.checkpoint import Checkpoint, CheckpointFile
from explorer.core.safe_io import UnreadableFile, parse_json, read_bounded

# 2: parameter counts come from headers validated as the safetensors library validates them.
# 3: .bin checkpoints carry parameter counts (indexes of format 2 lack them).
FORMAT = 4  # 4: adapters and GGUF models are listed (with their format and base model)
MAX_INDEX_BYTES = 512 * 1024 * 1024

# Checkpoint fields saved as they are, in this order; files, refs and origin are handled apart
# (refs are re-read by every scan: moving `main` touches no snapshot folder).
_FIELDS = (
    "id",
    "source",
    "path",
    "revision",
    "repo_path",
    "model_type",
    "architectures",
    "num_parameters",
    "dtypes",
    "size_bytes",
    "has_tokenizer",
    "needs_remote_code",
    "remote_code_files",
    "has_model_card",
    "last_modified",
    "problems",
    "format",
    "base_model",
)

Cache = dict[str, tuple[tuple, Checkpoint]]


def _record(key: str, fingerprint: tuple, ckpt: Checkpoint) -> list:
    prefix = ckpt.path + os.sep
    files = []
    for f in ckpt.files:
        row = [f.name, f.size, *(f.content or (None, None))]
        if f.path != prefix + f.name.replace("/", os.sep):
            row.append(f.path)
        files.append(row)
    return [key, fingerprint, [getattr(ckpt, name) for name in _FIELDS], files]


def _frozen(value):
    """JSON gives lists where the fingerprints had tuples; fingerprints are compared with ==."""
    if type(value) is list:
        return tuple(map(_frozen, value))
    return value


# The types save() writes for each of _FIELDS, in order.
_STR, _NONE = frozenset({str}), type(None)
_FIELD_TYPES = (
    _STR, _STR, _STR, frozenset({str, _NONE}), frozenset({str, _NONE}), frozenset({str, _NONE}), frozenset({list}),
    frozenset({int, _NONE}), frozenset({dict}), frozenset({int}), frozenset({bool}), frozenset({bool}), frozenset({list}),
    frozenset({bool}), frozenset({int, float, _NONE}), frozenset({list}), _STR, frozenset({str, _NONE}),
)
_LARGEST = 2**63 - 1  # what Qt's item models and JSON consumers can hold
_COUNT_TYPES = frozenset({int, _NONE})


def _valid_record(values, files) -> bool:
    """A record as save() writes it; anything else (a hand-edit, another tool) makes the whole index untrusted.

    Checked with whole-list operations: the window's start reads a thousand of these.
    """
    if type(values) is not list or len(values) != len(_FIELDS) or type(files) is not list:
        return False
    if not all(map(frozenset.__contains__, _FIELD_TYPES, map(type, values))):
        return False
    (_id, _source, _path, _revision, _repo, _type, architectures, parameters, dtypes, size, _t, _c, code_files, _m, modified, problems, _f, _b) = values
    if set(map(type, architectures + code_files + problems)) - _STR:
        return False
    counts = [size, *dtypes.values()] + ([parameters] if parameters is not None else [])
    if set(map(type, counts)) - {int} or min(counts) < 0 or max(counts) > _LARGEST:
        return False
    if type(modified) is float and not math.isfinite(modified):
        return False
    if files:
        if set(map(type, files)) != {list} or not set(map(len, files)) <= {4, 5}:
            return False
        names, sizes, devices, inodes = zip(*(row[:4] for row in files))
        if set(map(type, names)) != _STR or not set(map(type, sizes + devices + inodes)) <= _COUNT_TYPES:
            return False
        numbers = [n for n in sizes + devices + inodes if n is not None]
        if numbers and (min(numbers) < 0 or max(numbers) > _LARGEST):
            return False
        if any(len(row) == 5 and type(row[4]) is not str for row in files):
            return False
    return True


def _checkpoint(values: list, files: list) -> Checkpoint:
    ckpt = Checkpoint(**dict(zip(_FIELDS, values)))
    prefix = ckpt.path + os.sep
    entries = []
    for row in files:
        name, size, device, inode = row[:4]
        path = row[4] if len(row) > 4 else prefix + name.replace("/", os.sep)
        entries.append(CheckpointFile(name, path, size, None if device is None else (device, inode)))
    ckpt.files = entries
    return ckpt


def save(path: str | os.PathLike, stamp: list, cache: Cache) -> None:
    """Write ``cache`` (key -> (fingerprint, checkpoint)) for the next session; errors are the caller's to ignore."""
    # ASCII (json's default escaping): names that are not valid UTF-8 survive the round trip.
    data = json.dumps([_record(key, fingerprint, ckpt) for key, (fingerprint, ckpt) in cache.items()], separators=(",", ":")).encode("ascii")
    header = json.dumps({"format": FORMAT, "stamp": stamp, "sha256": hashlib.sha256(data).hexdigest()})
    # Not fsync-ed: losing the index to a crash costs one full scan, and the digest rejects a torn write.
    write_bytes_atomically(Path(path), header.encode("ascii") + b"\n" + data, durable=False)


def load(path: str | os.PathLike, stamp: list) -> Cache:
    """The saved cache, or an empty one when there is none or it cannot be trusted."""
    try:
        raw = read_bounded(path, "the scan index", MAX_INDEX_BYTES)
        header_line, newline, data = raw.partition(b"\n")
        if not newline:
            return {}
        header = parse_json(header_line, "the scan index")
        if type(header) is not dict or header.get("format") != FORMAT or header.get("stamp") != stamp:
            return {}
        if header.get("sha256") != hashlib.sha256(data).hexdigest():
            return {}
        records = parse_json(data, "the scan index")
        if type(records) is not list:
            return {}
        cache: Cache = {}
        for record in records:
            if type(record) is not list or len(record) != 4 or type(record[0]) is not str:
                return {}
            key, fingerprint, values, files = record
            if not _valid_record(values, files):
                return {}
            cache[key] = (_frozen(fingerprint), _checkpoint(values, files))
        return cache
    except UnreadableFile:
        return {}
