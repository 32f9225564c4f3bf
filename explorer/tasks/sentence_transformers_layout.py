"""What a folder saved by sentence-transformers says about how its embeddings are made.

``SentenceTransformer(folder).encode(texts)`` runs the modules listed in ``modules.json`` in
order: a Transformer (the folder's transformers model, its token vectors = the last hidden
state; ``sentence_bert_config.json`` sets ``max_seq_length`` and ``do_lower_case``), a Pooling
(its ``config.json``, usually in ``1_Pooling``, says how the token vectors become one), often a
Normalize (unit length), sometimes Dense layers. The feature-extraction task starts from what
these files say so that its vectors are the ones ``encode`` returns.

Only small files are read, each through ``safe_io`` (bounded, regular files only). A file that
cannot be read, or asks for something transformers-only code cannot reproduce, becomes a
notice: the setting it would have given stays at the app's own choice. Nothing here raises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from explorer.core.safe_io import UnreadableFile, read_json

MODULES_FILE = "modules.json"
SETTINGS_FILE = "config_sentence_transformers.json"
# sentence-transformers looks for the Transformer's settings under these names, the first found wins.
TRANSFORMER_CONFIG_FILES = (
    "sentence_bert_config.json",
    "sentence_roberta_config.json",
    "sentence_distilbert_config.json",
    "sentence_camembert_config.json",
    "sentence_albert_config.json",
    "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
)
# Real files hold a few hundred bytes; a prompt list may be longer.
FILE_LIMIT = 256 * 1024
MAX_VALUES = 5_000
MAX_MODULES = 32  # real models list two to five

# Pooling's config keys, the mode each turns on (named as sentence-transformers' pooling_mode
# strings) and Pooling's own default for a key the file leaves out (mean is on unless said otherwise).
POOLING_KEYS = (
    ("pooling_mode_cls_token", "cls", False),
    ("pooling_mode_max_tokens", "max", False),
    ("pooling_mode_mean_tokens", "mean", True),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", False),
    ("pooling_mode_weightedmean_tokens", "weightedmean", False),
    ("pooling_mode_lasttoken", "lasttoken", False),
)
POOLING_MODES = tuple(mode for _key, mode, _default in POOLING_KEYS)

# The Transformer module, and the per-architecture classes of old sentence-transformers releases.
TRANSFORMER_KINDS = frozenset({"Transformer", "BERT", "RoBERTa", "DistilBERT", "XLMRoBERTa", "ALBERT", "CamemBERT", "XLNet", "T5"})
INERT_KINDS = frozenset({"Dropout"})  # does nothing when the model is evaluated
LIBRARY_PREFIX = "sentence_transformers."
FALLBACK = "the app's own choice applies"


@dataclass(frozen=True)
class Said:
    """A value one of the folder's files gives, and that file (relative to the folder)."""

    value: Any
    file: str


@dataclass
class Layout:
    """What the sentence-transformers files say; None where they are silent, unreadable or not reproducible."""

    modules: list[str] = field(default_factory=list)  # the modules' kinds in order ("Transformer", "Pooling", ...)
    token_vectors: Said | None = None  # the Transformer module: pooling reads the last hidden state
    pooling: Said | None = None  # one of POOLING_MODES
    normalize: Said | None = None  # a Normalize module or none
    max_seq_length: Said | None = None  # tokens; longer texts are truncated
    lowercase: Said | None = None  # do_lower_case: texts are lowercased before tokenizing
    notices: list[str] = field(default_factory=list)


def is_sentence_transformers_folder(folder: str) -> bool:
    return bool(folder) and os.path.lexists(os.path.join(folder, MODULES_FILE))


def read_layout(folder: str) -> Layout | None:
    """The folder's sentence-transformers settings, or None when it has no modules.json."""
    if not is_sentence_transformers_folder(folder):
        return None
    layout = Layout()
    modules = _read_modules(folder, layout)
    if modules is None:
        return layout
    transformer = pooling = None
    for position, (kind, path, type_name) in enumerate(modules):
        layout.modules.append(kind)
        if kind in TRANSFORMER_KINDS and position == 0:
            transformer = path
        elif kind == "Pooling" and pooling is None and transformer is not None:
            pooling = path
        elif kind == "Normalize" and pooling is not None:
            layout.normalize = Said(True, MODULES_FILE)
        elif kind not in INERT_KINDS:
            layout.notices.append(_not_reproduced(kind, type_name, path, position))
    if transformer is None:
        layout.notices.append(
            f"{MODULES_FILE} does not start with a Transformer module ({', '.join(layout.modules) or 'no modules'}): "
            f"these vectors come from the folder's transformers model and may not be what sentence-transformers gives; {FALLBACK}."
        )
        return layout
    layout.token_vectors = Said(True, MODULES_FILE)
    if transformer:
        layout.notices.append(
            f"{MODULES_FILE} puts the transformer in {transformer!r}; the app runs the model in the folder itself."
        )
    if layout.normalize is None:
        layout.normalize = Said(False, MODULES_FILE)
    if pooling is None:
        layout.notices.append(f"{MODULES_FILE} lists no Pooling module after the Transformer; {FALLBACK} (mean pooling).")
    else:
        _read_pooling(folder, pooling, layout)
    _read_transformer_config(folder, transformer, layout)
    _read_prompts(folder, layout)
    return layout


def _read_modules(folder: str, layout: Layout) -> list[tuple[str, str, str]] | None:
    """(kind, path, type) of each module, or None with a notice when modules.json cannot be used."""
    try:
        data = read_json(os.path.join(folder, MODULES_FILE), MODULES_FILE, FILE_LIMIT, max_values=MAX_VALUES)
    except UnreadableFile as error:
        layout.notices.append(f"{error}; the sentence-transformers settings are unknown, so {FALLBACK}.")
        return None
    if not isinstance(data, list) or not data or len(data) > MAX_MODULES:
        what = f"lists {len(data)} modules, far more than a model has" if isinstance(data, list) and data else "is not a list of modules"
        layout.notices.append(f"{MODULES_FILE} {what}; the sentence-transformers settings are unknown, so {FALLBACK}.")
        return None
    modules = []
    for entry in data:
        type_name = entry.get("type") if isinstance(entry, dict) else None
        path = _relative_path(entry.get("path", "")) if isinstance(entry, dict) else None
        if not _plain(type_name) or not type_name or path is None:
            layout.notices.append(
                f"{MODULES_FILE}: a module without a usable type and path ({_shown(entry)}); "
                f"the sentence-transformers settings are unknown, so {FALLBACK}."
            )
            return None
        modules.append((type_name.rsplit(".", 1)[-1], path, type_name))
    return modules


def _not_reproduced(kind: str, type_name: str, path: str, position: int) -> str:
    where = f" ({path})" if path else ""
    if not type_name.startswith(LIBRARY_PREFIX):
        return f"Module {position} in {MODULES_FILE} is custom code ({_shown(type_name)}){where}: the app does not run it, so these vectors may differ from encode()."
    if kind == "Dense":
        return f"A Dense layer{where} follows the pooling in {MODULES_FILE}: the app does not apply it, so these vectors differ from encode() (and may be longer)."
    return f"The {kind} module{where} in {MODULES_FILE} is not reproduced by the app, so these vectors may differ from encode()."


def _read_pooling(folder: str, path: str, layout: Layout) -> None:
    label = _joined(path, "config.json")
    config = _read_small_json(folder, label, layout)
    if config is None:
        return
    if "pooling_mode" in config:  # Pooling(pooling_mode="cls") overrides every pooling_mode_* key
        mode = config["pooling_mode"]
        if isinstance(mode, str) and mode.lower() in POOLING_MODES:
            layout.pooling = Said(mode.lower(), label)
        else:
            layout.notices.append(f"{label}: pooling_mode {_shown(mode)} is not one of {', '.join(POOLING_MODES)}; {FALLBACK}.")
        return
    modes = []
    for key, mode, default in POOLING_KEYS:
        value = config.get(key, default)
        if not isinstance(value, bool):
            layout.notices.append(f"{label}: {key} is {_shown(value)}, not true or false; {FALLBACK} for the pooling.")
            return
        if value:
            modes.append(mode)
    if len(modes) == 1:
        layout.pooling = Said(modes[0], label)
    elif not modes:
        layout.notices.append(f"{label} turns every pooling mode off; {FALLBACK} for the pooling.")
    else:
        layout.notices.append(
            f"{label} joins several poolings into one vector ({' + '.join(modes)}); the app pools one way at a time, "
            f"so {FALLBACK} and the vectors differ from encode()."
        )


def _read_transformer_config(folder: str, path: str, layout: Layout) -> None:
    for name in TRANSFORMER_CONFIG_FILES:
        label = _joined(path, name)
        if os.path.lexists(os.path.join(folder, label)):
            break
    else:
        return  # sentence-transformers then truncates at the model's limit and keeps the case: the app's defaults
    config = _read_small_json(folder, label, layout)
    if config is None:
        return
    length = config.get("max_seq_length")
    if isinstance(length, int) and not isinstance(length, bool) and 0 < length < 2**31:
        layout.max_seq_length = Said(length, label)
    elif length is not None:
        layout.notices.append(f"{label}: max_seq_length is {_shown(length)}, not a positive whole number; texts are cut at the model's limit.")
    lowercase = config.get("do_lower_case")
    if isinstance(lowercase, bool):
        layout.lowercase = Said(lowercase, label)
    elif lowercase is not None:
        layout.notices.append(f"{label}: do_lower_case is {_shown(lowercase)}, not true or false; texts keep their case.")


def _read_prompts(folder: str, layout: Layout) -> None:
    """encode() puts the default prompt before every text; the app does not change the user's sentences."""
    if not os.path.lexists(os.path.join(folder, SETTINGS_FILE)):
        return
    config = _read_small_json(folder, SETTINGS_FILE, layout)
    if config is None:
        return
    name, prompts = config.get("default_prompt_name"), config.get("prompts")
    if isinstance(name, str) and name and isinstance(prompts, dict) and isinstance(prompts.get(name), str) and prompts[name]:
        layout.notices.append(
            f"{SETTINGS_FILE} names the default prompt {_shown(name)}: encode() puts {_shown(prompts[name])} before each text. "
            "The app does not; write it before your sentences to get the same vectors."
        )


def _read_small_json(folder: str, label: str, layout: Layout) -> dict | None:
    try:
        data = read_json(os.path.join(folder, label), label, FILE_LIMIT, max_values=MAX_VALUES)
    except UnreadableFile as error:
        layout.notices.append(f"{error}; {FALLBACK} for what it would set.")
        return None
    if not isinstance(data, dict):
        layout.notices.append(f"{label} is not a JSON object; {FALLBACK} for what it would set.")
        return None
    return data


def _plain(text: Any) -> bool:
    """A short string without control characters: it may be quoted in a message as it is."""
    return isinstance(text, str) and len(text) <= 200 and not any(ch < " " or ch == "\x7f" for ch in text)


def _relative_path(path: Any) -> str | None:
    """A module's folder inside the checkpoint ("" for the folder itself), or None for anything that leaves it."""
    if not _plain(path) or "\\" in path or ":" in path or path.startswith("/"):
        return None
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        return None
    return "/".join(parts)


def _joined(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["Layout", "POOLING_MODES", "Said", "is_sentence_transformers_folder", "read_layout"]
