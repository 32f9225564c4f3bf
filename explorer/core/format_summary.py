"""What the Overview says about an adapter or a GGUF model beyond the scan's facts, as labelled lines.

Read in a worker (an adapter's config, a GGUF header: milliseconds, but on any disk); Qt-free and
without torch or transformers, so the Overview stays as light as the window's start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from explorer.core.adapters import find_base_checkpoint, read_adapter_config
from explorer.core.checkpoint import FORMAT_ADAPTER, FORMAT_GGUF, SOURCE_OLLAMA, Checkpoint, display_text
from explorer.core.formatting import human_bytes, human_count
from explorer.core.safe_io import UnreadableFile, read_bounded

SOURCE_NAMES = {"hub-cache": "Hugging Face cache", "legacy-cache": "legacy transformers cache", "folder": "folder",
                "ollama": "Ollama", "lm-studio": "LM Studio"}
OLLAMA_SMALL_LAYERS = ("params", "system", "template")


@dataclass(frozen=True)
class SummaryLine:
    label: str
    text: str
    problem: bool = False  # shown in the scheme's error colour (a missing base, an unreadable header)


def type_label(ckpt: Checkpoint) -> str:
    """The short type of a listing (the browser's Type column, scan's MODEL TYPE): the format where it is not transformers."""
    if ckpt.format == FORMAT_ADAPTER:
        return "adapter"
    if ckpt.format == FORMAT_GGUF:
        return f"{ckpt.model_type or '?'} (GGUF)"
    return ckpt.model_type or "?"


def format_title(ckpt: Checkpoint) -> str:
    """One line for the Overview's Format row, from the scan's facts alone."""
    if ckpt.format == FORMAT_ADAPTER:
        return "PEFT adapter: a few weights that change a base model (loaded together with peft)"
    if ckpt.format == FORMAT_GGUF:
        parts = len(ckpt.gguf_parts())
        split = f", split into {parts} files" if parts > 1 else ""
        where = " in Ollama's store" if ckpt.source == SOURCE_OLLAMA else ""
        return f"GGUF (llama.cpp, Ollama, LM Studio){where}: quantised weights with their metadata{split}"
    return "transformers checkpoint"


def _base_line(base: str | None, revision: str | None, checkpoints: list[Checkpoint]) -> SummaryLine:
    if base is None:
        return SummaryLine("Base model", "not named in adapter_config.json (base_model_name_or_path)", problem=True)
    found = find_base_checkpoint(base, checkpoints, revision)
    if found is None:
        return SummaryLine(
            "Base model",
            f"{display_text(base)} is not on this machine: download it (hf download {display_text(base)}) or add its folder",
            problem=True,
        )
    if os.path.isabs(base) or base.startswith((".", "~")):
        return SummaryLine("Base model", f"{display_text(base)} (a folder, found)")
    where = SOURCE_NAMES.get(found.source, found.source)
    revision_text = f" at {found.revision[:10]}" if found.revision else ""
    return SummaryLine("Base model", f"{display_text(base)}: found in the {where}{revision_text} ({display_text(found.path)})")


def adapter_summary(ckpt: Checkpoint, checkpoints: list[Checkpoint]) -> list[SummaryLine]:
    try:
        adapter = read_adapter_config(ckpt.path)
    except UnreadableFile as exc:
        return [SummaryLine("Adapter", str(exc), problem=True)]
    shape = [adapter.kind]
    if adapter.r is not None:
        shape.append(f"rank {adapter.r}")
    if adapter.lora_alpha is not None:
        scale = f" (scale alpha/rank = {adapter.lora_alpha / adapter.r:g})" if adapter.r else ""
        shape.append(f"alpha {adapter.lora_alpha:g}{scale}")
    if adapter.dropout is not None:
        shape.append(f"dropout {adapter.dropout:g}")
    lines = [SummaryLine("Adapter", ", ".join(shape))]
    if isinstance(adapter.target_modules, str):
        lines.append(SummaryLine("Target modules", f"those matching the pattern {adapter.target_modules}"))
    elif adapter.target_modules:
        lines.append(SummaryLine("Target modules", ", ".join(adapter.target_modules)))
    if adapter.modules_to_save:
        lines.append(SummaryLine("Modules saved whole", ", ".join(adapter.modules_to_save)))
    if adapter.task_type:
        lines.append(SummaryLine("Task type", adapter.task_type))
    lines.append(_base_line(adapter.base_model, adapter.revision, checkpoints))
    return lines


def _ollama_layers(ckpt: Checkpoint) -> list[SummaryLine]:
    lines = []
    for name in OLLAMA_SMALL_LAYERS:
        path = ckpt.file_path(name)
        if path is None:
            continue
        try:
            text = read_bounded(path, f"Ollama's {name}", 64 * 1024).decode("utf-8", "replace").strip()
        except UnreadableFile as exc:
            text = str(exc)
        if len(text) > 300:
            text = text[:300] + "…"
        lines.append(SummaryLine(f"Ollama {name}", text))
    return lines


def gguf_summary(ckpt: Checkpoint) -> list[SummaryLine]:
    from explorer.core.gguf_facts import file_type_name, read_gguf_facts

    parts = ckpt.gguf_parts()
    if not parts:
        return [SummaryLine("GGUF", "the model file is missing", problem=True)]
    try:
        facts = read_gguf_facts(parts[0], with_transformers=False)
    except UnreadableFile as exc:
        return [SummaryLine("GGUF", str(exc), problem=True)]
    lines = []
    file_type = facts.metadata.get("general.file_type")
    shares = []
    for total in facts.by_type:
        share = f"{total.parameters / facts.num_parameters:.0%}" if facts.num_parameters else "?"
        shares.append(f"{total.type_name} {share} of the weights ({human_bytes(total.nbytes) if total.nbytes is not None else 'size unknown'})")
    quantisation = "; ".join(shares) or "no tensors"
    if file_type is not None:
        quantisation = f"{file_type_name(file_type)}: {quantisation}"
    lines.append(SummaryLine("Quantisation", quantisation))
    if facts.context_length is not None:
        lines.append(SummaryLine("Context length", f"{facts.context_length:,} tokens"))
    if facts.attention is not None:
        attention = facts.attention
        lines.append(SummaryLine("Layers", f"{attention.layers} (KV heads {attention.kv_heads}, head size {attention.head_dim})"))
    vocabulary = next((f for f in facts.fields if f.label == "Vocabulary size"), None)
    if vocabulary is not None:
        lines.append(SummaryLine("Vocabulary", vocabulary.shown))
    lines.append(SummaryLine("Chat template", f"yes ({len(facts.chat_template):,} characters)" if facts.chat_template else "none in the file"))
    if facts.unknown_parameters:
        lines.append(SummaryLine(
            "Unknown types", f"{human_count(facts.unknown_parameters)} weights have a type the installed gguf package does not know", problem=True
        ))
    if len(facts.files) > 1:
        lines.append(SummaryLine("Parts", ", ".join(os.path.basename(p) for p in facts.files)))
    if ckpt.source == SOURCE_OLLAMA:
        lines.extend(_ollama_layers(ckpt))
    return lines


def format_summary(ckpt: Checkpoint, checkpoints: list[Checkpoint]) -> list[SummaryLine]:
    """The Overview's lines for an adapter or a GGUF model; none for a transformers checkpoint."""
    if ckpt.format == FORMAT_ADAPTER:
        return adapter_summary(ckpt, checkpoints)
    if ckpt.format == FORMAT_GGUF:
        return gguf_summary(ckpt)
    return []


__all__ = ["SummaryLine", "adapter_summary", "format_summary", "format_title", "gguf_summary", "type_label"]
