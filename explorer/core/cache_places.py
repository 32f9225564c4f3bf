"""Where the Hugging Face caches are on this machine, as huggingface_hub and transformers decide it.

Only environment variables and the home folder: no listing, no reads. ``explorer.core.locations``
builds the places a scan visits from these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE, SOURCE_LEGACY, SOURCE_LM_STUDIO, SOURCE_OLLAMA


def default_hf_home() -> str:
    home = os.environ.get("HF_HOME")
    if home:
        return os.path.expanduser(home)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "huggingface")


def default_hub_cache() -> str:
    """Where huggingface_hub stores downloads: HF_HUB_CACHE, then HF_HOME/hub, then the default."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(variable)
        if value:
            return os.path.expanduser(value)
    return os.path.join(default_hf_home(), "hub")


def legacy_cache_candidates() -> list[str]:
    """Caches older transformers releases used (flat url-hashed files, or hub layout)."""
    candidates = []
    for variable in ("TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE"):
        value = os.environ.get(variable)
        if value:
            candidates.append(os.path.expanduser(value))
    home = os.path.expanduser("~")
    candidates.append(os.path.join(default_hf_home(), "transformers"))
    candidates.append(os.path.join(home, ".cache", "torch", "transformers"))
    candidates.append(os.path.join(home, ".cache", "torch", "pytorch_transformers"))
    seen, unique = set(), []
    hub = os.path.realpath(default_hub_cache())
    for c in candidates:
        real = os.path.realpath(c)
        if real not in seen and real != hub:
            seen.add(real)
            unique.append(c)
    return unique


def ollama_models_dir() -> str:
    """Where Ollama keeps its models: OLLAMA_MODELS, else ~/.ollama/models (as the Ollama server decides)."""
    value = os.environ.get("OLLAMA_MODELS")
    if value:
        return os.path.expanduser(value)
    return os.path.join(os.path.expanduser("~"), ".ollama", "models")


def lm_studio_model_dirs() -> list[str]:
    """LM Studio's models folders: ~/.lmstudio/models (0.3 and later), ~/.cache/lm-studio/models (before)."""
    home = os.path.expanduser("~")
    return [os.path.join(home, ".lmstudio", "models"), os.path.join(home, ".cache", "lm-studio", "models")]


@dataclass(frozen=True, slots=True)
class ScanLocation:
    kind: str  # SOURCE_HUB_CACHE, SOURCE_FOLDER, SOURCE_LEGACY, SOURCE_OLLAMA or SOURCE_LM_STUDIO
    path: str


def default_locations(user_folders: Iterable[str] = ()) -> list[ScanLocation]:
    locations = [ScanLocation(SOURCE_HUB_CACHE, default_hub_cache())]
    locations += [ScanLocation(SOURCE_LEGACY, p) for p in legacy_cache_candidates() if os.path.isdir(p)]
    # Other apps' stores only where they exist: a user without Ollama is not told it is missing.
    ollama = ollama_models_dir()
    if os.path.isdir(os.path.join(ollama, "manifests")):
        locations.append(ScanLocation(SOURCE_OLLAMA, ollama))
    locations += [ScanLocation(SOURCE_LM_STUDIO, p) for p in lm_studio_model_dirs() if os.path.isdir(p)]
    locations += [ScanLocation(SOURCE_FOLDER, os.path.expanduser(p)) for p in user_folders]
    return locations


