"""Which task heads a checkpoint can take, without importing torch or transformers.

Importing transformers' auto-model tables costs over a second (they pull in torch), too
slow for every click in the checkpoint list; ``explorer.core.transformers_tables`` reads them
from the installed package's source instead. Each task's Auto class and the checkpoints it
applies to come from its own declaration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from explorer.core.safe_io import one_line
from explorer.core.transformers_tables import head_classes, known_model_types
from explorer.tasks.base import Sourced, TaskSpec, all_tasks

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


CUSTOM_CODE_NOTE = (
    "This head comes from the checkpoint's own code (auto_map: {target}); it runs only after you allow "
    "that code in the Config tab."
)


def _auto_map_target(auto_map: dict, auto_class: str) -> str | None:
    value = auto_map.get(auto_class)
    if isinstance(value, (list, tuple)):  # tokenizer entries are pairs; model entries are strings
        value = next((v for v in value if v), None)
    return value if isinstance(value, str) and value else None


def task_choices(
    architectures: list[str] | None,
    model_type: str | None,
    label_names: list[str] | None = None,
    auto_map: dict | None = None,
    code_allowed: bool = False,
) -> list[TaskChoice]:
    """Every task with whether the checkpoint suggests it and whether its head can be loaded.

    ``auto_map`` is config.json's (None: not read). For a model type the installed transformers
    does not know, the checkpoint's own code decides: a head is available exactly when auto_map
    names a class for its Auto class. ``code_allowed`` drops the consent note once the user agreed.
    """
    architectures = list(architectures or [])
    saved_heads = {_auto_class_of_architecture(a) for a in architectures}
    is_nli = any(name.lower().startswith("entail") for name in (label_names or []))
    choices = []
    tasks = all_tasks()
    for task in tasks:
        auto_class = task.auto_class
        if auto_class is None:
            choices.append(TaskChoice(task.id, task.title, True, True))
            continue
        classes = head_classes(model_type, auto_class)
        custom_target = _auto_map_target(auto_map, auto_class) if isinstance(auto_map, dict) else None
        custom_note = ""
        if custom_target is not None and not code_allowed and (classes is None or not classes):
            custom_note = CUSTOM_CODE_NOTE.format(target=custom_target)
        if classes is None and isinstance(auto_map, dict):
            available = custom_target is not None  # only the checkpoint's code can build this model type
        else:
            available = classes is None or bool(classes) or custom_target is not None
        present = task.any_head or bool(set(architectures) & set(classes or ())) or auto_class in saved_heads
        suggested = present and not task.any_head and (is_nli or not task.needs_entailment_label)
        warning = ""
        if not available and classes is None:
            warning = (
                f"The installed transformers does not know {model_type} models and the checkpoint's auto_map has no "
                f"{auto_class} entry, so its code provides no such head."
            )
        elif not available:
            warning = f"{model_type} models have no {auto_class} head in the installed transformers."
        elif not present:
            saved = ", ".join(architectures) or "no head recorded"
            warning = (
                f"This checkpoint was saved as {saved}: the {auto_class} head's weights are not in it and will be "
                "newly initialised with random values."
            )
        elif task.needs_entailment_label and not is_nli:
            warning = f"{task.title} needs an NLI classifier whose labels include 'entailment'; this one has none."
        if available and custom_note:
            warning = f"{warning} {custom_note}".strip()
        choices.append(TaskChoice(task.id, task.title, suggested, available, warning))
    # No head of the checkpoint fits a task: suggest the tasks that read the bare model instead.
    needs_model = {task.id for task in tasks if task.auto_class is not None}
    bare = {task.id for task in tasks if task.any_head}
    if not any(c.suggested and c.available for c in choices if c.task_id in needs_model):
        choices = [TaskChoice(c.task_id, c.title, True, c.available, c.warning) if c.task_id in bare and c.available else c for c in choices]
    return choices


# Config values that size saved weights: a different value makes those weights' shapes differ.
SHAPE_KEYS = frozenset(
    {
        "vocab_size", "hidden_size", "n_embd", "d_model", "dim", "embedding_size", "intermediate_size", "hidden_dim",
        "n_inner", "d_ff", "max_position_embeddings", "n_positions", "type_vocab_size", "num_key_value_heads", "head_dim",
    }
)
LABEL_HEAD_CLASSES = ("AutoModelForSequenceClassification", "AutoModelForTokenClassification")


def saved_label_count(config: dict) -> int:
    id2label = config.get("id2label")
    if isinstance(id2label, dict) and id2label:
        return len(id2label)
    value = config.get("num_labels")
    return value if isinstance(value, int) else 2  # transformers' default


def mismatch_warning(config: dict, overrides: dict, auto_class: str | None, architectures: list[str] | None = None) -> str:
    """Why loading ``auto_class`` with these config overrides would meet saved weights of another shape ('' if none).

    from_pretrained then fails unless ignore_mismatched_sizes=True, which starts those weights afresh.
    """
    if not overrides or auto_class is None:
        return ""
    reasons = []
    saved_heads = {_auto_class_of_architecture(a) for a in (architectures if architectures is not None else config.get("architectures") or [])}
    new_count = overrides.get("num_labels")
    if new_count is None and isinstance(overrides.get("id2label"), dict):
        new_count = len(overrides["id2label"])
    if isinstance(new_count, int) and auto_class in LABEL_HEAD_CLASSES and auto_class in saved_heads:
        saved = saved_label_count(config)
        if new_count != saved:
            reasons.append(f"num_labels {new_count} makes a classifier of {new_count} outputs; the saved one has {saved}")
    for key in sorted(SHAPE_KEYS & set(overrides)):
        if key in config and overrides[key] != config[key]:
            reasons.append(f"{key} {overrides[key]!r} differs from the saved {config[key]!r}, which sized the weights")
    if not reasons:
        return ""
    return (
        "; ".join(reasons)
        + ". Those saved weights do not fit: loading fails unless 'Ignore mismatched sizes' is on, which starts them "
        "afresh with random values."
    )


@dataclass(frozen=True)
class CheckpointFacts:
    """What the demo form needs before anything is loaded (read from small JSON files)."""

    label_names: tuple[str, ...] = ()
    mask_token: str | None = None
    has_chat_template: bool = False
    auto_map: dict | None = None  # config.json's auto_map ({} when it has none; None when unreadable)
    config: dict = field(default_factory=dict, compare=False)  # config.json as saved
    chat_template_reads_tools: bool = False  # a template AutoTokenizer loads renders `tools`


def _small_json(path: str, limit: int = 4 * 1024 * 1024) -> dict:
    """A small settings file of the checkpoint, or {} when it is missing, unreadable, a FIFO or not an object."""
    from explorer.core.safe_io import UnreadableFile, read_json

    try:
        value = read_json(path, os.path.basename(path), limit)
    except UnreadableFile:
        return {}
    return value if isinstance(value, dict) else {}


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
    from explorer.core.chat_templates import read_chat_templates

    # What AutoTokenizer loads (chat_template.json is the processor's, additional_chat_templates/ counts).
    templates = read_chat_templates(folder).tokenizer_templates()
    reads_tools = any(source.mentions_tools for source in templates.values())
    auto_map = config.get("auto_map") if isinstance(config.get("auto_map"), dict) else ({} if config else None)
    return CheckpointFacts(labels, mask, bool(templates), auto_map, config, reads_tools)


NO_TOKENIZER = "This checkpoint has no tokenizer files; the demos need one to turn text into ids."


# The model card's pipeline_tag is a Hub task name; our task ids follow those words, so most tags name
# a task directly. These other tags are shown by the task whose head (Auto class) they need.
HUB_TAG_HEADS = {
    "translation": "AutoModelForSeq2SeqLM",
    "summarization": "AutoModelForSeq2SeqLM",
    "conversational": "AutoModelForCausalLM",
    "sentiment-analysis": "AutoModelForSequenceClassification",
    "ner": "AutoModelForTokenClassification",
    "sentence-similarity": "AutoModel",  # sentence embeddings: hidden states pooled
}


def task_for_pipeline_tag(tag: str | None, tasks: list[TaskSpec] | None = None) -> str | None:
    """Our task for a Hub pipeline tag (None for a tag no task of ours shows)."""
    if not tag:
        return None
    tasks = tasks if tasks is not None else all_tasks()
    if any(task.id == tag for task in tasks):
        return tag
    head = HUB_TAG_HEADS.get(tag)
    return next((task.id for task in tasks if head is not None and task.auto_class == head and not task.needs_entailment_label), None)


def card_pipeline_tag(folder: str) -> str | None:
    """The model card's (README.md) pipeline_tag, read by the bounded card reader; None when it has none."""
    from explorer.core.modelcard import read_model_card

    readme = os.path.join(folder, "README.md")
    if not os.path.lexists(readme):
        return None
    card = read_model_card(readme)
    tag = card.front_matter.get("pipeline_tag") if card is not None else None
    return tag.strip() if isinstance(tag, str) and tag.strip() else None


def _saved_head_task(architecture: str, model_type: str | None, choices: list[TaskChoice], tasks: list[TaskSpec]) -> str | None:
    """The task the checkpoint's saved head is for: the first (in the picker's order) it suggests whose Auto class builds it."""
    by_id = {choice.task_id: choice for choice in choices}
    own_class = _auto_class_of_architecture(architecture)
    for task in tasks:
        choice = by_id.get(task.id)
        if task.auto_class is None or task.any_head or choice is None or not (choice.available and choice.suggested):
            continue
        classes = head_classes(model_type, task.auto_class)
        if architecture in (classes or ()) or (not classes and own_class == task.auto_class):
            return task.id
    if own_class == "AutoModel":  # a bare model: the tasks that read hidden states
        return next((t.id for t in tasks if t.any_head and t.id in by_id and by_id[t.id].available), None)
    return None


def first_task(choices: list[TaskChoice], architectures: list[str], model_type: str | None, pipeline_tag: str | None) -> tuple[str | None, str]:
    """The task the Demo tab opens on, and why: the model card's pipeline_tag, else the saved head's task,
    else the first suggested one."""
    available = [c.task_id for c in choices if c.available]
    tasks = all_tasks()
    tagged = task_for_pipeline_tag(pipeline_tag, tasks)
    if tagged in available:
        return tagged, f"the model card's pipeline_tag is {pipeline_tag}"
    for architecture in architectures:
        task_id = _saved_head_task(architecture, model_type, choices, tasks)
        if task_id is not None:
            return task_id, f"the checkpoint was saved as {architecture}"
    suggested = [c.task_id for c in choices if c.available and c.suggested]
    return (suggested or available or [None])[0], ""


def task_defaults(path: str, choices: list[TaskChoice]) -> tuple[dict[str, dict[str, Sourced]], dict[str, str]]:
    """Each offered task's starting values from the checkpoint, and why a task's could not be read.

    A task's reader may import transformers (a job's work). Its failure is that task's warning, never
    the selection's: the form then starts from the task's own defaults. A value its field refuses is
    left out, so the form can trust what it gets.
    """
    defaults: dict[str, dict[str, Sourced]] = {}
    problems: dict[str, str] = {}
    offered = {c.task_id for c in choices if c.available}
    for task in all_tasks():
        if task.checkpoint_defaults is None or task.id not in offered:
            continue
        try:
            read = task.defaults_for(path)
            fields = {f.name: f for f in task.fields}
            usable = {}
            for name, sourced in dict(read).items():
                if name in fields and isinstance(sourced, Sourced):
                    fields[name].convert(sourced.value)
                    usable[name] = sourced
        except Exception as error:  # noqa: BLE001 (a task's reader must not break the selection)
            problems[task.id] = one_line(
                f"The checkpoint's own settings for {task.title} could not be read ({type(error).__name__}: {error}); "
                "the form starts from the app's defaults instead.",
                400,
            )
            continue
        defaults[task.id] = usable
    return defaults, problems


@dataclass(frozen=True)
class DemoOptions:
    """What the Demo tab offers for one checkpoint before anything is loaded."""

    facts: CheckpointFacts
    choices: tuple[TaskChoice, ...]
    warnings: tuple[str, ...]  # about the checkpoint itself, shown with every task
    code_allowed: bool  # the user allowed exactly the checkpoint's code on disk now
    # task id -> field name -> the checkpoint's starting value and its source (tasks with checkpoint_defaults)
    defaults: dict[str, dict[str, Sourced]] = field(default_factory=dict, compare=False)
    first_task: str | None = None  # the task the tab opens on
    first_task_reason: str = ""  # why, in words ("the model card's pipeline_tag is fill-mask"); "" when only suggested
    # task id -> the form's values of the last run of that task on this checkpoint (explorer.core.demo_inputs)
    remembered: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)
    # An adapter's or a GGUF's load target (explorer.tasks.format_loading.LoadTarget); None for a transformers folder.
    target: Any = None


def demo_options(path: str, model_type: str | None, architectures: list[str] | None, needs_remote_code: bool) -> DemoOptions:
    """Facts, task choices, warnings, each task's starting values, the task to open on and the last inputs
    for a checkpoint. Reads its small files and hashes its code files (bounded) for the consent check: a
    job's work, not the GUI thread's."""
    from explorer.core.demo_inputs import remembered_inputs
    from explorer.tasks.session import NEEDS_CONSENT, has_tokenizer_files, remote_code_allowed

    facts = checkpoint_facts(path)
    allowed = remote_code_allowed(path) if needs_remote_code or facts.auto_map else False
    warnings = []
    if not has_tokenizer_files(path):
        warnings.append(NO_TOKENIZER)
    if needs_remote_code and not allowed:
        warnings.append(NEEDS_CONSENT)
    architectures = list(architectures or [])
    choices = task_choices(architectures, model_type, list(facts.label_names), auto_map=facts.auto_map, code_allowed=allowed)
    defaults, problems = task_defaults(path, choices)
    choices = [replace(c, warning=f"{c.warning} {problems[c.task_id]}".strip()) if c.task_id in problems else c for c in choices]
    opened, reason = first_task(choices, architectures, model_type, card_pipeline_tag(path))
    return DemoOptions(facts, tuple(choices), tuple(warnings), allowed, defaults, opened, reason, remembered_inputs(path))


__all__ = [
    "DemoOptions",
    "demo_options",
    "TaskChoice",
    "task_choices",
    "head_classes",
    "known_model_types",
    "mismatch_warning",
    "CheckpointFacts",
    "checkpoint_facts",
    "HUB_TAG_HEADS",
    "task_for_pipeline_tag",
    "card_pipeline_tag",
    "first_task",
    "task_defaults",
]
