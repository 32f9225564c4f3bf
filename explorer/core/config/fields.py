"""The Fields section: every config.json field with its docs, default and type check, and the class's other fields."""

from __future__ import annotations

from explorer.core.config import field_docs
from explorer.core.config.lookups import base_config_class, config_class_for
from explorer.core.config.model import FieldRecord

_MISSING = object()


def _sub_config_class(spec, value: dict):
    config_class = getattr(spec, "config_class", None)
    if config_class is not None and getattr(config_class, "__name__", "") != "AutoConfig":
        return config_class
    model_type = value.get("model_type") if isinstance(value.get("model_type"), str) else getattr(spec, "model_type", None)
    return config_class_for(model_type) if model_type else None


def file_fields(raw: dict, config_cls, problems: list[str], prefix: str = "", check_types: bool = True) -> list[FieldRecord]:
    """One record per field config.json sets, sub-configs expanded; wrong types also go to ``problems``."""
    base_cls = base_config_class()
    info = field_docs.class_info(config_cls) if config_cls is not None else field_docs.class_info(base_cls)
    known_names = info.known_names | field_docs.class_info(base_cls).known_names
    fields = []
    for name in sorted(raw, key=lambda n: (n.startswith("_"), n.lower())):
        value = raw[name]
        doc = field_docs.field_doc(config_cls, name)
        default = info.defaults.get(name, _MISSING)
        alias_of = info.attribute_map.get(name)
        if default is _MISSING and alias_of:
            default = info.defaults.get(alias_of, _MISSING)
        record = FieldRecord(
            name=name,
            path=prefix + name,
            value=value,
            type=field_docs.type_label(value),
            default=None if default is _MISSING else default,
            has_default=default is not _MISSING,
            changed=default is not _MISSING and value != default,
            known=name in known_names or doc is not None,
            doc=doc.text if doc else None,
            doc_type=doc.type_text if doc else None,
            doc_source=doc.source if doc else None,
            alias_of=alias_of,
        )
        if config_cls is not None and check_types:
            problem = field_docs.type_problem(config_cls, alias_of or name, value)
            if problem:
                record.type_problem = problem
                problems.append(f"config.json: {prefix}{name} has the wrong type: {problem}")
        spec = info.sub_configs.get(name)
        if spec is not None and isinstance(value, dict):
            sub_cls = _sub_config_class(spec, value)
            record.sub_config = sub_cls.__name__ if sub_cls is not None else None
            record.children = file_fields(value, sub_cls, problems, prefix=f"{prefix}{name}.", check_types=check_types)
            record.changed = any(child.changed for child in record.children)
            record.has_default = True
        fields.append(record)
    return fields


def default_fields(raw: dict, config_cls, prefix: str = "") -> list[FieldRecord]:
    """Records for the config class's fields that config.json leaves out: the object still has them, at their defaults.

    ``model.config.output_hidden_states`` is such a field: users look for it although no file sets it.
    """
    if config_cls is None:
        return []
    info = field_docs.class_info(config_cls)
    present = set(raw) | {info.attribute_map[name] for name in raw if name in info.attribute_map}
    records = []
    for name in sorted(info.defaults, key=str.lower):
        if name in present or name.startswith("_"):
            continue
        default = info.defaults[name]
        doc = field_docs.field_doc(config_cls, name)
        records.append(FieldRecord(
            name=name,
            path=prefix + name,
            value=default,
            type=field_docs.type_label(default),
            default=default,
            has_default=True,
            known=True,
            doc=doc.text if doc else None,
            doc_type=doc.type_text if doc else None,
            doc_source=doc.source if doc else None,
            in_file=False,
        ))
    return records


def explain_fields(raw: dict, config_cls, docs_cls, obj, construction_error: str | None, problems: list[str]) -> list[FieldRecord]:
    """The Fields section; says why transformers refuses the file when it does.

    A config the strict dataclass accepted has every declared field of the right type; fields are
    checked one by one only to say which ones are wrong when it refused.
    """
    problems_before = len(problems)
    fields = file_fields(raw, docs_cls, problems, check_types=obj is None and config_cls is not None)
    fields += default_fields(raw, type(obj) if obj is not None else docs_cls)
    if construction_error is not None:
        if len(problems) > problems_before:
            problems.insert(problems_before, "transformers refuses this config.json (AutoConfig.from_pretrained fails) because of the field types below")
        else:
            problems.append(f"transformers cannot build {config_cls.__name__} from this config.json: {construction_error}")
    return fields


__all__ = ["default_fields", "explain_fields", "file_fields"]
