"""Which task heads a checkpoint can take, without importing torch or transformers.

Importing transformers' auto-model tables costs over a second (they pull in torch), too
slow for every click in the checkpoint list; the tables are read from the source text of
the installed transformers instead. The Auto class of each task comes from its own
declaration (tests check it agrees with ``explorer.core.task_catalog``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from dataclasses import dataclass

from explorer.tasks.base import all_tasks

MAPPING_NAMES = {
    "AutoModel": "MODEL_MAPPING_NAMES",
    "AutoModelForCausalLM": "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
    "AutoModelForMaskedLM": "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
    "AutoModelForSeq2SeqLM": "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "AutoModelForSequenceClassification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "AutoModelForTokenClassification": "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",
    "AutoModelForQuestionAnswering": "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",
}

# Architecture name endings, for model types the installed transformers does not list (custom code).
SUFFIX_AUTO_CLASS = (
    ("ForCausalLM", "AutoModelForCausalLM"),
    ("LMHeadModel", "AutoModelForCausalLM"),
    ("ForMaskedLM", "AutoModelForMaskedLM"),
    ("ForConditionalGeneration", "AutoModelForSeq2SeqLM"),
    ("ForSequenceClassification", "AutoModelForSequenceClassification"),
    ("ForTokenClassification", "AutoModelForTokenClassification"),
    ("ForQuestionAnswering", "AutoModelForQuestionAnswering"),
)


@functools.lru_cache(maxsize=1)
def _auto_tables() -> dict[str, dict[str, tuple[str, ...]]]:
    try:
        spec = importlib.util.find_spec("transformers")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return {}
    source_path = os.path.join(list(spec.submodule_search_locations)[0], "models", "auto", "modeling_auto.py")
    try:
        with open(source_path, encoding="utf-8") as handle:
            source = handle.read()
    except OSError:
        return {}
    tables: dict[str, dict[str, tuple[str, ...]]] = {}
    pair = re.compile(r'\(\s*"([^"]+)"\s*,\s*(\(?[^()]*?\)?)\s*\)')
    for auto_class, variable in MAPPING_NAMES.items():
        match = re.search(rf"^{variable}\s*=\s*OrderedDict\(\s*\[(.*?)^\s*\]\s*\)", source, re.S | re.M)
        if not match:
            continue
        table: dict[str, tuple[str, ...]] = {}
        for model_type, classes in pair.findall(match.group(1)):
            table[model_type] = tuple(re.findall(r'"([A-Za-z0-9_]+)"', classes))
        tables[auto_class] = table
    return tables


def head_classes(model_type: str | None, auto_class: str) -> tuple[str, ...] | None:
    """Model classes ``auto_class`` picks for ``model_type``; () when none; None when unknown."""
    tables = _auto_tables()
    if not tables or model_type is None:
        return None
    table = tables.get(auto_class)
    if table is None:
        return None
    return table.get(model_type, ())


def _auto_class_of_architecture(architecture: str) -> str | None:
    for suffix, auto_class in SUFFIX_AUTO_CLASS:
        if architecture.endswith(suffix):
            return auto_class
    if architecture.endswith("Model"):
        return "AutoModel"
    return None


@dataclass(frozen=True)
class TaskChoice:
    task_id: str
    title: str
    suggested: bool  # the checkpoint was saved with this head
    available: bool  # the model type has this head at all (False: loading will fail)
    warning: str = ""


def task_choices(architectures: list[str] | None, model_type: str | None, label_names: list[str] | None = None) -> list[TaskChoice]:
    """Every task with whether the checkpoint suggests it and whether its head weights are present."""
    architectures = list(architectures or [])
    saved_heads = {_auto_class_of_architecture(a) for a in architectures}
    labels_lower = [name.lower() for name in (label_names or [])]
    is_nli = any(name.startswith("entail") for name in labels_lower)
    choices = []
    for task in all_tasks():
        auto_class = task.auto_class
        if auto_class is None:
            choices.append(TaskChoice(task.id, task.title, True, True))
            continue
        classes = head_classes(model_type, auto_class)
        available = classes is None or bool(classes)
        if classes is None and auto_class not in saved_heads and auto_class != "AutoModel":
            available = True  # unknown model type (custom code): let loading decide
        present = auto_class == "AutoModel" or bool(set(architectures) & set(classes or ())) or auto_class in saved_heads
        suggested = present and auto_class != "AutoModel"
        if task.id == "zero-shot-classification":
            suggested = present and is_nli
        elif task.id == "text-classification" and is_nli:
            suggested = present
        warning = ""
        if not available:
            warning = f"{model_type} models have no {auto_class} head in the installed transformers."
        elif not present:
            saved = ", ".join(architectures) or "no head recorded"
            warning = (
                f"This checkpoint was saved as {saved}: the {auto_class} head's weights are not in it and will be "
                "newly initialised with random values."
            )
        elif task.id == "zero-shot-classification" and not is_nli:
            warning = "Zero-shot needs an NLI classifier whose labels include 'entailment'; this one has none."
        choices.append(TaskChoice(task.id, task.title, suggested, available, warning))
    if not any(c.suggested for c in choices if c.task_id not in ("tokenize",)):
        choices = [
            TaskChoice(c.task_id, c.title, True, c.available, c.warning) if c.task_id == "feature-extraction" else c
            for c in choices
        ]
    return choices





@dataclass(frozen=True)
class CheckpointFacts:
    """What the demo form needs before anything is loaded (read from small JSON files)."""

    label_names: tuple[str, ...] = ()
    mask_token: str | None = None
    has_chat_template: bool = False


def _small_json(path: str, limit: int = 4 * 1024 * 1024) -> dict:
    import json

    try:
        if os.path.getsize(path) > limit:
            return {}
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _token_text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def checkpoint_facts(folder: str) -> CheckpointFacts:
    config = _small_json(os.path.join(folder, "config.json"))
    id2label = config.get("id2label") if isinstance(config.get("id2label"), dict) else {}
    labels = tuple(str(v) for _, v in sorted(id2label.items(), key=lambda kv: int(kv[0]) if str(kv[0]).lstrip("-").isdigit() else 0))
    tokenizer_config = _small_json(os.path.join(folder, "tokenizer_config.json"))
    special = _small_json(os.path.join(folder, "special_tokens_map.json"))
    mask = _token_text(tokenizer_config.get("mask_token")) or _token_text(special.get("mask_token"))
    chat = bool(tokenizer_config.get("chat_template")) or any(
        os.path.isfile(os.path.join(folder, name)) for name in ("chat_template.jinja", "chat_template.json")
    )
    return CheckpointFacts(labels, mask, chat)
__all__ = ["TaskChoice", "task_choices", "head_classes", "CheckpointFacts", "checkpoint_facts"]
