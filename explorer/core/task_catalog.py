"""Which task demos a checkpoint supports, decided from its config and the Auto classes it resolves.

Shared by the Config tab (to list the demos) and the demo engine (to know which Auto class
loads the model for a task). No transformers import: callers pass what they resolved.
"""

from __future__ import annotations

from typing import Iterable, Mapping

# Task id -> the Auto class a demo of that task loads the model with. "tokenize" needs no model.
TASK_AUTO_CLASS: dict[str, str] = {
    "text-generation": "AutoModelForCausalLM",
    "fill-mask": "AutoModelForMaskedLM",
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "text2text-generation": "AutoModelForSeq2SeqLM",
    "zero-shot-classification": "AutoModelForSequenceClassification",
    "feature-extraction": "AutoModel",
}

TOKENIZE_TASK = "tokenize"
TASK_IDS: tuple[str, ...] = (*TASK_AUTO_CLASS, TOKENIZE_TASK)

# Tasks that work whatever head the weights were saved with: they use the bare model.
HEADLESS_TASKS = frozenset({"feature-extraction"})

ENTAILMENT_LABEL = "entailment"


def has_entailment_label(config: Mapping) -> bool:
    """NLI classifiers (what zero-shot classification needs) name one label 'entailment'."""
    id2label = config.get("id2label") if isinstance(config, Mapping) else None
    if not isinstance(id2label, Mapping):
        return False
    return any(isinstance(label, str) and label.lower().startswith(ENTAILMENT_LABEL) for label in id2label.values())


def offered_tasks(
    config: Mapping,
    has_tokenizer: bool,
    resolvable_auto_classes: Iterable[str] | Mapping[str, str | None],
) -> list[str]:
    """Task ids a demo can run for this checkpoint, in TASK_IDS order.

    ``resolvable_auto_classes`` is either the names of the Auto classes that resolve, or a
    mapping from Auto class name to the class it resolves to (None when it does not). With
    the mapping and a config listing ``architectures``, a task that needs a head is offered
    only when its Auto class builds the head the weights were saved with: BERT resolves
    AutoModelForCausalLM to BertLMHeadModel, but a masked-LM checkpoint has no trained
    causal head, so a text-generation demo would only show noise.
    """
    if isinstance(resolvable_auto_classes, Mapping):
        resolved = {name: target for name, target in resolvable_auto_classes.items() if target}
    else:
        resolved = {name: None for name in resolvable_auto_classes}
    architectures = config.get("architectures") if isinstance(config, Mapping) else None
    saved_heads = {a for a in architectures if isinstance(a, str)} if isinstance(architectures, list) else set()
    tasks: list[str] = []
    if not has_tokenizer:
        # Every demo here takes text; without a tokenizer none can run.
        return tasks
    for task, auto_class in TASK_AUTO_CLASS.items():
        if auto_class not in resolved:
            continue
        target = resolved[auto_class]
        if task not in HEADLESS_TASKS and saved_heads and target is not None and target not in saved_heads:
            continue
        if task == "zero-shot-classification" and not has_entailment_label(config):
            continue
        tasks.append(task)
    tasks.append(TOKENIZE_TASK)
    return tasks


__all__ = ["TASK_AUTO_CLASS", "TASK_IDS", "TOKENIZE_TASK", "offered_tasks", "has_entailment_label"]
