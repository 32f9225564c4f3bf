"""GGUF facts: metadata as explained fields with the transformers field each becomes, tensors per type with
their real bytes, and the memory plan from those bytes; on files gguf.GGUFWriter wrote (single, split in
two, one with a type id the installed gguf does not know) and a truncated one."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.core.gguf_facts import (
    GROUP_MORE, block_of, file_type_name, gguf_facts, plan_gguf_memory, read_gguf_facts, transformers_config_names,
)
from explorer.core.gguf_file import read_gguf_split
from explorer.core.memory_plan import DOES_NOT_FIT, FITS, DeviceMemory, WORKING_MARGIN
from explorer.core.safe_io import UnreadableFile

from tests.core.test_gguf_file import _patch_type
from tests.format_builders import GGUF_CHAT_TEMPLATE, GGUF_TOKENS, write_gguf

PARAMS = 6 * 64 + 64 + 8 * 64
BYTES = {"F32": 384 * 4, "F16": 64 * 2, "Q8_0": 512 // 32 * 34}
ROOMY = [DeviceMemory("cpu", "system RAM", 64 << 30, 32 << 30)]


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory) -> Path:
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def facts(gguf_path):
    return read_gguf_facts(gguf_path)


def test_explained_fields_with_their_transformers_fields(facts):
    assert facts.architecture == "llama" and facts.name == "Tiny Llama"
    context = facts.field("llama.context_length")
    assert context.value == 128 and context.shown == "128" and context.label == "Context length"
    assert context.transformers_field == "max_position_embeddings" and context.explanation
    assert facts.field("llama.embedding_length").transformers_field == "hidden_size"
    assert facts.field("llama.block_count").transformers_field == "num_hidden_layers"
    assert facts.field("llama.attention.head_count").transformers_field == "num_attention_heads"
    assert facts.field("llama.rope.freq_base").shown == "10000"
    assert facts.field("llama.rope.freq_base").transformers_field == "rope_theta"
    assert facts.field("general.architecture").transformers_field == "model_type"
    assert facts.field("tokenizer.ggml.model").shown == "llama"
    # transformers ignores the quantisation version when it builds the config: no field to name.
    version = facts.field("general.quantization_version")
    assert version.value == 2 and version.transformers_field is None
    assert facts.transformers_loads is True
    assert facts.context_length == 128


def test_derived_fields_say_how_they_were_found(facts):
    vocab = facts.field("len(tokenizer.ggml.tokens)")
    assert vocab.derived and vocab.value == len(GGUF_TOKENS) and vocab.label == "Vocabulary size"
    assert vocab.transformers_field == "vocab_size"  # transformers falls back to the token list too
    head_dim = facts.field("llama.embedding_length / llama.attention.head_count")
    assert head_dim.derived and head_dim.value == 64 // 4


def test_every_other_key_is_under_more_and_the_template_is_whole(facts):
    more = {f.key: f for f in facts.fields if f.group == GROUP_MORE}
    assert set(more) == {"test.long_scores", "test.flag"}
    assert more["test.flag"].shown == "true"
    assert more["test.long_scores"].shown == "[0, 1, 2, 3, 4, 5, 6, 7, …] (40 float32 items)"
    assert facts.chat_template == GGUF_CHAT_TEMPLATE
    assert "2 lines" in facts.field("tokenizer.chat_template").shown
    assert {f.key for f in facts.fields if not f.derived} == set(facts.metadata)


def test_token_ids_show_their_tokens(gguf_path):
    model = read_gguf_split(gguf_path)
    model.metadata["tokenizer.ggml.bos_token_id"] = 1
    model.metadata["tokenizer.ggml.eos_token_id"] = 99  # past the tokens kept: the id alone
    model.metadata["general.file_type"] = 7
    facts = gguf_facts(model)
    assert facts.field("tokenizer.ggml.bos_token_id").shown == "1 (<s>)"
    assert facts.field("tokenizer.ggml.eos_token_id").shown == "99"
    assert facts.field("general.file_type").shown == "MOSTLY_Q8_0 (7)"
    assert file_type_name(4242) == "unknown file type 4242"


def test_transformers_table_is_transformers_own():
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    names, loads = transformers_config_names("qwen2")
    assert loads
    for suffix, target in GGUF_CONFIG_MAPPING["qwen2"].items():
        assert names.get(f"qwen2.{suffix}") == target  # None entries stay unnamed
    assert transformers_config_names("llama", "Mistral 7B")[0]["llama.context_length"] == "max_position_embeddings"
    assert transformers_config_names("qwen2moe")[1]
    unknown, loads = transformers_config_names("no-such-arch")
    assert not loads and unknown["tokenizer.ggml.bos_token_id"] == "bos_token_id"


def test_tensors_and_totals_per_type(facts):
    assert facts.num_parameters == PARAMS
    assert {(t.name, t.type_name, t.shape) for t in facts.tensors} == {
        ("token_embd.weight", "F32", (6, 64)), ("blk.0.attn_norm.weight", "F16", (64,)), ("blk.0.attn_q.weight", "Q8_0", (8, 64)),
    }
    totals = {t.type_name: t for t in facts.by_type}
    assert {name: t.nbytes for name, t in totals.items()} == BYTES
    assert {name: t.parameters for name, t in totals.items()} == {"F32": 384, "F16": 64, "Q8_0": 512}
    assert totals["F32"].bits_per_weight == 32 and totals["F16"].bits_per_weight == 16
    assert totals["Q8_0"].bits_per_weight == 8.5  # 34 bytes per 32 values: 8 bits plus a 16-bit scale per block
    assert [t.type_name for t in facts.by_type] == ["F32", "Q8_0", "F16"]  # most bytes first
    assert facts.stored_bytes == sum(BYTES.values()) == sum(t.nbytes for t in facts.tensors)
    assert block_of("blk.12.attn_q.weight") == "blk.12" and block_of("token_embd.weight") == ""


def test_memory_plan_uses_the_real_bytes(facts):
    plan = plan_gguf_memory(facts, context_length=100, batch_size=3, devices=ROOMY, disk_free=0)
    stored, f32, f16, bf16 = plan.plans
    assert stored.precision == "stored" and stored.weight_bytes == sum(t.nbytes for t in facts.tensors)
    assert (f32.weight_bytes, f16.weight_bytes, bf16.weight_bytes) == (PARAMS * 4, PARAMS * 2, PARAMS * 2)
    assert f32.precision == "float32 (dequantised)"
    # 1 layer x 4 KV heads x head dim 16, keys and values, 100 tokens, batch 3; llama.cpp's cache is 16-bit.
    per_value = 2 * 1 * 4 * 16 * 100 * 3
    assert stored.kv_cache_bytes == per_value * 2 and f16.kv_cache_bytes == per_value * 2 and f32.kv_cache_bytes == per_value * 4
    assert stored.needed == int((stored.weight_bytes + stored.kv_cache_bytes) * (1 + WORKING_MARGIN))
    assert all(p.verdicts[0].verdict == FITS for p in plan.plans)
    tight = plan_gguf_memory(facts, 100, 3, devices=[DeviceMemory("cpu", "system RAM", 1 << 20, stored.needed)], disk_free=0)
    assert [p.verdicts[0].verdict for p in tight.plans] == [FITS, DOES_NOT_FIT, FITS, FITS]


def test_split_model_is_one_model(tmp_path):
    write_gguf(tmp_path / "tiny.gguf", split_max_tensors=2)
    facts = read_gguf_facts(tmp_path / "tiny-00002-of-00002.gguf")
    assert len(facts.files) == 2 and facts.num_parameters == PARAMS
    assert {t.type_name: t.nbytes for t in facts.by_type} == BYTES
    assert facts.field("split.count").value == 2
    assert facts.chat_template == GGUF_CHAT_TEMPLATE
    plan = plan_gguf_memory(facts, 16, devices=ROOMY, disk_free=0)
    assert plan.plans[0].weight_bytes == sum(BYTES.values())


def test_unknown_type_keeps_its_parameters_and_drops_the_stored_row(gguf_path, tmp_path):
    path = tmp_path / "future.gguf"
    path.write_bytes(_patch_type(gguf_path.read_bytes(), "blk.0.attn_q.weight", 250))
    facts = read_gguf_facts(path)
    unknown = next(t for t in facts.by_type if t.type_name == "unknown type 250")
    assert unknown.parameters == 512 and unknown.nbytes is None and unknown.bits_per_weight is None
    assert facts.by_type[-1] is unknown
    assert facts.stored_bytes is None and facts.known_bytes == BYTES["F32"] + BYTES["F16"]
    assert facts.unknown_parameters == 512 and facts.num_parameters == PARAMS
    plan = plan_gguf_memory(facts, 16, devices=ROOMY, disk_free=0)
    assert [p.precision for p in plan.plans] == ["float32 (dequantised)", "float16 (dequantised)", "bfloat16 (dequantised)"]
    assert plan.plans[0].weight_bytes == PARAMS * 4 and plan.unknown_parameters == 512


def test_truncated_file_is_one_line(gguf_path, tmp_path):
    path = tmp_path / "cut.gguf"
    path.write_bytes(gguf_path.read_bytes()[:-100])  # the last tensor cut short
    with pytest.raises(UnreadableFile, match="truncated") as caught:
        read_gguf_facts(path)
    assert "\n" not in str(caught.value)


def test_hostile_values_are_shown_not_trusted(gguf_path):
    model = read_gguf_split(gguf_path)
    model.metadata["llama.block_count"] = "many"
    model.metadata["llama.attention.head_count_kv"] = True
    model.metadata["tokenizer.chat_template"] = ["not", "text"]
    facts = gguf_facts(model)
    assert facts.attention is None and facts.field("llama.block_count").shown == "many"
    assert facts.chat_template is None
    assert plan_gguf_memory(facts, 16, devices=ROOMY, disk_free=0).plans[0].kv_cache_bytes is None


def test_non_causal_models_keep_no_kv_cache(gguf_path):
    model = read_gguf_split(gguf_path)
    model.metadata["llama.attention.causal"] = False
    facts = gguf_facts(model)
    assert facts.attention is None and facts.field("llama.attention.causal").shown == "false"
    assert all(p.kv_cache_bytes is None for p in plan_gguf_memory(facts, 16, devices=ROOMY, disk_free=0).plans)
