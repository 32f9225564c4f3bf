"""What a GGUF model's header says, explained: metadata as named fields, tensors per type, a memory plan.

A GGUF file has no config.json: its metadata is the config, under llama.cpp's key names
(``llama.context_length``, ``llama.attention.head_count_kv``...). The Config and Parameters tabs
show those keys with what they mean and, where transformers reads the key when it loads the file
(``from_pretrained(..., gguf_file=...)``), the config field it becomes. The memory plan counts the
bytes each quantisation type really takes, not parameters times a dtype size.

Qt-free; transformers is imported only by ``transformers_config_names`` (call it from a worker).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from explorer.core.checkpoint import Checkpoint
from explorer.core.gguf_file import GgufModel, GgufTensor, read_gguf_split
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.memory_plan import DeviceMemory, MemoryPlan, available_devices, kv_cache_bytes, plan_memory
from explorer.core.safe_io import UnreadableFile

GROUP_MODEL = "Model"
GROUP_ATTENTION = "Attention"
GROUP_ROPE = "RoPE"
GROUP_TOKENIZER = "Tokenizer"
GROUP_FILE = "File and quantisation"
GROUP_MORE = "More"
GROUPS = (GROUP_MODEL, GROUP_ATTENTION, GROUP_ROPE, GROUP_TOKENIZER, GROUP_FILE, GROUP_MORE)

# Keys under "{architecture}.": (label, group, what it means). Order is the order shown.
_ARCH_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("context_length", "Context length", GROUP_MODEL, "Tokens the model was trained to attend to; runtimes set their context window to this or less."),
    ("embedding_length", "Embedding length", GROUP_MODEL, "Width of the hidden states (the hidden size)."),
    ("block_count", "Layers", GROUP_MODEL, "Transformer blocks: the tensors blk.0 to blk.N-1."),
    ("feed_forward_length", "Feed-forward length", GROUP_MODEL, "Inner width of each block's MLP."),
    ("vocab_size", "Vocabulary size", GROUP_MODEL, "Rows of the token embedding: tokens the model knows."),
    ("expert_count", "Experts", GROUP_MODEL, "Mixture of experts: feed-forward experts per layer."),
    ("expert_used_count", "Experts used per token", GROUP_MODEL, "Mixture of experts: experts the router picks for each token."),
    ("attention.head_count", "Attention heads", GROUP_ATTENTION, "Query heads per layer."),
    ("attention.head_count_kv", "KV heads", GROUP_ATTENTION,
     "Key/value heads per layer; fewer than the query heads is grouped-query attention, which shrinks the KV cache."),
    ("attention.key_length", "Key head dim", GROUP_ATTENTION, "Width of each key head."),
    ("attention.value_length", "Value head dim", GROUP_ATTENTION, "Width of each value head."),
    ("attention.layer_norm_rms_epsilon", "RMS norm epsilon", GROUP_ATTENTION, "Added to the variance in each RMSNorm, so it never divides by zero."),
    ("attention.layer_norm_epsilon", "Layer norm epsilon", GROUP_ATTENTION, "Added to the variance in each LayerNorm, so it never divides by zero."),
    ("attention.sliding_window", "Sliding window", GROUP_ATTENTION, "Tokens a sliding-window layer attends to."),
    ("attention.causal", "Causal attention", GROUP_ATTENTION, "Whether a token sees only the tokens before it (false: an encoder, which keeps no KV cache)."),
    ("rope.freq_base", "RoPE frequency base", GROUP_ROPE, "Base of the rotary position frequencies (theta); larger bases suit longer contexts."),
    ("rope.dimension_count", "RoPE dimensions", GROUP_ROPE, "Dimensions of each head that are rotated by position."),
    ("rope.scaling.type", "RoPE scaling type", GROUP_ROPE, "How positions are stretched past the trained context (linear, yarn...)."),
    ("rope.scaling.factor", "RoPE scaling factor", GROUP_ROPE, "How far positions are stretched."),
    ("rope.scaling.original_context_length", "RoPE original context", GROUP_ROPE, "The context length before scaling."),
)

# Whole keys outside the architecture's prefix.
_OTHER_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("general.architecture", "Architecture", GROUP_MODEL, "The llama.cpp architecture: which graph runs the tensors, and the prefix of the model's keys."),
    ("general.name", "Name", GROUP_MODEL, "The model's name as the converter wrote it."),
    ("general.size_label", "Size label", GROUP_MODEL, "The size as its makers label it (8B, 8x7B...)."),
    ("tokenizer.ggml.model", "Tokenizer model", GROUP_TOKENIZER, "Tokenizer kind: llama (SentencePiece), gpt2 (byte-level BPE), bert (WordPiece)..."),
    ("tokenizer.ggml.pre", "Pre-tokenizer", GROUP_TOKENIZER, "How text is split before BPE (llama-bpe, qwen2...)."),
    ("tokenizer.ggml.tokens", "Tokens", GROUP_TOKENIZER, "The vocabulary, one string per token id."),
    ("tokenizer.ggml.bos_token_id", "BOS token", GROUP_TOKENIZER, "Beginning-of-sequence token, put before a prompt when add_bos_token is on."),
    ("tokenizer.ggml.eos_token_id", "EOS token", GROUP_TOKENIZER, "End-of-sequence token: generation stops when the model produces it."),
    ("tokenizer.ggml.unknown_token_id", "Unknown token", GROUP_TOKENIZER, "Stands for text the vocabulary cannot spell."),
    ("tokenizer.ggml.padding_token_id", "Padding token", GROUP_TOKENIZER, "Fills the short sequences of a batch."),
    ("tokenizer.ggml.add_bos_token", "Add BOS", GROUP_TOKENIZER, "Whether the BOS token is put before every prompt."),
    ("tokenizer.ggml.add_eos_token", "Add EOS", GROUP_TOKENIZER, "Whether the EOS token is put after every prompt."),
    ("tokenizer.chat_template", "Chat template", GROUP_TOKENIZER, "Jinja template turning a conversation into the prompt text the model was tuned on."),
    ("general.file_type", "File type", GROUP_FILE, "The quantisation the file was made with as a whole (its tensors can still differ)."),
    ("general.quantization_version", "Quantisation version", GROUP_FILE, "Version of ggml's quantised block layouts."),
    ("general.alignment", "Alignment", GROUP_FILE, "Tensor data starts at multiples of this many bytes."),
    ("split.count", "Split parts", GROUP_FILE, "Files the model is split into (gguf-split)."),
)

# The token ids shown with their token text.
_TOKEN_ID_KEYS = frozenset(k for k, *_ in _OTHER_KEYS if k.endswith("_token_id"))
BLOCK_NAME = re.compile(r"^(blk\.\d+)\.")
# llama.cpp's KV cache defaults to 16-bit keys and values (--cache-type-k/-v f16), whatever the weights.
STORED_KV_BYTES = 2.0
DEQUANTISED = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class GgufField:
    key: str  # the GGUF key, or how a derived value was found ("len(tokenizer.ggml.tokens)")
    label: str
    group: str
    value: Any  # as the reader gives it (long arrays summarised)
    shown: str
    explanation: str
    transformers_field: str | None = None  # the config (or tokenizer) field transformers sets from it
    derived: bool = False


@dataclass(frozen=True)
class TypeTotal:
    type_name: str
    tensors: int
    parameters: int
    nbytes: int | None  # None for a type the installed gguf does not know

    @property
    def bits_per_weight(self) -> float | None:
        return None if self.nbytes is None or not self.parameters else self.nbytes * 8 / self.parameters


@dataclass(frozen=True)
class AttentionShape:
    """What sizes the KV cache: per layer, kv_heads keys and values of head_dim each."""

    layers: int
    kv_heads: int
    head_dim: int
    grouped: bool  # KV heads fewer than query heads


@dataclass
class GgufFacts:
    architecture: str | None
    name: str | None
    fields: list[GgufField]
    metadata: dict[str, Any]
    tensors: list[GgufTensor]
    by_type: list[TypeTotal]  # most bytes first
    num_parameters: int
    stored_bytes: int | None  # None when a tensor's type is unknown
    known_bytes: int  # the bytes of the tensors whose type is known
    unknown_parameters: int
    file_size: int
    files: list[str]
    context_length: int | None
    attention: AttentionShape | None
    chat_template: str | None
    transformers_loads: bool | None = None  # None: not asked (transformers_config_names not given)

    def field(self, key: str) -> GgufField | None:
        return next((f for f in self.fields if f.key == key), None)


@dataclass
class GgufMemoryPlan:
    context_length: int
    batch_size: int
    attention: AttentionShape | None
    # "stored" first when every type's size is known, then the dequantised dtypes; shown by MemoryPanel.
    plans: list[MemoryPlan] = field(default_factory=list)
    unknown_parameters: int = 0


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        # Per-layer counts (OpenELM, LFM2): the largest sizes the cache as an upper bound.
        return max(value)
    return None


def _text(value: Any, limit: int = 200) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        lines = value.splitlines() or [""]
        first = lines[0] if len(lines[0]) <= limit else lines[0][: limit - 1] + "…"
        return repr(first)[1:-1] + (f" … ({len(lines):,} lines, {len(value):,} characters)" if len(lines) > 1 or first != lines[0] else "")
    if isinstance(value, dict) and "array_of" in value and "length" in value:
        items = ", ".join(_text(item, 40) for item in value.get("first", []))
        return f"[{items}, …] ({value['length']:,} {value['array_of']} items)"
    if isinstance(value, list):
        return "[" + ", ".join(_text(item, 40) for item in value) + "]"
    return str(value)


def shown_value(value: Any) -> str:
    """A metadata value on one line: long strings cut, long arrays as their first items and length."""
    return _text(value)


def array_length(value: Any) -> int | None:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and isinstance(value.get("length"), int):
        return value["length"]
    return None


def file_type_name(value: Any) -> str:
    from gguf.constants import LlamaFileType

    try:
        return f"{LlamaFileType(value).name} ({value})"
    except (ValueError, TypeError):
        return f"unknown file type {value}"


def _token_text(metadata: dict[str, Any], token_id: Any) -> str:
    tokens = metadata.get("tokenizer.ggml.tokens")
    kept = tokens if isinstance(tokens, list) else tokens.get("first", []) if isinstance(tokens, dict) else []
    if isinstance(token_id, int) and not isinstance(token_id, bool) and 0 <= token_id < len(kept):
        return f"{token_id} ({_text(kept[token_id], 40)})"
    return _text(token_id)


def transformers_config_names(architecture: str | None, name: str | None = None) -> tuple[dict[str, str], bool]:
    """({GGUF key: transformers field}, whether transformers loads the architecture) from the
    installed transformers' own tables. Imports transformers: call it from a worker."""
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING
    from transformers.integrations.gguf import GGUF_TOKENIZER_MAPPING

    names: dict[str, str] = {}
    for section in GGUF_TOKENIZER_MAPPING.values():
        for suffix, target in section.get("tokenizer", {}).items():
            names[f"tokenizer.{suffix}"] = target
        for suffix, target in section.items():
            if isinstance(target, str):
                names[f"tokenizer.{suffix}"] = target
    for suffix, target in GGUF_CONFIG_MAPPING.get("general", {}).items():
        names[f"general.{suffix}"] = target
    if not architecture:
        return names, False
    # transformers' loader reads some llama.cpp names as its own model types (load_gguf_checkpoint).
    table_name = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "minimax-m2": "minimax_m2"}.get(architecture, architecture)
    if architecture == "llama" and name and "mistral" in name.lower():
        table_name = "mistral"
    table = GGUF_CONFIG_MAPPING.get(table_name)
    loads = table is not None
    try:
        from transformers.integrations.gguf import GGUF_CONFIG_ARCHS

        loads = loads or architecture in GGUF_CONFIG_ARCHS
    except ImportError:
        pass
    for suffix, target in (table or {}).items():
        if isinstance(target, str):
            names[f"{architecture}.{suffix}"] = target
    return names, loads


def _field(key, label, group, explanation, metadata, mapping) -> GgufField:
    value = metadata[key]
    if key == "general.file_type":
        shown = file_type_name(value)
    elif key in _TOKEN_ID_KEYS:
        shown = _token_text(metadata, value)
    elif key == "tokenizer.ggml.tokens":
        shown = f"{array_length(value) or 0:,} tokens: {_text(value)}"
    else:
        shown = _text(value)
    return GgufField(key, label, group, value, shown, explanation, mapping.get(key))


def _attention(metadata: dict[str, Any], prefix: str) -> tuple[AttentionShape | None, list[GgufField]]:
    """The KV cache's sizes, and the head dim worked out from the widths when no key states it."""
    layers = _int(metadata.get(f"{prefix}block_count"))
    heads = _int(metadata.get(f"{prefix}attention.head_count"))
    kv_heads = _int(metadata.get(f"{prefix}attention.head_count_kv")) or heads
    head_dim = _int(metadata.get(f"{prefix}attention.key_length"))
    derived = []
    if head_dim is None:
        width = _int(metadata.get(f"{prefix}embedding_length"))
        if width and heads:
            head_dim = width // heads
            derived.append(GgufField(
                f"{prefix}embedding_length / {prefix}attention.head_count", "Head dim", GROUP_ATTENTION, head_dim, str(head_dim),
                "Width of each attention head: the file states no key_length, so llama.cpp divides the width by the heads.",
                derived=True,
            ))
    if not (layers and kv_heads and head_dim) or metadata.get(f"{prefix}attention.causal") is False:
        # Non-causal models (BERT-style embedders) keep no KV cache between tokens.
        return None, derived
    return AttentionShape(layers, kv_heads, head_dim, bool(heads and kv_heads < heads)), derived


def gguf_facts(model: GgufModel, config_names: tuple[dict[str, str], bool] | None = None) -> GgufFacts:
    """The model's facts; ``config_names`` is ``transformers_config_names(...)`` when the caller has it."""
    metadata = model.metadata
    mapping, loads = config_names if config_names is not None else ({}, None)
    architecture = model.architecture
    prefix = f"{architecture}." if architecture else "\0"
    fields: list[GgufField] = []
    explained: set[str] = set()
    for suffix, label, group, explanation in _ARCH_KEYS:
        key = prefix + suffix
        if key in metadata:
            fields.append(_field(key, label, group, explanation, metadata, mapping))
            explained.add(key)
    if architecture and f"{prefix}vocab_size" not in metadata:
        length = array_length(metadata.get("tokenizer.ggml.tokens"))
        if length is not None:
            fields.append(GgufField(
                "len(tokenizer.ggml.tokens)", "Vocabulary size", GROUP_MODEL, length, f"{length:,}",
                "Tokens the model knows: the file states no vocab_size, so the token list's length stands for it.",
                mapping.get("tokenizer.ggml.tokens") and "vocab_size", derived=True,
            ))
    attention, derived = _attention(metadata, prefix)
    fields.extend(derived)
    for key, label, group, explanation in _OTHER_KEYS:
        if key in metadata:
            fields.append(_field(key, label, group, explanation, metadata, mapping))
            explained.add(key)
    for key in metadata:
        if key not in explained:
            fields.append(_field(key, key, GROUP_MORE, "", metadata, mapping))
    fields.sort(key=lambda f: GROUPS.index(f.group))  # stable: the order above within a group

    totals: dict[str, list] = {}
    for tensor in model.tensors:
        entry = totals.setdefault(tensor.type_name, [0, 0, 0])
        entry[0] += 1
        entry[1] += tensor.numel
    by_type = [
        TypeTotal(type_name, count, params, model.bytes_by_type.get(type_name))
        for type_name, (count, params, _) in totals.items()
    ]
    by_type.sort(key=lambda t: (t.nbytes is None, -(t.nbytes or 0), t.type_name))
    known = sum(t.nbytes for t in by_type if t.nbytes is not None)
    unknown = sum(t.parameters for t in by_type if t.nbytes is None)
    template = metadata.get("tokenizer.chat_template")
    return GgufFacts(
        architecture=architecture,
        name=model.name,
        fields=fields,
        metadata=metadata,
        tensors=list(model.tensors),
        by_type=by_type,
        num_parameters=model.num_parameters,
        stored_bytes=None if unknown else known,
        known_bytes=known,
        unknown_parameters=unknown,
        file_size=model.file_size,
        files=list(model.files),
        context_length=_int(metadata.get(f"{prefix}context_length")),
        attention=attention,
        chat_template=template if isinstance(template, str) else None,
        transformers_loads=loads,
    )


def read_gguf_facts(path: str | os.PathLike, with_transformers: bool = True) -> GgufFacts:
    """Read the model (any part of a split one) and explain it; UnreadableFile with a one-line message."""
    model = read_gguf_split(path)
    names = None
    if with_transformers:
        try:
            names = transformers_config_names(model.architecture, model.name)
        except ImportError:
            names = None
    return gguf_facts(model, names)


def model_path(checkpoint: Checkpoint) -> str | None:
    """The file to read for a GGUF checkpoint: its first part (an Ollama manifest names its blob)."""
    parts = checkpoint.gguf_parts()
    if parts:
        return parts[0]
    return checkpoint.path if checkpoint.path.lower().endswith(".gguf") else None


def facts_job(checkpoint: Checkpoint, cancel: CancelToken) -> Job[GgufFacts]:
    """The facts of a GGUF checkpoint, as a job for the tabs (transformers' tables take ~0.5 s to import)."""
    yield Progress(0, 1, "reading the GGUF header")
    path = model_path(checkpoint)
    if path is None:
        raise UnreadableFile(f"{checkpoint.id} has no .gguf file to read")
    cancel.raise_if_cancelled()
    return read_gguf_facts(path)


def block_of(name: str) -> str:
    """The block a tensor belongs to ("blk.3"), or "" for the tensors outside the blocks."""
    match = BLOCK_NAME.match(name)
    return match.group(1) if match else ""


def _plan(label: str, weights: int, kv: int | None, devices: list[DeviceMemory], disk_free: int | None) -> MemoryPlan:
    # memory_plan's verdicts for weights and cache together; its own KV arithmetic assumes
    # transformers' compute dtype, which llama.cpp's 16-bit cache of quantised weights is not.
    whole = plan_memory(0, weights + (kv or 0), {}, "stored", devices=devices, disk_free=disk_free)
    return MemoryPlan(precision=label, weight_bytes=weights, kv_cache_bytes=kv, needed=whole.needed,
                      by_precision={label: weights}, verdicts=whole.verdicts)


def plan_gguf_memory(
    facts: GgufFacts,
    context_length: int,
    batch_size: int = 1,
    devices: list[DeviceMemory] | None = None,
    disk_free: int | None = None,
) -> GgufMemoryPlan:
    """As stored (the quantised bytes llama.cpp-style runtimes map, 16-bit KV cache), then dequantised
    as transformers loads a GGUF (every weight in float32, float16 or bfloat16, the cache in that dtype).
    ``available_devices`` may import torch: call this from a worker."""
    devices = available_devices() if devices is None else devices
    shape = facts.attention
    config = {} if shape is None else {
        "num_hidden_layers": shape.layers, "num_key_value_heads": shape.kv_heads, "head_dim": shape.head_dim,
    }

    def kv(bytes_per_value: float) -> int | None:
        return kv_cache_bytes(config, context_length, batch_size, bytes_per_value) if config else None

    plans = []
    if facts.stored_bytes is not None:
        plans.append(_plan("stored", facts.stored_bytes, kv(STORED_KV_BYTES), devices, disk_free))
    for dtype, size in DEQUANTISED.items():
        plans.append(_plan(f"{dtype} (dequantised)", facts.num_parameters * size, kv(size), devices, disk_free))
    return GgufMemoryPlan(context_length, batch_size, shape, plans, facts.unknown_parameters)


__all__ = [
    "AttentionShape", "GgufFacts", "GgufField", "GgufMemoryPlan", "TypeTotal", "block_of", "facts_job", "file_type_name", "gguf_facts",
    "model_path", "plan_gguf_memory", "read_gguf_facts", "shown_value", "transformers_config_names",
]
