"""An adapter's tensors read from its header and mapped to the base's modules, checked against peft itself."""

from __future__ import annotations

import json
import shutil
import struct
import warnings

import pytest

from explorer.core.adapter_weights import (
    PART_ADAPTER, PART_OTHER, PART_SAVED, adapter_report, match_targets, read_adapter_weights, split_stored_name,
)
from explorer.core.adapters import adapter_config_from, find_base_checkpoint
from explorer.core.checkpoint import FORMAT_ADAPTER, Checkpoint, CheckpointFile
from tests.format_builders import write_lora_adapter


def _checkpoint(folder, base_model=None) -> Checkpoint:
    files = [CheckpointFile(p.name, str(p), p.stat().st_size) for p in sorted(folder.iterdir()) if p.is_file()]
    return Checkpoint(id=folder.name, source="folder", path=str(folder), format=FORMAT_ADAPTER, base_model=base_model, files=files)


def _base(sample) -> Checkpoint:
    return Checkpoint(id="tiny-gpt2-lm", source="folder", path=str(sample("tiny-gpt2-lm")))


def _peft_model(base_dir, adapter_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with warnings.catch_warnings():
        # peft asks transformers' deprecated is_gradient_checkpointing (a FutureWarning between the two libraries).
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        warnings.filterwarnings("ignore", "Model has `tie_word_embeddings=True`", UserWarning)
        return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), adapter_dir)


def _peft_facts(base_dir, adapter_dir) -> tuple[set[str], set[str], int]:
    """(layers peft wrapped, modules it stores whole, parameters in the adapter's state dict), as peft sees them."""
    from peft import get_peft_model_state_dict
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import ModulesToSaveWrapper

    model = _peft_model(base_dir, adapter_dir)
    inner = "base_model.model."
    wrapped = {n.removeprefix(inner) for n, m in model.named_modules() if isinstance(m, BaseTunerLayer)}
    saved = {n.removeprefix(inner) for n, m in model.named_modules() if isinstance(m, ModulesToSaveWrapper)}
    total = sum(t.numel() for t in get_peft_model_state_dict(model).values())
    return wrapped, saved, total


@pytest.fixture(scope="module")
def adapters(sample, tmp_path_factory):
    """Two LoRA adapters on the tiny GPT-2, built once: one on c_attn, one on c_attn and c_fc with lm_head saved whole."""
    root = tmp_path_factory.mktemp("adapters")
    base = sample("tiny-gpt2-lm")
    plain = write_lora_adapter(base, root / "lora")
    with warnings.catch_warnings():
        # peft's note that lm_head is tied to the embeddings: the tied case is the one tested here.
        warnings.filterwarnings("ignore", "Model has `tie_word_embeddings=True`", UserWarning)
        saved = write_lora_adapter(base, root / "lora-saved", target_modules=("c_attn", "c_fc"), modules_to_save=("lm_head",), r=2)
    return {"base": base, "lora": plain, "saved": saved, "root": root}


@pytest.mark.slow
def test_lora_tensors_map_to_the_modules_peft_wraps(adapters, sample):
    report = adapter_report(_checkpoint(adapters["lora"]), _base(sample))
    weights = report.weights
    assert weights.file == "adapter_model.safetensors" and not report.problems and not report.warnings
    wrapped, saved, total = _peft_facts(adapters["base"], adapters["lora"])
    assert set(weights.wrapped()) == wrapped == {"transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"}
    assert not saved
    assert weights.total_params == total
    module = weights.modules["transformer.h.0.attn.c_attn"]
    assert [(t.part, t.shape) for t in module.tensors] == [("lora_A", (4, 32)), ("lora_B", (96, 4))]
    assert module.in_base and module.base_params == 32 * 96 + 96
    assert [(m.target, set(m.modules)) for m in report.targets] == [("c_attn", wrapped)]
    assert report.base_params == report.skeleton.total_params
    assert report.share_of_base == pytest.approx(total / report.skeleton.total_params)


@pytest.mark.slow
def test_modules_to_save_are_stored_whole(adapters, sample):
    report = adapter_report(_checkpoint(adapters["saved"]), _base(sample))
    weights = report.weights
    wrapped, saved, total = _peft_facts(adapters["base"], adapters["saved"])
    assert set(weights.wrapped()) == wrapped and len(wrapped) == 4
    assert {p for p, m in weights.modules.items() if m.kind == PART_SAVED} == saved == {"lm_head"}
    lm_head = weights.modules["lm_head"]
    assert [(t.part, t.kind) for t in lm_head.tensors] == [("weight", PART_SAVED)]
    # Tied to the embeddings in the base, it still has a weight of its own to replace.
    assert lm_head.in_base and lm_head.base_params == lm_head.params
    assert weights.total_params == total
    targets = {m.target: set(m.modules) for m in report.targets}
    assert targets["c_fc"] == {"transformer.h.0.mlp.c_fc", "transformer.h.1.mlp.c_fc"}


@pytest.mark.slow
def test_a_bin_adapter_reads_the_same_through_the_restricted_reader(adapters, sample, tmp_path):
    from safetensors.torch import load_file
    import torch

    folder = tmp_path / "lora-bin"
    folder.mkdir()
    shutil.copy(adapters["lora"] / "adapter_config.json", folder)
    torch.save(load_file(adapters["lora"] / "adapter_model.safetensors"), folder / "adapter_model.bin")
    from_bin = read_adapter_weights(_checkpoint(folder))
    from_safetensors = read_adapter_weights(_checkpoint(adapters["lora"]))
    assert from_bin.file == "adapter_model.bin" and not from_bin.problems
    assert {t.name: (t.module, t.part, t.shape) for t in from_bin.tensors} == {
        t.name: (t.module, t.part, t.shape) for t in from_safetensors.tensors
    }
    assert not from_bin.pickle_imports.dangerous


def test_a_hostile_bin_is_a_problem_not_a_count(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "target_modules": ["q"]}))
    (tmp_path / "adapter_model.bin").write_bytes(pickle.dumps({"x": Evil()}))
    weights = read_adapter_weights(tmp_path)
    assert not weights.tensors and weights.problems
    assert weights.config is not None and weights.config.target_modules == ["q"]


@pytest.mark.slow
def test_a_hub_base_that_is_not_here_leaves_the_adapter_readable(adapters, sample):
    ckpt = _checkpoint(adapters["lora"], base_model="someone/not-downloaded")
    assert find_base_checkpoint(ckpt.base_model, [_base(sample)]) is None
    report = adapter_report(ckpt, None)
    assert report.skeleton is None and report.base_params is None and not report.targets
    assert report.weights.total_params == 1024
    assert set(report.weights.modules) == {"transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"}


@pytest.mark.slow
def test_a_target_that_matches_nothing_is_a_warning(adapters, sample, tmp_path):
    folder = tmp_path / "lora-extra-target"
    shutil.copytree(adapters["lora"], folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    config["target_modules"] = ["c_attn", "q_proj"]
    (folder / "adapter_config.json").write_text(json.dumps(config))
    report = adapter_report(_checkpoint(folder), _base(sample))
    assert {m.target: len(m.modules) for m in report.targets} == {"c_attn": 2, "q_proj": 0}
    assert report.warnings == ["target 'q_proj' matches no module of tiny-gpt2-lm"]


@pytest.mark.parametrize(
    "content, words",
    [
        (b"{not json", "JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"r": 4, "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}', "MiB"),
    ],
    ids=["not-json", "a-list", "huge"],
)
def test_a_broken_adapter_config_still_lists_the_tensors(tmp_path, content, words):
    (tmp_path / "adapter_config.json").write_bytes(content)
    _write_safetensors(tmp_path / "adapter_model.safetensors", {
        "base_model.model.encoder.layer.0.query.lora_A.weight": [2, 8],
        "base_model.model.encoder.layer.0.query.lora_B.weight": [8, 2],
    })
    weights = read_adapter_weights(tmp_path)
    assert weights.config is None and len(weights.problems) == 1
    assert words.lower() in weights.problems[0].lower()
    assert list(weights.modules) == ["encoder.layer.0.query"] and weights.total_params == 32


def test_broken_weights_are_a_problem(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.safetensors").write_bytes(b"\x00" * 3)
    weights = read_adapter_weights(tmp_path)
    assert not weights.tensors and weights.problems
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no adapter weights" in read_adapter_weights(empty).problems[-1]


def _write_safetensors(path, shapes: dict[str, list[int]]) -> None:
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4
        for d in shape:
            size *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\x00" * offset)


@pytest.mark.parametrize(
    "stored, expected",
    [
        ("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", ("transformer.h.0.attn.c_attn", "lora_A", PART_ADAPTER)),
        ("base_model.model.model.layers.3.mlp.down_proj.lora_B.bias", ("model.layers.3.mlp.down_proj", "lora_B", PART_ADAPTER)),
        ("base_model.model.model.embed_tokens.lora_embedding_A", ("model.embed_tokens", "lora_embedding_A", PART_ADAPTER)),
        ("base_model.model.q.lora_magnitude_vector", ("q", "lora_magnitude_vector", PART_ADAPTER)),
        ("base_model.model.transformer.h.1.attn.c_attn.ia3_l", ("transformer.h.1.attn.c_attn", "ia3_l", PART_ADAPTER)),
        ("base_model.model.encoder.layer.0.value.hada_w1_a", ("encoder.layer.0.value", "hada_w1_a", PART_ADAPTER)),
        ("base_model.model.score.weight", ("score", "weight", PART_SAVED)),
        ("base_model.model.classifier.modules_to_save.dense.weight", ("classifier", "dense.weight", PART_SAVED)),
        ("base_model.vera_A", ("", "vera_A", PART_OTHER)),
        ("prompt_embeddings", ("", "prompt_embeddings", PART_OTHER)),
        # saved by transformers' own PEFT integration: no PeftModel prefix
        ("model.layers.0.self_attn.q_proj.lora_A.weight", ("model.layers.0.self_attn.q_proj", "lora_A", PART_ADAPTER)),
    ],
)
def test_stored_names_split_into_module_and_part(stored, expected):
    assert split_stored_name(stored, ["score", "classifier"]) == expected


MODULES = {
    "": "GPT2LMHeadModel", "transformer": "GPT2Model", "transformer.h": "ModuleList",
    "transformer.h.0": "GPT2Block", "transformer.h.0.attn": "GPT2Attention", "transformer.h.0.attn.c_attn": "Conv1D",
    "transformer.h.0.mlp.c_fc": "Conv1D", "transformer.h.1": "GPT2Block", "transformer.h.1.attn.c_attn": "Conv1D",
    "transformer.h.1.mlp.c_fc": "Conv1D", "transformer.ln_f": "LayerNorm", "lm_head": "Linear",
}


def _targets(**fields):
    return {m.target: m.modules for m in match_targets(adapter_config_from(fields), MODULES)}


def test_target_matching_follows_peft():
    both = ("transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn")
    assert _targets(target_modules=["c_attn"]) == {"c_attn": both}
    assert _targets(target_modules=["attn.c_attn", "h.0.mlp.c_fc"]) == {"attn.c_attn": both, "h.0.mlp.c_fc": ("transformer.h.0.mlp.c_fc",)}
    assert _targets(target_modules=r".*\.1\..*c_attn") == {r".*\.1\..*c_attn": ("transformer.h.1.attn.c_attn",)}
    assert _targets(target_modules=["c_attn"], layers_to_transform=[1]) == {"c_attn": ("transformer.h.1.attn.c_attn",)}
    assert _targets(target_modules=["c_attn"], exclude_modules=["h.0.attn.c_attn"]) == {"c_attn": ("transformer.h.1.attn.c_attn",)}
    assert _targets(target_modules="all-linear") == {"all-linear": (*both[:1], "transformer.h.0.mlp.c_fc", both[1], "transformer.h.1.mlp.c_fc")}
    # modules_to_save are never wrapped
    assert _targets(target_modules=["lm_head", "c_fc"], modules_to_save=["lm_head"])["lm_head"] == ()
    bad = match_targets(adapter_config_from({"target_modules": "(unclosed"}), MODULES)
    assert bad[0].modules == () and "not a valid regular expression" in bad[0].note


@pytest.mark.slow
def test_ia3_vectors_map_to_the_modules_peft_wraps(sample, tmp_path):
    from peft import IA3Config, get_peft_model
    from transformers import AutoModelForCausalLM

    base = sample("tiny-gpt2-lm")
    config = IA3Config(target_modules=["c_attn", "mlp.c_proj"], feedforward_modules=["mlp.c_proj"], task_type="CAUSAL_LM", fan_in_fan_out=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        get_peft_model(AutoModelForCausalLM.from_pretrained(base), config).save_pretrained(tmp_path / "ia3")
    report = adapter_report(_checkpoint(tmp_path / "ia3"), _base(sample))
    wrapped, _saved, total = _peft_facts(base, tmp_path / "ia3")
    assert report.weights.config.kind == "IA3"
    assert set(report.weights.wrapped()) == wrapped and len(wrapped) == 4
    assert {t.part for t in report.weights.tensors} == {"ia3_l"}
    assert report.weights.total_params == total
    assert not report.warnings


@pytest.mark.parametrize("field", ["target_modules", "exclude_modules"])
def test_a_pattern_that_backtracks_for_minutes_neither_hangs_nor_matches(field):
    """``re`` needs minutes for (.*)*x on one module name, holding the interpreter lock (a frozen window)."""
    import time

    modules = {**MODULES, **{f"transformer.h.{i}.attn.c_attn_a_rather_long_module_name": "Conv1D" for i in range(200)}}
    fields = {"target_modules": "(.*)*x"} if field == "target_modules" else {"target_modules": ["c_attn"], "exclude_modules": "(.*)*x"}
    started = time.monotonic()
    matches = match_targets(adapter_config_from(fields), modules)
    assert time.monotonic() - started < 3
    if field == "target_modules":
        assert matches[0].modules == ()
    else:
        assert len(matches[0].modules) == 2


def test_rank_scale_and_fields_explained():
    from explorer.core.adapter_fields import adapter_fields, lora_scale, targets_text

    config = adapter_config_from({"peft_type": "LORA", "r": 16, "lora_alpha": 32, "use_rslora": True, "zeta": 1, "bias": "none",
                                  "target_modules": "all-linear", "task_type": "CAUSAL_LM"})
    assert lora_scale(config) == pytest.approx(32 / 4)
    assert lora_scale(adapter_config_from({"r": 16, "lora_alpha": 32})) == 2
    assert lora_scale(adapter_config_from({"r": 0, "lora_alpha": 32})) is None
    fields = adapter_fields(config)
    assert [f.key for f in fields] == ["peft_type", "task_type", "r", "lora_alpha", "target_modules", "use_rslora", "bias", "zeta"]
    assert fields[-1].explanation == "" and not fields[-1].main and "√r" in fields[5].explanation
    assert targets_text(config) == "every linear layer (all-linear)"
