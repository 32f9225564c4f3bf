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

from explorer.core.safe_io import UnreadableFile, one_line, read_bounded
from explorer.core.snippets import is_identifier, python_identifier, python_literal

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
    folder: str = ""
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
    scan = CodeScan(folder=folder)
    try:
        with os.scandir(folder) as entries:
            # Not only regular files: a FIFO or device named like code is listed, then refused by the reader.
            names = sorted(entry.name for entry in entries if entry.name.endswith(".py") and not entry.is_dir())
    except OSError:
        return scan
    scan.files = names
    classes: list[ScannedClass] = []
    for name in names:
        try:
            source = read_bounded(os.path.join(folder, name), name, MAX_SCANNED_BYTES)
        except UnreadableFile as exc:
            scan.problems.append(f"{exc} (its classes are not listed)")
            continue
        try:
            tree = ast.parse(source, filename=name)
        except (SyntaxError, ValueError) as exc:
            scan.problems.append(one_line(f"{name} cannot be parsed: {type(exc).__name__}: {exc}"))
            continue
        except (RecursionError, MemoryError):  # the parser's own limits on nesting, hit by hostile code
            scan.problems.append(f"{name} cannot be parsed: its code is nested too deeply")
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


# Names the register code itself uses; a checkpoint class of the same name gets another variable.
SNIPPET_NAMES = frozenset({"checkpoint", "model", "config", "transformers", "get_class_from_dynamic_module", "AutoConfig"})


def suggested_registration(scan: CodeScan, model_type: str | None, auto_class_names: list[str]) -> dict:
    """The auto_map and register() code that make the scanned classes loadable by the Auto classes.

    Returns {"config_class", "auto_map", "auto_map_json", "python", "heads": {auto: class}, "type_mismatch"}.
    Names and strings read from the checkpoint's code enter "python" as literals or checked identifiers
    (explorer.core.snippets): a ``config_class = "..."`` string is looked up by name when the code runs.
    """
    config = next((c for c in scan.config_classes if model_type and c.model_type == model_type), None)
    config = config or (scan.config_classes[0] if scan.config_classes else None)
    heads: dict[str, ScannedClass] = {}
    for cls in scan.model_classes:
        auto_name = auto_class_for(cls.name, auto_class_names)
        if auto_name and is_identifier(auto_name) and auto_name not in heads:
            heads[auto_name] = cls
    auto_map: dict[str, str] = {}
    if config is not None:
        auto_map["AutoConfig"] = f"{config.file.removesuffix('.py')}.{config.name}"
    for auto_name, cls in heads.items():
        auto_map[auto_name] = f"{cls.file.removesuffix('.py')}.{cls.name}"
    mismatch = None
    if config is not None and model_type and config.model_type and config.model_type != model_type:
        mismatch = f"{config.name}.model_type is '{config.model_type}' but config.json says '{model_type}'"
    return {
        "config_class": config.name if config is not None else None,
        "config_file": config.file if config is not None else None,
        "auto_map": auto_map,
        "auto_map_json": json.dumps({"auto_map": auto_map}),
        "python": _register_code(scan, config, heads, model_type),
        "heads": {auto: cls.name for auto, cls in heads.items()},
        "type_mismatch": mismatch,
    }


def _quoted(text: str) -> str:
    return python_literal(text, quote='"')


def _register_code(scan: CodeScan, config: ScannedClass | None, heads: dict[str, ScannedClass], model_type: str | None) -> str:
    if config is None and not heads:
        return ""
    reserved = SNIPPET_NAMES | set(heads)
    variables: dict[int, str] = {}  # id(class) -> the variable that holds it

    def variable(cls: ScannedClass) -> str:
        if id(cls) not in variables:
            taken = set(variables.values())
            name = cls.name if is_identifier(cls.name) and cls.name not in reserved | taken else f"class_{len(variables) + 1}"
            variables[id(cls)] = python_identifier(name)
        return variables[id(cls)]

    loads: list[str] = []

    def load(cls: ScannedClass) -> str:
        known = id(cls) in variables
        name = variable(cls)
        if not known:
            ref = f"{cls.file.removesuffix('.py')}.{cls.name}"
            # Modeling files import their configuration relatively (from .configuration_x import ...), so a plain
            # import fails; transformers' own loader for checkpoint code handles that, as trust_remote_code does.
            loads.append(f"{name} = get_class_from_dynamic_module({_quoted(ref)}, checkpoint, local_files_only=True)")
        return name

    registers: list[str] = []
    by_name = {c.name: c for c in scan.config_classes}
    uses_transformers = False
    if config is not None:
        registers.append(f"AutoConfig.register({_quoted(config.model_type or model_type or '')}, {load(config)})")
    for auto_name, cls in heads.items():
        model_variable = load(cls)
        if cls.config_class in by_name:
            config_variable = load(by_name[cls.config_class])
        elif config is not None:
            config_variable = load(config)
        elif cls.config_class:
            # A config class the folder does not define (one of transformers' own): found by name at run time.
            config_variable, uses_transformers = f"getattr(transformers, {_quoted(cls.config_class)})", True
        else:
            registers.append(f"# {python_identifier(auto_name)}: no config class found for this model class in the folder's code")
            continue
        registers.append(f"{python_identifier(auto_name)}.register({config_variable}, {model_variable})")
    autos = sorted(({"AutoConfig"} if config is not None else set()) | set(heads))
    lines = [f"from transformers import {', '.join(python_identifier(a) for a in autos)}"]
    if uses_transformers:
        lines.insert(0, "import transformers")
    lines += [
        "from transformers.dynamic_module_utils import get_class_from_dynamic_module",
        "",
        f"checkpoint = {_quoted(scan.folder)}",
        *loads,
        "",
        *registers,
    ]
    return "\n".join(lines) + "\n"


__all__ = ["CodeScan", "ScannedClass", "scan_folder", "find_class", "auto_class_for", "suggested_registration"]
