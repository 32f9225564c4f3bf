"""Which task demos a checkpoint supports, decided from its config and the Auto classes it resolves.

The tasks themselves are declared a layer above (``explorer.tasks``, one module each), which
core never imports. So this module owns the rule and the tasks layer hands it the tasks:
importing ``explorer.tasks`` calls ``provide_tasks`` with a function that lists them, and the
config report (which lists the demos a checkpoint offers) asks through ``offered_tasks``. A
process that never imported the tasks (a bare core script) offers no demos. No transformers
import: callers pass what they resolved.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Protocol, Sequence

ENTAILMENT_LABEL = "entailment"


class OfferedTask(Protocol):
    """What a task declares about the checkpoints it applies to (``explorer.tasks.base.TaskSpec`` has these)."""

    id: str
    auto_class: str | None  # None: the task needs only the tokenizer
    any_head: bool  # runs on the bare model, whatever head the weights were saved with
    needs_entailment_label: bool  # only for NLI classifiers


_tasks: Callable[[], Sequence[OfferedTask]] | None = None


def provide_tasks(tasks: Callable[[], Sequence[OfferedTask]]) -> None:
    """Called by the tasks layer: ``tasks()`` lists every task, in the picker's order."""
    global _tasks
    _tasks = tasks


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
    tasks: Sequence[OfferedTask] | None = None,
) -> list[str]:
    """Task ids a demo can run for this checkpoint, in the tasks' order (``tasks``: the provided ones).

    ``resolvable_auto_classes`` is either the names of the Auto classes that resolve, or a
    mapping from Auto class name to the class it resolves to (None when it does not). With
    the mapping and a config listing ``architectures``, a task that needs a head is offered
    only when its Auto class builds the head the weights were saved with: BERT resolves
    AutoModelForCausalLM to BertLMHeadModel, but a masked-LM checkpoint has no trained
    causal head, so a text-generation demo would only show noise.
    """
    if tasks is None:
        tasks = _tasks() if _tasks is not None else ()
    if isinstance(resolvable_auto_classes, Mapping):
        resolved = {name: target for name, target in resolvable_auto_classes.items() if target}
    else:
        resolved = {name: None for name in resolvable_auto_classes}
    architectures = config.get("architectures") if isinstance(config, Mapping) else None
    saved_heads = {a for a in architectures if isinstance(a, str)} if isinstance(architectures, list) else set()
    if not has_tokenizer:
        # Every demo here takes text; without a tokenizer none can run.
        return []
    offered: list[str] = []
    for task in tasks:
        if task.auto_class is None:
            offered.append(task.id)
            continue
        if task.auto_class not in resolved:
            continue
        target = resolved[task.auto_class]
        if not task.any_head and saved_heads and target is not None and target not in saved_heads:
            continue
        if task.needs_entailment_label and not has_entailment_label(config):
            continue
        offered.append(task.id)
    return offered


__all__ = ["OfferedTask", "has_entailment_label", "offered_tasks", "provide_tasks"]
