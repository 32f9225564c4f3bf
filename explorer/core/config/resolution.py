"""The Auto classes section: which class every Auto class builds here, why, and what it does with the saved head.

Relations here are guessed from class names; ``explorer.core.config.weights`` replaces them
with what the checked weights say.
"""

from __future__ import annotations

from explorer.core.config.lookups import auto_model_classes, config_class_for, head_description, mapping_lookup, model_types_for_architecture, preferred_row
from explorer.core.config.model import (
    RELATION_DIFFERENT_HEAD,
    RELATION_DROPS_HEAD,
    RELATION_NEW_HEAD,
    RELATION_SAME,
    RELATION_UNKNOWN,
    SOURCE_AUTO_MAP,
    SOURCE_MAPPING,
    ConfigReport,
    ResolutionRow,
)
from explorer.core.consent import STATE_CHANGED, STATE_GRANTED, STATE_NOT_GRANTED, module_file_of
from explorer.core.snippets import NotScriptable, python_identifier, python_literal


def string_list(value) -> list[str]:
    return [item for item in value or [] if isinstance(item, str)]


def _row_through_auto_map(row: ResolutionRow, ref: str, local: str | None, config_name: str | None, consent_state: str, missing_code: set[str]) -> None:
    target = ref.rpartition(".")[2]
    file_name = module_file_of(ref)
    where = f"{file_name}" if file_name else f"code from the repository {ref.split('--')[0]}"
    if consent_state == STATE_GRANTED and (file_name is None or file_name not in missing_code):
        row.resolves_to, row.source = target, SOURCE_AUTO_MAP
        row.reason = f"auto_map → {ref} (custom code you allowed, in {where})"
    elif file_name is not None and file_name in missing_code:
        row.reason = f"auto_map → {ref}, but {file_name} is missing from the checkpoint"
        if local:
            row.resolves_to, row.source = local, SOURCE_MAPPING
            row.note = f"without the custom code, transformers uses the built-in {local}"
    elif local:
        row.resolves_to, row.source, row.needs_consent = local, SOURCE_MAPPING, True
        row.reason = f"auto_map → {ref} needs consent; without it transformers uses the built-in mapping for {config_name}"
    else:
        state = "changed since you allowed it" if consent_state == STATE_CHANGED else "not allowed yet"
        row.needs_consent = True
        row.reason = f"auto_map → {ref}: custom code in {where}, {state}"
        row.note = f"would be {target} after you allow the checkpoint's code"


def resolution_rows(raw: dict, config_cls, consent_state: str, missing_code: set[str]) -> list[ResolutionRow]:
    """One row per Auto class of the installed transformers, in its order (AutoModel first)."""
    architectures = string_list(raw.get("architectures"))
    auto_map = raw.get("auto_map") if isinstance(raw.get("auto_map"), dict) else {}
    model_type = raw.get("model_type") if isinstance(raw.get("model_type"), str) else None
    config_name = config_cls.__name__ if config_cls is not None else None
    builtin = config_cls is not None and (config_cls.__module__ or "").startswith("transformers.")
    rows = []
    for auto_name, mapping in auto_model_classes():
        row = ResolutionRow(auto_name, head=head_description(auto_name))
        local = mapping_lookup(mapping, config_name, architectures) if builtin else None
        ref = auto_map.get(auto_name)
        if isinstance(ref, (list, tuple)):
            ref = next((r for r in ref if isinstance(r, str) and r), None)
        if isinstance(ref, str) and ref:
            _row_through_auto_map(row, ref, local, config_name, consent_state, missing_code)
        elif local:
            row.resolves_to, row.source = local, SOURCE_MAPPING
            row.reason = f"{config_name} (model_type '{model_type}') → {local} in the {auto_name} mapping"
        elif config_cls is None:
            row.reason = (
                f"model_type '{model_type}' is unknown to the installed transformers and auto_map has no {auto_name} entry"
                if model_type else "config.json has no model_type"
            )
        elif not builtin:
            row.reason = f"{config_name} comes from the checkpoint's code, and auto_map has no {auto_name} entry"
        else:
            row.reason = f"not supported: transformers has no {row.head} class for {config_name} (model_type '{model_type}')"
        rows.append(row)
    _relate_to_architectures(rows, architectures)
    return rows


def _relate_to_architectures(rows: list[ResolutionRow], architectures: list[str]) -> None:
    """Say plainly what each Auto class does with the head the weights were saved with."""
    if not architectures:
        for row in rows:
            if row.resolves_to:
                row.relation = RELATION_UNKNOWN
                row.note = row.note or "config.json lists no architectures: the saved head is unknown"
        return
    saved = architectures[0]
    base = next((r.resolves_to for r in rows if r.auto_class == "AutoModel"), None)
    saved_is_base = saved == base
    for row in rows:
        target = row.resolves_to
        if not target:
            continue
        if target in architectures:
            row.relation = RELATION_SAME
            # Whether every weight loads is the weights' to say (apply_head_checks); the names only promise this much.
            row.note = row.note or "the class the weights were saved with"
        elif row.source == SOURCE_AUTO_MAP:
            # The checkpoint's own code owes nothing to naming conventions: ChatGLM's AutoModel entry is
            # ChatGLMForConditionalGeneration although architectures says ChatGLMModel, and it loads every weight.
            row.relation = RELATION_UNKNOWN
            row.note = f"{target} comes from the checkpoint's code; the weights were saved as {saved}: what loads is known once the weights are checked"
        elif target == base:
            row.relation = RELATION_DROPS_HEAD
            row.note = f"gives the bare {target}: the {saved} head in the weights is dropped (not loaded)"
        elif saved_is_base:
            row.relation = RELATION_NEW_HEAD
            row.note = f"the checkpoint has only the base model ({saved}): the {row.head} head starts random and needs training"
        else:
            row.relation = RELATION_DIFFERENT_HEAD
            row.note = f"the saved {saved} head is dropped and {target} adds a new, randomly initialised {row.head} head"


def load_hint(rows: list[ResolutionRow], architectures: list[str], needs_consent: bool) -> str:
    """One sentence on which Auto class to use, the point tutorials most often get wrong."""
    if not rows:
        return ""
    preferred = preferred_row([r for r in rows if r.relation == RELATION_SAME])
    base = next((r for r in rows if r.auto_class == "AutoModel"), None)
    parts = []
    if preferred is not None:
        parts.append(f"Load with {preferred.auto_class}: it builds {preferred.resolves_to}, the class the weights were saved with.")
        if base is not None and base is not preferred and base.relation == RELATION_DROPS_HEAD:
            parts.append(f"AutoModel gives the bare {base.resolves_to} and drops the {architectures[0]} head.")
    elif any(r.needs_consent for r in rows) and needs_consent:
        parts.append("The Auto classes need this checkpoint's own code: read it and allow it under Custom code.")
    elif architectures and any(r.resolves_to for r in rows):
        parts.append(f"No Auto class builds {architectures[0]}, the class the weights were saved with; the ones below load only part of them.")
    elif not any(r.resolves_to for r in rows):
        parts.append("No Auto class of the installed transformers can load this checkpoint.")
    return " ".join(parts)


# --------------------------------------------------------------------------- config.json without model_type


def missing_model_type_problem(report: ConfigReport, installed: str) -> str:
    """Why nothing loads a config.json without model_type; names the type its architectures point at (sets suggested_model_type)."""
    architectures = report.architectures
    text = (
        f"config.json has no model_type: AutoConfig of transformers {installed} raises \"Unrecognized model\" "
        "(it no longer guesses the type from the folder name, as transformers 4 did), so no Auto class loads it"
    )
    suggestions = model_types_for_architecture(architectures[0]) if architectures else []
    if suggestions:
        report.suggested_model_type = suggestions[0]
        text += (
            f"; architectures names {architectures[0]}, a class of model_type '{suggestions[0]}': "
            f"add \"model_type\": \"{suggestions[0]}\" to config.json, or load with {architectures[0]}.from_pretrained"
        )
    elif architectures:
        text += f"; {architectures[0]} (architectures) is not a built-in class either"
    return text


def explain_missing_model_type(report: ConfigReport) -> None:
    """Rows say what each Auto class would build once model_type is added; the hint and the code say how to load today."""
    model_type = report.suggested_model_type
    config_cls = config_class_for(model_type)
    architectures = report.architectures
    would = resolution_rows({**(report.config or {}), "model_type": model_type}, config_cls, STATE_NOT_GRANTED, set()) if config_cls else []
    would_by_auto = {r.auto_class: r.resolves_to for r in would}
    for row in report.resolution:
        target = would_by_auto.get(row.auto_class)
        row.reason = "AutoConfig fails: config.json has no model_type"
        if target:
            row.would_build = target
            row.note = f"would build {target} once config.json has \"model_type\": \"{model_type}\""
    saved = architectures[0]
    builder = preferred_row([r for r in would if r.resolves_to == saved])
    report.load_hint = (
        f"No Auto class loads this config.json (it has no model_type). Load with {saved}.from_pretrained, "
        f"or add \"model_type\": \"{model_type}\" to config.json"
        + (f" and use {builder.auto_class}." if builder else ".")
    )
    try:
        # architectures[0] comes from config.json: it becomes code only as a plain class name.
        saved_class = python_identifier(saved, "architectures[0]")
    except NotScriptable:
        return
    quoted = python_literal(report.path, quote='"')
    report.python = (
        f"from transformers import {saved_class}\n\n"
        f"# config.json has no model_type, so the Auto classes cannot read it; the concrete class can.\n"
        f"model = {saved_class}.from_pretrained(\n    {quoted},\n    local_files_only=True,\n)\n"
    )


__all__ = ["explain_missing_model_type", "load_hint", "missing_model_type_problem", "resolution_rows", "string_list"]
