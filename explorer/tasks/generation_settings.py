"""Decoding settings as the checkpoint has them: its generation_config, read as transformers reads it.

``model.generate()`` starts from ``model.generation_config``: ``generation_config.json`` when the
checkpoint has one, else the generation values of ``config.json``; whatever neither sets takes
transformers' global defaults. The form shows each setting with that source, and a run passes
``generate`` only the settings the user changed, so the app decodes exactly as a notebook that
loads the checkpoint does. The reading before loading uses transformers' own ``GenerationConfig``
on the bounded JSON our readers return, so it agrees with what loading gives (a test checks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CHOICE,
    KIND_FLOAT,
    KIND_ID_SEQUENCES,
    KIND_IDS,
    KIND_INT,
    KIND_STRINGS,
    SOURCE_CHECKPOINT,
    SOURCE_LIBRARY,
    Field,
    Sourced,
    settings_with_sources,
)

GENERATION_CONFIG_FILE = "generation_config.json"
_EARLY_STOPPING = {"off": False, "on": True, "never": "never"}

SAMPLING = "do_sample"
# When neither the user nor the checkpoint sets a length, generate adds this many tokens after the
# prompt (its default max_length, counted from the prompt's end; capped by the model's positions).
LIBRARY_NEW_TOKENS = 20
# Library defaults the form shows as "off": max_length's 20 means 20 new tokens only while unset.
_LIBRARY_DEFAULT_IS_UNSET = frozenset({"max_length"})


@dataclass(frozen=True)
class Setting:
    """One GenerationConfig attribute as a form field; ``unset`` is the form value that means None there."""

    field: Field
    unset: Any = None  # None: the attribute is never unset in a way the form must show

    @property
    def name(self) -> str:
        return self.field.name

    def to_form(self, value: Any) -> Any:
        if value is None:
            return self.unset
        if self.field.kind == KIND_IDS and not isinstance(value, (list, tuple)):
            return [value]
        if self.field.kind == KIND_CHOICE:
            return next((label for label, meant in _EARLY_STOPPING.items() if meant == value), "off")
        if self.field.kind in (KIND_IDS, KIND_ID_SEQUENCES, KIND_STRINGS):
            return self.field.convert(list(value))
        return self.field.convert(value)

    def to_generation(self, value: Any) -> Any:
        if self.unset is not None and value == self.unset:
            return None
        if self.field.kind == KIND_CHOICE:
            return _EARLY_STOPPING[value]
        return value


def _setting(name: str, label: str, kind: str, unset: Any = None, **options: Any) -> Setting:
    return Setting(Field(name, label, kind, **options), unset)


# Every decoding setting the users compare with a notebook, in the order the form shows them.
SETTINGS: tuple[Setting, ...] = (
    _setting("do_sample", "Sampling", KIND_BOOL, default=False, help="Off: greedy decoding (or beam search with beams > 1)"),
    _setting(
        "temperature", "Temperature", KIND_FLOAT, default=1.0, minimum=0.0, maximum=100.0, step=0.05,
        help="Below 1 sharpens, above 1 flattens the distribution (sampling only)", requires=SAMPLING,
    ),
    _setting(
        "top_k", "Top-k", KIND_INT, default=50, minimum=0, maximum=1_000_000, step=1,
        help="Keep the k most likely tokens; 0 turns it off (sampling only)", requires=SAMPLING,
    ),
    _setting(
        "top_p", "Top-p", KIND_FLOAT, default=1.0, minimum=0.0, maximum=1.0, step=0.01,
        help="Keep the smallest set of tokens whose probability adds up to p; 1 turns it off (sampling only)",
        requires=SAMPLING,
    ),
    _setting(
        "min_p", "Min-p", KIND_FLOAT, unset=0.0, default=0.0, minimum=0.0, maximum=1.0, step=0.01,
        help="Drop tokens less likely than min-p times the most likely one (sampling only)", requires=SAMPLING,
        special_value="off",
    ),
    _setting(
        "typical_p", "Typical-p", KIND_FLOAT, default=1.0, minimum=0.0, maximum=1.0, step=0.01,
        help="Locally typical sampling; 1 turns it off (sampling only)", requires=SAMPLING,
    ),
    _setting(
        "repetition_penalty", "Repetition penalty", KIND_FLOAT, default=1.0, minimum=0.0, maximum=100.0, step=0.05,
        help="Above 1 discourages tokens already in the text",
    ),
    _setting(
        "no_repeat_ngram_size", "No-repeat n-gram size", KIND_INT, default=0, minimum=0, maximum=1000, step=1,
        help="Never repeat an n-gram of this many tokens; 0 turns it off", special_value="off",
    ),
    _setting(
        "bad_words_ids", "Bad words (ids)", KIND_ID_SEQUENCES, unset=[], default=[],
        help="Token id sequences never to generate, one sequence per line (e.g. 'tokenizer(\" word\").input_ids')",
    ),
    _setting(
        "suppress_tokens", "Suppressed tokens (ids)", KIND_IDS, unset=[], default=[],
        help="Token ids that never come out, e.g. 50256, 198",
    ),
    _setting(
        "min_new_tokens", "Min new tokens", KIND_INT, unset=0, default=0, minimum=0, maximum=100_000, step=1,
        help="End-of-text cannot come before this many new tokens", special_value="off",
    ),
    _setting(
        "max_new_tokens", "Max new tokens", KIND_INT, unset=0, default=0, minimum=0, maximum=100_000, step=1,
        help="How many tokens to add at most; 'off' leaves it to Max length (prompt and new tokens together)",
        special_value="off",
    ),
    _setting(
        "max_length", "Max length (total)", KIND_INT, unset=0, default=0, minimum=0, maximum=1_000_000, step=1,
        help="Prompt and new tokens together, as generate(max_length=50) in the tutorials; Max new tokens wins when "
        f"set. 'off' with Max new tokens off too: transformers' default, {LIBRARY_NEW_TOKENS} new tokens",
        special_value="off",
    ),
    _setting(
        "eos_token_id", "End-of-text ids", KIND_IDS, unset=[], default=[],
        help="Generation ends at any of these token ids",
    ),
    _setting(
        "stop_strings", "Stop strings", KIND_STRINGS, unset=[], default=[],
        help="Generation ends once the text contains one of these; one per line, \\n for a newline, \\t for a tab",
    ),
    _setting("num_beams", "Beams", KIND_INT, default=1, minimum=1, maximum=64, step=1, help="1: greedy or sampling; more: beam search"),
    _setting(
        "length_penalty", "Length penalty", KIND_FLOAT, default=1.0, minimum=-100.0, maximum=100.0, step=0.1,
        help="Beam search: above 0 favours longer outputs, below 0 shorter ones",
    ),
    _setting(
        "early_stopping", "Early stopping", KIND_CHOICE, default="off", choices=tuple(_EARLY_STOPPING),
        help="Beam search: 'on' stops when enough beams finished; 'never' only when no better one can come",
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
FIELDS = tuple(setting.field for setting in SETTINGS)


def library_defaults() -> dict[str, Any]:
    """transformers' global defaults: what generate() uses for anything the checkpoint leaves unset."""
    from transformers import GenerationConfig

    defaults = getattr(GenerationConfig, "_get_default_generation_params", None)
    return dict(defaults()) if callable(defaults) else {}


def read_generation_config(folder: str) -> tuple[Any, str]:
    """The GenerationConfig ``from_pretrained`` gives the model, and the file it came from.

    As transformers: generation_config.json when there is one, else config.json's generation values.
    The JSON is read by our bounded reader (``UnreadableFile`` for a broken or hostile file).
    """
    from transformers import GenerationConfig

    from explorer.core.preflight import GENERATION_CONFIG_BYTES, GENERATION_CONFIG_VALUES
    from explorer.core.safe_io import read_json

    from explorer.core.safe_io import UnreadableFile

    path = os.path.join(folder, GENERATION_CONFIG_FILE)
    if os.path.lexists(path):
        try:
            values = read_json(path, GENERATION_CONFIG_FILE, GENERATION_CONFIG_BYTES, max_values=GENERATION_CONFIG_VALUES)
        except UnreadableFile:
            values = None  # transformers, too, falls back to config.json when it cannot read the file
        if isinstance(values, dict):
            return GenerationConfig.from_dict(values), GENERATION_CONFIG_FILE
    values = read_json(os.path.join(folder, "config.json"), "config.json", 32 * 1024 * 1024)
    return GenerationConfig.from_model_config(values if isinstance(values, dict) else {}), "config.json"


def defaults_from(generation_config: Any, detail: str) -> dict[str, Sourced]:
    """Each setting's starting value in the form's terms, and whether the checkpoint or transformers set it."""
    library = library_defaults()
    sourced = {}
    for setting in SETTINGS:
        value = getattr(generation_config, setting.name, None)
        if value is not None:
            sourced[setting.name] = Sourced(_form_value(setting, value), SOURCE_CHECKPOINT, detail)
        elif setting.name in _LIBRARY_DEFAULT_IS_UNSET:
            sourced[setting.name] = Sourced(setting.unset, SOURCE_LIBRARY)
        else:
            sourced[setting.name] = Sourced(_form_value(setting, library.get(setting.name)), SOURCE_LIBRARY)
    return sourced


def _form_value(setting: Setting, value: Any) -> Any:
    """A config's value in the form's terms; one the form cannot hold (a hostile file's string) becomes unset."""
    from explorer.tasks.base import TaskInputError

    try:
        converted = setting.to_form(value)
    except (TaskInputError, KeyError, TypeError, ValueError):
        return setting.field.default if setting.unset is None else setting.unset
    return setting.field.default if converted is None else converted


def checkpoint_defaults(folder: str, loaded: Any = None) -> dict[str, Sourced]:
    """The decoding settings a checkpoint starts from: the loaded model's generation_config, or read as loading would."""
    from explorer.core.safe_io import UnreadableFile

    try:
        generation_config, detail = read_generation_config(folder)
    except (UnreadableFile, ValueError, TypeError):
        # Loading refuses such a checkpoint with its own message; until then the form starts from transformers'.
        generation_config, detail = _empty_config(), ""
    loaded_config = getattr(getattr(loaded, "model", None), "generation_config", None)
    if loaded_config is not None:
        generation_config = loaded_config  # the truth once loaded; the reading above only names the file
    return defaults_from(generation_config, detail)


def _empty_config() -> Any:
    from transformers import GenerationConfig

    return GenerationConfig()


def new_token_room(values: dict[str, Any], prompt_length: int, position_limit: int | None) -> tuple[int, bool]:
    """How many tokens generate may add, and whether generate itself already keeps to that number.

    Max new tokens wins; else Max length counts the prompt too; with neither, transformers adds
    its default 20, capped by the positions. The app caps the other two by the positions as well,
    and says so (generate would run past the position table).
    """
    from explorer.tasks.base import TaskInputError

    if values["max_new_tokens"]:
        room = values["max_new_tokens"]
    elif values["max_length"]:
        room = values["max_length"] - prompt_length
        if room < 1:
            raise TaskInputError(
                f"Max length {values['max_length']} leaves no room: the prompt alone is {prompt_length} tokens. "
                "Raise Max length or set Max new tokens"
            )
    else:
        room = LIBRARY_NEW_TOKENS
        if position_limit is not None:
            room = min(room, position_limit - prompt_length)
        return room, True
    if position_limit is not None and prompt_length + room > position_limit:
        return position_limit - prompt_length, False
    return room, True


def changed_settings(values: dict[str, Any], checkpoint: dict[str, Sourced]) -> dict[str, Any]:
    """What generate() must be told: the settings that differ from the checkpoint's, in generate's terms."""
    changed = {}
    for setting in SETTINGS:
        if setting.name not in values:
            continue
        value = values[setting.name]
        default = checkpoint.get(setting.name)
        if default is not None and value == default.value:
            continue
        changed[setting.name] = setting.to_generation(value)
    if "max_length" in changed and changed["max_length"] is None:
        # Off, where the checkpoint sets one: generate cannot be told "no max_length" (None reads as "not
        # given"), so give it what off means in the form, transformers' default of new tokens.
        del changed["max_length"]
        if not values.get("max_new_tokens"):
            changed["max_new_tokens"] = LIBRARY_NEW_TOKENS
    return changed


def effective_settings(values: dict[str, Any], checkpoint: dict[str, Sourced]) -> dict[str, dict[str, Any]]:
    """run --json's ``generation_settings``: every setting's value and where it came from."""
    return settings_with_sources({name: values[name] for name in BY_NAME if name in values}, checkpoint)


def decoding_mode(values: dict[str, Any]) -> str:
    """"greedy", "sampling", "3 beams" or "3 beams, sampling": how generate picks tokens with these settings."""
    sampling = "sampling" if values.get("do_sample") else ""
    if values.get("num_beams", 1) > 1:
        return f"{values['num_beams']} beams" + (", sampling" if sampling else "")
    return sampling or "greedy"


def describe_sources(report: dict[str, dict[str, Any]]) -> str:
    """One line for a result view: what the checkpoint set and what was changed here (the rest is transformers')."""
    from explorer.tasks.base import SOURCE_CHANGED

    def listed(items: list[tuple[str, Any]]) -> str:
        return ", ".join(f"{BY_NAME[name].field.label.lower()} {_shown(value)}" for name, value in items)

    checkpoint = [(n, item["value"]) for n, item in report.items() if item["source"].startswith(SOURCE_CHECKPOINT)]
    changed = [(n, item["value"]) for n, item in report.items() if item["source"] == SOURCE_CHANGED]
    parts = []
    if checkpoint:
        parts.append("from the checkpoint: " + listed(checkpoint))
    if changed:
        parts.append("changed here: " + listed(changed))
    return " · ".join(parts) or "every setting is transformers' default"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return str(value)


__all__ = [
    "FIELDS",
    "SETTINGS",
    "changed_settings",
    "checkpoint_defaults",
    "decoding_mode",
    "defaults_from",
    "describe_sources",
    "effective_settings",
    "read_generation_config",
]
