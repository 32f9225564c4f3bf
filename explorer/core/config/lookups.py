"""What the installed transformers knows: config classes by model_type, the Auto classes and their mappings.

Read from transformers' lazy tables without importing model code; transformers itself is
imported at call time only (the window builds reports in a worker thread).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from explorer.core.config.model import ResolutionRow


def installed_version() -> str:
    import transformers

    return transformers.__version__


def is_newer(saved: str, installed: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return False
    try:
        return Version(saved) > Version(installed)
    except (InvalidVersion, TypeError):
        return False


def config_class_for(model_type: str):
    """The built-in config class for a model_type, or None when transformers does not know it."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING, CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        return None
    try:
        return CONFIG_MAPPING[model_type]
    except (KeyError, ImportError, AttributeError):
        return None


def base_config_class():
    from transformers import PreTrainedConfig

    return PreTrainedConfig


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


def mapping_lookup(mapping, config_class_name: str, architectures: list[str]) -> str | None:
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


@functools.lru_cache(maxsize=1)
def transformers_names() -> frozenset[str]:
    """Every name the installed transformers exports, without importing the models behind them."""
    import transformers

    return frozenset(dir(transformers))


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


def preferred_auto_class(auto_classes: list[str]) -> str | None:
    """Of Auto classes that build the same class, the one users write."""
    return min(auto_classes, key=auto_class_rank) if auto_classes else None


def preferred_row(rows: list[ResolutionRow]) -> ResolutionRow | None:
    """Of resolution rows that build the same class, the one whose Auto class users write."""
    return min(rows, key=lambda r: auto_class_rank(r.auto_class)) if rows else None


__all__ = [
    "COMMON_AUTO_CLASSES", "RARE_AUTO_CLASSES", "auto_class_rank", "auto_model_classes", "base_config_class", "config_class_for",
    "head_description", "installed_version", "is_newer", "mapping_lookup", "model_types_for_architecture",
    "preferred_auto_class", "preferred_row", "transformers_names",
]
