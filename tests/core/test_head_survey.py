"""The head survey says, per Auto class, exactly what from_pretrained would load, drop and initialise."""

from __future__ import annotations

import json
import struct
import time

import pytest

from explorer.core import head_survey
from explorer.core.config import inspect_config
from explorer.core.head_survey import (
    STATUS_LOADS,
    STATUS_MISMATCH,
    STATUS_PARTIAL,
    STATUS_UNCHECKED,
    HeadCheck,
    group_keys,
    module_names,
    survey_heads,
    survey_heads_now,
)
from explorer.core.jobs import CancelToken, Cancelled, run_to_end
from explorer.core.skeleton import SkeletonError

CHECKED_AGAINST_TRANSFORMERS = (
    "AutoModelForMaskedLM", "AutoModel", "AutoModelForPreTraining", "AutoModelForSequenceClassification",
)


def test_masked_lm_checkpoint_matches_from_pretrained(sample):
    import transformers

    path = sample("tiny-bert-mlm")
    checks = survey_heads_now(path, list(CHECKED_AGAINST_TRANSFORMERS))
    for auto_class in CHECKED_AGAINST_TRANSFORMERS:
        model, info = getattr(transformers, auto_class).from_pretrained(path, local_files_only=True, output_loading_info=True)
        check = checks[auto_class]
        assert check.model_class == type(model).__name__
        assert check.missing == sorted(info["missing_keys"]), auto_class
        assert check.unexpected == sorted(info["unexpected_keys"]), auto_class
        assert [k for k, _, _ in check.mismatched] == sorted(k for k, *_ in info["mismatched_keys"]), auto_class

    masked = checks["AutoModelForMaskedLM"]
    assert masked.status == STATUS_LOADS and masked.verdict == "every weight loads"

    base = checks["AutoModel"]
    assert base.unexpected and all(k.startswith("cls.predictions.") for k in base.unexpected)
    assert "5 dropped: cls.predictions.*" in base.verdict
    assert base.missing == ["pooler.dense.bias", "pooler.dense.weight"]  # BertForMaskedLM has no pooler

    pretraining = checks["AutoModelForPreTraining"]
    assert pretraining.status == STATUS_PARTIAL and pretraining.unexpected == []  # every MLM weight loads
    assert [k for k in pretraining.missing if not k.startswith("bert.pooler.")] == ["cls.seq_relationship.bias", "cls.seq_relationship.weight"]
    assert pretraining.summary == "4 new"

    classifier = checks["AutoModelForSequenceClassification"]
    assert classifier.missing == ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "classifier.bias", "classifier.weight"]
    assert classifier.verdict == (
        "4 new (randomly initialised): bert.pooler.dense.bias, bert.pooler.dense.weight, classifier.bias, classifier.weight; "
        "5 dropped: cls.predictions.*"
    )
    assert classifier.summary == "4 new, 5 dropped"


def test_results_stream_and_each_model_class_is_built_once(sample, monkeypatch):
    built = []
    original = head_survey.build_meta_model

    def counting(model_class, config, dtype=None):
        built.append(model_class.__name__)
        return original(model_class, config, dtype)

    monkeypatch.setattr(head_survey, "build_meta_model", counting)
    job = survey_heads(sample("tiny-bert-mlm"))
    streamed = []
    result = run_to_end(job, lambda item: streamed.append(item) if isinstance(item, HeadCheck) else None)
    assert [c.auto_class for c in streamed] == list(result)
    assert {"AutoModel", "AutoModelForTextEncoding", "AutoModelForTokenClassification"} <= set(result)
    # AutoModel and AutoModelForTextEncoding both build BertModel: one build answers both.
    assert built.count("BertModel") == 1
    assert result["AutoModelForTextEncoding"].unexpected == result["AutoModel"].unexpected
    assert result["AutoModelForTextEncoding"].auto_class == "AutoModelForTextEncoding"
    # BertLMHeadModel has the same cls.predictions head: its name hides that every weight loads.
    assert result["AutoModelForCausalLM"].status == STATUS_LOADS


def test_shape_mismatch(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    BertForSequenceClassification(
        BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=3)
    ).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(5)}
    config["label2id"] = {f"LABEL_{i}": i for i in range(5)}
    (tmp_path / "config.json").write_text(json.dumps(config))
    check = survey_heads_now(tmp_path, ["AutoModelForSequenceClassification"])["AutoModelForSequenceClassification"]
    assert check.status == STATUS_MISMATCH
    assert check.mismatched == [("classifier.bias", (3,), (5,)), ("classifier.weight", (3, 32), (5, 32))]
    assert "ignore_mismatched_sizes=True" in check.verdict and "classifier.weight (saved 3×32, built 5×32)" in check.verdict
    assert check.summary == "2 shape mismatches"


def test_exact_load_hint_and_notes(sample):
    report = inspect_config(str(sample("tiny-bert-mlm")))
    assert report.weights_checked is True
    hint = report.load_hint
    assert hint.startswith("Load with AutoModelForMaskedLM: it builds BertForMaskedLM, the class the weights were saved with, and every weight loads.")
    assert "AutoModelForPreTraining also loads every saved weight; only bert.pooler.dense and cls.seq_relationship are new." in hint
    assert "AutoModel gives the bare BertModel: it drops cls.predictions.* and initialises pooler.dense randomly." in hint
    rows = {r.auto_class: r for r in report.resolution}
    assert rows["AutoModelForPreTraining"].note.startswith("4 new (randomly initialised)")
    assert rows["AutoModelForPreTraining"].weights.unexpected == []
    assert rows["AutoModelForImageClassification"].weights is None  # not supported: nothing to check


def test_llama_question_answering_loads_nothing_of_a_causal_lm(tmp_path):
    from transformers import AutoModelForQuestionAnswering, LlamaConfig, LlamaForCausalLM

    LlamaForCausalLM(LlamaConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
    )).save_pretrained(tmp_path)
    check = survey_heads_now(tmp_path, ["AutoModelForQuestionAnswering"])["AutoModelForQuestionAnswering"]
    _, info = AutoModelForQuestionAnswering.from_pretrained(tmp_path, local_files_only=True, output_loading_info=True)
    assert check.missing == sorted(info["missing_keys"]) and check.unexpected == sorted(info["unexpected_keys"])
    # Its base model is called "transformer", not "model": nothing saved finds a place.
    assert check.verdict.startswith("no saved weight loads; ")
    assert "transformer.* (" in check.verdict and "model.* (" in check.verdict


def test_weights_a_class_leaves_out_by_design_are_named(sample):
    from transformers import AutoModelForTextEncoding

    path = sample("tiny-t5")
    check = survey_heads_now(path, ["AutoModelForTextEncoding"])["AutoModelForTextEncoding"]
    _, info = AutoModelForTextEncoding.from_pretrained(path, local_files_only=True, output_loading_info=True)
    # T5EncoderModel ignores the decoder (_keys_to_ignore_on_load_unexpected): transformers reports nothing...
    assert check.model_class == "T5EncoderModel"
    assert check.unexpected == sorted(info["unexpected_keys"]) == [] and check.missing == []
    # ...but the saved decoder is not loaded, and a learner should know.
    assert check.ignored and all(key.startswith("decoder.") for key in check.ignored)
    assert check.status == STATUS_PARTIAL
    assert check.verdict == f"{len(check.ignored)} left out by design (from_pretrained does not list them): decoder.*"


def test_saved_causal_masks_are_not_reported_as_lost_weights(tmp_path):
    import torch
    from safetensors.torch import save_file
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32, bos_token_id=0, eos_token_id=0))
    model.config.save_pretrained(tmp_path)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    # Older GPT-2 checkpoints (the hub's gpt2 among them) store each layer's causal mask.
    state["transformer.h.0.attn.bias"] = torch.ones(1, 1, 32, 32)
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    check = survey_heads_now(tmp_path, ["AutoModelForCausalLM"])["AutoModelForCausalLM"]
    assert check.status == STATUS_LOADS and check.ignored == [] and check.unexpected == []


def _write_sparse_llama_70b(folder):
    """config.json plus one safetensors file whose header describes Llama-3-70B; the data is a sparse hole."""
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=128256, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
        num_key_value_heads=8, tie_word_embeddings=False, dtype="bfloat16", architectures=["LlamaForCausalLM"],
    ).save_pretrained(folder)
    hidden, inter, vocab, kv = 8192, 28672, 128256, 1024
    shapes = {"model.embed_tokens.weight": [vocab, hidden], "model.norm.weight": [hidden], "lm_head.weight": [vocab, hidden]}
    for layer in range(80):
        base = f"model.layers.{layer}."
        shapes.update({
            base + "self_attn.q_proj.weight": [hidden, hidden], base + "self_attn.k_proj.weight": [kv, hidden],
            base + "self_attn.v_proj.weight": [kv, hidden], base + "self_attn.o_proj.weight": [hidden, hidden],
            base + "mlp.gate_proj.weight": [inter, hidden], base + "mlp.up_proj.weight": [inter, hidden],
            base + "mlp.down_proj.weight": [hidden, inter], base + "input_layernorm.weight": [hidden],
            base + "post_attention_layernorm.weight": [hidden],
        })
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    with open(folder / "model.safetensors", "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + offset)


@pytest.mark.slow
def test_70b_checkpoint_is_checked_quickly(tmp_path):
    _write_sparse_llama_70b(tmp_path)
    survey_heads_now(tmp_path, ["AutoModelForCausalLM"])  # imports and first-build caches
    start = time.perf_counter()
    checks = survey_heads_now(tmp_path)
    per_class = (time.perf_counter() - start) / len(checks)
    assert checks["AutoModelForCausalLM"].status == STATUS_LOADS
    assert checks["AutoModel"].unexpected == ["lm_head.weight"] and checks["AutoModel"].missing == []
    assert checks["AutoModelForSequenceClassification"].missing == ["score.weight"]
    # The target is ~0.15 s per class (see bench/bench_head_survey.py); the margin absorbs a busy machine.
    assert per_class < 0.6, per_class


def test_bad_input_gives_messages(tmp_path, sample):
    with pytest.raises(SkeletonError, match="no config.json"):
        survey_heads_now(tmp_path)
    from transformers import BertConfig

    BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32).save_pretrained(tmp_path)
    with pytest.raises(SkeletonError, match="no weights to check"):
        survey_heads_now(tmp_path)
    check = survey_heads_now(sample("tiny-bert-mlm"), ["AutoModelForImageClassification"])["AutoModelForImageClassification"]
    assert check.status == STATUS_UNCHECKED and "does not support model type 'bert'" in check.verdict
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_to_end(survey_heads(sample("tiny-bert-mlm"), cancel=token))


CUSTOM_CONFIG = '''\
from transformers import PreTrainedConfig


class SurveyConfig(PreTrainedConfig):
    model_type = "survey-custom"

    def __init__(self, hidden_size=8, **kwargs):
        self.hidden_size = hidden_size
        super().__init__(**kwargs)
'''

CUSTOM_MODEL = '''\
from pathlib import Path

from torch import nn
from transformers import PreTrainedModel

from .configuration_survey import SurveyConfig

Path({marker!r}).write_text("modeling code ran")


class SurveyModel(PreTrainedModel):
    config_class = SurveyConfig
    base_model_prefix = "survey"

    def __init__(self, config):
        super().__init__(config)
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.post_init()
'''


def _custom_checkpoint(folder, marker):
    import torch
    from safetensors.torch import save_file

    folder.mkdir()
    (folder / "configuration_survey.py").write_text(CUSTOM_CONFIG)
    (folder / "modeling_survey.py").write_text(CUSTOM_MODEL.format(marker=str(marker)))
    (folder / "config.json").write_text(json.dumps({
        "model_type": "survey-custom", "architectures": ["SurveyModel"], "hidden_size": 8,
        "auto_map": {"AutoConfig": "configuration_survey.SurveyConfig", "AutoModel": "modeling_survey.SurveyModel"},
    }))
    save_file({"proj.weight": torch.zeros(8, 8), "proj.bias": torch.zeros(8)}, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def test_custom_code_runs_only_with_consent(tmp_path):
    from explorer.core.consent import ConsentStore

    marker = tmp_path / "ran.txt"
    folder = _custom_checkpoint(tmp_path / "custom", marker)
    with pytest.raises(SkeletonError, match="allow its custom code"):
        survey_heads_now(folder)
    assert not marker.exists()
    ConsentStore().grant(folder)
    checks = survey_heads_now(folder)
    assert marker.exists()
    assert list(checks) == ["AutoModel"]
    assert checks["AutoModel"].model_class == "SurveyModel" and checks["AutoModel"].status == STATUS_LOADS


def test_grouping_keeps_lists_readable():
    assert group_keys(["classifier.weight", "classifier.bias"]) == ["classifier.bias", "classifier.weight"]
    predictions = ["cls.predictions.bias"] + [f"cls.predictions.transform.{n}" for n in ("dense.weight", "dense.bias", "LayerNorm.weight", "LayerNorm.bias")]
    assert group_keys(predictions) == ["cls.predictions.*"]
    layers = [f"model.layers.{i}.mlp.weight" for i in range(80)]
    assert group_keys(["lm_head.weight", *layers]) == ["lm_head.weight", "model.layers.* (80)"]
    assert group_keys([f"{name}.weight" for name in "abcdef"]) == ["a.weight", "b.weight", "c.weight", "3 more"]
    assert module_names(["bert.pooler.dense.bias", "bert.pooler.dense.weight", "cls.seq_relationship.bias"]) == ["bert.pooler.dense", "cls.seq_relationship"]
