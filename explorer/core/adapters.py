"""PEFT adapters (LoRA, IA3, ...): what adapter_config.json says, and where the base model is on this machine.

An adapter folder holds ``adapter_config.json`` and ``adapter_model.safetensors`` (or ``.bin``): a few
tensors that change some modules of a base model named by ``base_model_name_or_path``, a hub id or a
folder. Read here without peft or torch, bounded like every other file the scan opens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from explorer.core.checkpoint import FORMAT_TRANSFORMERS, SOURCE_FOLDER, Checkpoint
from explorer.core.safe_io import UnreadableFile, read_json

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
MAX_ADAPTER_CONFIG_BYTES = 4 * 1024 * 1024
MAX_ADAPTER_CONFIG_VALUES = 200_000


@dataclass(frozen=True)
class AdapterConfig:
    """The fields of adapter_config.json a user asks about first; ``fields`` holds all of them."""

    peft_type: str | None  # "LORA", "IA3", "ADALORA", ...
    task_type: str | None  # "CAUSAL_LM", "SEQ_CLS", ...
    base_model: str | None  # base_model_name_or_path as written
    revision: str | None
    r: int | None
    lora_alpha: float | None
    dropout: float | None
    target_modules: list[str] | str | None  # a list of names, or a regular expression
    modules_to_save: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The adapter type as people write it: LoRA, IA3, AdaLoRA..."""
        names = {"LORA": "LoRA", "ADALORA": "AdaLoRA", "IA3": "IA3", "LOHA": "LoHa", "LOKR": "LoKr", "OFT": "OFT", "BOFT": "BOFT",
                 "PREFIX_TUNING": "Prefix tuning", "PROMPT_TUNING": "Prompt tuning", "P_TUNING": "P-tuning", "VERA": "VeRA"}
        if not self.peft_type:
            return "unknown adapter type"
        return names.get(self.peft_type.upper(), self.peft_type)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def adapter_config_from(raw: Any) -> AdapterConfig:
    """The typed view of an already-parsed adapter_config.json; UnreadableFile when it is no JSON object."""
    if not isinstance(raw, dict):
        raise UnreadableFile(f"{ADAPTER_CONFIG} is not a JSON object")
    target = raw.get("target_modules")
    r = raw.get("r")
    return AdapterConfig(
        peft_type=_text(raw.get("peft_type")),
        task_type=_text(raw.get("task_type")),
        base_model=_text(raw.get("base_model_name_or_path")),
        revision=_text(raw.get("revision")),
        r=r if isinstance(r, int) and not isinstance(r, bool) else None,
        lora_alpha=_number(raw.get("lora_alpha")),
        dropout=_number(raw.get("lora_dropout", raw.get("dropout"))),
        target_modules=target if isinstance(target, str) else (_names(target) if target is not None else None),
        modules_to_save=_names(raw.get("modules_to_save")),
        fields=raw,
    )


def read_adapter_config(path: str | os.PathLike) -> AdapterConfig:
    """adapter_config.json of an adapter folder (or the file itself); UnreadableFile says why not."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, ADAPTER_CONFIG)
    raw = read_json(path, ADAPTER_CONFIG, MAX_ADAPTER_CONFIG_BYTES, max_values=MAX_ADAPTER_CONFIG_VALUES)
    return adapter_config_from(raw)


def _same_folder(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normpath(a) == os.path.normpath(b)


def find_base_checkpoint(base_model: str | None, checkpoints: list[Checkpoint], revision: str | None = None) -> Checkpoint | None:
    """The scanned checkpoint an adapter's ``base_model_name_or_path`` names, or None when it is not on this machine.

    A folder path matches the checkpoint in that folder. A hub id matches hub-cache revisions of that
    repo (ids compared as the hub does, without case): the adapter's own revision first (a commit or a
    ref name), then the one ``main`` points at, then the newest. A folder whose path ends with the id
    (``.../org/name``) is the last resort, as a user's copy of the base.
    """
    if not base_model:
        return None
    candidates = [c for c in checkpoints if c.format == FORMAT_TRANSFORMERS]
    if os.path.isabs(base_model) or base_model.startswith((".", "~")):
        wanted = os.path.expanduser(base_model)
        for ckpt in candidates:
            if _same_folder(ckpt.path, wanted):
                return ckpt
        return None
    repo = base_model.casefold()
    same_repo = [c for c in candidates if c.source != SOURCE_FOLDER and c.id.casefold() == repo]
    if same_repo:
        if revision:
            for ckpt in same_repo:
                if ckpt.revision == revision or revision in ckpt.refs:
                    return ckpt
        for ckpt in same_repo:
            if "main" in ckpt.refs:
                return ckpt
        return max(same_repo, key=lambda c: c.last_modified or 0.0)
    tail = os.sep + base_model.replace("/", os.sep)
    for ckpt in candidates:
        if ckpt.source == SOURCE_FOLDER and os.path.normpath(ckpt.path).endswith(tail):
            return ckpt
    return None


__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "AdapterConfig",
    "adapter_config_from",
    "find_base_checkpoint",
    "read_adapter_config",
]
