"""Everything the Config tab and ``model-explorer inspect`` say about a checkpoint's configuration.

``build_config_report(path)`` reads ``config.json`` and the other small JSON files, asks the
installed transformers what each field means and defaults to, which class every Auto class
would build, and computes the facts people otherwise work out by hand. The result is a plain
JSON-shaped dict, so the command line prints it and the window renders it.

The checkpoint's own Python code is never imported unless the consent store says the user
allowed exactly the code on disk (``explorer.core.consent``). transformers is imported here
at call time only: the window builds reports in a worker thread.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any, Iterable

from explorer.core import config_docs
from explorer.core.checkpoint import TOKENIZER_FILES
from explorer.core.code_scan import scan_folder, suggested_registration
from explorer.core.consent import (
    STATE_CHANGED,
    STATE_GRANTED,
    STATE_NOT_GRANTED,
    ConsentStore,
    auto_map_references,
    default_store,
    load_custom_config,
    module_file_of,
)
from explorer.core.formatting import human_bytes, human_count
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end
from explorer.core.config_limits import number_problems
from explorer.core.discovery import read_config_file
from explorer.core.safe_io import UnreadableFile, is_finite_number, open_regular, read_json
from explorer.core.safetensors_header import summarize_safetensors
from explorer.core.snippets import NotScriptable, is_identifier, python_identifier, python_literal
from explorer.core.task_catalog import offered_tasks

MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_CODE_BYTES = 2 * 1024 * 1024
# tokenizer_config.json lists added tokens; a few hundred thousand is already a lot.
MAX_OTHER_JSON_VALUES = 2_000_000

OTHER_FILES = (
    "generation_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "preprocessor_config.json",
    "adapter_config.json",
)
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")

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

_MISSING = object()


# --------------------------------------------------------------------------- reading files


def _checkpoint_files(folder: str) -> dict[str, str]:
    """Top-level file name -> readable path (hub snapshots hold symlinks into blobs)."""
    files: dict[str, str] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    # FIFOs, devices and broken links stay listed: their readers say what they are.
                    if not entry.is_dir():
                        files[entry.name] = entry.path
                except OSError:
                    continue
    except OSError:
        pass
    # transformers saves named chat templates in a subfolder, one file each.
    templates = os.path.join(folder, "additional_chat_templates")
    try:
        with os.scandir(templates) as entries:
            for entry in entries:
                if entry.name.endswith(".jinja") and entry.is_file():
                    files[f"additional_chat_templates/{entry.name}"] = entry.path
    except OSError:
        pass
    return files


def _read_json(path: str, label: str, problems: list[str]) -> Any:
    """A settings file of the checkpoint (tokenizer_config.json...) under the one reading rule; _MISSING with a problem otherwise."""
    try:
        return read_json(path, label, MAX_JSON_BYTES, max_values=MAX_OTHER_JSON_VALUES)
    except UnreadableFile as exc:
        problems.append(str(exc))
    return _MISSING


def _read_text(path: str, limit: int = MAX_CODE_BYTES) -> str | None:
    """Up to ``limit`` bytes of a text file, for display; None when it is no regular file or cannot be read."""
    try:
        with open_regular(path, os.path.basename(path)) as handle:
            data = handle.read(limit + 1)
    except UnreadableFile:
        return None
    text = data[:limit].decode("utf-8", "replace")
    if len(data) > limit:
        text += f"\n\n# … shown up to {human_bytes(limit)}; the file is longer"
    return text


# --------------------------------------------------------------------------- transformers lookups


def _installed_version() -> str:
    import transformers

    return transformers.__version__


def _is_newer(saved: str, installed: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return False
    try:
        return Version(saved) > Version(installed)
    except (InvalidVersion, TypeError):
        return False


def _config_class_for(model_type: str):
    """The built-in config class for a model_type, or None when transformers does not know it."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING, CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        return None
    try:
        return CONFIG_MAPPING[model_type]
    except (KeyError, ImportError, AttributeError):
        return None


_auto_classes_cache: list[tuple[str, Any]] | None = None


def auto_model_classes() -> list[tuple[str, Any]]:
    """(name, lazy mapping) of AutoModel and every AutoModelFor... of the installed transformers."""
    global _auto_classes_cache
    if _auto_classes_cache is None:
        from transformers.models.auto import modeling_auto
        from transformers.models.auto.auto_factory import _BaseAutoModelClass

        found = []
        for name in dir(modeling_auto):
            if not name.startswith("AutoModel"):
                continue
            candidate = getattr(modeling_auto, name)
            if isinstance(candidate, type) and issubclass(candidate, _BaseAutoModelClass) and candidate._model_mapping is not None:
                found.append((name, candidate._model_mapping))
        found.sort(key=lambda item: (item[0] != "AutoModel", item[0]))
        _auto_classes_cache = found
    return _auto_classes_cache


@functools.lru_cache(maxsize=256)
def head_description(auto_class: str) -> str:
    """'AutoModelForImageClassification' -> 'image classification'."""
    if auto_class == "AutoModel":
        return "bare model, no task head"
    rest = auto_class.removeprefix("AutoModelFor")
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+", rest)
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text.replace("seq 2 seq", "seq2seq").replace("lm", "LM").replace("x vector", "x-vector")


def _mapping_lookup(mapping, config_class_name: str, architectures: list[str]) -> str | None:
    """The class name ``from_pretrained`` picks, following _LazyAutoMapping without importing models."""
    reverse = mapping._reverse_config_mapping
    names = mapping._model_mapping
    model_type = reverse.get(config_class_name)
    # Mirrors _LazyAutoMapping.__contains__: only the model_type the reverse map names counts.
    if model_type is None or model_type not in names:
        return None
    value = names[model_type]
    if isinstance(value, (list, tuple)):
        for arch in architectures:
            if arch in value:
                return arch
        return value[0]
    return value


def model_types_for_architecture(class_name: str) -> list[str]:
    """The model_types whose built-in Auto mappings contain ``class_name`` (BertForMaskedLM -> ['bert'])."""
    from transformers.models.auto import modeling_auto

    found: list[str] = []
    for name in dir(modeling_auto):
        if not (name.startswith("MODEL_") and name.endswith("_MAPPING_NAMES")):
            continue
        names = getattr(modeling_auto, name)
        if not isinstance(names, dict):
            continue
        for model_type, value in names.items():
            values = value if isinstance(value, (list, tuple)) else (value,)
            if class_name in values and model_type not in found:
                found.append(model_type)
    # Several types share classes (gpt-sw3 reuses GPT2LMHeadModel): the one the class is named after first.
    lowered = class_name.lower()

    def named_after(model_type: str) -> int:
        plain = re.sub(r"[-_]", "", model_type.lower())
        return -len(plain) if lowered.startswith(plain) else 0

    return sorted(found, key=named_after)


# The Auto class people write when several build the same class: AutoModel for the bare model
# (not AutoModelForTextEncoding), AutoModelForCausalLM for GPT-2 (not AutoModelForPreTraining).
COMMON_AUTO_CLASSES = (
    "AutoModel", "AutoModelForCausalLM", "AutoModelForMaskedLM", "AutoModelForSeq2SeqLM",
    "AutoModelForSequenceClassification", "AutoModelForTokenClassification", "AutoModelForQuestionAnswering",
    "AutoModelForImageClassification", "AutoModelForSpeechSeq2Seq", "AutoModelForCTC", "AutoModelForImageTextToText",
    "AutoModelForMultipleChoice", "AutoModelForNextSentencePrediction",
)
RARE_AUTO_CLASSES = ("AutoModelForPreTraining", "AutoModelForTextEncoding", "AutoModelWithLMHead")


def auto_class_rank(auto_class: str) -> tuple[int, int]:
    """Sort key: most commonly written Auto classes first, the catch-all ones last."""
    if auto_class in COMMON_AUTO_CLASSES:
        return 0, COMMON_AUTO_CLASSES.index(auto_class)
    if auto_class in RARE_AUTO_CLASSES:
        return 2, RARE_AUTO_CLASSES.index(auto_class)
    return 1, 0


def preferred_row(rows: list[dict]) -> dict | None:
    """Of resolution rows that build the same class, the one whose Auto class users write."""
    return min(rows, key=lambda r: auto_class_rank(r["auto_class"])) if rows else None


# --------------------------------------------------------------------------- fields


def _sub_config_class(spec, value: dict):
    config_class = getattr(spec, "config_class", None)
    if config_class is not None and getattr(config_class, "__name__", "") != "AutoConfig":
        return config_class
    model_type = value.get("model_type") if isinstance(value.get("model_type"), str) else getattr(spec, "model_type", None)
    return _config_class_for(model_type) if model_type else None


def _base_config_class():
    from transformers import PreTrainedConfig

    return PreTrainedConfig


def _build_fields(raw: dict, config_cls, problems: list[str], prefix: str = "", check_types: bool = True) -> list[dict]:
    base_cls = _base_config_class()
    info = config_docs.class_info(config_cls) if config_cls is not None else config_docs.class_info(base_cls)
    known_names = info.known_names | config_docs.class_info(base_cls).known_names
    fields = []
    for name in sorted(raw, key=lambda n: (n.startswith("_"), n.lower())):
        value = raw[name]
        doc = config_docs.field_doc(config_cls, name)
        default = info.defaults.get(name, _MISSING)
        alias_of = info.attribute_map.get(name)
        if default is _MISSING and alias_of:
            default = info.defaults.get(alias_of, _MISSING)
        known = name in known_names or doc is not None
        record: dict[str, Any] = {
            "name": name,
            "path": prefix + name,
            "value": value,
            "type": config_docs.type_label(value),
            "default": None if default is _MISSING else default,
            "has_default": default is not _MISSING,
            "changed": default is not _MISSING and value != default,
            "known": known,
            "doc": doc.text if doc else None,
            "doc_type": doc.type_text if doc else None,
            "doc_source": doc.source if doc else None,
            "alias_of": alias_of,
            "type_problem": None,
            "sub_config": None,
            "children": [],
        }
        if config_cls is not None and check_types:
            problem = config_docs.type_problem(config_cls, alias_of or name, value)
            if problem:
                record["type_problem"] = problem
                problems.append(f"config.json: {prefix}{name} has the wrong type: {problem}")
        spec = info.sub_configs.get(name)
        if spec is not None and isinstance(value, dict):
            sub_cls = _sub_config_class(spec, value)
            record["sub_config"] = sub_cls.__name__ if sub_cls is not None else None
            record["children"] = _build_fields(value, sub_cls, problems, prefix=f"{prefix}{name}.", check_types=check_types)
            record["changed"] = any(child["changed"] for child in record["children"])
            record["has_default"] = True
        record["in_file"] = True
        fields.append(record)
    return fields


def _default_fields(raw: dict, config_cls, prefix: str = "") -> list[dict]:
    """Rows for the config class's fields that config.json leaves out: the object still has them, at their defaults.

    ``model.config.output_hidden_states`` is such a field: users look for it although no file sets it.
    """
    if config_cls is None:
        return []
    info = config_docs.class_info(config_cls)
    present = set(raw) | {info.attribute_map[name] for name in raw if name in info.attribute_map}
    rows = []
    for name in sorted(info.defaults, key=str.lower):
        if name in present or name.startswith("_"):
            continue
        default = info.defaults[name]
        doc = config_docs.field_doc(config_cls, name)
        rows.append({
            "name": name,
            "path": prefix + name,
            "value": default,
            "type": config_docs.type_label(default),
            "default": default,
            "has_default": True,
            "changed": False,
            "known": True,
            "doc": doc.text if doc else None,
            "doc_type": doc.type_text if doc else None,
            "doc_source": doc.source if doc else None,
            "alias_of": None,
            "type_problem": None,
            "sub_config": None,
            "children": [],
            "in_file": False,
        })
    return rows


# --------------------------------------------------------------------------- derived facts


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


def _fact(label: str, value: Any, text: str, how: str) -> dict:
    return {"label": label, "value": value, "text": text, "how": how}


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


def _derive(raw: dict, obj: Any, header_params: int | None, header_dtypes: dict[str, int]) -> dict[str, dict]:
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
    facts: dict[str, dict] = {}
    hidden = look.number(*HIDDEN_KEYS)
    heads = look.number(*HEAD_KEYS)
    kv_heads = look.number(*KV_HEAD_KEYS)
    layers = look.number(*LAYER_KEYS)
    decoder_layers = look.number(*DECODER_LAYER_KEYS)
    encoder_decoder = look.get("is_encoder_decoder") is True
    if text_raw is not raw:
        facts["component"] = _fact(
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
        facts["head_dim"] = _fact("Head dimension", head_dim, str(head_dim), head_dim_how)
    if heads:
        kv = kv_heads or heads
        if kv == heads:
            kind = "multi-head attention (every head has its own keys and values)"
        elif kv == 1:
            kind = "multi-query attention (all heads share one key/value head)"
        else:
            kind = f"grouped-query attention: {heads // kv if heads % kv == 0 else heads / kv:g} query heads share each key/value head"
        facts["attention_heads"] = _fact("Attention heads", heads, str(heads), "num_attention_heads (or the family's alias)")
        facts["kv_heads"] = _fact(
            "Key/value heads", kv, f"{kv} — {kind}",
            "num_key_value_heads; equal to the attention heads when absent",
        )
        facts["gqa_ratio"] = _fact("Query heads per KV head", heads / kv, f"{heads / kv:g}", "attention heads ÷ key/value heads")
    if layers:
        if encoder_decoder:
            dec = decoder_layers or layers
            facts["layers"] = _fact("Layers", layers + dec, f"{layers} encoder + {dec} decoder", "num_layers + num_decoder_layers")
        else:
            facts["layers"] = _fact("Layers", layers, str(layers), "num_hidden_layers (or the family's alias)")
    if hidden:
        facts["hidden_size"] = _fact("Hidden size", hidden, str(hidden), "width of the residual stream")
    mlp = look.number(*MLP_KEYS)
    mlp_how = "intermediate_size (or the family's alias)"
    if mlp is None and hidden and "n_inner" in text_raw:
        mlp, mlp_how = 4 * hidden, "n_inner is null: GPT-2 style models use 4 × hidden size"
    if mlp:
        ratio = f" ({mlp / hidden:.2g}× hidden)" if hidden else ""
        facts["mlp_size"] = _fact("MLP size", mlp, f"{mlp}{ratio}", mlp_how)
    experts = look.number(*EXPERT_KEYS)
    if experts:
        active = look.number("num_experts_per_tok", "num_experts_per_token", "moe_top_k", "top_k")
        facts["experts"] = _fact("Experts", experts, f"{experts}" + (f", {active} active per token" if active else ""), "mixture-of-experts settings")
    vocab = look.number("vocab_size")
    if vocab:
        facts["vocab_size"] = _fact("Vocabulary", vocab, f"{vocab:,}", "vocab_size: rows of the token embedding")
    facts.update(_context_fact(look))
    tied = look.get("tie_word_embeddings")
    if isinstance(tied, bool):
        how = "tie_word_embeddings" + ("" if "tie_word_embeddings" in text_raw else " (class default; not in config.json)")
        text = "yes: the LM head reuses the token embedding matrix" if tied else "no: the LM head has its own weight matrix"
        architectures = [a for a in raw.get("architectures") or [] if isinstance(a, str)]
        if architectures and not any(a.endswith((*GENERATIVE_SUFFIXES, "ForMaskedLM", "ForPreTraining")) for a in architectures):
            text += f" (no effect here: {architectures[0]} has no vocabulary projection)"
        facts["tied_embeddings"] = _fact("Tied embeddings", tied, text, how)
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
        facts["kv_cache_bytes_per_token_fp16"] = _fact("KV cache per token (fp16)", per_token, text, how)
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
            facts["layers"] = _fact("Layers", enc_layers + layers, f"{enc_layers} encoder + {layers} decoder", "encoder and decoder sub-configs")
    elif text_raw is not raw and estimate is not None:
        how += "; text/decoder part only"
    if estimate is not None:
        facts["params_from_config"] = _fact("Parameters (estimated from config)", estimate, human_count(estimate), how)
    if header_params is not None:
        dtypes = ", ".join(f"{d} {human_count(n)}" for d, n in sorted(header_dtypes.items(), key=lambda kv: -kv[1]))
        facts["params_from_headers"] = _fact(
            "Parameters (from weight headers)", header_params, f"{human_count(header_params)} ({header_params:,})" + (f" — {dtypes}" if dtypes else ""),
            "sum of tensor shapes in the safetensors headers (no weights loaded)",
        )
        if estimate:
            diff = (estimate - header_params) / header_params if header_params else 0.0
            facts["params_estimate_error"] = _fact(
                "Estimate vs headers", diff, f"{diff:+.1%}",
                "the estimate leaves out small parts (pooler, task heads, biases of some families)",
            )
    return facts


def _context_fact(look: _Lookup) -> dict[str, dict]:
    base = look.number(*CONTEXT_KEYS)
    rope = _rope_settings(look)
    if base is None:
        if look.get("relative_attention_num_buckets") is not None:
            return {"context_length": _fact(
                "Context length", None, "no fixed limit (relative position buckets)",
                "relative position biases have no maximum position; quality drops beyond the training length",
            )}
        return {}
    if rope is None:
        return {"context_length": _fact("Context length", base, f"{base:,} tokens", "max_position_embeddings (or the family's alias)")}
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
    return {"context_length": _fact("Context length", effective, text, how)}


# --------------------------------------------------------------------------- resolution


def _resolution(
    raw: dict,
    config_cls,
    consent_state: str,
    missing_code: set[str],
) -> list[dict]:
    architectures = [a for a in raw.get("architectures") or [] if isinstance(a, str)]
    auto_map = raw.get("auto_map") if isinstance(raw.get("auto_map"), dict) else {}
    model_type = raw.get("model_type") if isinstance(raw.get("model_type"), str) else None
    config_name = config_cls.__name__ if config_cls is not None else None
    builtin = config_cls is not None and (config_cls.__module__ or "").startswith("transformers.")
    rows = []
    for auto_name, mapping in auto_model_classes():
        row: dict[str, Any] = {
            "auto_class": auto_name,
            "head": head_description(auto_name),
            "resolves_to": None,
            "source": None,  # "auto_map" | "mapping" | None
            "needs_consent": False,
            "reason": "",
            "relation": None,  # compared with architectures, filled below
            "note": "",
        }
        local = _mapping_lookup(mapping, config_name, architectures) if builtin else None
        ref = auto_map.get(auto_name)
        if isinstance(ref, (list, tuple)):
            ref = next((r for r in ref if isinstance(r, str) and r), None)
        if isinstance(ref, str) and ref:
            target = ref.rpartition(".")[2]
            file_name = module_file_of(ref)
            where = f"{file_name}" if file_name else f"code from the repository {ref.split('--')[0]}"
            if consent_state == STATE_GRANTED and (file_name is None or file_name not in missing_code):
                row.update(resolves_to=target, source="auto_map", reason=f"auto_map → {ref} (custom code you allowed, in {where})")
            elif file_name is not None and file_name in missing_code:
                row.update(reason=f"auto_map → {ref}, but {file_name} is missing from the checkpoint")
                if local:
                    row.update(resolves_to=local, source="mapping", note=f"without the custom code, transformers uses the built-in {local}")
            elif local:
                row.update(
                    resolves_to=local, source="mapping", needs_consent=True,
                    reason=f"auto_map → {ref} needs consent; without it transformers uses the built-in mapping for {config_name}",
                )
            else:
                state = "changed since you allowed it" if consent_state == STATE_CHANGED else "not allowed yet"
                row.update(needs_consent=True, reason=f"auto_map → {ref}: custom code in {where}, {state}")
                row["note"] = f"would be {target} after you allow the checkpoint's code"
        elif local:
            row.update(resolves_to=local, source="mapping", reason=f"{config_name} (model_type '{model_type}') → {local} in the {auto_name} mapping")
        elif config_cls is None:
            row["reason"] = (
                f"model_type '{model_type}' is unknown to the installed transformers and auto_map has no {auto_name} entry"
                if model_type else "config.json has no model_type"
            )
        elif not builtin:
            row["reason"] = f"{config_name} comes from the checkpoint's code, and auto_map has no {auto_name} entry"
        else:
            row["reason"] = f"not supported: transformers has no {row['head']} class for {config_name} (model_type '{model_type}')"
        rows.append(row)
    _relate_to_architectures(rows, architectures)
    return rows


def _relate_to_architectures(rows: list[dict], architectures: list[str]) -> None:
    """Say plainly what each Auto class does with the head the weights were saved with."""
    if not architectures:
        for row in rows:
            if row["resolves_to"]:
                row["relation"] = "unknown"
                row["note"] = row["note"] or "config.json lists no architectures: the saved head is unknown"
        return
    saved = architectures[0]
    base = next((r["resolves_to"] for r in rows if r["auto_class"] == "AutoModel"), None)
    saved_is_base = saved == base
    for row in rows:
        target = row["resolves_to"]
        if not target:
            continue
        if target in architectures:
            row["relation"] = "same"
            # Whether every weight loads is the weights' to say (apply_head_checks); the names only promise this much.
            row["note"] = row["note"] or "the class the weights were saved with"
        elif row["source"] == "auto_map":
            # The checkpoint's own code owes nothing to naming conventions: ChatGLM's AutoModel entry is
            # ChatGLMForConditionalGeneration although architectures says ChatGLMModel, and it loads every weight.
            row["relation"] = "unknown"
            row["note"] = f"{target} comes from the checkpoint's code; the weights were saved as {saved}: what loads is known once the weights are checked"
        elif target == base:
            row["relation"] = "drops-head"
            row["note"] = f"gives the bare {target}: the {saved} head in the weights is dropped (not loaded)"
        elif saved_is_base:
            row["relation"] = "new-head"
            row["note"] = f"the checkpoint has only the base model ({saved}): the {row['head']} head starts random and needs training"
        else:
            row["relation"] = "different-head"
            row["note"] = f"the saved {saved} head is dropped and {target} adds a new, randomly initialised {row['head']} head"


# --------------------------------------------------------------------------- other files


def _token_text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("content", value))
    return str(value)


def _summarize_other_file(name: str, data: Any) -> list[list[str]]:
    """(label, text) lines that say what matters in each file; the full JSON is shown beside them."""
    if not isinstance(data, dict):
        return [["content", "not a JSON object"]]
    lines: list[list[str]] = []
    if name == "generation_config.json":
        for key in ("max_length", "max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "num_beams",
                    "repetition_penalty", "bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
            if key in data:
                lines.append([key, json.dumps(data[key])])
        if not lines:
            lines.append(["settings", "library defaults (greedy decoding)"])
    elif name == "tokenizer_config.json":
        for key in ("tokenizer_class", "backend", "processor_class"):
            if key in data:
                lines.append([key, str(data[key])])
        max_len = data.get("model_max_length")
        if is_finite_number(max_len) or (isinstance(max_len, float) and max_len == float("inf")):
            lines.append(["model_max_length", "not set (no limit recorded)" if max_len > 1e12 else f"{int(max_len):,}"])
        for key in sorted(k for k in data if k.endswith("_token") and data[k] is not None):
            lines.append([key, _token_text(data[key])])
        added = data.get("added_tokens_decoder")
        if isinstance(added, dict):
            special = sum(1 for v in added.values() if isinstance(v, dict) and v.get("special"))
            lines.append(["added tokens", f"{len(added)} ({special} special)"])
        extra = data.get("additional_special_tokens") or data.get("extra_special_tokens")
        if isinstance(extra, (list, dict)) and extra:
            lines.append(["additional special tokens", ", ".join(_token_text(t) for t in (extra.values() if isinstance(extra, dict) else extra))])
        for key in ("do_lower_case", "add_bos_token", "add_eos_token", "padding_side", "truncation_side", "clean_up_tokenization_spaces"):
            if key in data:
                lines.append([key, json.dumps(data[key])])
        if data.get("chat_template"):
            lines.append(["chat template", "yes (shown below)"])
    elif name == "special_tokens_map.json":
        for key, value in sorted(data.items()):
            if isinstance(value, list):
                lines.append([key, ", ".join(_token_text(v) for v in value)])
            else:
                lines.append([key, _token_text(value)])
    elif name == "preprocessor_config.json":
        for key in ("processor_class", "image_processor_type", "feature_extractor_type", "size", "crop_size",
                    "do_normalize", "image_mean", "image_std", "sampling_rate", "feature_size", "do_resize"):
            if key in data:
                lines.append([key, json.dumps(data[key])])
    elif name == "adapter_config.json":
        base = data.get("base_model_name_or_path")
        lines.append(["base model", str(base) if base else "not named (the adapter cannot be loaded on its own)"])
        for key in ("peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "inference_mode"):
            if key in data:
                value = data[key]
                lines.append([key, ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)])
    return lines


def _chat_templates(files: dict[str, str], tokenizer_config: Any, problems: list[str]) -> list[dict]:
    templates: list[dict] = []
    if isinstance(tokenizer_config, dict):
        value = tokenizer_config.get("chat_template")
        if isinstance(value, str):
            templates.append({"name": "default", "source": "tokenizer_config.json", "text": value})
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("template"), str):
                    templates.append({"name": str(item.get("name", "default")), "source": "tokenizer_config.json", "text": item["template"]})
    if "chat_template.jinja" in files:
        text = _read_text(files["chat_template.jinja"])
        if text is not None:
            templates.append({"name": "default", "source": "chat_template.jinja", "text": text})
    if "chat_template.json" in files:
        data = _read_json(files["chat_template.json"], "chat_template.json", problems)
        if isinstance(data, dict) and isinstance(data.get("chat_template"), str):
            templates.append({"name": "default", "source": "chat_template.json", "text": data["chat_template"]})
    folder_templates = sorted(n for n in files if n.startswith("additional_chat_templates/"))
    for name in folder_templates:
        text = _read_text(files[name])
        if text is not None:
            templates.append({"name": os.path.splitext(os.path.basename(name))[0], "source": name, "text": text})
    return templates


def _other_files(files: dict[str, str], problems: list[str]) -> tuple[list[dict], list[dict]]:
    sections = []
    tokenizer_config: Any = None
    for name in OTHER_FILES:
        section: dict[str, Any] = {"name": name, "present": name in files, "data": None, "summary": [], "error": None}
        if name in files:
            local_problems: list[str] = []
            data = _read_json(files[name], name, local_problems)
            if data is _MISSING:
                section["error"] = local_problems[0] if local_problems else f"{name} cannot be read"
                problems.extend(local_problems)
            else:
                if name == "tokenizer_config.json":
                    tokenizer_config = data
                    # The template is shown as text on its own; keep the JSON readable.
                    shown = dict(data) if isinstance(data, dict) else data
                    if isinstance(shown, dict) and "chat_template" in shown:
                        shown["chat_template"] = "(shown in Chat template)"
                    section["data"] = shown
                else:
                    section["data"] = data
                section["summary"] = _summarize_other_file(name, data)
        sections.append(section)
    return sections, _chat_templates(files, tokenizer_config, problems)


def _load_hint(rows: list[dict], architectures: list[str], needs_consent: bool) -> str:
    """One sentence on which Auto class to use, the point tutorials most often get wrong."""
    if not rows:
        return ""
    same = [r for r in rows if r["relation"] == "same"]
    preferred = preferred_row(same)
    base = next((r for r in rows if r["auto_class"] == "AutoModel"), None)
    parts = []
    if preferred is not None:
        parts.append(f"Load with {preferred['auto_class']}: it builds {preferred['resolves_to']}, the class the weights were saved with.")
        if base is not None and base is not preferred and base["relation"] == "drops-head":
            parts.append(f"AutoModel gives the bare {base['resolves_to']} and drops the {architectures[0]} head.")
    elif any(r["needs_consent"] for r in rows) and needs_consent:
        parts.append("The Auto classes need this checkpoint's own code: read it and allow it under Custom code.")
    elif architectures and any(r["resolves_to"] for r in rows):
        parts.append(f"No Auto class builds {architectures[0]}, the class the weights were saved with; the ones below load only part of them.")
    elif not any(r["resolves_to"] for r in rows):
        parts.append("No Auto class of the installed transformers can load this checkpoint.")
    return " ".join(parts)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def exact_load_hint(rows: list[dict], architectures: list[str], checks: dict[str, dict]) -> str:
    """The load hint from checked weights (``head_survey`` results as JSON, by Auto class) instead of class names.

    Says which class loads every weight, which others do too, which keep every saved weight
    and only add new ones (BertForPreTraining from an MLM checkpoint), and what AutoModel drops.
    """
    from explorer.core.head_survey import STATUS_LOADS, STATUS_MISMATCH, STATUS_PARTIAL, group_keys, module_names

    checked = [(row, checks[row["auto_class"]]) for row in rows if row["resolves_to"] and row["auto_class"] in checks]
    if not checked:
        return ""
    saved = set(architectures)
    loaders = [(row, check) for row, check in checked if check["status"] == STATUS_LOADS]
    parts = []
    mentioned: set[str] = set()
    if loaders:
        # One Auto class per built class, the one users write (AutoModel, not AutoModelForTextEncoding, for BertModel).
        by_class: dict[str, list[dict]] = {}
        for r, _ in loaders:
            by_class.setdefault(r["resolves_to"], []).append(r)
        representatives = [preferred_row(group) for group in by_class.values()]
        # The task class over the generic ones: T5's weights load with AutoModelForSeq2SeqLM and T5Model alike.
        generic = ("AutoModel", *RARE_AUTO_CLASSES)
        row = min(
            representatives,
            key=lambda r: (r["resolves_to"] not in saved, r["auto_class"] in generic, r["auto_class"] == "AutoModel"),
        )
        loaders = [(r, checks[r["auto_class"]]) for r in representatives]
        mentioned.add(row["resolves_to"])
        if row["resolves_to"] in saved:
            parts.append(f"Load with {row['auto_class']}: it builds {row['resolves_to']}, the class the weights were saved with, and every weight loads.")
        else:
            parts.append(f"Load with {row['auto_class']}: it builds {row['resolves_to']} and every saved weight loads.")
        others = []
        for other, _ in loaders:
            if other["resolves_to"] not in mentioned:
                mentioned.add(other["resolves_to"])
                others.append(f"{other['auto_class']} ({other['resolves_to']})")
        if others:
            parts.append(f"{_join(others[:2])} also load{'s' if len(others[:2]) == 1 else ''} every weight.")
    else:
        candidates = [(r, c) for r, c in checked if c["status"] == STATUS_PARTIAL]
        if candidates:
            row, check = min(candidates, key=lambda rc: (len(rc[1]["unexpected"]) + len(rc[1].get("ignored") or []), len(rc[1]["missing"])))
            mentioned.add(row["resolves_to"])
            parts.append(f"No Auto class loads every saved weight; {row['auto_class']} ({row['resolves_to']}) comes closest: {check['verdict']}.")
        elif any(c["status"] == STATUS_MISMATCH for _, c in checked):
            parts.append("No Auto class loads this checkpoint as saved: tensor shapes differ from what config.json builds.")
    keepers = []
    for row, check in checked:
        keeps_all = not check["unexpected"] and not check.get("ignored")
        if check["status"] == STATUS_PARTIAL and check["missing"] and keeps_all and row["resolves_to"] not in mentioned:
            mentioned.add(row["resolves_to"])
            new = module_names(check["missing"])
            keepers.append(f"{row['auto_class']} also loads every saved weight; only {_join(new)} {'is' if len(new) == 1 else 'are'} new.")
    parts.extend(keepers[:2])
    base = next(((r, c) for r, c in checked if r["auto_class"] == "AutoModel"), None)
    dropped = (base[1]["unexpected"] + (base[1].get("ignored") or [])) if base is not None else []
    if base is not None and base[0]["resolves_to"] not in mentioned and base[1]["status"] == STATUS_PARTIAL and dropped:
        row, check = base
        text = f"AutoModel gives the bare {row['resolves_to']}: it drops {_join(group_keys(dropped))}"
        if check["missing"]:
            text += f" and initialises {_join(module_names(check['missing']))} randomly"
        parts.append(text + ".")
    return " ".join(parts)


def exact_note(row: dict, check: dict, architectures: list[str]) -> str:
    """The note for one resolution row from its checked weights (replaces the guess from class names)."""
    from explorer.core.head_survey import STATUS_LOADS, STATUS_UNCHECKED

    if check["status"] == STATUS_UNCHECKED:
        return row.get("note") or check["verdict"]
    if check["status"] == STATUS_LOADS:
        if row["resolves_to"] in architectures:
            return "the class the weights were saved with: every weight loads"
        if architectures:
            return f"every weight loads, though the weights were saved with {architectures[0]}"
    return check["verdict"]


def exact_relation(row: dict, check: dict, architectures: list[str], base: str | None) -> str | None:
    """The row's relation to the saved head from its checked weights rather than from class names.

    'same' / 'loads-all' (every weight loads, same class or not), 'drops-head' (saved weights left
    out), 'new-head' (every saved weight kept, new parts start random), 'different-head' (both),
    'mismatch' (shapes differ); unchecked rows keep the guess.
    """
    from explorer.core.head_survey import STATUS_LOADS, STATUS_MISMATCH, STATUS_UNCHECKED

    status = check.get("status")
    if status == STATUS_UNCHECKED:
        return row.get("relation")
    if status == STATUS_LOADS:
        return "same" if row["resolves_to"] in architectures else "loads-all"
    if status == STATUS_MISMATCH:
        return "mismatch"
    dropped = bool(check.get("unexpected") or check.get("ignored"))
    added = bool(check.get("missing"))
    if dropped and (not added or row["resolves_to"] == base):
        # BertModel from an MLM checkpoint drops cls.* and adds only the pooler: the bare model.
        return "drops-head"
    if added and not dropped:
        return "new-head"
    return "different-head"


def apply_head_checks(report: dict, checks: dict[str, dict]) -> dict:
    """A copy of the report whose resolution rows carry the checked weights and whose load hint is exact.

    Each checked row gets ``weights`` (the check as JSON) and its heuristic ``note`` replaced by
    the exact one; rows that could not be checked keep their note.
    """
    report = dict(report)
    architectures = report.get("architectures") or []
    rows = []
    for row in report.get("resolution") or []:
        check = checks.get(row["auto_class"]) if row.get("resolves_to") else None
        if check is not None:
            row = {**row, "weights": check, "note": exact_note(row, check, architectures)}
        rows.append(row)
    base = next((r["resolves_to"] for r in rows if r["auto_class"] == "AutoModel"), None)
    for row in rows:
        if "weights" in row:
            row["relation"] = exact_relation(row, row["weights"], architectures, base)
    report["resolution"] = rows
    hint = exact_load_hint(rows, report.get("architectures") or [], checks)
    if hint:
        report["load_hint"] = hint
    return report


# --------------------------------------------------------------------------- copy as Python


def _python_snippet(path: str, rows: list[dict], architectures: list[str], trusted: bool, needs_code: bool) -> str:
    # The path and every name read from the checkpoint enter the code as literals or checked identifiers
    # (explorer.core.snippets), never as text: a folder name or an auto_map entry may hold code.
    quoted = python_literal(path, quote='"')
    # The snippet mirrors the consent record: the flag appears only when the user allowed this code.
    trust = "    trust_remote_code=True,  # runs the checkpoint's own code, which you reviewed\n" if trusted is True else ""
    lines = ["from transformers import AutoConfig", ""]
    if needs_code and not trusted:
        lines.append("# This checkpoint ships Python code (auto_map). Read it before allowing it to run (trust_remote_code).")
    lines.append(f"config = AutoConfig.from_pretrained(\n    {quoted},\n    local_files_only=True,\n{trust})")
    lines.append("print(config)")
    saved = preferred_row([r for r in rows if r["relation"] == "same" and is_identifier(r["auto_class"])])
    if saved is not None:
        auto_class = python_identifier(saved["auto_class"])
        # resolves_to may come from auto_map in config.json: named only when it is a plain class name.
        built = f"builds {saved['resolves_to']}, " if is_identifier(saved["resolves_to"]) else "builds "
        lines[0] = f"from transformers import AutoConfig, {auto_class}"
        lines += [
            "",
            f"# {built}the class the weights were saved with",
            f"model = {auto_class}.from_pretrained(\n    {quoted},\n    config=config,\n    local_files_only=True,\n{trust})",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- custom code without auto_map


def _unregistered_code_problem(model_type: str, installed: str, scan: dict, registration: dict) -> str:
    defined = []
    config = registration["config_class"]
    if config:
        defined.append(f"{registration['config_file']} defines {config}")
    by_file: dict[str, list[str]] = {}
    for cls in scan["model_classes"]:
        by_file.setdefault(cls["file"], []).append(cls["name"])
    defined += [f"{file} defines {', '.join(names)}" for file, names in by_file.items()]
    text = (
        f"model_type '{model_type}' is unknown to the installed transformers {installed} and the checkpoint has no auto_map, "
        f"but {_join(defined)} (read, not run): add an auto_map to config.json ({registration['auto_map_json']}) "
        "or register them with AutoConfig.register/AutoModel.register before loading (Python in Custom code and Copy as Python)"
    )
    if registration.get("type_mismatch"):
        text += f"; note {registration['type_mismatch']}, and AutoConfig.register needs them equal"
    return text


def _registration_hint(registration: dict) -> str:
    calls = [line for line in registration["python"].splitlines() if ".register(" in line]
    if not calls:
        return ""
    return "Register the checkpoint's classes before loading (Copy as Python has the imports): " + "; ".join(calls) + "."


def _registration_snippet(path: str, registration: dict, architectures: list[str]) -> str:
    # The register code defines `checkpoint` (the scanned folder, as a literal) and loads from it.
    code = registration["python"]
    lines = [
        "# The folder's code defines these classes but config.json has no auto_map: register them first.",
        "# This runs the checkpoint's code: read it (Custom code) before you do.",
        code.rstrip(),
    ]
    heads = registration.get("heads") or {}
    auto = next((a for a, c in heads.items() if c in architectures), None) or (preferred_row([{"auto_class": a} for a in heads]) or {}).get("auto_class")
    if auto and is_identifier(auto):
        lines += ["", f"model = {python_identifier(auto)}.from_pretrained(\n    checkpoint,\n    local_files_only=True,\n)"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- config.json without model_type


def _missing_model_type_problem(report: dict, installed: str) -> str:
    architectures = report["architectures"]
    text = (
        f"config.json has no model_type: AutoConfig of transformers {installed} raises \"Unrecognized model\" "
        "(it no longer guesses the type from the folder name, as transformers 4 did), so no Auto class loads it"
    )
    suggestions = model_types_for_architecture(architectures[0]) if architectures else []
    if suggestions:
        report["suggested_model_type"] = suggestions[0]
        text += (
            f"; architectures names {architectures[0]}, a class of model_type '{suggestions[0]}': "
            f"add \"model_type\": \"{suggestions[0]}\" to config.json, or load with {architectures[0]}.from_pretrained"
        )
    elif architectures:
        text += f"; {architectures[0]} (architectures) is not a built-in class either"
    return text


def _explain_missing_model_type(report: dict, rows: list[dict], path: str) -> None:
    """Rows say what each Auto class would build once model_type is added; the hint says how to load today."""
    model_type = report["suggested_model_type"]
    config_cls = _config_class_for(model_type)
    architectures = report["architectures"]
    would = _resolution({**(report.get("config") or {}), "model_type": model_type}, config_cls, STATE_NOT_GRANTED, set()) if config_cls else []
    would_by_auto = {r["auto_class"]: r["resolves_to"] for r in would}
    for row in rows:
        target = would_by_auto.get(row["auto_class"])
        row["reason"] = "AutoConfig fails: config.json has no model_type"
        if target:
            row["would_build"] = target
            row["note"] = f"would build {target} once config.json has \"model_type\": \"{model_type}\""
    saved = architectures[0]
    builder = preferred_row([r for r in would if r["resolves_to"] == saved])
    report["load_hint"] = (
        f"No Auto class loads this config.json (it has no model_type). Load with {saved}.from_pretrained, "
        f"or add \"model_type\": \"{model_type}\" to config.json"
        + (f" and use {builder['auto_class']}." if builder else ".")
    )
    try:
        # architectures[0] comes from config.json: it becomes code only as a plain class name.
        saved_class = python_identifier(saved, "architectures[0]")
    except NotScriptable:
        return
    quoted = python_literal(path, quote='"')
    report["python"] = (
        f"from transformers import {saved_class}\n\n"
        f"# config.json has no model_type, so the Auto classes cannot read it; the concrete class can.\n"
        f"model = {saved_class}.from_pretrained(\n    {quoted},\n    local_files_only=True,\n)\n"
    )


# --------------------------------------------------------------------------- the report


@functools.lru_cache(maxsize=1)
def _transformers_names() -> frozenset[str]:
    """Every name the installed transformers exports, without importing the models behind them."""
    import transformers

    return frozenset(dir(transformers))


def _unknown_architectures(architectures: list[str], auto_map: dict, code_scan: dict | None, installed: str) -> list[str]:
    """Classes in architectures that neither transformers nor the checkpoint's own code defines."""
    own = {ref.rpartition(".")[2] for ref in auto_map_references(auto_map)}
    if code_scan:
        own |= {c["name"] for c in (code_scan.get("config_classes") or []) + (code_scan.get("model_classes") or [])}
    unknown = [a for a in architectures if a not in own and a not in _transformers_names()]
    return [
        f"config.json: architectures names {name}, which the installed transformers {installed} does not define and the "
        "checkpoint's code does not provide: nothing can build it, and the advice below cannot rely on it"
        for name in unknown
    ]


def _empty_report(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "config_file": None,
        "model_type": None,
        "architectures": [],
        "config_class": None,
        "config_class_module": None,
        "transformers_version": None,
        "installed_transformers_version": None,
        "fields": [],
        "derived": {},
        "auto_classes": {},
        "resolution": [],
        "tasks": [],
        "needs_remote_code": False,
        "remote_code_files": [],
        "remote_code": {"state": "not-needed", "files": [], "auto_map": {}},
        "other_files": [],
        "chat_templates": [],
        "problems": [],
        "warnings": [],
        "config": None,
        "config_text": None,
        "python": "",
        "load_hint": "",
        "has_tokenizer": False,
        "code_scan": None,
        "suggested_model_type": None,
    }


def config_report_job(path: str, cancel: CancelToken | None = None, store: ConsentStore | None = None) -> Job[dict]:
    """Build the Config tab's data for one checkpoint folder; yields Progress, returns the report dict."""
    cancel = cancel or CancelToken()
    store = store or default_store()
    path = os.fspath(path)
    report = _empty_report(path)
    problems: list[str] = report["problems"]
    warnings: list[str] = report["warnings"]
    if not os.path.isdir(path):
        problems.append(f"{path} is not a folder")
        return report
    # First import of the stack goes through the shared lock: two workers importing torch at once crash it.
    from explorer.core.torch_import import import_transformers

    import_transformers()
    files = _checkpoint_files(path)
    report["has_tokenizer"] = any(n in files for n in TOKENIZER_FILES)

    raw: dict | None = None
    if "config.json" not in files:
        if "adapter_config.json" in files:
            problems.append("no config.json: this is a PEFT adapter; its base model (see adapter_config.json) holds the model config")
        else:
            problems.append("no config.json: the Auto classes cannot resolve this checkpoint (weights only?)")
    else:
        report["config_file"] = files["config.json"]
        try:
            # As the scan and transformers read it: UTF-8 without a byte-order mark, bounded, never blocking.
            raw = read_config_file(files["config.json"])
        except (OSError, ValueError) as exc:
            problems.append(str(exc) if str(exc).startswith("config.json") else f"config.json cannot be read ({exc})")
        text = _read_text(files["config.json"], MAX_JSON_BYTES)
        report["config_text"] = json.dumps(raw, indent=2, ensure_ascii=False) if raw is not None else text
        if raw is not None:
            problems.extend(number_problems(raw))

    yield Progress(0, 4, "Importing transformers")
    cancel.raise_if_cancelled()
    installed = _installed_version()
    report["installed_transformers_version"] = installed

    auto_map = raw.get("auto_map") if raw is not None and isinstance(raw.get("auto_map"), dict) else {}
    if raw is not None and "auto_map" in raw and not isinstance(raw.get("auto_map"), dict):
        problems.append("config.json: auto_map should be an object mapping Auto classes to 'module.Class'")
    consent = store.status(path, auto_map)
    report["needs_remote_code"] = consent.needs_code
    report["remote_code_files"] = [f.name for f in consent.files]
    report["remote_code"] = {
        **consent.to_json(),
        "auto_map": auto_map,
        "sources": {f.name: _read_text(f.path) for f in consent.files if f.path is not None},
    }
    for name in consent.missing_files:
        problems.append(f"auto_map names {name}, which is not in the checkpoint: its custom code cannot be loaded")
    for ref in consent.upstream_refs:
        warnings.append(f"auto_map → {ref}: code from another repository, not stored here; the explorer cannot show or run it")
    if consent.state == STATE_CHANGED:
        warnings.append(f"the custom code changed since you allowed it ({', '.join(consent.changed_files) or 'upstream references'}); allow it again to run it")

    files_summary = {n: p for n, p in files.items()}
    weights = summarize_safetensors(files_summary)
    problems.extend(weights.problems)

    sections, templates = _other_files(files, problems)
    report["other_files"] = sections
    report["chat_templates"] = templates

    if raw is None:
        report["derived"] = _derive({}, None, weights.num_parameters, weights.dtypes) if weights.num_parameters else {}
        report["tasks"] = []
        return report

    report["config"] = raw
    model_type = raw.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        problems.append(f"config.json: model_type should be a string, found {config_docs.type_label(model_type)}")
        model_type = None
    report["model_type"] = model_type
    architectures = raw.get("architectures")
    if isinstance(architectures, list):
        report["architectures"] = [a for a in architectures if isinstance(a, str) and a]
        if len(report["architectures"]) != len(architectures):
            problems.append("config.json: architectures should list class names; some entries are empty or not text")
    elif architectures is not None:
        problems.append(f"config.json: architectures should be a list of class names, found {config_docs.type_label(architectures)}")
    saved_version = raw.get("transformers_version")
    report["transformers_version"] = saved_version if isinstance(saved_version, str) else None
    if isinstance(saved_version, str) and _is_newer(saved_version, installed):
        warnings.append(
            f"saved with transformers {saved_version}, newer than the installed {installed}: fields or classes it relies on may be missing here"
        )

    yield Progress(1, 4, "Reading the config class")
    cancel.raise_if_cancelled()
    config_cls = _config_class_for(model_type) if model_type else None
    obj = None
    custom_config = isinstance(auto_map.get("AutoConfig"), str)
    if custom_config and consent.state == STATE_GRANTED:
        try:
            obj = load_custom_config(path, store)
            config_cls = type(obj)
        except Exception as exc:  # the checkpoint's own code failed; say so and go on with what we can read
            problems.append(f"the checkpoint's configuration code failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    registration = None
    if not auto_map and any(name.endswith(".py") for name in files):
        # Code beside a config.json that points at none of it: what it defines, read without running it.
        scan = scan_folder(path)
        if scan.found:
            registration = suggested_registration(scan, model_type, [name for name, _ in auto_model_classes()])
            report["code_scan"] = {**scan.to_json(), "registration": registration}
    if model_type and config_cls is None:
        if custom_config:
            state = "you have not allowed its code yet" if consent.state == STATE_NOT_GRANTED else "its code cannot be used"
            warnings.append(f"model_type '{model_type}' is not built into transformers {installed}; the checkpoint brings its own config class, but {state}")
        elif registration is not None:
            problems.append(_unregistered_code_problem(model_type, installed, report["code_scan"], registration))
        else:
            problems.append(
                f"model_type '{model_type}' is unknown to the installed transformers {installed} and the checkpoint has no auto_map: "
                "loading will fail (a newer transformers may know it)"
            )
    elif model_type is None and "model_type" not in raw:
        problems.append(_missing_model_type_problem(report, installed))
    report["config_class"] = config_cls.__name__ if config_cls is not None else None
    report["config_class_module"] = config_cls.__module__ if config_cls is not None else None
    # Without model_type nothing resolves, but the class the architectures point at still explains the fields.
    docs_cls = config_cls
    if docs_cls is None and report.get("suggested_model_type"):
        docs_cls = _config_class_for(report["suggested_model_type"])

    construction_error = None
    if config_cls is not None and obj is None:
        try:
            # What from_dict does without kwargs, minus its info log whose f-string serialises the
            # whole config on every call (half the cost of loading it).
            obj = config_cls(**dict(raw))
        except Exception as exc:  # wrong field types, invalid combinations: transformers would fail the same way
            lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
            construction_error = " ".join(lines[:2]) if lines else type(exc).__name__

    yield Progress(2, 4, "Explaining fields")
    cancel.raise_if_cancelled()
    if config_cls is not None:
        info = config_docs.class_info(config_cls)
        if info.defaults_error:
            report["defaults_note"] = info.defaults_error
    # A config the strict dataclass accepted has every declared field of the right type; check field
    # by field only to say which ones are wrong when it refused.
    problems_before = len(problems)
    report["fields"] = _build_fields(raw, docs_cls, problems, check_types=obj is None and config_cls is not None)
    report["fields"] += _default_fields(raw, type(obj) if obj is not None else docs_cls)
    if construction_error is not None:
        if len(problems) > problems_before:
            problems.insert(problems_before, "transformers refuses this config.json (AutoConfig.from_pretrained fails) because of the field types below")
        else:
            problems.append(f"transformers cannot build {config_cls.__name__} from this config.json: {construction_error}")
    report["derived"] = _derive(raw, obj, weights.num_parameters, weights.dtypes)

    yield Progress(3, 4, "Resolving Auto classes")
    cancel.raise_if_cancelled()
    rows = _resolution(raw, config_cls, consent.state, set(consent.missing_files))
    report["resolution"] = rows
    report["auto_classes"] = {row["auto_class"]: row["resolves_to"] for row in rows}
    report["saved_head"] = report["architectures"][0] if report["architectures"] else None
    report["tasks"] = offered_tasks(raw, report["has_tokenizer"], report["auto_classes"])
    report["load_hint"] = _load_hint(rows, report["architectures"], consent.needs_code)
    report["python"] = _python_snippet(path, rows, report["architectures"], consent.state == STATE_GRANTED, consent.needs_code)
    if registration is not None and config_cls is None:
        report["load_hint"] = _registration_hint(registration)
        report["python"] = _registration_snippet(path, registration, report["architectures"])
    elif report.get("suggested_model_type") and config_cls is None:
        _explain_missing_model_type(report, rows, path)
    problems.extend(_unknown_architectures(report["architectures"], auto_map, report.get("code_scan"), installed))
    yield Progress(4, 4, "Done")
    return report


def build_config_report(path: str, store: ConsentStore | None = None) -> dict:
    return run_to_end(config_report_job(path, store=store))


def inspect_config(path: str, check_weights: bool = True) -> dict:
    """The Config facts for ``model-explorer inspect --json`` (never runs code without consent).

    With ``check_weights``, each Auto class is checked against the weights on disk (meta device,
    nothing loaded) so the notes and the load hint say exactly what loads.
    """
    report = build_config_report(path)
    if check_weights:
        report = _with_checked_weights(path, report)
    report = dict(report)
    # Source text of custom code is for the window's viewer; the command line lists files only.
    report["remote_code"] = {k: v for k, v in report["remote_code"].items() if k != "sources"}
    report.pop("config_text", None)
    return report


def _with_checked_weights(path: str, report: dict) -> dict:
    from explorer.core.head_survey import survey_heads_now
    from explorer.core.skeleton import SkeletonError

    autos = [row["auto_class"] for row in report.get("resolution") or [] if row.get("resolves_to")]
    if not autos:
        return report
    try:
        checks = survey_heads_now(path, autos)
    except SkeletonError as exc:
        # Nothing was checked: say so where the notes would otherwise read as facts about the weights.
        note = f"weights not checked: {exc}"
        resolution = [{**row, "note": f"{row['note']} ({note})" if row.get("note") else note} for row in report.get("resolution") or []]
        return {**report, "resolution": resolution, "weights_checked": False, "weights_note": str(exc)}
    report = apply_head_checks(report, {name: check.to_json() for name, check in checks.items()})
    report["weights_checked"] = True
    return report


# --------------------------------------------------------------------------- documentation of an Auto class row

# Paragraphs every transformers model docstring repeats; they say nothing about the class.
_BOILERPLATE_STARTS = ("This model inherits from", "This model is also a PyTorch", "This class cannot be instantiated")
_DOC_SECTIONS = re.compile(r"^\s*(Parameters|Args|Arguments|Attributes|Examples?|Returns?)\s*:\s*$")


def _plain_doc(text: str) -> str:
    """transformers' doc markup as plain text: [`~Foo.bar`] -> bar, [`Foo`] -> Foo, [text](url) -> text."""
    text = re.sub(r"\[`~?([\w.]+)`\]", lambda m: m.group(1).rsplit(".", 1)[-1] if m.group(0).startswith("[`~") else m.group(1), text)
    text = re.sub(r"\[([^\]]+)\]\((?:https?://)[^)]*\)", r"\1", text)
    return text


def doc_paragraphs(doc: str | None, limit: int = 3) -> list[str]:
    """The first descriptive paragraphs of a docstring, before its Parameters/Args/Examples sections."""
    if not doc:
        return []
    paragraphs: list[str] = []
    current: list[str] = []
    for line in doc.expandtabs(4).splitlines():
        if _DOC_SECTIONS.match(line):
            break
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    kept = [_plain_doc(p) for p in paragraphs if not p.startswith(_BOILERPLATE_STARTS)]
    return kept[:limit]


def auto_class_doc(path: str, auto_class: str, class_name: str | None, source: str | None) -> dict:
    """What an Auto class is for and the docstring of the class it builds here (``help(...)`` in the tutorials).

    Built-in classes are imported from the installed transformers (call this in a worker); a class from
    the checkpoint's own code is read from its source with ``ast``, never imported.
    """
    from explorer.core.torch_import import import_transformers

    import_transformers()
    from transformers.models.auto import modeling_auto

    auto = getattr(modeling_auto, auto_class, None)
    purpose = doc_paragraphs(getattr(auto, "__doc__", None), limit=1)
    result = {
        "auto_class": auto_class,
        "head": head_description(auto_class),
        "purpose": purpose[0] if purpose else "",
        "class_name": class_name,
        "class_doc": [],
        "doc_source": None,
        "problem": None,
    }
    if not class_name:
        return result
    if source == "auto_map":
        from explorer.core.code_scan import find_class

        scanned = find_class(path, class_name)
        if scanned is not None:
            result["class_doc"] = doc_paragraphs(scanned.docstring)
            result["doc_source"] = f"{scanned.file} (read, not run)"
        else:
            result["problem"] = f"{class_name} is not defined in the checkpoint's top-level .py files"
        return result
    import transformers

    try:
        cls = getattr(transformers, class_name)
    except Exception as exc:  # a model module whose optional dependency is missing
        result["problem"] = f"{class_name} cannot be imported: {type(exc).__name__}: {exc}"
        return result
    result["class_doc"] = doc_paragraphs(cls.__doc__)
    result["doc_source"] = f"{cls.__module__}.{cls.__name__}"
    return result


def auto_class_doc_job(path: str, auto_class: str, class_name: str | None, source: str | None, cancel: CancelToken | None = None) -> Job[dict]:
    cancel = cancel or CancelToken()
    yield Progress(0, 1, f"Reading the documentation of {class_name or auto_class}")
    cancel.raise_if_cancelled()
    return auto_class_doc(path, auto_class, class_name, source)


# --------------------------------------------------------------------------- compare


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def compare_configs(a: dict | None, b: dict | None) -> list[dict]:
    """Rows {name, a, b, status} over both configs' fields (nested values by dotted path).

    status is 'same', 'differs', 'only-a' or 'only-b'. Bookkeeping fields (transformers_version,
    _name_or_path) are compared too: a version gap often explains other differences.
    """
    flat_a = _flatten(a or {})
    flat_b = _flatten(b or {})
    rows = []
    for name in sorted(set(flat_a) | set(flat_b), key=str.lower):
        in_a, in_b = name in flat_a, name in flat_b
        if in_a and in_b:
            status = "same" if flat_a[name] == flat_b[name] else "differs"
        else:
            status = "only-a" if in_a else "only-b"
        rows.append({"name": name, "a": flat_a.get(name), "b": flat_b.get(name), "status": status})
    return rows


def compare_derived(a: dict, b: dict) -> list[dict]:
    """Rows {name, label, a, b, status} over two reports' derived facts."""
    da, db = a.get("derived") or {}, b.get("derived") or {}
    rows = []
    for key in list(da) + [k for k in db if k not in da]:
        fa, fb = da.get(key), db.get(key)
        label = (fa or fb)["label"]
        status = "same" if fa and fb and fa["value"] == fb["value"] else ("differs" if fa and fb else ("only-a" if fa else "only-b"))
        rows.append({"name": key, "label": label, "a": fa["text"] if fa else None, "b": fb["text"] if fb else None, "status": status})
    return rows


def iter_fields(fields: Iterable[dict]) -> Iterable[dict]:
    """Every field record, sub-config fields included, depth first."""
    for record in fields:
        yield record
        yield from iter_fields(record.get("children") or [])


__all__ = [
    "build_config_report",
    "config_report_job",
    "inspect_config",
    "apply_head_checks",
    "exact_load_hint",
    "exact_note",
    "compare_configs",
    "compare_derived",
    "iter_fields",
    "auto_model_classes",
    "head_description",
    "auto_class_doc",
    "auto_class_doc_job",
    "doc_paragraphs",
    "exact_relation",
    "model_types_for_architecture",
    "preferred_row",
]
