"""The checkpoint's files as the report reads them: config.json, the other settings files, chat templates.

Every read goes through ``explorer.core.safe_io`` (bounded, never blocking on a FIFO).
"""

from __future__ import annotations

import json
import os
from typing import Any

from explorer.core.config.model import ChatTemplate, OtherFile
from explorer.core.formatting import human_bytes
from explorer.core.safe_io import UnreadableFile, is_finite_number, open_regular, read_json

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

MISSING = object()


def checkpoint_files(folder: str) -> dict[str, str]:
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


def read_settings_json(path: str, label: str, problems: list[str]) -> Any:
    """A settings file of the checkpoint (tokenizer_config.json...) under the one reading rule; MISSING with a problem otherwise."""
    try:
        return read_json(path, label, MAX_JSON_BYTES, max_values=MAX_OTHER_JSON_VALUES)
    except UnreadableFile as exc:
        problems.append(str(exc))
    return MISSING


def read_text(path: str, limit: int = MAX_CODE_BYTES) -> str | None:
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


def _token_text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("content", value))
    return str(value)


def _summarize_tokenizer_config(data: dict) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for key in ("tokenizer_class", "backend", "processor_class"):
        if key in data:
            lines.append((key, str(data[key])))
    max_len = data.get("model_max_length")
    if is_finite_number(max_len) or (isinstance(max_len, float) and max_len == float("inf")):
        lines.append(("model_max_length", "not set (no limit recorded)" if max_len > 1e12 else f"{int(max_len):,}"))
    for key in sorted(k for k in data if k.endswith("_token") and data[k] is not None):
        lines.append((key, _token_text(data[key])))
    added = data.get("added_tokens_decoder")
    if isinstance(added, dict):
        special = sum(1 for v in added.values() if isinstance(v, dict) and v.get("special"))
        lines.append(("added tokens", f"{len(added)} ({special} special)"))
    extra = data.get("additional_special_tokens") or data.get("extra_special_tokens")
    if isinstance(extra, (list, dict)) and extra:
        lines.append(("additional special tokens", ", ".join(_token_text(t) for t in (extra.values() if isinstance(extra, dict) else extra))))
    for key in ("do_lower_case", "add_bos_token", "add_eos_token", "padding_side", "truncation_side", "clean_up_tokenization_spaces"):
        if key in data:
            lines.append((key, json.dumps(data[key])))
    if data.get("chat_template"):
        lines.append(("chat template", "yes (shown below)"))
    return lines


def _json_lines(data: dict, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(key, json.dumps(data[key])) for key in keys if key in data]


def summarize_other_file(name: str, data: Any) -> list[tuple[str, str]]:
    """(label, text) lines that say what matters in each file; the full JSON is shown beside them."""
    if not isinstance(data, dict):
        return [("content", "not a JSON object")]
    lines: list[tuple[str, str]] = []
    if name == "generation_config.json":
        lines = _json_lines(data, ("max_length", "max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "num_beams",
                                   "repetition_penalty", "bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"))
        if not lines:
            lines.append(("settings", "library defaults (greedy decoding)"))
    elif name == "tokenizer_config.json":
        lines = _summarize_tokenizer_config(data)
    elif name == "special_tokens_map.json":
        for key, value in sorted(data.items()):
            if isinstance(value, list):
                lines.append((key, ", ".join(_token_text(v) for v in value)))
            else:
                lines.append((key, _token_text(value)))
    elif name == "preprocessor_config.json":
        lines = _json_lines(data, ("processor_class", "image_processor_type", "feature_extractor_type", "size", "crop_size",
                                   "do_normalize", "image_mean", "image_std", "sampling_rate", "feature_size", "do_resize"))
    elif name == "adapter_config.json":
        base = data.get("base_model_name_or_path")
        lines.append(("base model", str(base) if base else "not named (the adapter cannot be loaded on its own)"))
        for key in ("peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "inference_mode"):
            if key in data:
                value = data[key]
                lines.append((key, ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)))
    return lines


def chat_templates(files: dict[str, str], tokenizer_config: Any, problems: list[str]) -> list[ChatTemplate]:
    templates: list[ChatTemplate] = []
    if isinstance(tokenizer_config, dict):
        value = tokenizer_config.get("chat_template")
        if isinstance(value, str):
            templates.append(ChatTemplate("default", "tokenizer_config.json", value))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("template"), str):
                    templates.append(ChatTemplate(str(item.get("name", "default")), "tokenizer_config.json", item["template"]))
    if "chat_template.jinja" in files:
        text = read_text(files["chat_template.jinja"])
        if text is not None:
            templates.append(ChatTemplate("default", "chat_template.jinja", text))
    if "chat_template.json" in files:
        data = read_settings_json(files["chat_template.json"], "chat_template.json", problems)
        if isinstance(data, dict) and isinstance(data.get("chat_template"), str):
            templates.append(ChatTemplate("default", "chat_template.json", data["chat_template"]))
    for name in sorted(n for n in files if n.startswith("additional_chat_templates/")):
        text = read_text(files[name])
        if text is not None:
            templates.append(ChatTemplate(os.path.splitext(os.path.basename(name))[0], name, text))
    return templates


def other_files(files: dict[str, str], problems: list[str]) -> tuple[list[OtherFile], list[ChatTemplate]]:
    sections = []
    tokenizer_config: Any = None
    for name in OTHER_FILES:
        section = OtherFile(name, present=name in files)
        if name in files:
            local_problems: list[str] = []
            data = read_settings_json(files[name], name, local_problems)
            if data is MISSING:
                section.error = local_problems[0] if local_problems else f"{name} cannot be read"
                problems.extend(local_problems)
            else:
                section.data = data
                if name == "tokenizer_config.json":
                    tokenizer_config = data
                    # The template is shown as text on its own; keep the JSON readable.
                    if isinstance(data, dict) and "chat_template" in data:
                        section.data = {**data, "chat_template": "(shown in Chat template)"}
                section.summary = summarize_other_file(name, data)
        sections.append(section)
    return sections, chat_templates(files, tokenizer_config, problems)


__all__ = [
    "CHAT_TEMPLATE_FILES", "MAX_CODE_BYTES", "MAX_JSON_BYTES", "MISSING", "OTHER_FILES", "chat_templates", "checkpoint_files",
    "other_files", "read_settings_json", "read_text", "summarize_other_file",
]
