"""`.bin` checkpoints get parameter counts in the browser, from the pickle's records, never by running it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from explorer.core.checkpoint import SOURCE_FOLDER
from explorer.core.discovery import ScanLocation, Scanner
from explorer.core.jobs import run_to_end
from explorer.core.pickle_counts import count_pickle_weights, forget_counted_pickles
from tests import hostile_corpus


def scan_folder(folder: Path):
    checkpoints, _stats = run_to_end(Scanner().scan([ScanLocation(SOURCE_FOLDER, str(folder))]))
    return {c.name: c for c in checkpoints}


def as_bin(sample_folder: Path, folder: Path, shards: int = 1) -> Path:
    """The sample saved as transformers saved models before safetensors: pytorch_model.bin (or shards + index)."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(sample_folder, folder)
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    if shards == 1:
        torch.save(state, folder / "pytorch_model.bin")
    else:
        names = sorted(state)
        weight_map = {}
        for index in range(shards):
            shard = f"pytorch_model-{index + 1:05d}-of-{shards:05d}.bin"
            part = {name: state[name] for name in names[index::shards]}
            torch.save(part, folder / shard)
            weight_map.update(dict.fromkeys(part, shard))
        (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    torch.save({"not": "weights"}, folder / "training_args.bin")  # never counted
    return folder


def test_bin_checkpoints_count_as_their_safetensors_twins(samples_root, tmp_path):
    forget_counted_pickles()
    root = tmp_path / "models"
    as_bin(samples_root / "tiny-bert-mlm", root / "single")
    as_bin(samples_root / "tiny-gpt2-lm", root / "sharded", shards=3)
    shutil.copytree(samples_root / "tiny-bert-mlm", root / "safetensors")
    found = scan_folder(root)
    assert found["single"].num_parameters == found["safetensors"].num_parameters > 0
    assert found["single"].dtypes == found["safetensors"].dtypes == {"float32": found["safetensors"].num_parameters}
    twin = scan_folder(samples_root)["tiny-gpt2-lm"]
    assert found["sharded"].num_parameters == twin.num_parameters and found["sharded"].dtypes == twin.dtypes
    assert not found["single"].problems and not found["sharded"].problems


def test_a_dangerous_pickle_is_a_problem_never_a_count(tmp_path):
    marker = tmp_path / "ran"
    folder = hostile_corpus.malicious_pickle_bin(tmp_path / "evil", marker)
    (folder / "model.safetensors").unlink(missing_ok=True)
    checkpoint = scan_folder(tmp_path)["evil"]
    assert checkpoint.num_parameters is None
    assert any("posix.system" in problem or "system" in problem for problem in checkpoint.problems), checkpoint.problems
    assert not marker.exists()


def test_broken_pickles_are_problems(tmp_path):
    for build in (hostile_corpus.truncated_zip_bin, hostile_corpus.memo_dag_pickle):
        folder = build(tmp_path / build.__name__)
        (folder / "model.safetensors").unlink(missing_ok=True)
    found = scan_folder(tmp_path)
    for name, checkpoint in found.items():
        assert checkpoint.num_parameters is None, name
        assert any("pytorch_model.bin" in problem for problem in checkpoint.problems), (name, checkpoint.problems)


def test_counting_takes_milliseconds_and_is_remembered(samples_root, tmp_path):
    folder = as_bin(samples_root / "tiny-gpt2-lm", tmp_path / "gpt2")
    files = {"pytorch_model.bin": str(folder / "pytorch_model.bin")}
    stat = (folder / "pytorch_model.bin").stat()
    identity = {"pytorch_model.bin": (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)}
    forget_counted_pickles()
    started = time.perf_counter()
    first = count_pickle_weights(files, identity)
    first_seconds = time.perf_counter() - started
    assert first.num_parameters == scan_folder(samples_root)["tiny-gpt2-lm"].num_parameters and first_seconds < 0.5  # a few ms here; the bound allows a loaded machine
    started = time.perf_counter()
    again = count_pickle_weights(files, identity)
    assert again.num_parameters == first.num_parameters and time.perf_counter() - started < first_seconds


def test_tied_weights_count_once_as_transformers_counts_them(samples_root, tmp_path):
    """torch.save of a GPT-2 state dict stores the tied embedding once under two names."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(samples_root / "tiny-gpt2-lm")
    state = model.state_dict()
    assert state["lm_head.weight"].data_ptr() == state["transformer.wte.weight"].data_ptr()
    folder = tmp_path / "tied"
    shutil.copytree(samples_root / "tiny-gpt2-lm", folder)
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    counted = count_pickle_weights({"pytorch_model.bin": str(folder / "pytorch_model.bin")})
    assert counted.num_parameters == model.num_parameters()
