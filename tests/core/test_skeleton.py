"""The module tree is built on meta from config alone, counts tied weights once and folds repeated blocks."""

from __future__ import annotations

import json
import os

import pytest

from explorer.core.jobs import run_to_end
from explorer.core.parameters_report import inspect_parameters
from explorer.core.skeleton import SkeletonError, build_skeleton, build_skeleton_job, module_source


def _llama_70b_config(folder):
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=128256, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
        num_key_value_heads=8, tie_word_embeddings=False, dtype="bfloat16", architectures=["LlamaForCausalLM"],
    ).save_pretrained(folder)


def test_bert_base_counts_tied_weights_once(tmp_path):
    from transformers import BertConfig

    BertConfig(architectures=["BertForMaskedLM"]).save_pretrained(tmp_path)
    skeleton = build_skeleton(tmp_path)
    assert skeleton.head == "AutoModelForMaskedLM"
    assert skeleton.model_class == "BertForMaskedLM"
    # 133M if the tied decoder weight were counted twice.
    assert skeleton.total_params == 109_514_298
    params = {p.path: p for p in skeleton.params()}
    assert params["cls.predictions.decoder.weight"].tied_to == "bert.embeddings.word_embeddings.weight"
    assert skeleton.tied["cls.predictions.decoder.weight"] == "bert.embeddings.word_embeddings.weight"
    assert sum(node.own_params for node in skeleton.root.walk()) == skeleton.total_params


def test_70b_llama_tree_is_fast_and_grouped(tmp_path):
    import time

    _llama_70b_config(tmp_path)
    build_skeleton(tmp_path)  # warm the imports
    start = time.perf_counter()
    skeleton = build_skeleton(tmp_path)
    assert time.perf_counter() - start < 2.0
    assert skeleton.total_params == 70_553_706_496
    assert skeleton.by_dtype == {"bfloat16": 70_553_706_496}
    model = skeleton.root.children[0]
    layers = next(child for child in model.children if child.name.startswith("layers"))
    assert layers.name == "layers.0-79"
    assert layers.repeat == 80 and layers.class_name == "LlamaDecoderLayer"
    assert len(layers.children) == 80
    q_proj = layers.children[5].children[0].children[0]
    assert q_proj.path == "model.layers.5.self_attn.q_proj"
    assert q_proj.params[0].shape == (8192, 8192)
    assert layers.total_params == 80 * layers.children[0].total_params


def test_chosen_head_and_unsupported_head(sample):
    skeleton = run_to_end(build_skeleton_job(sample("tiny-bert-mlm"), "AutoModelForSequenceClassification"))
    assert skeleton.model_class == "BertForSequenceClassification"
    assert any(node.path == "classifier" for node in skeleton.root.walk())
    with pytest.raises(SkeletonError, match="does not support"):
        build_skeleton(sample("tiny-bert-mlm"), "AutoModelForImageClassification")


def test_bad_configs_give_messages(tmp_path):
    with pytest.raises(SkeletonError, match="no config.json"):
        build_skeleton(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(SkeletonError, match="not valid JSON"):
        build_skeleton(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 30, "num_attention_heads": 7}))
    with pytest.raises(SkeletonError):
        build_skeleton(tmp_path)


def test_custom_code_needs_consent(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "my-own-model", "architectures": ["MyModel"],
        "auto_map": {"AutoConfig": "modeling_mine.MyConfig", "AutoModel": "modeling_mine.MyModel"},
    }))
    (tmp_path / "modeling_mine.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    with pytest.raises(SkeletonError, match="custom code"):
        build_skeleton(tmp_path)
    assert not marker.exists()
    report = inspect_parameters(str(tmp_path))
    assert report["modules"] is None
    assert any("custom code" in p for p in report["problems"])


def test_module_source(sample):
    skeleton = build_skeleton(sample("tiny-bert-mlm"))
    assert "class BertSelfAttention" in module_source(skeleton, "BertSelfAttention")
    with pytest.raises(LookupError):
        module_source(skeleton, "NoSuchModule")


def test_inspect_parameters_json(sample):
    report = inspect_parameters(str(sample("tiny-bert-mlm")))
    assert report["parameters"]["total"] == report["parameters"]["trainable"] > 0
    assert report["modules"]["class"] == "BertForMaskedLM"
    assert report["modules"]["children"][0]["name"] == "bert"
    assert {"name", "shape", "dtype", "file"} <= set(report["tensors"][0])
    assert "missing" not in report
    json.dumps(report)


CUSTOM_CODE = '''
import torch
from transformers import PreTrainedConfig, PreTrainedModel


class TinyCustomConfig(PreTrainedConfig):
    model_type = "tiny-custom-explorer"

    def __init__(self, hidden=8, blocks=3, **kwargs):
        self.hidden = hidden
        self.blocks = blocks
        super().__init__(**kwargs)


class TinyCustomModel(PreTrainedModel):
    config_class = TinyCustomConfig

    def __init__(self, config):
        super().__init__(config)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(config.hidden, config.hidden) for _ in range(config.blocks))
        self.post_init()
'''


def test_custom_code_with_consent_builds(tmp_path):
    from explorer.core.consent import ConsentStore

    (tmp_path / "modeling_tiny.py").write_text(CUSTOM_CODE)
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "tiny-custom-explorer", "architectures": ["TinyCustomModel"], "hidden": 8, "blocks": 3,
        "auto_map": {"AutoConfig": "modeling_tiny.TinyCustomConfig", "AutoModel": "modeling_tiny.TinyCustomModel"},
    }))
    with pytest.raises(SkeletonError, match="custom code"):
        build_skeleton(tmp_path)
    ConsentStore().grant(str(tmp_path))
    skeleton = build_skeleton(tmp_path)
    assert skeleton.custom_code and skeleton.head == "AutoModel"
    assert skeleton.total_params == 3 * (8 * 8 + 8)
    blocks = skeleton.root.children[0]
    assert blocks.name == "blocks.0-2" and blocks.repeat == 3
    assert "class TinyCustomModel" in module_source(skeleton, "TinyCustomModel")


def test_config_stored_under_another_name(tmp_path, sample):
    """Legacy caches store config.json under a content hash; the checkpoint record says where."""
    import shutil

    from explorer.core.checkpoint import Checkpoint, CheckpointFile

    blob = tmp_path / "3f1c0a9e.json"
    shutil.copy(sample("tiny-bert-mlm") / "config.json", blob)
    record = Checkpoint(id="legacy/bert", source="legacy-cache", path=str(tmp_path), files=[CheckpointFile("config.json", str(blob), blob.stat().st_size)])
    skeleton = build_skeleton(record)
    assert skeleton.model_class == "BertForMaskedLM"


def test_config_that_is_a_fifo_or_a_folder_never_blocks(tmp_path):
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "config.json")  # open() would wait forever for a writer
    with pytest.raises(SkeletonError, match="not a regular file"):
        build_skeleton(str(fifo))
    folder = tmp_path / "folder"
    (folder / "config.json").mkdir(parents=True)
    with pytest.raises(SkeletonError, match="not a regular file"):
        build_skeleton(str(folder))


def test_default_head_is_the_task_class_not_a_generic_one(sample):
    assert build_skeleton(sample("tiny-t5")).head == "AutoModelForSeq2SeqLM"
    assert build_skeleton(sample("tiny-gpt2-lm")).head == "AutoModelForCausalLM"
    assert build_skeleton(sample("tiny-bert-mlm")).head == "AutoModelForMaskedLM"
