"""The Config report as data: one dataclass per part, each printing itself as ``inspect --json`` does.

``to_json()`` keeps the command line's keys, their order and their values; attributes the
command line does not print (the sources of custom code, config.json as text) stay on the
objects for the window. Rows carry their own record: the window never finds one by its text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from explorer.core.code_scan import CodeScan
from explorer.core.consent import STATE_NOT_NEEDED, CodeFile, ConsentStatus
from explorer.core.head_survey import HeadCheck

# How an Auto class treats the head the weights were saved with (ResolutionRow.relation).
RELATION_SAME = "same"
RELATION_LOADS_ALL = "loads-all"
RELATION_DROPS_HEAD = "drops-head"
RELATION_NEW_HEAD = "new-head"
RELATION_DIFFERENT_HEAD = "different-head"
RELATION_MISMATCH = "mismatch"
RELATION_UNKNOWN = "unknown"

# Where a row's class comes from (ResolutionRow.source).
SOURCE_AUTO_MAP = "auto_map"
SOURCE_MAPPING = "mapping"

# How a value compares between two checkpoints (CompareRow.status).
SAME = "same"
DIFFERS = "differs"
ONLY_A = "only-a"
ONLY_B = "only-b"


@dataclass(slots=True)
class FieldRecord:
    """One config field: its value, what transformers says about it, and whether it left the default."""

    name: str
    path: str  # dotted, for fields of sub-configs ("encoder.hidden_size")
    value: Any
    type: str  # the JSON type as users read it ("int", "list[2]")
    default: Any = None
    has_default: bool = False
    changed: bool = False
    known: bool = False
    doc: str | None = None
    doc_type: str | None = None
    doc_source: str | None = None
    alias_of: str | None = None
    type_problem: str | None = None
    sub_config: str | None = None
    children: list["FieldRecord"] = field(default_factory=list)
    in_file: bool = True  # False: a field of the config class that config.json leaves at its default

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "value": self.value,
            "type": self.type,
            "default": self.default,
            "has_default": self.has_default,
            "changed": self.changed,
            "known": self.known,
            "doc": self.doc,
            "doc_type": self.doc_type,
            "doc_source": self.doc_source,
            "alias_of": self.alias_of,
            "type_problem": self.type_problem,
            "sub_config": self.sub_config,
            "children": [child.to_json() for child in self.children],
            "in_file": self.in_file,
        }


def iter_fields(fields: Iterable[FieldRecord]) -> Iterator[FieldRecord]:
    """Every field record, sub-config fields included, depth first."""
    for record in fields:
        yield record
        yield from iter_fields(record.children)


@dataclass(frozen=True, slots=True)
class Fact:
    """A number people otherwise work out by hand, with how it was worked out."""

    label: str
    value: Any
    text: str
    how: str

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "value": self.value, "text": self.text, "how": self.how}


@dataclass(slots=True)
class ResolutionRow:
    """What one Auto class builds for this checkpoint, why, and what it does with the saved weights."""

    auto_class: str
    head: str = ""
    resolves_to: str | None = None
    source: str | None = None  # SOURCE_AUTO_MAP, SOURCE_MAPPING or None
    needs_consent: bool = False
    reason: str = ""
    relation: str | None = None  # RELATION_*: guessed from class names, exact once the weights are checked
    note: str = ""
    would_build: str | None = None  # without model_type: the class it would build once the type is added
    weights: HeadCheck | None = None  # the weights check, once done

    @property
    def shown_class(self) -> str | None:
        """The class this row is about: the one it builds, or would build once config.json has a model_type."""
        return self.resolves_to or self.would_build

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "auto_class": self.auto_class,
            "head": self.head,
            "resolves_to": self.resolves_to,
            "source": self.source,
            "needs_consent": self.needs_consent,
            "reason": self.reason,
            "relation": self.relation,
            "note": self.note,
        }
        if self.would_build is not None:
            data["would_build"] = self.would_build
        if self.weights is not None:
            data["weights"] = self.weights.to_json()
        return data


@dataclass(slots=True)
class RemoteCode:
    """The checkpoint's own Python code: what the consent store says about it, and its text for reading."""

    consent: ConsentStatus | None = None  # None: the folder was not read at all
    auto_map: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str | None] = field(default_factory=dict)  # file name -> text (for the window only)

    @property
    def state(self) -> str:
        return self.consent.state if self.consent is not None else STATE_NOT_NEEDED

    @property
    def needs_code(self) -> bool:
        return self.consent is not None and self.consent.needs_code

    @property
    def files(self) -> list[CodeFile]:
        return list(self.consent.files) if self.consent is not None else []

    @property
    def changed_files(self) -> list[str]:
        return list(self.consent.changed_files) if self.consent is not None else []

    @property
    def missing_files(self) -> list[str]:
        return list(self.consent.missing_files) if self.consent is not None else []

    @property
    def problems(self) -> list[str]:
        return list(self.consent.problems) if self.consent is not None else []

    def to_json(self) -> dict[str, Any]:
        if self.consent is None:
            return {"state": STATE_NOT_NEEDED, "files": [], "auto_map": dict(self.auto_map)}
        return {**self.consent.to_json(), "auto_map": self.auto_map}


@dataclass(slots=True)
class OtherFile:
    """One of the small settings files beside config.json (generation, tokenizer, adapter...)."""

    name: str
    present: bool = False
    data: Any = None  # the JSON as read (the tokenizer's chat template replaced by a pointer to it)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (label, text): what matters in it
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "present": self.present,
            "data": self.data,
            "summary": [[label, text] for label, text in self.summary],
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ChatTemplate:
    name: str
    source: str  # the file it comes from
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "text": self.text}


@dataclass(frozen=True, slots=True)
class Registration:
    """The auto_map and register() calls that make code config.json does not point at loadable."""

    config_class: str | None
    config_file: str | None
    auto_map: dict[str, str]
    auto_map_json: str
    python: str
    heads: dict[str, str]  # Auto class -> model class
    type_mismatch: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Registration":
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class CodeScanSection:
    """Python files beside a config.json without auto_map: what they define, read without running them."""

    scan: CodeScan
    registration: Registration

    def to_json(self) -> dict[str, Any]:
        return {**self.scan.to_json(), "registration": self.registration.to_json()}


@dataclass(slots=True)
class ConfigReport:
    """Everything the Config tab and ``model-explorer inspect`` say about a checkpoint's configuration."""

    path: str
    config_file: str | None = None
    model_type: str | None = None
    architectures: list[str] = field(default_factory=list)
    config_class: str | None = None
    config_class_module: str | None = None
    transformers_version: str | None = None  # the one that saved config.json
    installed_transformers_version: str | None = None
    fields: list[FieldRecord] = field(default_factory=list)
    derived: dict[str, Fact] = field(default_factory=dict)
    resolution: list[ResolutionRow] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    remote_code: RemoteCode = field(default_factory=RemoteCode)
    other_files: list[OtherFile] = field(default_factory=list)
    chat_templates: list[ChatTemplate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    config: dict | None = None  # config.json as read; None when missing or unreadable
    config_text: str | None = None  # config.json as text, for copying (the window only)
    python: str = ""  # "Copy as Python"
    load_hint: str = ""
    has_tokenizer: bool = False
    code_scan: CodeScanSection | None = None
    suggested_model_type: str | None = None
    defaults_note: str | None = None  # why the config class's defaults come from its declarations
    weights_checked: bool | None = None  # None: not asked to check (the window checks on its own)
    weights_note: str | None = None  # why the weights could not be checked

    @property
    def auto_classes(self) -> dict[str, str | None]:
        return {row.auto_class: row.resolves_to for row in self.resolution}

    @property
    def saved_head(self) -> str | None:
        return self.architectures[0] if self.architectures else None

    @property
    def needs_remote_code(self) -> bool:
        return self.remote_code.needs_code

    @property
    def remote_code_files(self) -> list[str]:
        return [f.name for f in self.remote_code.files]

    def row(self, auto_class: str) -> ResolutionRow | None:
        return next((row for row in self.resolution if row.auto_class == auto_class), None)

    def to_json(self) -> dict[str, Any]:
        """What ``model-explorer inspect --json`` prints of the config (the window-only texts left out)."""
        data: dict[str, Any] = {
            "path": self.path,
            "config_file": self.config_file,
            "model_type": self.model_type,
            "architectures": list(self.architectures),
            "config_class": self.config_class,
            "config_class_module": self.config_class_module,
            "transformers_version": self.transformers_version,
            "installed_transformers_version": self.installed_transformers_version,
            "fields": [record.to_json() for record in self.fields],
            "derived": {key: fact.to_json() for key, fact in self.derived.items()},
            "auto_classes": self.auto_classes,
            "resolution": [row.to_json() for row in self.resolution],
            "tasks": list(self.tasks),
            "needs_remote_code": self.needs_remote_code,
            "remote_code_files": self.remote_code_files,
            "remote_code": self.remote_code.to_json(),
            "other_files": [section.to_json() for section in self.other_files],
            "chat_templates": [template.to_json() for template in self.chat_templates],
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "config": self.config,
            "python": self.python,
            "load_hint": self.load_hint,
            "has_tokenizer": self.has_tokenizer,
            "code_scan": self.code_scan.to_json() if self.code_scan is not None else None,
            "suggested_model_type": self.suggested_model_type,
        }
        if self.defaults_note:
            data["defaults_note"] = self.defaults_note
        if self.config is not None:
            # Only a report that read config.json got as far as naming the saved head.
            data["saved_head"] = self.saved_head
        if self.weights_checked is not None:
            data["weights_checked"] = self.weights_checked
            if self.weights_note is not None:
                data["weights_note"] = self.weights_note
        return data


@dataclass(frozen=True, slots=True)
class AutoClassDoc:
    """What an Auto class is for and the docstring of the class it builds (``help(...)`` in the tutorials)."""

    auto_class: str
    head: str = ""
    purpose: str = ""
    class_name: str | None = None
    class_doc: list[str] = field(default_factory=list)
    doc_source: str | None = None
    problem: str | None = None

    @classmethod
    def failed(cls, problem: str) -> "AutoClassDoc":
        """No documentation, only why (a failed read): nothing names an Auto class."""
        return cls(auto_class="", problem=problem)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class CompareRow:
    """One config value (or derived fact) of two checkpoints side by side."""

    name: str
    a: Any
    b: Any
    status: str  # SAME, DIFFERS, ONLY_A, ONLY_B
    label: str | None = None  # facts have a label to show; config values show their dotted name

    def to_json(self) -> dict[str, Any]:
        data = {"name": self.name, "a": self.a, "b": self.b, "status": self.status}
        if self.label is not None:
            data["label"] = self.label
        return data


__all__ = [
    "AutoClassDoc", "ChatTemplate", "CodeScanSection", "CompareRow", "ConfigReport", "DIFFERS", "Fact", "FieldRecord",
    "ONLY_A", "ONLY_B", "OtherFile", "RELATION_DIFFERENT_HEAD", "RELATION_DROPS_HEAD", "RELATION_LOADS_ALL",
    "RELATION_MISMATCH", "RELATION_NEW_HEAD", "RELATION_SAME", "RELATION_UNKNOWN", "Registration", "RemoteCode",
    "ResolutionRow", "SAME", "SOURCE_AUTO_MAP", "SOURCE_MAPPING", "iter_fields",
]
