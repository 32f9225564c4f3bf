"""adapter_config.json field by field: what each field means (as peft documents it) and the facts derived from them.

peft writes every field of its config class, most of them at their defaults; a user asks about
a handful (type, rank, alpha, targets). ``adapter_fields`` lists those first, then every other
field, each with the explanation peft's documentation gives (LoraConfig, IA3Config, LoHa/LoKr,
AdaLoRA, prompt learning), or none where it documents nothing we know of.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from explorer.core.adapters import AdapterConfig

# Fields a user reads first, in this order (the rest follow alphabetically).
MAIN_FIELDS = (
    "peft_type", "task_type", "base_model_name_or_path", "revision", "r", "lora_alpha", "lora_dropout",
    "target_modules", "modules_to_save", "use_rslora", "use_dora", "bias", "feedforward_modules",
)

EXPLANATIONS: dict[str, str] = {
    "peft_type": "The adapter method: LoRA adds low-rank matrices to chosen layers, IA3 scales their activations "
    "with learned vectors, LoHa/LoKr use Hadamard/Kronecker products, prompt tuning learns virtual tokens.",
    "task_type": "The task the base model was loaded for when the adapter was trained (CAUSAL_LM: AutoModelForCausalLM, "
    "SEQ_CLS: AutoModelForSequenceClassification, SEQ_2_SEQ_LM, TOKEN_CLS, QUESTION_ANS, FEATURE_EXTRACTION: AutoModel). "
    "The adapter's tensor names are those of that model.",
    "base_model_name_or_path": "The model the adapter was trained on and must be loaded on: a hub id or a folder path.",
    "revision": "The revision (branch, tag or commit) of the base model on the hub.",
    "r": "LoRA's rank: each targeted weight W (out × in) gets an update B·A with A of r × in and B of out × r values.",
    "lora_alpha": "LoRA's scaling numerator: the update B·A is multiplied by lora_alpha / r (lora_alpha / √r with use_rslora).",
    "lora_dropout": "Dropout applied to the input of the LoRA matrices while training; no effect at inference.",
    "target_modules": "The modules the adapter is applied to. A list matches every module whose name is an entry or ends "
    "with '.' + entry; a string is a regular expression matched against the whole module name; 'all-linear' means "
    "every linear layer except the output layer.",
    "exclude_modules": "Modules never adapted, even when target_modules matches them (same syntax as target_modules).",
    "modules_to_save": "Modules trained in full and saved with the adapter (e.g. a classification head): they replace "
    "the base's modules of that name when the adapter is loaded.",
    "fan_in_fan_out": "True when the targeted layers store their weight as (fan_in, fan_out), as GPT-2's Conv1D does.",
    "bias": "Which biases were trained and saved: 'none', 'all', or 'lora_only' (those of the adapted layers).",
    "use_rslora": "Rank-stabilised LoRA: the scale is lora_alpha / √r instead of lora_alpha / r.",
    "use_dora": "DoRA: the weight is split into a magnitude (a learned vector) and a direction updated by LoRA.",
    "init_lora_weights": "How the LoRA matrices were initialised: true (B zero, so the adapter starts as a no-op), "
    "false (random), or a method such as 'gaussian', 'pissa', 'olora', 'loftq', 'eva', 'corda'.",
    "layers_to_transform": "Only layers with these indexes are adapted (with layers_pattern naming the layer list).",
    "layers_pattern": "The name of the list of layers layers_to_transform indexes into (e.g. 'layers', 'h').",
    "rank_pattern": "Ranks for modules matching these names or patterns, overriding r.",
    "alpha_pattern": "Alphas for modules matching these names or patterns, overriding lora_alpha.",
    "inference_mode": "Whether the adapter was saved for inference (its weights frozen when loaded).",
    "peft_version": "The version of peft that saved the adapter.",
    "auto_mapping": "For a base that is not a transformers model: the class peft wrapped.",
    "lora_bias": "Whether LoRA's B matrix has a bias of its own.",
    "megatron_config": "Megatron-LM's settings, for adapters on Megatron's parallel layers.",
    "megatron_core": "The Megatron core module used with megatron_config.",
    "loftq_config": "LoftQ settings: the quantisation-aware initialisation of the LoRA matrices.",
    "layer_replication": "Layer ranges repeated to build a deeper model from the base (each copy with its own adapter).",
    "target_parameters": "Parameters (not modules) adapted directly, e.g. the experts' weights of a mixture-of-experts layer.",
    "trainable_token_indices": "Token ids whose embeddings were trained, without training the whole embedding matrix.",
    "ensure_weight_tying": "Keep weights tied in the base (input and output embeddings) tied in the adapter as well.",
    "feedforward_modules": "IA3: modules treated as feed-forward layers: their input is scaled by the learned vector "
    "(for the others, their output).",
    "init_ia3_weights": "IA3: whether the vectors start at ones (the adapter starts as a no-op).",
    "target_r": "AdaLoRA: the average rank the budget is pruned down to.",
    "init_r": "AdaLoRA: the rank every layer starts with.",
    "tinit": "AdaLoRA: steps of warm-up before ranks are pruned.",
    "tfinal": "AdaLoRA: steps at the end trained with the final ranks.",
    "deltaT": "AdaLoRA: steps between two rank allocations.",
    "total_step": "AdaLoRA: the number of training steps the schedule was planned for.",
    "orth_reg_weight": "AdaLoRA: the weight of the orthogonality regulariser.",
    "alpha": "LoHa/LoKr: the scaling numerator (the update is multiplied by alpha / r).",
    "rank_dropout": "LoHa/LoKr: dropout of whole ranks while training.",
    "module_dropout": "LoHa/LoKr: probability of skipping the adapter of a module while training.",
    "decompose_both": "LoKr: whether the left Kronecker factor is decomposed into low-rank matrices too.",
    "decompose_factor": "LoKr: the factor of the Kronecker product's split of the weight's dimensions.",
    "use_effective_conv2d": "LoHa/LoKr: the effective decomposition of convolutions with kernels over 1 × 1.",
    "num_virtual_tokens": "Prompt learning: the number of virtual tokens prepended to the input.",
    "token_dim": "Prompt learning: the size of each virtual token's embedding (the base's hidden size).",
    "num_transformer_submodules": "Prompt learning: 1 for decoder-only models, 2 for encoder-decoder models.",
    "num_attention_heads": "Prompt learning: the base's attention heads.",
    "num_layers": "Prompt learning: the base's layers.",
    "prompt_tuning_init": "Prompt tuning: how the virtual tokens were initialised ('RANDOM' or 'TEXT').",
    "prompt_tuning_init_text": "Prompt tuning: the text whose token embeddings initialised the virtual tokens.",
    "tokenizer_name_or_path": "Prompt tuning: the tokenizer used to read prompt_tuning_init_text.",
    "encoder_hidden_size": "P-tuning: the hidden size of the prompt encoder.",
    "prefix_projection": "Prefix tuning: whether the prefix is produced by a small MLP.",
}

MAX_SHOWN_CHARS = 300


@dataclass(frozen=True, slots=True)
class AdapterField:
    key: str
    value: Any
    shown: str  # the value on one line, shortened
    explanation: str  # "" where we know of no documentation
    main: bool  # one of the fields a user reads first


def shown_value(value: Any, limit: int = MAX_SHOWN_CHARS) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def adapter_fields(config: AdapterConfig) -> list[AdapterField]:
    """Every field of adapter_config.json: the main ones first (those present), the rest alphabetically."""
    raw = config.fields
    keys = [k for k in MAIN_FIELDS if k in raw] + sorted(k for k in raw if k not in MAIN_FIELDS)
    return [AdapterField(k, raw[k], shown_value(raw[k]), EXPLANATIONS.get(k, ""), k in MAIN_FIELDS) for k in keys]


def lora_scale(config: AdapterConfig) -> float | None:
    """The factor LoRA's update is multiplied by: alpha / r, or alpha / √r with rank-stabilised LoRA."""
    alpha = config.lora_alpha if config.lora_alpha is not None else _number(config.fields.get("alpha"))
    if alpha is None or not config.r or config.r <= 0:
        return None
    rslora = config.fields.get("use_rslora") is True
    return alpha / math.sqrt(config.r) if rslora else alpha / config.r


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def targets_text(config: AdapterConfig) -> str:
    target = config.target_modules
    if target is None:
        return "—"
    if isinstance(target, str):
        return "every linear layer (all-linear)" if target.lower() == "all-linear" else f"regular expression {target}"
    return ", ".join(target) if target else "none"


__all__ = ["AdapterField", "EXPLANATIONS", "MAIN_FIELDS", "adapter_fields", "lora_scale", "shown_value", "targets_text"]
