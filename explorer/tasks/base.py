"""Task declarations and the registry every front end reads (window form, command line, tests).

A task is one module. It declares, in one ``register(TaskSpec(...))``, everything about its
task: where it stands in the picker, the Auto class it loads and which checkpoints it applies
to, its inputs and parameters, which of them the command line's ``--text/--context/--labels``
fill, the generator ``run(loaded, values, cancel)`` that yields ``Progress`` and partial results
and returns its result (a ``TaskResult`` dataclass of the module's own, whose ``to_json`` is what
``run --json`` prints), the "copy as Python" script, the summary both print, the lines the
command line prints, and the name of the window's view for its result. The demos a config
report offers (``explorer.core.task_catalog``), the Demo tab's picker (``heads``), the command
line and the window's views derive from this registry; ``all_tasks()`` imports every module of
this package once (pkgutil), so adding a task is adding one file here plus its view.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any, Callable, ClassVar

from explorer.core.jobs import CancelToken, ExpectedFailure, Job

# Field kinds the form builder understands.
KIND_TEXT = "text"  # one line
KIND_MULTILINE = "multiline"  # free text
KIND_LINES = "lines"  # one item per line -> list[str]
KIND_CSV = "csv"  # comma separated -> list[str]
KIND_INT = "int"
KIND_FLOAT = "float"
KIND_BOOL = "bool"
KIND_CHOICE = "choice"
KIND_IDS = "ids"  # token ids, "50256, 198" -> [50256, 198]
KIND_ID_SEQUENCES = "id-sequences"  # one sequence of ids per line, "1 2\n3" -> [[1, 2], [3]]
KIND_STRINGS = "strings"  # exact strings, one per line, written with \\n \\t escapes ("\\n\\n" is two newlines)
KIND_CONVERSATION = "conversation"  # chat turns -> [{"role": ..., "content": ...}, ...]

ROUND_DIGITS = 6  # scores in results and in "copy as Python" output are rounded alike to compare


class TaskInputError(ValueError):
    """The user's input cannot be run; the message says what to change."""


class TaskError(RuntimeError, ExpectedFailure):
    """The run failed for a reason the user can act on (device, memory, missing files, head)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


# Where a setting's starting value came from, shown beside it in the form and printed by run --json.
SOURCE_CHECKPOINT = "checkpoint"  # a file of the checkpoint says so (Sourced.detail names the file)
SOURCE_LIBRARY = "transformers default"  # the checkpoint is silent; the library's default applies
SOURCE_CHANGED = "changed here"  # the user changed it in the form or with --set


@dataclass(frozen=True)
class Sourced:
    """A setting's value as the checkpoint would have it, in the form's terms, and where it came from."""

    value: Any
    source: str  # SOURCE_CHECKPOINT or SOURCE_LIBRARY (or a task's own words for its defaults)
    detail: str = ""  # the file that set it ("generation_config.json", "1_Pooling/config.json")

    def describe(self) -> str:
        return f"{self.source} ({self.detail})" if self.detail else self.source


def settings_with_sources(values: dict[str, Any], defaults: dict[str, "Sourced"]) -> dict[str, dict[str, Any]]:
    """Each defaulted setting's effective value and source: "changed here" where it differs from the checkpoint's."""
    report = {}
    for name, default in defaults.items():
        value = values.get(name, default.value)
        source = default.describe() if value == default.value else SOURCE_CHANGED
        report[name] = {"value": json_ready(value), "source": source}
    return report


@dataclass(frozen=True)
class FromCheckpoint:
    """Something a form field takes from the checkpoint's small files (an attribute of ``heads.CheckpointFacts``)."""

    fact: str  # e.g. "mask_token", "has_chat_template"
    fallback: str = ""  # the text to use when the checkpoint does not say
    why_not: str = ""  # shown when a switch is off because the checkpoint lacks it


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str
    _: KW_ONLY
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    required: bool = False
    placeholder: str = ""
    requires: str = ""  # name of a bool field that must be on for this one to matter (forms grey it out)
    special_value: str = ""  # what the minimum of a number means, shown instead of it ("last", "off")
    insert_button: FromCheckpoint | None = None  # a button that types this text at the cursor (the mask token)
    only_if: FromCheckpoint | None = None  # a switch that means nothing unless the checkpoint has this

    def convert(self, raw: Any) -> Any:
        """Turn a form or command-line value into the declared type, or raise TaskInputError."""
        if raw is None:
            raw = self.default
        if self.kind in (KIND_TEXT, KIND_MULTILINE):
            value = "" if raw is None else str(raw)
            if self.required and not value.strip():
                raise TaskInputError(f"{self.label} is empty: type some text first")
            return value
        if self.kind in (KIND_LINES, KIND_CSV):
            if isinstance(raw, str):
                separator = "\n" if self.kind == KIND_LINES else ","
                items = [part.strip() for part in raw.split(separator)]
            else:
                items = [str(part).strip() for part in (raw or [])]
            items = [item for item in items if item]
            if self.required and not items:
                what = "one per line" if self.kind == KIND_LINES else "separated by commas"
                raise TaskInputError(f"{self.label} is empty: give at least one ({what})")
            return items
        if self.kind == KIND_IDS:
            return _token_ids(self.label, raw)
        if self.kind == KIND_ID_SEQUENCES:
            if isinstance(raw, str):
                text = raw.strip()
                raw = _json_list(self.label, text) if text.startswith("[") else [line.replace(",", " ").split() for line in text.splitlines()]
            if not isinstance(raw, (list, tuple)):
                raise TaskInputError(f"{self.label} must be sequences of token ids, one per line; got {_shown(raw)}")
            sequences = [_token_ids(self.label, item) for item in raw]
            return [item for item in sequences if item]
        if self.kind == KIND_STRINGS:
            return _exact_strings(self.label, raw)
        if self.kind == KIND_CONVERSATION:
            return _conversation(self, raw)
        if self.kind == KIND_BOOL:
            if isinstance(raw, str):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            return bool(raw)
        if self.kind == KIND_CHOICE:
            value = str(raw)
            if value not in self.choices:
                raise TaskInputError(f"{self.label} must be one of {', '.join(self.choices)}; got {value!r}")
            return value
        if self.kind in (KIND_INT, KIND_FLOAT):
            if self.special_value and isinstance(raw, str) and raw.strip().lower() == self.special_value.lower():
                raw = self.minimum
            try:
                value = int(raw) if self.kind == KIND_INT else float(raw)
            except (TypeError, ValueError, OverflowError):  # OverflowError: int() of an infinite float
                raise TaskInputError(f"{self.label} must be a number; got {_shown(raw)}") from None
            if not math.isfinite(value):  # NaN passes every range check, so refuse it (and infinities) by name
                raise TaskInputError(f"{self.label} must be a finite number; got {_shown(raw)}")
            if self.minimum is not None and value < self.minimum:
                raise TaskInputError(f"{self.label} must be at least {plain_number(self.minimum)}; got {plain_number(value)}")
            if self.maximum is not None and value > self.maximum:
                raise TaskInputError(f"{self.label} must be at most {plain_number(self.maximum)}; got {plain_number(value)}")
            return value
        raise TaskInputError(f"unknown field kind {self.kind!r}")


def _json_list(label: str, text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        raise TaskInputError(f"{label}: cannot read {_shown(text)} as a list") from None


def _token_ids(label: str, raw: Any) -> list[int]:
    """Token ids from "1, 2 3", "[1, 2]", one int or a list; empty or None is no ids."""
    if raw is None:
        return []
    if isinstance(raw, str):
        text = raw.strip()
        raw = _json_list(label, text) if text.startswith("[") else text.replace(",", " ").split()
    if isinstance(raw, (int, str)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise TaskInputError(f"{label} must be token ids (whole numbers); got {_shown(raw)}")
    ids = []
    for item in raw:
        try:
            value = int(item)
        except (TypeError, ValueError, OverflowError):
            raise TaskInputError(f"{label} must be token ids (whole numbers); got {_shown(item)}") from None
        if isinstance(item, float) and not item.is_integer() or not 0 <= value < 2**31:
            raise TaskInputError(f"{label}: {_shown(item)} is not a token id")
        ids.append(value)
    return ids


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape_line(line: str) -> str:
    """A line as typed, with \\n, \\t, \\r and \\\\ meaning the characters (a stop string may be a newline)."""
    out, index = [], 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line) and line[index + 1] in _ESCAPES:
            out.append(_ESCAPES[line[index + 1]])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def escape_line(text: str) -> str:
    """The inverse of unescape_line: one line that reads back as ``text``."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _exact_strings(label: str, raw: Any) -> list[str]:
    """Strings kept exactly (spaces and newlines count); from text, one per line with escapes, or a JSON list."""
    if raw is None:
        return []
    if isinstance(raw, str):
        text = raw.strip()
        raw = _json_list(label, text) if text.startswith("[") else [unescape_line(line) for line in raw.splitlines()]
    if not isinstance(raw, (list, tuple)) or not all(isinstance(item, str) for item in raw):
        raise TaskInputError(f"{label} must be text, one per line; got {_shown(raw)}")
    return [item for item in raw if item != ""]


CHAT_ROLES = ("system", "user", "assistant", "tool")


def _conversation(field_: "Field", raw: Any) -> list[dict[str, str]]:
    """Chat turns from a list of {"role", "content"} or from text: JSON, or "role: content" blocks."""
    if raw is None:
        raw = []
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            raw = _json_list(field_.label, text)
        else:
            turns: list[dict[str, str]] = []
            for line in raw.splitlines():
                role, colon, rest = line.partition(":")
                if colon and role.strip().lower() in CHAT_ROLES:
                    turns.append({"role": role.strip().lower(), "content": rest.strip()})
                elif turns:
                    turns[-1]["content"] += "\n" + line
                elif line.strip():
                    turns.append({"role": "user", "content": line})
            raw = turns
    if not isinstance(raw, (list, tuple)):
        raise TaskInputError(f"{field_.label} must be a list of turns; got {_shown(raw)}")
    turns = []
    for turn in raw:
        if not isinstance(turn, dict) or not isinstance(turn.get("role"), str) or not isinstance(turn.get("content", ""), str):
            raise TaskInputError(f"{field_.label}: each turn needs a role and text; got {_shown(turn)}")
        turns.append({"role": turn["role"], "content": turn.get("content", "")})
    if field_.required and not turns:
        raise TaskInputError(f"{field_.label} is empty: add at least one turn")
    return turns


def plain_number(value: float) -> str:
    """A number as people write it in a message: 2,147,483,647 or 0.95, not 2.14748e+09."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e16):
        try:
            return f"{int(value):,}"
        except ValueError:  # an int past Python's digit limit for printing
            return "a number with thousands of digits"
    return f"{value:,}" if abs(value) >= 1e-4 else repr(value)


def _shown(raw: Any, limit: int = 40) -> str:
    """The user's input quoted for a message, cut short: one pasted megabyte must not become the message."""
    text = repr(raw) if not isinstance(raw, int) else plain_number(raw)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class CommandLine:
    """Which fields ``model-explorer run``'s --text, --context and --labels fill (any field also takes --set)."""

    text: str
    context: str = ""
    labels: str = ""
    # How several --text options fill the form (default: joined one per line or with spaces, by the field's kind).
    several_texts: Callable[[list[str]], dict[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """Everything about one task, declared once by its module (see the module doc)."""

    id: str
    order: int  # place in the task picker and in --help
    title: str
    description: str
    # Which checkpoints it applies to (explorer.core.task_catalog decides with these):
    auto_class: str | None  # the Auto class that loads the model; None: the task needs only the tokenizer
    any_head: bool = False  # runs on the bare model, whatever head the weights were saved with
    needs_entailment_label: bool = False  # only for NLI classifiers (a label named 'entailment')
    inputs: tuple[Field, ...] = ()
    parameters: tuple[Field, ...] = ()
    command_line: CommandLine
    streams: bool = False  # yields Partial("token") pieces of generated text as it goes
    run: Callable[..., Job[TaskResult]]
    # Task-specific part of "copy as Python": script(values), or script(values, checkpoint) for a task
    # with checkpoint_defaults (the script then sets only what differs from the checkpoint's values).
    script: Callable[..., str]
    summary: Callable[[Any], Any]  # the part a standalone script prints identically (given the task's result)
    text_lines: Callable[[Any], list[str]]  # what the command line prints without --json
    result_type: str  # the result's "result_type"
    view: str  # the window's view of the result: module explorer.ui.demo_views.<view>
    # The checkpoint's own starting values for some fields, with their sources: (folder, loaded model or None)
    # -> {field name: Sourced}. Read from small files before loading (the form, the CLI), from the loaded
    # model at run time; fields it leaves out start from their Field.default.
    checkpoint_defaults: Callable[[str, Any], dict[str, Sourced]] | None = None

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.inputs + self.parameters

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    def defaults(self, checkpoint: dict[str, Sourced] | None = None) -> dict[str, Any]:
        """Each field's starting value: the checkpoint's where it has one, else the field's default."""
        checkpoint = checkpoint or {}
        return {f.name: checkpoint[f.name].value if f.name in checkpoint else f.default for f in self.fields}

    def defaults_for(self, folder: str, loaded: Any = None) -> dict[str, Sourced]:
        """The checkpoint's own starting values ({} for tasks that have none)."""
        if self.checkpoint_defaults is None:
            return {}
        return self.checkpoint_defaults(folder, loaded)

    def resolve(self, raw: dict[str, Any] | None, checkpoint: dict[str, Sourced] | None = None) -> dict[str, Any]:
        """Defaults filled in (the checkpoint's first), types converted, ranges checked; unknown names are an error."""
        raw = dict(raw or {})
        unknown = set(raw) - {f.name for f in self.fields}
        if unknown:
            raise TaskInputError(f"{self.title} has no setting named {', '.join(sorted(unknown))}")
        starting = self.defaults(checkpoint)
        return {f.name: f.convert(raw[f.name] if f.name in raw else starting[f.name]) for f in self.fields}

    def start(self, loaded: Any, raw_values: dict[str, Any] | None, cancel: CancelToken | None = None) -> Job[TaskResult]:
        """Run on a loaded model: fields the caller leaves out start from the checkpoint's values."""
        checkpoint = self.defaults_for(loaded.request.path, loaded) if self.checkpoint_defaults else None
        return self.run(loaded, self.resolve(raw_values, checkpoint), cancel or CancelToken())


# --------------------------------------------------------------------------- results


def json_ready(value: Any) -> Any:
    """A result's value in JSON's terms: records as their ``to_json``, tuples as lists, the rest as it is."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    return value


class Record:
    """A part of a task's result, declared as a dataclass: ``to_json`` gives its fields in their declared order.

    Parts a run makes many of (a row per token) are ``@dataclass(slots=True)``: as cheap to make as a dict.
    """

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        return {item.name: json_ready(getattr(self, item.name)) for item in fields(self)}


@dataclass(slots=True)
class ScoredLabel(Record):
    """A label and the model's score for it; tasks that say more about a label extend it."""

    label: str
    score: float


@dataclass(slots=True)
class ModelFacts(Record):
    """Which model gave a result, as loaded: the session adds it to every result."""

    path: str
    class_name: str | None
    device: str  # where the inputs went; "auto" when spread over devices
    dtype: str
    config_overrides: dict[str, Any]
    ignore_mismatched_sizes: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "class": self.class_name,
            "device": self.device,
            "dtype": self.dtype,
            "config_overrides": json_ready(self.config_overrides),
            "ignore_mismatched_sizes": self.ignore_mismatched_sizes,
        }


@dataclass(kw_only=True)
class TaskResult(Record):
    """What a task's run returns; each task module declares a subclass with its own fields.

    The subclass's fields come in the order ``run --json`` prints them, and ``notices`` (what the
    user should be told, a list of str) is one of them, where the task prints it. The session then
    fills in how long the run took and which model ran it; they are printed last.
    """

    RUN_FACTS: ClassVar[tuple[str, ...]] = ("seconds", "model")

    task: str
    result_type: str
    seconds: float | None = None
    model: ModelFacts | None = None

    def to_json(self) -> dict[str, Any]:
        own = {item.name: json_ready(getattr(self, item.name)) for item in fields(self) if item.name not in self.RUN_FACTS}
        if self.model is None:  # not run through a session
            return own
        return {**own, "seconds": self.seconds, "model": self.model.to_json()}


_REGISTRY: dict[str, TaskSpec] = {}
_DISCOVERED = False
_INFRASTRUCTURE = frozenset({"base", "devices", "session", "script", "cli", "heads", "generation_settings", "generation_run"})


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task to the registry: ``SPEC = register(TaskSpec(...))``, once per task module."""
    known = _REGISTRY.get(spec.id)
    if known is not None and known.run is not spec.run:
        raise ValueError(f"task id {spec.id!r} registered twice")
    _REGISTRY[spec.id] = spec
    return spec


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    import explorer.tasks as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _INFRASTRUCTURE and not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    _DISCOVERED = True


def all_tasks() -> list[TaskSpec]:
    """Every registered task, in its declared order (the order of the picker and of --help)."""
    _discover()
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.id))


def get_task(task_id: str) -> TaskSpec:
    _discover()
    try:
        return _REGISTRY[task_id]
    except KeyError:
        known = ", ".join(s.id for s in all_tasks())
        raise TaskInputError(f"unknown task {task_id!r}; known tasks: {known}") from None


# --------------------------------------------------------------------------- helpers shared by tasks


def rounded(value: float) -> float:
    return round(float(value), ROUND_DIGITS)


@dataclass
class Encoded:
    """Tokenizer output on the model's device plus what the user should be told about it."""

    inputs: Any  # BatchEncoding of tensors
    notices: list[str] = field(default_factory=list)


def max_input_length(loaded: Any) -> int:
    """The longest input the model takes: the tokenizer's limit, capped by the position table."""
    limits = []
    tokenizer_limit = getattr(loaded.tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 1_000_000:
        limits.append(tokenizer_limit)
    config = getattr(getattr(loaded, "model", None), "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    return min(limits) if limits else 512


def encode(loaded: Any, text: Any, text_pair: Any = None, truncation: Any = True, **kwargs: Any) -> Encoded:
    """Tokenize with truncation to the model's limit and say so when text was cut."""
    tokenizer = loaded.tokenizer
    limit = max_input_length(loaded)
    notices: list[str] = []
    # Usually the input fits: one tokenizer call. Only an over-long input is encoded a second time,
    # truncated, so the notice can say how long it was.
    inputs = tokenizer(text, text_pair, truncation=False, return_tensors="pt", **kwargs)
    length = inputs["input_ids"].shape[-1]
    if length > limit:
        notices.append(f"Input is {length} tokens; the model takes at most {limit}, so it was truncated to {limit} tokens.")
        inputs = tokenizer(text, text_pair, truncation=truncation, max_length=limit, return_tensors="pt", **kwargs)
    return Encoded(inputs.to(loaded.input_device), notices)


def label_names(config: Any) -> dict[int, str]:
    id2label = getattr(config, "id2label", None) or {}
    return {int(k): str(v) for k, v in id2label.items()}


__all__ = [
    "CommandLine",
    "Field",
    "FromCheckpoint",
    "ModelFacts",
    "Record",
    "ScoredLabel",
    "Sourced",
    "TaskResult",
    "TaskSpec",
    "TaskError",
    "TaskInputError",
    "register",
    "all_tasks",
    "get_task",
    "encode",
    "json_ready",
    "rounded",
]


@dataclass(frozen=True)
class Partial:
    """A piece of a result that is ready before the run ends (a generated token, one answer)."""

    kind: str
    data: Any  # the generation's pieces: a dict of the step; one mask's or answer's record of the task's result
