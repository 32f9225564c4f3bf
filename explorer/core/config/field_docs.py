"""What each config field means and defaults to, read from the installed transformers.

The source of truth is the config class itself: its docstring's ``Args:`` section (filled
by transformers' ``auto_docstring``), the base ``PreTrainedConfig`` docstring, the dataclass
fields with their types, and an instance built with no arguments for the defaults. All of
it is computed once per class and cached: the Config tab asks for it on every selection.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

# "    vocab_size (`int`, *optional*, defaults to `30522`):"
_ENTRY = re.compile(r"^(?P<indent>[ \t]*)(?P<names>[A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)\s*\((?P<spec>.*)\)\s*:\s*$")
# "    - **vocab_size** (`int`) -- The number of tokens ..."
_BULLET = re.compile(r"^\s*-\s+\*\*(?P<name>\w+)\*\*\s*\((?P<spec>[^)]*)\)\s*--\s*(?P<text>.*)$")
_SECTION = re.compile(r"^\s*(Args?|Arguments|Parameters|Attributes)\s*:\s*$")
_OTHER_SECTION = re.compile(r"^\s*(Examples?|Returns?|Raises|Example usage|Notes?)\s*:?\s*$")
_DEFAULT = re.compile(r"defaults?\s+to\s+(?P<value>`[^`]*`|\S+)", re.IGNORECASE)

# Keys transformers writes into every config.json, or reads from it, without listing them in
# a docstring. Phrased here so the table has a line for each instead of a blank.
EXTRA_DOCS: dict[str, str] = {
    "model_type": "Identifier of the architecture family. AutoConfig uses it to pick the config class, and the "
    "Auto model classes use that config class to pick the model class.",
    "transformers_version": "Version of transformers that saved this config. A version newer than the installed "
    "one may use fields or classes this installation does not know.",
    "auto_map": "Maps Auto classes (AutoConfig, AutoModel, AutoModelFor...) to classes in the checkpoint's own "
    "Python files ('module.Class'). Loading through it runs that code, which needs trust_remote_code.",
    "torch_dtype": "Older name of `dtype`: the dtype the weights were saved in (float32, float16, bfloat16).",
    "task_specific_params": "Per-task settings used by older pipelines, for example a prefix such as 'summarize: ' "
    "to put before the input text.",
    "tie_word_embeddings": "Whether the output projection (LM head) shares its weight matrix with the input "
    "token embeddings. When true, the head adds no parameters of its own.",
    "_name_or_path": "The name or path the config was loaded from when it was saved. Informational only.",
    "rope_scaling": "Older name of the RoPE scaling settings (type, factor, original_max_position_embeddings). "
    "Scaling stretches rotary position embeddings to contexts longer than the model was trained on.",
    "rope_theta": "Base period of the rotary position embeddings. Larger values suit longer contexts.",
    "rope_parameters": "Rotary position embedding settings: rope_type, rope_theta and, for scaled variants, "
    "factor and original_max_position_embeddings.",
    "num_labels": "Number of output labels of a classification head.",
    "quantization_config": "How the weights are quantized (method, bits, group size). Loading needs the matching "
    "quantization library.",
    "use_return_dict": "Older name of `return_dict`.",
    "gradient_checkpointing": "Training option saved by older versions; ignored when loading.",
    "finetuning_task": "Name of the task the checkpoint was fine-tuned on, saved by older training scripts.",
    "decoder_start_token_id": "Token id the decoder starts generating from in encoder-decoder models.",
    "bos_token_id": "Id of the beginning-of-sequence token.",
    "eos_token_id": "Id (or ids) of the end-of-sequence token; generation stops there.",
    "pad_token_id": "Id of the padding token.",
    "sep_token_id": "Id of the separator token.",
    "max_length": "Generation setting saved in older configs: maximum length of generated sequences. "
    "transformers now reads it from generation_config.json.",
}


@dataclass(frozen=True, slots=True)
class FieldDoc:
    name: str
    type_text: str  # as written in the docstring, e.g. "int" or "Union[float, int]"
    default_text: str | None  # "defaults to `...`" as written; None when the docstring gives none
    text: str  # the description
    source: str  # class name the text comes from, or "explorer" for EXTRA_DOCS


def _strip_backticks(text: str) -> str:
    return text.strip().strip("`").strip()


def _parse_spec(spec: str) -> tuple[str, str | None]:
    default = None
    match = _DEFAULT.search(spec)
    if match:
        default = _strip_backticks(match.group("value")).rstrip(",")
    parts = spec.split("`")
    if spec.lstrip().startswith("`") and len(parts) > 1:
        # Types can contain commas (Union[float, int]); take the first backticked span.
        type_text = parts[1]
    else:
        type_text = spec.split(",")[0]
    return _strip_backticks(type_text), default


def _dedent_join(lines: list[str]) -> str:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(stripped)
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def parse_docstring(doc: str | None, source: str = "") -> dict[str, FieldDoc]:
    """Field docs from a Google/HF-style docstring: ``Args:`` entries and ``- **name** (...) --`` bullets."""
    if not doc:
        return {}
    lines = doc.expandtabs(4).splitlines()
    result: dict[str, FieldDoc] = {}
    in_args = False
    entry_indent: int | None = None
    current_names: list[str] = []
    current_spec: tuple[str, str | None] = ("", None)
    current_lines: list[str] = []

    def flush() -> None:
        if current_names:
            text = _dedent_join(current_lines)
            for name in current_names:
                result.setdefault(name, FieldDoc(name, current_spec[0], current_spec[1], text, source))

    for line in lines:
        bullet = _BULLET.match(line)
        if bullet:
            type_text, default = _parse_spec(bullet.group("spec"))
            result.setdefault(
                bullet.group("name"), FieldDoc(bullet.group("name"), type_text, default, bullet.group("text").strip(), source)
            )
            continue
        if _SECTION.match(line):
            flush()
            current_names, current_lines = [], []
            in_args, entry_indent = True, None
            continue
        if not in_args:
            continue
        if _OTHER_SECTION.match(line) and (entry_indent is None or len(line) - len(line.lstrip()) < entry_indent):
            flush()
            current_names, current_lines = [], []
            in_args = False
            continue
        stripped = line.strip()
        if stripped.startswith(">"):
            # "> Parameters for fine-tuning tasks": a sub-heading inside Args.
            continue
        entry = _ENTRY.match(line)
        indent = len(line) - len(line.lstrip())
        if entry and (entry_indent is None or indent <= entry_indent):
            flush()
            entry_indent = indent
            current_names = [n.strip() for n in entry.group("names").split(",")]
            current_spec = _parse_spec(entry.group("spec"))
            current_lines = []
            continue
        if current_names and (not stripped or indent > (entry_indent or 0)):
            current_lines.append(line)
        elif stripped and entry_indent is not None and indent < entry_indent:
            flush()
            current_names, current_lines = [], []
            in_args = False
    flush()
    return result


@functools.lru_cache(maxsize=None)
def base_docs() -> dict[str, FieldDoc]:
    from transformers import PreTrainedConfig

    return parse_docstring(PreTrainedConfig.__doc__, "PreTrainedConfig")


@functools.lru_cache(maxsize=512)
def class_docs(config_cls: type) -> dict[str, FieldDoc]:
    """Docs of every field the class documents, its own text first, then its bases', then PreTrainedConfig's."""
    merged: dict[str, FieldDoc] = {}
    for klass in config_cls.__mro__:
        if klass is object:
            continue
        if klass.__name__ == "PreTrainedConfig":
            break
        # __doc__ is inherited when a class has none; read each class's own only.
        own = klass.__dict__.get("__doc__")
        for name, doc in parse_docstring(own, klass.__name__).items():
            merged.setdefault(name, doc)
    for name, doc in base_docs().items():
        merged.setdefault(name, doc)
    return merged


def field_doc(config_cls: type | None, name: str) -> FieldDoc | None:
    docs = class_docs(config_cls) if config_cls is not None else base_docs()
    doc = docs.get(name)
    if doc is None and config_cls is not None:
        target = getattr(config_cls, "attribute_map", {}).get(name)
        if target:
            doc = docs.get(target)
            if doc is not None:
                doc = FieldDoc(name, doc.type_text, doc.default_text, f"Alias of `{target}`. {doc.text}", doc.source)
    if doc is None and name in EXTRA_DOCS:
        doc = FieldDoc(name, "", None, EXTRA_DOCS[name], "explorer")
    return doc


def _jsonable(value: Any) -> Any:
    """A JSON-shaped copy (dict keys as strings, dtypes and configs as text) for comparing with config.json."""
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except (TypeError, ValueError):
        return repr(value)


def _json_default(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return str(value).removeprefix("torch.")


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """Everything about a config class the report needs, computed once."""

    name: str
    defaults: dict[str, Any]  # JSON-shaped
    field_types: dict[str, Any]  # dataclass field name -> resolved type annotation (or None)
    attribute_map: dict[str, str]
    sub_configs: dict[str, Any]  # field name -> SubConfigSpec
    defaults_error: str | None

    @property
    def known_names(self) -> set[str]:
        return set(self.field_types) | set(self.attribute_map) | set(self.defaults)


def _resolved_field_types(config_cls: type) -> dict[str, Any]:
    import typing

    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # annotations naming things not importable here (torch.dtype, TYPE_CHECKING names)
        hints = {}
    types: dict[str, Any] = {}
    if dataclasses.is_dataclass(config_cls):
        for f in dataclasses.fields(config_cls):
            annotation = hints.get(f.name, f.type)
            types[f.name] = None if isinstance(annotation, str) else annotation
    return types


@functools.lru_cache(maxsize=512)
def class_info(config_cls: type) -> ClassInfo:
    defaults: dict[str, Any] = {}
    error = None
    try:
        instance = config_cls()
        defaults = _jsonable(instance.to_dict())
    except Exception as exc:  # composite configs that need sub-configs, remote classes with required args
        error = f"{config_cls.__name__}() cannot be built without arguments ({type(exc).__name__}); defaults come from its field declarations"
        if dataclasses.is_dataclass(config_cls):
            for f in dataclasses.fields(config_cls):
                if f.default is not dataclasses.MISSING:
                    defaults[f.name] = _jsonable(f.default)
                elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                    try:
                        defaults[f.name] = _jsonable(f.default_factory())  # type: ignore[misc]
                    except Exception:
                        pass
    # Bookkeeping written by save_pretrained, not a setting with a meaningful default.
    defaults.pop("transformers_version", None)
    defaults.pop("_name_or_path", None)
    return ClassInfo(
        name=config_cls.__name__,
        defaults=defaults,
        field_types=_resolved_field_types(config_cls),
        attribute_map=dict(getattr(config_cls, "attribute_map", {}) or {}),
        sub_configs=dict(getattr(config_cls, "sub_configs_defaults", {}) or {}),
        defaults_error=error,
    )


def type_problem(config_cls: type, name: str, value: Any) -> str | None:
    """Why ``value`` does not fit the declared type of field ``name``; None when it fits or is unchecked."""
    expected = class_info(config_cls).field_types.get(name)
    if expected is None:
        return None
    try:
        from huggingface_hub.dataclasses import type_validator
    except ImportError:
        return None
    try:
        type_validator(name, value, expected)
    except (TypeError, ValueError) as exc:
        return str(exc).strip().splitlines()[-1].strip()
    except Exception:
        return None
    return None


def type_label(value: Any) -> str:
    """The JSON type as users read it in config.json."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return f"list[{len(value)}]"
    if isinstance(value, dict):
        return f"object{{{len(value)}}}"
    return type(value).__name__


__all__ = ["FieldDoc", "ClassInfo", "parse_docstring", "class_docs", "base_docs", "field_doc", "class_info", "type_problem", "type_label", "EXTRA_DOCS"]
