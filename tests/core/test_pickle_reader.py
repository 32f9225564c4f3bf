"""Hostile and broken PyTorch pickle checkpoints: each ends as one clear message, fast and small, never run.

The reference is torch itself: a file our reader accepts must be one ``torch.load(weights_only=True)``
loads with the same tensors. The fuzz tests check that on random and mutated files.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from explorer.core.pickle_reader import (
    MAX_PICKLE_BYTES, DamagedPickleError, UnsafePickleError, describe_pytorch_file, pickle_imports_of, read_pytorch_bin,
    torch_load_error,
)
from explorer.core.safe_io import UnreadableFile
from explorer.core.tensor_stats import tensor_stats
from explorer.core.tensors_on_disk import read_disk_tensors
from tests import hostile_corpus as corpus
from tests.core.pickle_builders import (
    Payload, float_tensor_file, legacy_file, mutate, push, state_dict_pickle, tensor_ops, write_torch_zip,
)

# torch notes the old pickle protocols the fuzzing feeds it; the tests judge what it does, not that note.
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")

SYSTEM = f"{os.system.__module__}.system"


def _measured(call):
    """(result or raised error, seconds, peak bytes allocated by Python) of one call."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        try:
            outcome = call()
        except Exception as exc:  # noqa: BLE001 (the caller judges what was raised)
            outcome = exc
        return outcome, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _one_line_error(outcome, kind=UnreadableFile) -> str:
    assert isinstance(outcome, kind), f"expected {kind.__name__}, got {outcome!r}"
    text = str(outcome)
    assert "\n" not in text and len(text) <= 300
    return text


def test_reader_errors_are_the_one_unreadable_file_type():
    assert issubclass(UnsafePickleError, UnreadableFile)
    assert issubclass(DamagedPickleError, UnreadableFile)


# --------------------------------------------------------------------------- case 1: zip bombs


def _bomb(path, inflated: int):
    zeros = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("archive/data.pkl", "w", force_zip64=True) as handle:
            for _ in range(inflated // len(zeros)):
                handle.write(zeros)
    return path


def test_a_data_pkl_inflating_past_the_limit_is_refused_before_it_is_inflated(tmp_path):
    path = _bomb(tmp_path / "pytorch_model.bin", MAX_PICKLE_BYTES + 4 * 1024 * 1024)
    assert path.stat().st_size < 1024 * 1024
    outcome, seconds, peak = _measured(lambda: read_pytorch_bin(path))
    text = _one_line_error(outcome, DamagedPickleError)
    assert "64.0 MiB" in text and "zip bomb" in text
    assert seconds < 1 and peak < 2 * 1024 * 1024


def test_a_zip_header_that_lies_about_the_inflated_size_is_still_bounded(tmp_path):
    path = _bomb(tmp_path / "pytorch_model.bin", 96 * 1024 * 1024)
    data = bytearray(path.read_bytes())
    # Claim 1,000 bytes in the local header, the central directory and the zip64 extras.
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        struct.pack_into("<I", data, at + size_at, 1000)
    at = 0
    while (at := data.find(b"\x01\x00\x10\x00", at)) >= 0:  # zip64 extra: uncompressed size first
        struct.pack_into("<Q", data, at + 4, 1000)
        at += 4
    path.write_bytes(bytes(data))
    outcome, seconds, peak = _measured(lambda: read_pytorch_bin(path))
    _one_line_error(outcome)
    assert seconds < 2 and peak < 4 * 1024 * 1024


def test_a_zip_directory_larger_than_any_checkpoint_s_is_refused_unread(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    end_record = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 2**30, 0, 0)
    path.write_bytes(b"PK\x03\x04" + bytes(100) + end_record)
    text = _one_line_error(_measured(lambda: read_pytorch_bin(path))[0], DamagedPickleError)
    assert "zip directory is 1.0 GiB" in text


@pytest.mark.slow
def test_the_issue_s_2_gib_zip_bomb_is_refused_in_a_moment(tmp_path):
    folder = corpus.zip_bomb_bin(tmp_path / "case")
    outcome, seconds, peak = _measured(lambda: read_disk_tensors(folder))
    assert outcome.tensors == []
    assert any("zip bomb" in p and "64.0 MiB" in p for p in outcome.problems)
    assert seconds < 2 and peak < 4 * 1024 * 1024


# --------------------------------------------------------------------------- case 2: shared and nested containers


def test_the_memo_dag_of_the_issue_is_refused_without_walking_its_paths(tmp_path):
    folder = corpus.memo_dag_pickle(tmp_path / "case")
    outcome, seconds, peak = _measured(lambda: read_pytorch_bin(folder / "pytorch_model.bin"))
    text = _one_line_error(outcome, DamagedPickleError)
    assert "the pickle nests one container inside itself 40 times" in text and "decompression bomb" in text
    assert seconds < 1 and peak < 2 * 1024 * 1024


def test_a_container_inside_itself_is_refused(tmp_path):
    looped = b"\x80\x02}q\x00(X\x01\x00\x00\x00ah\x00u."  # d = {}; d["a"] = d
    path = write_torch_zip(tmp_path / "loop.bin", looped)
    assert "puts a container inside itself" in _one_line_error(_measured(lambda: read_pytorch_bin(path))[0])


def test_nesting_deeper_than_any_state_dict_is_refused_without_recursion(tmp_path):
    depth = 5000
    nested = b"\x80\x02" + b"}(X\x01\x00\x00\x00a" * depth + b"N" + b"u" * depth + b"."
    path = write_torch_zip(tmp_path / "deep.bin", nested)
    assert "more than 64 levels deep" in _one_line_error(_measured(lambda: read_pytorch_bin(path))[0])


def test_shared_dicts_within_bounds_are_listed_under_every_name(tmp_path):
    inner = push("w") + tensor_ops((2,), (1,))
    shared = b"\x80\x02}(X\x01\x00\x00\x00a}q\x07(" + inner + b"uX\x01\x00\x00\x00bh\x07u."
    path = write_torch_zip(tmp_path / "shared.bin", shared, {"0": 8})
    assert [t.name for t in read_pytorch_bin(path)] == ["a.w", "b.w"]


# --------------------------------------------------------------------------- case 3: cut short


def test_a_truncated_zip_says_so(tmp_path):
    folder = corpus.truncated_zip_bin(tmp_path / "case")
    text = _one_line_error(_measured(lambda: read_pytorch_bin(folder / "pytorch_model.bin"))[0], DamagedPickleError)
    assert text == "pytorch_model.bin is cut short (a truncated download?)"
    assert read_disk_tensors(folder).problems == [text]


def test_a_zip_cut_inside_its_directory_says_so(tmp_path):
    path = float_tensor_file(tmp_path / "pytorch_model.bin")
    data = path.read_bytes()
    path.write_bytes(data[:-30])
    assert "cut short" in _one_line_error(_measured(lambda: read_pytorch_bin(path))[0])


# --------------------------------------------------------------------------- case 5: absurd content


@pytest.mark.parametrize(
    "tensor, message",
    [
        # 4,000 digits need LONG4, which torch's loader refuses; 600 still fit the LONG1 it accepts.
        ({"size": (10**4000, 10**4000), "stride": (1, 1), "numel": 4}, "safe loader refuses (LONG4)"),
        ({"size": (10**600, 10**600), "stride": (1, 1), "numel": 4}, "impossible value"),
        ({"size": (-2, 2), "stride": (2, 1), "numel": 4}, "impossible value"),
        ({"size": (True, 2), "stride": (2, 1), "numel": 2}, "impossible value"),
        ({"size": (1,) * 100, "stride": (1,) * 100}, "100 dimensions"),
        ({"size": (2, 2), "stride": (1,)}, "strides or an offset that do not fit"),
        ({"offset": -1}, "strides or an offset that do not fit"),
        ({"size": (2, 3), "stride": (-1, 1), "numel": 6}, "stride with an impossible value"),
        ({"size": (4, 4), "stride": (4, 1), "numel": 8}, "reaches past the end of its storage"),
        ({"size": (2**62, 4), "stride": (4, 1), "numel": 8}, "more elements than torch can count"),
        ({"record": 8}, "holds 8 bytes but the pickle describes 24"),
        ({"record": False}, "which the archive does not hold"),
        ({"numel": 10**30, "record": 4}, "impossible key or size"),
        ({"key": ("a", "b")}, "impossible key or size"),
    ],
)
def test_impossible_tensors_are_refused_as_torch_refuses_them(tmp_path, tensor, message):
    path = float_tensor_file(tmp_path / "pytorch_model.bin", **tensor)
    text = _one_line_error(_measured(lambda: read_pytorch_bin(path))[0], DamagedPickleError)
    assert message in text and text.startswith("pytorch_model.bin: ")
    assert read_disk_tensors(tmp_path).problems == [text]


@pytest.mark.parametrize(
    "data_pkl, message",
    [
        (b"\x80\x02\xff.", "damaged or cut short"),
        (b"", "damaged or cut short"),
        (b"\x80\x02L" + b"9" * 100_000 + b"L\n.", "a number with thousands of digits"),
        (b"\x80\x03B" + struct.pack("<I", 2**31 - 1) + b"abc.", "damaged or cut short"),
        (b"\x80\x02Nr" + struct.pack("<I", 2**26) + b".", "memo slot"),
        (b"\x80\x02R.", "takes more from its stack"),
        (b"\x80\x02}(X\x01\x00\x00\x00a", "damaged or cut short"),
        (b"\x80\x02](K\x01K\x02e.", "holds no tensors"),
        (b"\x80\x02ccollections\nOrderedDict\n(]tR.", "builds an OrderedDict from arguments"),
        (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x07\x00\x00\x00storageq\x00tR.", "arguments torch never writes"),
        (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00))\x89NtR.", "without a storage reference"),
        (b"\x80\x02}(X\x01\x00\x00\x00w" + push(("storage", 1)) + b"Qu.", "in a form torch does not write"),
        (b"\x80\x02](\x8f\x8fe.", "builds sets, which no state dict holds"),
        (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.", "safe loader refuses (FRAME, MEMOIZE)"),
    ],
)
def test_malformed_pickles_end_as_one_message_in_bounded_memory(tmp_path, data_pkl, message):
    path = write_torch_zip(tmp_path / "pytorch_model.bin", data_pkl)
    outcome, seconds, peak = _measured(lambda: read_pytorch_bin(path))
    assert message in _one_line_error(outcome)
    # CPython's unpickler would allocate the BINBYTES length or the memo slot before reading.
    assert seconds < 1 and peak < 2 * 1024 * 1024


@pytest.mark.slow
def test_a_pickle_of_millions_of_objects_is_refused_before_it_is_built(tmp_path):
    # Two million opcodes is 60k tensors; past that, a 2 MB pickle of empty dicts would cost hundreds of MB.
    path = write_torch_zip(tmp_path / "pytorch_model.bin", b"\x80\x02](" + b"}" * 2_100_000 + b"e.", compress=True)
    # In a fresh process (tracemalloc would slow two million opcodes tenfold): its whole peak is the bound.
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux's peak-memory counter")
    script = (
        "import re, sys, time\n"
        "from explorer.core.pickle_reader import describe_pytorch_file\n"
        "open('/proc/self/clear_refs', 'w').write('5')  # the peak counter starts here (a child inherits its parent's)\n"
        "started = time.perf_counter()\n"
        "report = describe_pytorch_file(sys.argv[1])\n"
        "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024\n"
        "print(time.perf_counter() - started, peak, report.problem)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60, check=True)
    seconds, megabytes, problem = done.stdout.split(" ", 2)
    assert "more than 2,000,000 opcodes" in problem
    assert float(seconds) < 5 and int(megabytes) < 150


def test_a_fifo_named_like_a_checkpoint_never_blocks(tmp_path):
    fifo = tmp_path / "pytorch_model.bin"
    os.mkfifo(fifo)
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(_measured(lambda: read_pytorch_bin(fifo))[0]), daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert "not a regular file" in _one_line_error(outcome[0])


# --------------------------------------------------------------------------- case 6: what the pickle imports, never run


def test_a_malicious_pickle_is_listed_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    folder = corpus.malicious_pickle_bin(tmp_path / "case", marker)
    report = describe_pytorch_file(folder / "pytorch_model.bin")
    assert isinstance(report.error, UnsafePickleError) and "not run" in report.problem and SYSTEM in report.problem
    assert [(i.qualified_name, i.calls, i.dangerous) for i in report.imports.imports] == [(SYSTEM, 1, True)]
    disk = read_disk_tensors(folder)
    assert [entry.to_json() for entry in disk.pickle_imports] == [report.imports.to_json()]
    assert not marker.exists()


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_s_payload_is_found(tmp_path, protocol):
    marker = tmp_path / "ran"
    path = write_torch_zip(tmp_path / "pytorch_model.bin", pickle.dumps({"w": Payload(marker)}, protocol=protocol))
    with pytest.raises(UnsafePickleError, match="never needs"):
        read_pytorch_bin(path)
    assert [i.qualified_name for i in pickle_imports_of(path).dangerous] == [SYSTEM]
    assert not marker.exists()


def test_a_real_state_dict_imports_only_torch_s_rebuilding(tmp_path):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    report = describe_pytorch_file(tmp_path / "pytorch_model.bin")
    assert report.error is None and report.imports.problem is None
    assert report.imports.imports and not report.imports.dangerous
    names = {i.qualified_name for i in report.imports.imports}
    assert {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"} <= names
    assert {t.name: t.shape for t in report.tensors} == {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_a_legacy_torch_file_is_read_and_its_imports_listed(tmp_path):
    import torch

    state = {"w": torch.zeros(3, 4), "b": torch.ones(2, dtype=torch.float16)}
    torch.save(state, tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    report = describe_pytorch_file(tmp_path / "pytorch_model.bin")
    assert report.error is None
    assert {t.name: (t.shape, t.dtype) for t in report.tensors} == {"w": ((3, 4), "float32"), "b": ((2,), "float16")}
    assert report.imports.imports and not report.imports.dangerous


def test_a_malicious_legacy_file_is_listed_and_never_run(tmp_path):
    import torch

    marker = tmp_path / "ran"
    path = legacy_file(tmp_path / "pytorch_model.bin", pickle.dumps({"w": Payload(marker)}, protocol=2))
    report = describe_pytorch_file(path)
    assert isinstance(report.error, UnsafePickleError)
    assert [i.qualified_name for i in report.imports.dangerous] == [SYSTEM]
    # The storage keys pickle after the object is unpickled by torch too: it is walked as well.
    sneaky = legacy_file(tmp_path / "sneaky.bin", state_dict_pickle({}))
    sneaky.write_bytes(sneaky.read_bytes()[: -len(pickle.dumps([], protocol=2))] + pickle.dumps(Payload(marker), protocol=2))
    assert [i.qualified_name for i in pickle_imports_of(sneaky).dangerous] == [SYSTEM]
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_a_bare_pickle_is_not_a_checkpoint_but_its_imports_are_listed(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(pickle.dumps({"w": Payload(marker)}, protocol=2))
    assert [i.qualified_name for i in pickle_imports_of(path).dangerous] == [SYSTEM]
    path.write_bytes(pickle.dumps({"w": 1}, protocol=2))
    assert "not a PyTorch checkpoint" in _one_line_error(_measured(lambda: read_pytorch_bin(path))[0])
    path.write_bytes(b"not a pickle at all")
    assert "not a PyTorch checkpoint" in _one_line_error(_measured(lambda: read_pytorch_bin(path))[0])
    assert not marker.exists()


def test_other_pickle_files_of_a_checkpoint_are_listed_too(tmp_path):
    marker = tmp_path / "ran"
    corpus.write_config(tmp_path)
    float_tensor_file(tmp_path / "pytorch_model.bin")
    write_torch_zip(tmp_path / "training_args.bin", pickle.dumps({"args": Payload(marker)}, protocol=2))
    disk = read_disk_tensors(tmp_path)
    assert disk.problems == [] and [t.name for t in disk.tensors] == ["w"]
    by_file = {entry.file: entry for entry in disk.pickle_imports}
    assert sorted(by_file) == ["pytorch_model.bin", "training_args.bin"]
    assert not by_file["pytorch_model.bin"].dangerous
    assert [i.qualified_name for i in by_file["training_args.bin"].dangerous] == [SYSTEM]
    assert not marker.exists()


def test_inspect_json_lists_pickle_imports_per_file(tmp_path, capsys):
    import json

    from explorer import cli

    marker = tmp_path / "ran"
    folder = corpus.malicious_pickle_bin(tmp_path / "case", marker)
    write_torch_zip(folder / "optimizer.pt", pickle.dumps({"state": {}}, protocol=2))
    assert cli.main(["inspect", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_file = {entry["file"]: entry for entry in report["pickle_imports"]}
    assert by_file["pytorch_model.bin"]["imports"] == [{"module": SYSTEM.split(".")[0], "name": "system", "calls": 1, "builds": 0, "dangerous": True}]
    assert by_file["optimizer.pt"] == {"file": "optimizer.pt", "imports": [], "problem": None}
    assert not marker.exists()


# --------------------------------------------------------------------------- case 4: torch's advice never reaches the user


def _torch_refusal(path):
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("torch loaded a file it should refuse")


def test_torch_refusing_a_pickle_is_said_in_our_words(tmp_path):
    marker = tmp_path / "ran"
    bad = corpus.malicious_pickle_bin(tmp_path / "bad", marker) / "pytorch_model.bin"
    refusal = _torch_refusal(bad)
    assert "weights_only" in str(refusal)  # what must not reach the user
    text = _one_line_error(torch_load_error(refusal, bad), UnsafePickleError)
    assert "weights_only" not in text and "not run" in text and SYSTEM in text
    # Had the file changed back in between, the words are still ours: torch named what it refused.
    good = float_tensor_file(tmp_path / "good" / "pytorch_model.bin")
    text = _one_line_error(torch_load_error(refusal, good), UnsafePickleError)
    assert text == f"pytorch_model.bin: the pickle asks for {SYSTEM}, which a plain state dict never needs; it was not run"
    assert not marker.exists()


def test_tensor_statistics_of_a_swapped_bin_say_why_in_our_words(tmp_path):
    marker = tmp_path / "ran"
    float_tensor_file(tmp_path / "pytorch_model.bin")
    disk = read_disk_tensors(tmp_path)
    assert [t.name for t in disk.tensors] == ["w"]
    # Replaced between the listing and the statistics: a malicious pickle, then a truncated download.
    write_torch_zip(tmp_path / "pytorch_model.bin", pickle.dumps({"w": Payload(marker)}, protocol=2))
    with pytest.raises(UnsafePickleError) as raised:
        tensor_stats(disk, "w")
    assert "weights_only" not in str(raised.value) and "not run" in str(raised.value)
    data = float_tensor_file(tmp_path / "full.bin").read_bytes()
    (tmp_path / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedPickleError, match=r"^pytorch_model.bin is cut short \(a truncated download\?\)$"):
        tensor_stats(disk, "w")
    os.remove(tmp_path / "pytorch_model.bin")
    os.mkfifo(tmp_path / "pytorch_model.bin")
    with pytest.raises(UnreadableFile, match="not a regular file"):
        tensor_stats(disk, "w")
    assert not marker.exists()


@pytest.mark.parametrize("case", ["malicious", "truncated"])
def test_the_demo_says_why_a_bin_cannot_load_in_our_words(tmp_path, case):
    from explorer.core.jobs import run_to_end
    from explorer.tasks.base import TaskError
    from explorer.tasks.session import LoadRequest, load_model

    marker = tmp_path / "ran"
    folder = corpus.malicious_pickle_bin(tmp_path / "case", marker) if case == "malicious" else corpus.truncated_zip_bin(tmp_path / "case")
    corpus.write_tokenizer(folder)
    with pytest.raises(TaskError) as raised:
        run_to_end(load_model(LoadRequest(str(folder), "AutoModelForCausalLM")))
    message, details = str(raised.value), raised.value.details
    assert "weights_only" not in message + details and "Errno" not in message
    # Said by the load's preflight or, had torch been asked first, by _model_error: the reader's words either way.
    if case == "malicious":
        assert message.endswith(f"pytorch_model.bin: refers to {SYSTEM}, which a plain state dict never needs (not run)")
    else:
        assert message.endswith("pytorch_model.bin is cut short (a truncated download?)")
    assert not marker.exists()


def test_a_failed_load_of_bin_weights_is_explained_by_the_reader(tmp_path):
    from explorer.core.tensors_on_disk import pickle_weights_problem

    marker = tmp_path / "ran"
    folder = corpus.malicious_pickle_bin(tmp_path / "bad", marker)
    refusal = _torch_refusal(folder / "pytorch_model.bin")
    assert pickle_weights_problem(folder, refusal) == f"pytorch_model.bin: refers to {SYSTEM}, which a plain state dict never needs (not run)"
    truncated = corpus.truncated_zip_bin(tmp_path / "cut")
    torch_error = _torch_refusal(truncated / "pytorch_model.bin")
    assert "Invalid argument" in str(torch_error)  # torch's words for a cut zip
    assert pickle_weights_problem(truncated, torch_error) == "pytorch_model.bin is cut short (a truncated download?)"
    # Weights this reader accepts that torch refused anyway: our words, never torch's advice.
    good = corpus.write_config(tmp_path / "good")
    float_tensor_file(good / "pytorch_model.bin")
    problem = pickle_weights_problem(good, refusal)
    assert problem == "the checkpoint's pickle asks for something a plain state dict never needs; it was not run"
    # Failures about something else are left to the other explanations.
    assert pickle_weights_problem(good, KeyError("lm_head.weight")) is None
    assert pickle_weights_problem(good, RuntimeError("size mismatch for lm_head.weight")) is None
    assert not marker.exists()


# --------------------------------------------------------------------------- fuzzing against torch


def _torch_view(path) -> dict | None:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 (torch's refusals have many types)
        return None
    found = {}
    stack = [("", state)]
    while stack:
        prefix, value = stack.pop()
        if isinstance(value, torch.Tensor):
            found[prefix] = tuple(value.shape)
        elif isinstance(value, dict):
            stack.extend((f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items())
    return found


def _check_reader(path, compare_with_torch: bool = True) -> None:
    outcome, seconds, peak = _measured(lambda: describe_pytorch_file(path))
    assert not isinstance(outcome, Exception), f"describe_pytorch_file raised {outcome!r}"
    assert seconds < 2 and peak < 4 * 1024 * 1024, (seconds, peak)
    raised, _s, _p = _measured(lambda: read_pytorch_bin(path))
    if isinstance(raised, Exception):
        _one_line_error(raised)
        assert outcome.error is not None
        return
    assert outcome.error is None
    if compare_with_torch and not outcome.imports.dangerous:
        expected = _torch_view(path)
        assert expected is not None, "we accepted a file torch refuses"
        assert {t.name: t.shape for t in outcome.tensors} == expected


def _real_file_bytes() -> tuple[bytes, dict[str, bytes]]:
    """data.pkl and the records of a small real torch.save file (made once)."""
    import torch

    if not _REAL:
        state = {"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(3, dtype=torch.float16), "n": {"m": torch.ones(4)[1:]}}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
            records = {info.filename.split("/", 1)[1]: archive.read(info) for info in archive.infolist()}
        _REAL.append((records.pop("data.pkl"), records))
    return _REAL[0]


_REAL: list = []


def _rezip(path, data_pkl: bytes, records: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        for name, data in records.items():
            archive.writestr(f"archive/{name}", data)




FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
DEEP = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4)


def _fuzz_mutated(tmp_path, edits) -> None:
    data_pkl, records = _real_file_bytes()
    path = tmp_path / "pytorch_model.bin"
    _rezip(path, mutate(data_pkl, edits), records)
    _check_reader(path)


def _fuzz_whole_file(tmp_path, edits) -> None:
    data_pkl, records = _real_file_bytes()
    path = tmp_path / "pytorch_model.bin"
    _rezip(path, data_pkl, records)
    path.write_bytes(mutate(path.read_bytes(), edits))
    _check_reader(path)


@FAST
@given(edits=EDITS)
def test_mutated_data_pkl_is_judged_as_torch_judges_it(tmp_path, edits):
    _fuzz_mutated(tmp_path, edits)


@FAST
@given(edits=EDITS)
def test_mutated_zip_files_never_raise_anything_but_the_reader_error(tmp_path, edits):
    _fuzz_whole_file(tmp_path, edits)


@FAST
@given(data=st.binary(max_size=400), zipped=st.booleans())
def test_random_bytes_never_raise_anything_but_the_reader_error(tmp_path, data, zipped):
    path = tmp_path / "pytorch_model.bin"
    if zipped:
        write_torch_zip(path, data)
    else:
        path.write_bytes(data)
    _check_reader(path, compare_with_torch=False)


@pytest.mark.slow
@DEEP
@given(edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=10))
def test_mutated_data_pkl_is_judged_as_torch_judges_it_deeply(tmp_path, edits):
    _fuzz_mutated(tmp_path, edits)


@pytest.mark.slow
@DEEP
@given(edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=10))
def test_mutated_zip_files_never_raise_anything_but_the_reader_error_deeply(tmp_path, edits):
    _fuzz_whole_file(tmp_path, edits)


@pytest.mark.slow
@DEEP
@given(data=st.binary(max_size=2000), zipped=st.booleans())
def test_random_bytes_never_raise_anything_but_the_reader_error_deeply(tmp_path, data, zipped):
    path = tmp_path / "pytorch_model.bin"
    if zipped:
        write_torch_zip(path, data)
    else:
        path.write_bytes(data)
    _check_reader(path, compare_with_torch=False)
