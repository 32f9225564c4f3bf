"""The Facts section: numbers people otherwise work out by hand from config.json (head dimension,
key/value heads, context length, KV cache per token, parameters), each with how it was worked out.
"""

from __future__ import annotations

from typing import Any

from explorer.core.config.model import Fact
from explorer.core.formatting import human_bytes, human_count
from explorer.core.safe_io import is_finite_number

# Aliases across architecture families, most common first. Config objects resolve some of
# these through attribute_map, but not all families declare one, so raw names are tried too.
HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "dim", "embed_dim", "model_dim")
LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
DECODER_LAYER_KEYS = ("num_decoder_layers", "decoder_layers")
HEAD_KEYS = ("num_attention_heads", "n_head", "num_heads", "n_heads", "encoder_attention_heads")
KV_HEAD_KEYS = ("num_key_value_heads", "num_kv_heads", "n_head_kv", "n_kv_heads", "multi_query_group_num")
MLP_KEYS = ("intermediate_size", "n_inner", "d_ff", "ffn_dim", "hidden_dim", "encoder_ffn_dim", "ffn_hidden_size")
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length", "max_seq_len")
EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
GENERATIVE_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "ForSeq2SeqLM", "EncoderDecoderModel")
ENCODER_ONLY_SUFFIXES = (
    "ForMaskedLM", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering",
    "ForMultipleChoice", "ForPreTraining", "ForNextSentencePrediction",
)


class _Lookup:
    """Reads a setting from the built config object (attribute_map applies) or else the raw JSON."""

    def __init__(self, raw: dict, obj: Any = None) -> None:
        self.raw = raw if isinstance(raw, dict) else {}
        self.obj = obj

    def get(self, *names: str) -> Any:
        for name in names:
            if self.obj is not None:
                try:
                    value = getattr(self.obj, name)
                except Exception:
                    value = None
                if value is not None and not callable(value):
                    return value
            value = self.raw.get(name)
            if value is not None:
                return value
        return None

    def number(self, *names: str) -> int | None:
        """A size: a finite, non-negative whole number no real config exceeds; None otherwise (a broken file's values)."""
        value = self.get(*names)
        if not is_finite_number(value) or not 0 <= value <= _LARGEST_SIZE:
            return None
        return int(value)


# No size in a model config comes near this (the largest vocabularies have some 10^6 entries).
_LARGEST_SIZE = 10**12


def _rope_settings(look: _Lookup) -> dict | None:
    for name in ("rope_scaling", "rope_parameters"):
        value = look.get(name)
        if isinstance(value, dict):
            # v5 nests per-layer-type settings: {"full_attention": {...}, "sliding_attention": {...}}
            if value and all(isinstance(v, dict) for v in value.values()):
                value = next((v for v in value.values() if v.get("factor")), next(iter(value.values())))
            if value.get("factor") or (value.get("rope_type") or value.get("type")) not in (None, "default"):
                return value
    return None


def _is_generative(raw: dict, look: _Lookup) -> bool | None:
    architectures = [a for a in raw.get("architectures") or [] if isinstance(a, str)]
    if look.get("is_encoder_decoder") is True or look.get("is_decoder") is True:
        return True
    if any(a.endswith(GENERATIVE_SUFFIXES) for a in architectures):
        return True
    if any(a.endswith(ENCODER_ONLY_SUFFIXES) for a in architectures):
        return False
    return None


def _layer_params(h: int, heads: int, kv: int, hd: int, mlp: int, gated: bool, bias: bool, cross: bool, experts: int) -> int:
    attention = h * heads * hd + 2 * h * kv * hd + heads * hd * h
    if bias:
        attention += heads * hd + 2 * kv * hd + h
    if cross:
        attention *= 2
    ffn = (3 if gated else 2) * h * mlp + ((mlp + h) if bias else 0)
    norms = (3 if cross else 2) * h * (2 if bias else 1)
    return attention + ffn * max(experts, 1) + (h * experts if experts > 1 else 0) + norms


def _estimate_parameters(raw: dict, look: _Lookup) -> tuple[int | None, str]:
    """Dense-transformer count from the config alone: embeddings, attention, MLP, norms, untied head."""
    h = look.number(*HIDDEN_KEYS)
    layers = look.number(*LAYER_KEYS)
    heads = look.number(*HEAD_KEYS)
    vocab = look.number("vocab_size")
    if not (h and layers and heads and vocab):
        return None, "needs hidden size, layers, heads and vocabulary"
    kv = look.number(*KV_HEAD_KEYS) or heads
    hd = look.number("head_dim", "d_kv") or h // heads
    mlp = look.number("moe_intermediate_size", *MLP_KEYS) if look.number(*EXPERT_KEYS) else look.number(*MLP_KEYS)
    mlp = mlp or 4 * h
    experts = look.number(*EXPERT_KEYS) or 0
    act = str(look.get("hidden_act", "activation_function", "hidden_activation") or "")
    rms = look.get("rms_norm_eps") is not None
    gated = bool(look.get("is_gated_act")) or str(look.get("feed_forward_proj") or "").startswith("gated") or (rms and act in ("silu", "swish", "gelu_pytorch_tanh", "gelu"))
    bias_setting = look.get("attention_bias", "bias", "use_bias")
    bias = bool(bias_setting) if isinstance(bias_setting, bool) else not rms and look.get("relative_attention_num_buckets") is None
    embeddings = vocab * h
    uses_rope = _rope_settings(look) is not None or look.get("rope_theta") is not None or look.get("rope_parameters") is not None
    relative = look.get("relative_attention_num_buckets") is not None
    positions = look.number(*CONTEXT_KEYS)
    if positions and not uses_rope and not relative and look.get("position_embedding_type") in (None, "absolute"):
        embeddings += positions * h
    type_vocab = look.number("type_vocab_size")
    if type_vocab:
        embeddings += type_vocab * h
    encoder_decoder = look.get("is_encoder_decoder") is True
    decoder_layers = look.number(*DECODER_LAYER_KEYS) if encoder_decoder else None
    cross = look.get("add_cross_attention") is True
    total = embeddings + layers * _layer_params(h, heads, kv, hd, mlp, gated, bias, cross, experts)
    if encoder_decoder:
        total += (decoder_layers or layers) * _layer_params(h, heads, kv, hd, mlp, gated, bias, True, experts)
    total += h * (2 if encoder_decoder else 1)  # final norm(s)
    tied = look.get("tie_word_embeddings")
    if tied is False and _is_generative(raw, look):
        total += vocab * h
    how = "embeddings + layers × (attention + MLP + norms)"
    if experts > 1:
        how += f", all {experts} experts counted"
    if encoder_decoder:
        how += ", encoder and decoder (with cross-attention)"
    return total, how


def derive(raw: dict, obj: Any, header_params: int | None, header_dtypes: dict[str, int]) -> dict[str, Fact]:
    """The facts, from the built config object when there is one (aliases resolved) and the raw JSON otherwise."""
    text_obj = obj
    if obj is not None and hasattr(obj, "get_text_config"):
        try:
            text_obj = obj.get_text_config(decoder=True)
        except Exception:
            text_obj = obj
    text_raw = raw
    if text_obj is not obj and text_obj is not None:
        for key in ("text_config", "decoder", "llm_config", "language_config"):
            if isinstance(raw.get(key), dict):
                text_raw = raw[key]
                break
    look = _Lookup(text_raw, text_obj)
    facts: dict[str, Fact] = {}
    hidden = look.number(*HIDDEN_KEYS)
    heads = look.number(*HEAD_KEYS)
    kv_heads = look.number(*KV_HEAD_KEYS)
    layers = look.number(*LAYER_KEYS)
    decoder_layers = look.number(*DECODER_LAYER_KEYS)
    encoder_decoder = look.get("is_encoder_decoder") is True
    if text_raw is not raw:
        facts["component"] = Fact(
            "Facts describe", text_obj.__class__.__name__ if text_obj is not None else "text model",
            f"the text/decoder part ({text_obj.__class__.__name__ if text_obj is not None else 'sub-config'})",
            "composite configs nest one config per part; generation uses the text/decoder part",
        )
    head_dim = look.number("head_dim", "d_kv")
    head_dim_how = "head_dim in config"
    if head_dim is None and hidden and heads:
        head_dim = hidden // heads
        head_dim_how = "hidden size ÷ attention heads"
        if hidden % heads:
            head_dim_how += f" (does not divide evenly: {hidden} ÷ {heads})"
    if head_dim:
        facts["head_dim"] = Fact("Head dimension", head_dim, str(head_dim), head_dim_how)
    if heads:
        kv = kv_heads or heads
        if kv == heads:
            kind = "multi-head attention (every head has its own keys and values)"
        elif kv == 1:
            kind = "multi-query attention (all heads share one key/value head)"
        else:
            kind = f"grouped-query attention: {heads // kv if heads % kv == 0 else heads / kv:g} query heads share each key/value head"
        facts["attention_heads"] = Fact("Attention heads", heads, str(heads), "num_attention_heads (or the family's alias)")
        facts["kv_heads"] = Fact(
            "Key/value heads", kv, f"{kv} — {kind}",
            "num_key_value_heads; equal to the attention heads when absent",
        )
        facts["gqa_ratio"] = Fact("Query heads per KV head", heads / kv, f"{heads / kv:g}", "attention heads ÷ key/value heads")
    if layers:
        if encoder_decoder:
            dec = decoder_layers or layers
            facts["layers"] = Fact("Layers", layers + dec, f"{layers} encoder + {dec} decoder", "num_layers + num_decoder_layers")
        else:
            facts["layers"] = Fact("Layers", layers, str(layers), "num_hidden_layers (or the family's alias)")
    if hidden:
        facts["hidden_size"] = Fact("Hidden size", hidden, str(hidden), "width of the residual stream")
    mlp = look.number(*MLP_KEYS)
    mlp_how = "intermediate_size (or the family's alias)"
    if mlp is None and hidden and "n_inner" in text_raw:
        mlp, mlp_how = 4 * hidden, "n_inner is null: GPT-2 style models use 4 × hidden size"
    if mlp:
        ratio = f" ({mlp / hidden:.2g}× hidden)" if hidden else ""
        facts["mlp_size"] = Fact("MLP size", mlp, f"{mlp}{ratio}", mlp_how)
    experts = look.number(*EXPERT_KEYS)
    if experts:
        active = look.number("num_experts_per_tok", "num_experts_per_token", "moe_top_k", "top_k")
        facts["experts"] = Fact("Experts", experts, f"{experts}" + (f", {active} active per token" if active else ""), "mixture-of-experts settings")
    vocab = look.number("vocab_size")
    if vocab:
        facts["vocab_size"] = Fact("Vocabulary", vocab, f"{vocab:,}", "vocab_size: rows of the token embedding")
    facts.update(_contextFact(look))
    tied = look.get("tie_word_embeddings")
    if isinstance(tied, bool):
        how = "tie_word_embeddings" + ("" if "tie_word_embeddings" in text_raw else " (class default; not in config.json)")
        text = "yes: the LM head reuses the token embedding matrix" if tied else "no: the LM head has its own weight matrix"
        architectures = [a for a in raw.get("architectures") or [] if isinstance(a, str)]
        if architectures and not any(a.endswith((*GENERATIVE_SUFFIXES, "ForMaskedLM", "ForPreTraining")) for a in architectures):
            text += f" (no effect here: {architectures[0]} has no vocabulary projection)"
        facts["tied_embeddings"] = Fact("Tied embeddings", tied, text, how)
    generative = _is_generative(raw, look)
    if layers and heads and head_dim:
        kv = kv_heads or heads
        cache_layers = (decoder_layers or layers) if encoder_decoder else layers
        per_token = 2 * cache_layers * kv * head_dim * 2
        text = f"{human_bytes(per_token)} per token ({human_bytes(per_token * 1024)} per 1K tokens)"
        how = f"2 (keys, values) × {cache_layers} layers × {kv} KV heads × {head_dim} head dim × 2 bytes"
        if generative is False:
            text += " — not used: this head does not generate"
            how += "; a cache only exists while generating"
        facts["kv_cache_bytes_per_token_fp16"] = Fact("KV cache per token (fp16)", per_token, text, how)
    estimate, how = _estimate_parameters(text_raw, look)
    encoder_raw, decoder_raw = raw.get("encoder"), raw.get("decoder")
    if isinstance(encoder_raw, dict) and isinstance(decoder_raw, dict):
        # Composite encoder-decoder (EncoderDecoderModel): two full models, counted separately.
        enc_look = _Lookup(encoder_raw, getattr(obj, "encoder", None) if obj is not None else None)
        enc_estimate, _ = _estimate_parameters(encoder_raw, enc_look)
        enc_layers = enc_look.number(*LAYER_KEYS)
        if enc_estimate is not None and estimate is not None:
            estimate += enc_estimate
            how = "encoder + decoder sub-configs, each: " + how
        if enc_layers and layers:
            facts["layers"] = Fact("Layers", enc_layers + layers, f"{enc_layers} encoder + {layers} decoder", "encoder and decoder sub-configs")
    elif text_raw is not raw and estimate is not None:
        how += "; text/decoder part only"
    if estimate is not None:
        facts["params_from_config"] = Fact("Parameters (estimated from config)", estimate, human_count(estimate), how)
    if header_params is not None:
        dtypes = ", ".join(f"{d} {human_count(n)}" for d, n in sorted(header_dtypes.items(), key=lambda kv: -kv[1]))
        facts["params_from_headers"] = Fact(
            "Parameters (from weight headers)", header_params, f"{human_count(header_params)} ({header_params:,})" + (f" — {dtypes}" if dtypes else ""),
            "sum of tensor shapes in the safetensors headers (no weights loaded)",
        )
        if estimate:
            diff = (estimate - header_params) / header_params if header_params else 0.0
            facts["params_estimate_error"] = Fact(
                "Estimate vs headers", diff, f"{diff:+.1%}",
                "the estimate leaves out small parts (pooler, task heads, biases of some families)",
            )
    return facts


def _contextFact(look: _Lookup) -> dict[str, dict]:
    base = look.number(*CONTEXT_KEYS)
    rope = _rope_settings(look)
    if base is None:
        if look.get("relative_attention_num_buckets") is not None:
            return {"context_length": Fact(
                "Context length", None, "no fixed limit (relative position buckets)",
                "relative position biases have no maximum position; quality drops beyond the training length",
            )}
        return {}
    if rope is None:
        return {"context_length": Fact("Context length", base, f"{base:,} tokens", "max_position_embeddings (or the family's alias)")}
    kind = rope.get("rope_type") or rope.get("type") or "scaled"
    factor = rope.get("factor")
    original = rope.get("original_max_position_embeddings")
    if not (is_finite_number(factor) and 0 < factor <= 10**6):
        factor = None
    if not (is_finite_number(original) and 0 < original <= _LARGEST_SIZE):
        original = None
    if isinstance(original, (int, float)) and isinstance(factor, (int, float)):
        effective = max(base, int(original * factor))
        text = f"{effective:,} tokens ({kind} RoPE scaling ×{factor:g} from {int(original):,} trained)"
        how = "original_max_position_embeddings × factor, or max_position_embeddings when larger"
    elif isinstance(factor, (int, float)) and kind in ("linear", "dynamic", "yarn", "ntk"):
        effective = int(base * factor)
        text = f"{effective:,} tokens ({kind} RoPE scaling ×{factor:g} of {base:,})"
        how = "max_position_embeddings × rope_scaling factor"
    else:
        effective = base
        text = f"{base:,} tokens ({kind} RoPE)"
        how = "max_position_embeddings; the RoPE settings do not change it"
    return {"context_length": Fact("Context length", effective, text, how)}


__all__ = ["derive"]
