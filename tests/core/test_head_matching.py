"""Head matching gives the answer transformers' own loader gives, without loading anything."""

from __future__ import annotations

from explorer.core.jobs import run_to_end
from explorer.core.parameters_report import inspect_parameters, parameters_job


def _tiny_bert_base(folder):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, architectures=["BertModel"])).save_pretrained(folder)


def test_base_checkpoint_with_classification_head(tmp_path):
    _tiny_bert_base(tmp_path)
    report = inspect_parameters(str(tmp_path), "AutoModelForSequenceClassification")
    assert report["missing"] == ["classifier.bias", "classifier.weight"]
    assert report["unexpected"] == []
    assert report["mismatched"] == []


def test_matches_transformers_own_load_report(tmp_path):
    from transformers import AutoModelForMaskedLM

    _tiny_bert_base(tmp_path)
    result = run_to_end(parameters_job(tmp_path, "AutoModelForMaskedLM"))
    _, info = AutoModelForMaskedLM.from_pretrained(tmp_path, local_files_only=True, output_loading_info=True)
    assert result.match.missing == sorted(info["missing_keys"])
    assert result.match.unexpected == sorted(info["unexpected_keys"])
    status = result.match.status_of()
    assert status["cls.predictions.transform.dense.weight"] == "missing"


def test_correct_checkpoint_reports_nothing(sample):
    for name in ("tiny-bert-mlm", "tiny-gpt2-lm", "tiny-t5", "tiny-distilbert-sentiment"):
        report = inspect_parameters(str(sample(name)), "AutoModel" if name == "tiny-t5" else None)
        result = run_to_end(parameters_job(sample(name)))
        assert result.match.clean, (name, result.match)
        assert report["problems"] == []


def test_shape_mismatch(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=3)).save_pretrained(tmp_path)
    config = (tmp_path / "config.json").read_text().replace('"LABEL_2": 2', '"LABEL_2": 2, "LABEL_3": 3, "LABEL_4": 4').replace('"2": "LABEL_2"', '"2": "LABEL_2", "3": "LABEL_3", "4": "LABEL_4"')
    (tmp_path / "config.json").write_text(config)
    report = inspect_parameters(str(tmp_path), "AutoModelForSequenceClassification")
    mismatched = {m["name"]: (m["checkpoint_shape"], m["model_shape"]) for m in report["mismatched"]}
    assert mismatched["classifier.weight"] == ([3, 32], [5, 32])
    assert mismatched["classifier.bias"] == ([3], [5])
    result = run_to_end(parameters_job(tmp_path, "AutoModelForSequenceClassification"))
    assert result.match.load_fails


def test_mixtral_legacy_expert_layout_has_no_false_reports(tmp_path):
    from transformers import MixtralConfig, MixtralForCausalLM

    config = MixtralConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, architectures=["MixtralForCausalLM"],
    )
    MixtralForCausalLM(config).save_pretrained(tmp_path)
    result = run_to_end(parameters_job(tmp_path))
    names = {t.name for t in result.disk.tensors}
    # transformers saves the legacy layout: one tensor per expert; the model has fused 3-D parameters.
    assert "model.layers.0.block_sparse_moe.experts.3.w2.weight" in names
    params = {p.path: p for p in result.skeleton.params()}
    assert params["model.layers.0.mlp.experts.gate_up_proj"].shape == (4, 128, 32)
    assert result.match.clean, result.match
    assert any("MergeModulelist" in c for c in result.match.conversions)


def test_legacy_gamma_beta_names(tmp_path):
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, architectures=["BertModel"]))
    model.config.save_pretrained(tmp_path)
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        state[key] = value.contiguous()
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    assert any(k.endswith("gamma") for k in state)
    result = run_to_end(parameters_job(tmp_path))
    assert result.match.clean, result.match


def test_stored_name_for_prefix_differences():
    from explorer.core.head_matching import stored_name_for

    stored = {"bert.embeddings.word_embeddings.weight", "pooler.dense.weight"}
    assert stored_name_for("bert.embeddings.word_embeddings.weight", stored) == "bert.embeddings.word_embeddings.weight"
    assert stored_name_for("embeddings.word_embeddings.weight", stored) == "bert.embeddings.word_embeddings.weight"
    assert stored_name_for("bert.pooler.dense.weight", stored) == "pooler.dense.weight"
    assert stored_name_for("model.layers.0.mlp.experts.gate_up_proj", stored) is None


def test_load_report_and_failure_flag(tmp_path):
    from explorer.core.jobs import run_to_end

    _tiny_bert_base(tmp_path)
    match = run_to_end(parameters_job(tmp_path, "AutoModelForSequenceClassification")).match
    assert "LOAD REPORT" in match.load_report and "classifier.weight" in match.load_report and "MISSING" in match.load_report
    assert not match.load_fails
    assert run_to_end(parameters_job(tmp_path)).match.load_report is None
