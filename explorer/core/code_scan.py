"""What a checkpoint's own Python files define, read with ``ast`` and never executed.

A folder can hold ``configuration_x.py`` and ``modeling_x.py`` while its config.json has no
``auto_map`` (the author registered the classes in a script with ``AutoConfig.register``).
transformers then cannot load it, and the only useful advice is to point at the classes the
files define: which Auto class each one fits, the ``auto_map`` that would make the folder
loadable, and the ``register`` calls that do the same from Python.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field

MAX_SCANNED_BYTES = 2 * 1024 * 1024
CONFIG_BASES = {"PreTrainedConfig", "PretrainedConfig"}
MODEL_BASES = {"PreTrainedModel"}
# Head class suffixes that name their Auto class differently from "For<Task>".
SUFFIX_AUTO_CLASS = {"LMHeadModel": "AutoModelForCausalLM", "Model": "AutoModel"}


@dataclass(slots=True)
class ScannedClass:
    name: str
    file: str
    bases: list[str]
    model_type: str | None = None  # class attribute of a config class
    config_class: str | None = None  # `config_class = X` of a model class
    docstring: str | None = None


@dataclass(slots=True)
class CodeScan:
    files: list[str] = field(default_factory=list)
    config_classes: list[ScannedClass] = field(default_factory=list)
    model_classes: list[ScannedClass] = field(default_factory=list)  # concrete ones, abstract *PreTrainedModel left out
    problems: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.config_classes or self.model_classes)

    def to_json(self) -> dict:
        def entry(c: ScannedClass) -> dict:
            return {"name": c.name, "file": c.file, "model_type": c.model_type, "config_class": c.config_class}

        return {
            "files": list(self.files),
            "config_classes": [entry(c) for c in self.config_classes],
            "model_classes": [entry(c) for c in self.model_classes],
            "problems": list(self.problems),
        }


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):  # Generic[...] style bases
        return _base_name(node.value)
    return None


def _class_string_attribute(node: ast.ClassDef, name: str) -> str | None:
    for statement in node.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
            if isinstance(value, ast.Name):
                return value.id
    return None


def scan_folder(folder: str) -> CodeScan:
    """Config and model classes defined by the top-level ``.py`` files of ``folder`` (parsed, not imported)."""
    scan = CodeScan()
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.name.endswith(".py") and entry.is_file())
    except OSError:
        return scan
    scan.files = names
    classes: list[ScannedClass] = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.path.getsize(path) > MAX_SCANNED_BYTES:
                scan.problems.append(f"{name} is too large to scan")
                continue
            with open(path, "rb") as handle:
                tree = ast.parse(handle.read(), filename=name)
        except (OSError, SyntaxError, ValueError) as exc:
            scan.problems.append(f"{name} cannot be parsed: {type(exc).__name__}: {exc}")
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                classes.append(ScannedClass(
                    name=node.name,
                    file=name,
                    bases=[b for b in (_base_name(base) for base in node.bases) if b],
                    model_type=_class_string_attribute(node, "model_type"),
                    config_class=_class_string_attribute(node, "config_class"),
                    docstring=ast.get_docstring(node),
                ))
    # Subclasses of subclasses count: LtgBertForMaskedLM(LtgBertPreTrainedModel(PreTrainedModel)).
    config_names, model_names = set(CONFIG_BASES), set(MODEL_BASES)
    changed = True
    while changed:
        changed = False
        for cls in classes:
            for known in (config_names, model_names):
                if cls.name not in known and any(b in known for b in cls.bases):
                    known.add(cls.name)
                    changed = True
    scan.config_classes = [c for c in classes if c.name in config_names and c.name not in CONFIG_BASES]
    scan.model_classes = [
        c for c in classes
        if c.name in model_names and c.name not in MODEL_BASES and not c.name.endswith(("PreTrainedModel", "PretrainedModel"))
    ]
    return scan


def find_class(folder: str, class_name: str) -> ScannedClass | None:
    """A class of the checkpoint's code by name (for its docstring), without running the code."""
    scan = scan_folder(folder)
    return next((c for c in scan.config_classes + scan.model_classes if c.name == class_name), None)


def auto_class_for(class_name: str, auto_class_names: list[str]) -> str | None:
    """The Auto class a model class name fits: LtgBertForMaskedLM -> AutoModelForMaskedLM."""
    best = None
    for auto_name in auto_class_names:
        task = auto_name.removeprefix("AutoModel")
        if task.startswith("For") and class_name.endswith(task) and (best is None or len(task) > len(best[1])):
            best = (auto_name, task)
    if best is not None:
        return best[0]
    for suffix, auto_name in SUFFIX_AUTO_CLASS.items():
        if class_name.endswith(suffix) and auto_name in auto_class_names:
            return auto_name
    return None


def suggested_registration(scan: CodeScan, model_type: str | None, auto_class_names: list[str]) -> dict:
    """The auto_map and register() code that make the scanned classes loadable by the Auto classes.

    Returns {"config_class", "auto_map", "auto_map_json", "python", "heads": {auto: class}, "type_mismatch"}.
    """
    config = next((c for c in scan.config_classes if model_type and c.model_type == model_type), None)
    config = config or (scan.config_classes[0] if scan.config_classes else None)
    heads: dict[str, ScannedClass] = {}
    for cls in scan.model_classes:
        auto_name = auto_class_for(cls.name, auto_class_names)
        if auto_name and auto_name not in heads:
            heads[auto_name] = cls
    auto_map: dict[str, str] = {}
    if config is not None:
        auto_map["AutoConfig"] = f"{config.file.removesuffix('.py')}.{config.name}"
    for auto_name, cls in heads.items():
        auto_map[auto_name] = f"{cls.file.removesuffix('.py')}.{cls.name}"
    lines = []
    if config is not None or heads:
        autos = sorted(({"AutoConfig"} if config is not None else set()) | set(heads))
        # Modeling files import their configuration relatively (from .configuration_x import ...), so a plain
        # import fails; transformers' own loader for checkpoint code handles that, as trust_remote_code does.
        lines.append(f"from transformers import {', '.join(autos)}")
        lines.append("from transformers.dynamic_module_utils import get_class_from_dynamic_module")
        lines.append("")
        loaded: list[str] = []
        for cls in ([config] if config is not None else []) + list(heads.values()):
            if cls.name in loaded:
                continue
            loaded.append(cls.name)
            ref = f"{cls.file.removesuffix('.py')}.{cls.name}"
            lines.append(f"{cls.name} = get_class_from_dynamic_module({json.dumps(ref)}, CHECKPOINT_FOLDER, local_files_only=True)")
        lines.append("")
        if config is not None:
            lines.append(f"AutoConfig.register({json.dumps(config.model_type or model_type or '')}, {config.name})")
        for auto_name, cls in heads.items():
            lines.append(f"{auto_name}.register({cls.config_class or (config.name if config else 'CONFIG_CLASS')}, {cls.name})")
    mismatch = None
    if config is not None and model_type and config.model_type and config.model_type != model_type:
        mismatch = f"{config.name}.model_type is '{config.model_type}' but config.json says '{model_type}'"
    return {
        "config_class": config.name if config is not None else None,
        "config_file": config.file if config is not None else None,
        "auto_map": auto_map,
        "auto_map_json": json.dumps({"auto_map": auto_map}),
        "python": "\n".join(lines) + ("\n" if lines else ""),
        "heads": {auto: cls.name for auto, cls in heads.items()},
        "type_mismatch": mismatch,
    }


__all__ = ["CodeScan", "ScannedClass", "scan_folder", "find_class", "auto_class_for", "suggested_registration"]
