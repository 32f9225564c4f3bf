"""What the Demo offers for an adapter or a GGUF model, before anything is loaded.

An adapter offers the tasks of its base model's head that its ``task_type`` names (a CAUSAL_LM
adapter: text generation), plus the tokenizer tasks; a GGUF model the head its architecture loads
as (a causal LM for llama, qwen2, ...) and tokenize. When the model cannot be loaded (the base is
not on this machine, transformers does not load the architecture) every task is shown unavailable
with the reason as its warning, instead of a Load button that would fail.
"""

from __future__ import annotations

from dataclasses import replace

from explorer.core.checkpoint import FORMAT_ADAPTER, Checkpoint
from explorer.tasks.base import KIND_CONVERSATION, TaskSpec, all_tasks, get_task
from explorer.tasks.format_loading import LoadTarget, target_for, task_defaults_for
from explorer.tasks.heads import (
    NO_TOKENIZER,
    CheckpointFacts,
    DemoOptions,
    TaskChoice,
    checkpoint_facts,
    first_task,
    task_choices,
    task_defaults,
)
from explorer.tasks.session import LoadRequest



def _reads_template_files(task: TaskSpec) -> bool:
    """A tokenizer task that renders a conversation reads the folder's chat template files; a GGUF keeps its template
    in its header, and an adapter's own tokenizer is not where the base's files are."""
    return any(f.kind == KIND_CONVERSATION for f in task.inputs)


def _unavailable(reason: str) -> list[TaskChoice]:
    return [TaskChoice(task.id, task.title, False, False, reason) for task in all_tasks()]


def _adapter_options(checkpoint: Checkpoint, target: LoadTarget) -> DemoOptions:
    from explorer.core.demo_inputs import remembered_inputs
    from explorer.tasks.session import NEEDS_CONSENT, has_tokenizer_files, remote_code_allowed

    remembered = remembered_inputs(checkpoint.path)
    if target.blocked or target.path is None:
        return DemoOptions(CheckpointFacts(), tuple(_unavailable(target.blocked)), (), False, remembered=remembered, target=target)
    base = target.path
    facts = checkpoint_facts(base)
    tokenizer_folder = checkpoint.path if has_tokenizer_files(checkpoint.path) else base
    if tokenizer_folder != base:  # the adapter's own tokenizer: its chat template and mask token
        own = checkpoint_facts(tokenizer_folder)
        facts = replace(facts, mask_token=own.mask_token, has_chat_template=own.has_chat_template,
                        chat_template_reads_tools=own.chat_template_reads_tools)
    allowed = remote_code_allowed(base) if target.needs_remote_code or facts.auto_map else False
    warnings = []
    if not has_tokenizer_files(tokenizer_folder):
        warnings.append(NO_TOKENIZER)
    if target.needs_remote_code and not allowed:
        warnings.append(NEEDS_CONSENT)
    architectures = list(target.architectures)
    choices = task_choices(architectures, target.model_type, list(facts.label_names), auto_map=facts.auto_map, code_allowed=allowed)
    if target.auto_class is not None:
        heads = {task.id: task.auto_class for task in all_tasks()}
        choices = [c for c in choices if heads[c.task_id] in (None, target.auto_class)]
    if tokenizer_folder != base:
        tasks = {task.id: task for task in all_tasks()}
        choices = [c for c in choices if not (tasks[c.task_id].auto_class is None and _reads_template_files(tasks[c.task_id]))]
    defaults, problems = task_defaults(base, choices)
    choices = [replace(c, warning=f"{c.warning} {problems[c.task_id]}".strip()) if c.task_id in problems else c for c in choices]
    opened, reason = first_task(choices, architectures, target.model_type, None)
    return DemoOptions(facts, tuple(choices), tuple(warnings), allowed, defaults, opened, reason, remembered, target=target)


def _gguf_options(checkpoint: Checkpoint, target: LoadTarget) -> DemoOptions:
    from explorer.core.demo_inputs import remembered_inputs

    remembered = remembered_inputs(checkpoint.path)
    if target.blocked or target.path is None:
        return DemoOptions(CheckpointFacts(), tuple(_unavailable(target.blocked)), (), False, remembered=remembered, target=target)
    facts = CheckpointFacts(has_chat_template=target.has_chat_template)
    tasks = [
        task for task in all_tasks()
        if (task.auto_class == target.auto_class and not task.needs_entailment_label)
        or (task.auto_class is None and not _reads_template_files(task))
    ]
    choices = [TaskChoice(task.id, task.title, True, True) for task in tasks]
    defaults, problems = task_defaults(target.path, choices)
    request = LoadRequest(target.path, None, gguf_file=target.gguf_file)
    for task in tasks:
        if task.id in defaults:
            try:
                defaults[task.id] = task_defaults_for(task, request)
            except Exception as error:  # noqa: BLE001 (the form then starts from the folder's reading)
                problems[task.id] = f"The GGUF header's settings for {task.title} could not be read: {error}"
    choices = [replace(c, warning=problems[c.task_id]) if c.task_id in problems else c for c in choices]
    opened = next((task.id for task in tasks if task.auto_class is not None), choices[0].task_id if choices else None)
    reason = f"a GGUF {target.model_type} model loads as {target.auto_class}" if opened and get_task(opened).auto_class else ""
    return DemoOptions(facts, tuple(choices), (), False, defaults, opened, reason, remembered, target=target)


def format_demo_options(checkpoint: Checkpoint, checkpoints: list[Checkpoint] | None = None) -> DemoOptions:
    """The Demo's options for an adapter or GGUF checkpoint (a job's work: it reads small files and a GGUF header)."""
    target = target_for(checkpoint, checkpoints)
    assert target is not None, "a transformers checkpoint takes heads.demo_options"
    if checkpoint.format == FORMAT_ADAPTER:
        return _adapter_options(checkpoint, target)
    return _gguf_options(checkpoint, target)


__all__ = ["format_demo_options"]
