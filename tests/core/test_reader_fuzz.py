"""Property-based tests of the readers that take JSON from the disk: config.json, shard indexes, the scan index,
consent records. Random and mutated input never raises anything but the readers' own error type, never takes
long and never allocates more than a few MB for a small file.

The fast profile runs in the default test run; the deep one under ``-m slow``.
"""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from explorer.core import scan_index
from explorer.core.consent import ConsentStore
from explorer.core.discovery import ConfigUnreadable, read_config_file
from explorer.core.safe_io import UnreadableFile, parse_json
from explorer.core.safetensors_index import read_index

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DEEP = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)
# Bytes that keep mutated JSON close to JSON, so mutations reach the checks past the parser.
JSON_BYTES = st.sampled_from(list(b'{}[]",:0123456789-.eE tnfalsruNIaiy\\') + [0x00, 0x80, 0xEF, 0xFF])

REAL_CONFIG = json.dumps({
    "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2, "n_embd": 8, "n_head": 2,
    "vocab_size": 50, "id2label": {"0": "a", "1": "b"}, "rope_scaling": {"type": "linear", "factor": 2.0},
    "layer_types": ["full", "sliding"], "torch_dtype": "float32",
}).encode()
REAL_INDEX = json.dumps({"metadata": {"total_size": 64}, "weight_map": {"a.weight": "model-1.safetensors", "b.bias": "model-2.safetensors"}}).encode()


def _mutate(data: bytes, edits) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in edits:
        if not buffer:
            buffer.append(value)
            continue
        at = position % len(buffer)
        if kind == 0:
            buffer[at] = value
        elif kind == 1:
            buffer.insert(at, value)
        elif kind == 2:
            del buffer[at]
        else:  # repeat a slice: nesting and long runs
            buffer[at:at] = bytes(buffer[at : at + 8]) * (value % 64)
    return bytes(buffer)


EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), JSON_BYTES), max_size=6)


def _bounded(function, *args, allowed=(UnreadableFile,), seconds: float = 2.0, megabytes: float = 8.0):
    """Call a reader: only ``allowed`` may escape, quickly, with a small peak allocation."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        try:
            result = function(*args)
        except allowed as exc:
            result = exc
            assert "\n" not in str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < seconds
    assert peak < megabytes * 1024 * 1024, f"{peak / 1e6:.1f} MB for a {sum(len(a) for a in args if isinstance(a, bytes))}-byte input"
    return result


# --------------------------------------------------------------------------- parse_json, the rule itself


@FAST
@given(data=st.binary(max_size=400))
def test_parse_json_on_random_bytes(data):
    _bounded(parse_json, data, "x")


@FAST
@given(value=JSON_VALUES, edits=EDITS)
def test_parse_json_on_mutated_json(value, edits):
    _bounded(parse_json, _mutate(json.dumps(value).encode(), edits), "x")


def test_parse_json_refuses_what_walks_would_choke_on():
    for text in ("[" * 100_000 + "]" * 100_000, "[" * 101 + "]" * 101, "9" * 5000):
        with pytest.raises(UnreadableFile):
            parse_json(text, "x")
    with pytest.raises(UnreadableFile, match="more than 10 values"):
        parse_json(json.dumps(list(range(11))), "x", max_values=10)


# --------------------------------------------------------------------------- config.json


def _config_case(tmp_path, data: bytes):
    path = tmp_path / "config.json"
    path.write_bytes(data)
    return _bounded(read_config_file, str(path), allowed=(ConfigUnreadable,))


@FAST
@given(edits=EDITS)
def test_config_reader_on_mutated_configs(tmp_path, edits):
    result = _config_case(tmp_path, _mutate(REAL_CONFIG, edits))
    assert isinstance(result, (dict, ConfigUnreadable))


@FAST
@given(data=st.binary(max_size=300))
def test_config_reader_on_random_bytes(tmp_path, data):
    _config_case(tmp_path, data)


@pytest.mark.slow
@DEEP
@given(edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), JSON_BYTES), max_size=12))
def test_config_reader_on_mutated_configs_deeply(tmp_path, edits):
    _config_case(tmp_path, _mutate(REAL_CONFIG, edits))


# --------------------------------------------------------------------------- shard indexes


def _index_case(tmp_path, data: bytes):
    path = tmp_path / "model.safetensors.index.json"
    path.write_bytes(data)
    result = _bounded(read_index, str(path))
    if not isinstance(result, Exception):
        weight_map, total = result
        assert all(type(v) is str for v in weight_map.values())
        assert total is None or (type(total) is int and total >= 0)


@FAST
@given(edits=EDITS)
def test_index_reader_on_mutated_indexes(tmp_path, edits):
    _index_case(tmp_path, _mutate(REAL_INDEX, edits))


@FAST
@given(value=JSON_VALUES)
def test_index_reader_on_arbitrary_json(tmp_path, value):
    _index_case(tmp_path, json.dumps(value).encode())


# --------------------------------------------------------------------------- the scan index (the app's own cache)


def _saved_index(tmp_path):
    from explorer.core.checkpoint import Checkpoint, CheckpointFile

    ckpt = Checkpoint(id="org/m", source="hub-cache", path=str(tmp_path / "snap"), revision="a" * 40, model_type="gpt2",
                      num_parameters=10, dtypes={"float32": 10}, size_bytes=48,
                      files=[CheckpointFile("config.json", str(tmp_path / "snap" / "config.json"), 8, (1, 2))])
    path = tmp_path / "index.json"
    scan_index.save(path, ["stamp"], {ckpt.path: ((1, 2, (), ()), ckpt)})
    return path


def _load_index(path):
    cache = scan_index.load(path, ["stamp"])
    assert isinstance(cache, dict)
    for fingerprint, ckpt in cache.values():
        assert ckpt.num_parameters is None or 0 <= ckpt.num_parameters < 2**63
    return cache


@FAST
@given(edits=EDITS)
def test_scan_index_never_fails_on_damage(tmp_path, edits):
    path = _saved_index(tmp_path)
    path.write_bytes(_mutate(path.read_bytes(), edits))
    _bounded(_load_index, path, allowed=())


@settings(FAST, max_examples=60)  # sixteen generated values per example: 60 keep it under a second
@given(values=st.lists(JSON_VALUES, min_size=16, max_size=16), files=JSON_VALUES)
def test_scan_index_with_a_valid_digest_still_checks_every_record(tmp_path, values, files):
    """A record with the right digest but wrong types (hand-made, another tool) makes the index untrusted, not a crash."""
    import hashlib

    data = json.dumps([["key", [1], values, files]]).encode("ascii")
    header = json.dumps({"format": scan_index.FORMAT, "stamp": ["stamp"], "sha256": hashlib.sha256(data).hexdigest()})
    path = tmp_path / "index.json"
    path.write_bytes(header.encode() + b"\n" + data)
    _bounded(_load_index, path, allowed=())


# --------------------------------------------------------------------------- consent records


@FAST
@given(value=JSON_VALUES, edits=EDITS)
def test_consent_records_on_damaged_files_grant_nothing(tmp_path, value, edits):
    store = ConsentStore(tmp_path / "consent.json")
    folder = tmp_path / "ckpt"
    folder.mkdir(exist_ok=True)
    (folder / "modeling_x.py").write_text("x = 1\n")
    (tmp_path / "consent.json").write_bytes(_mutate(json.dumps({"version": 1, "checkpoints": value}).encode(), edits))
    status = _bounded(store.status, folder, allowed=())
    assert status.state in ("not-granted", "changed")
