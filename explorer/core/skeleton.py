"""The model's module tree, built on the meta device (no memory for weights) and copied into plain nodes.

The model is constructed exactly as ``from_pretrained`` constructs it (the class's own
``get_init_context``: meta device, no weight init, no tying), then walked once into
``ModuleNode``/``ParamInfo`` records that the UI, the command line and head matching share.
Tied parameters (``all_tied_weights_keys`` plus genuinely shared objects) are counted once.
Runs of identical blocks in a ModuleList are grouped so an 80-layer model reads as one line.

torch/transformers are imported inside functions: the window imports this module at start-up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from explorer.core.checkpoint import Checkpoint
from explorer.core.config_limits import implausible_size
from explorer.core.safe_io import one_line
from explorer.core.jobs import CancelToken, ExpectedFailure, Job, Progress, run_to_end
from explorer.core.torch_import import import_transformers

DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1}


# Auto classes that map to a head class without naming its task.
GENERIC_AUTO_CLASSES = frozenset({"AutoModelForPreTraining", "AutoModelWithLMHead", "AutoModelForTextEncoding"})


class SkeletonError(ExpectedFailure):
    """The model could not be built on meta; the message is for the user.

    ``heads``/``head`` are filled when the config was readable, so the user can pick another head.
    """

    heads: list[str] = []
    head: str | None = None


@dataclass(slots=True, eq=False)
class ParamInfo:
    name: str  # local name within its module, e.g. "weight"
    path: str  # full name as in model.state_dict()
    shape: tuple[int, ...]
    dtype: str
    numel: int
    nbytes: int
    trainable: bool = True
    tied_to: str | None = None  # the parameter this one shares storage with (counted there, not here)


@dataclass(slots=True, eq=False)
class ModuleNode:
    name: str  # display name: "q_proj", "layers.0-79"
    path: str  # full module path ("" for the root)
    class_name: str
    params: list[ParamInfo] = field(default_factory=list)
    children: list["ModuleNode"] = field(default_factory=list)
    own_params: int = 0  # not counting tied copies
    total_params: int = 0
    total_bytes: int = 0
    repeat: int = 1  # >1: a group of identical blocks; children are the blocks
    parent: "ModuleNode | None" = None

    @property
    def is_group(self) -> bool:
        return self.repeat > 1

    def walk(self) -> Iterator["ModuleNode"]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(slots=True)
class Skeleton:
    root: ModuleNode
    model_class: str
    head: str  # Auto class (or concrete class) the tree was built for
    dtype: str
    total_params: int
    trainable_params: int
    total_bytes: int
    by_dtype: dict[str, int]  # dtype -> parameter count (tied counted once)
    tied: dict[str, str]  # tied parameter -> the parameter it shares
    class_modules: dict[str, str]  # class name -> defining module, for the source viewer
    custom_code: bool = False
    problems: list[str] = field(default_factory=list)

    def params(self) -> Iterator[ParamInfo]:
        for node in self.root.walk():
            yield from node.params

    def node_count(self) -> int:
        return sum(1 for _ in self.root.walk())


# --- configuration and class resolution -------------------------------------------------------------


def _config_json(config_file: str) -> dict:
    from explorer.core.discovery import ConfigUnreadable, read_config_file

    try:
        return read_config_file(config_file)
    except FileNotFoundError:
        raise SkeletonError("no config.json: the model structure cannot be built (tensors on disk are still listed)") from None
    except ConfigUnreadable as exc:
        raise SkeletonError(str(exc)) from None


def needs_remote_code(config_json: dict) -> bool:
    """True when the checkpoint's model type is not part of transformers but ships its own code."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return bool(config_json.get("auto_map")) and config_json.get("model_type") not in CONFIG_MAPPING_NAMES


def code_access_for(path: str):
    """Where transformers may read this checkpoint and with which trust (explorer.core.consent decides).

    Consent gives a view of the checkpoint holding copies of exactly the approved code; anything
    else, a broken consent store included, fails closed: the checkpoint itself, untrusted.
    """
    from explorer.core.consent import CodeAccess, code_access

    try:
        return code_access(path)
    except Exception:  # ConsentRequired (code changed since approval), an unreadable store: nothing runs
        return CodeAccess(os.fspath(path), False)


def remote_code_consented(path: str) -> bool:
    return code_access_for(path).trust_remote_code


def load_config(path: str, trust_remote_code: bool, config_json: dict | None = None):
    """The config object; from the folder, or from the JSON alone when the file is not stored under its name there."""
    from transformers import AutoConfig

    try:
        if config_json is not None:
            values = dict(config_json)
            return AutoConfig.for_model(values.pop("model_type", None), **values)
        return AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as exc:  # transformers raises many kinds for bad configs; the user needs the reason
        raise SkeletonError(f"config.json could not be loaded: {_first_paragraph(exc)}") from None


def _first_paragraph(exc: BaseException, limit: int = 300) -> str:
    """transformers' messages go on with upgrade advice over several paragraphs; the reason comes first."""
    return one_line(str(exc).strip().split("\n\n")[0].strip() or type(exc).__name__, limit)


def _auto_classes() -> dict[str, Any]:
    import transformers.models.auto.modeling_auto as modeling_auto

    classes = {}
    for name in dir(modeling_auto):
        if name.startswith("AutoModel"):
            candidate = getattr(modeling_auto, name)
            if getattr(candidate, "_model_mapping", None) is not None:
                classes[name] = candidate
    return classes


def available_heads(config, config_json: dict | None = None) -> list[str]:
    """Auto classes this model type supports (plus the custom ones its auto_map declares), AutoModel first."""
    heads = []
    model_type = getattr(config, "model_type", None)
    for name, auto in _auto_classes().items():
        if model_type in auto._model_mapping._model_mapping:
            heads.append(name)
    for name in (config_json or {}).get("auto_map", {}) or {}:
        if name.startswith("AutoModel") and name not in heads:
            heads.append(name)
    return sorted(heads, key=lambda n: (n != "AutoModel", n))


def default_head(config, config_json: dict | None = None) -> str:
    """The Auto class whose mapping gives the checkpoint's declared architecture (what a pipeline would load)."""
    # config.json may list anything there (42, "", null): only class names can name a class.
    architectures = [a for a in getattr(config, "architectures", None) or [] if isinstance(a, str) and a]
    model_type = getattr(config, "model_type", None)
    auto_map = (config_json or {}).get("auto_map", {}) or {}
    classes = _auto_classes()
    for arch in architectures:
        matches = []
        for name, auto in classes.items():
            mapped = auto._model_mapping._model_mapping.get(model_type)
            if mapped == arch or (isinstance(mapped, (list, tuple)) and arch in mapped):
                matches.append(name)
        if matches:
            # The base model maps from several Auto classes (AutoModel, AutoModelForTextEncoding...); AutoModel is the usual one.
            # A head class maps from its task's Auto class and from generic ones (T5ForConditionalGeneration is also
            # AutoModelForPreTraining's choice); the task's class is the one people use.
            return min(matches, key=lambda name: (name != "AutoModel", name in GENERIC_AUTO_CLASSES, name))
        for name, reference in auto_map.items():
            if name.startswith("AutoModel") and str(reference).endswith("." + arch):
                return name
        import transformers

        if hasattr(transformers, arch):
            return arch
    return "AutoModel"


def resolve_model_class(config, head: str, path: str, config_json: dict, trust_remote_code: bool):
    import transformers

    auto_map = config_json.get("auto_map", {}) or {}
    if trust_remote_code and head in auto_map:
        from transformers.dynamic_module_utils import get_class_from_dynamic_module

        reference = auto_map[head]
        if isinstance(reference, (list, tuple)):
            reference = reference[0]
        return get_class_from_dynamic_module(reference, path, local_files_only=True)
    classes = _auto_classes()
    if head in classes:
        from transformers.models.auto.auto_factory import _get_model_class

        try:
            return _get_model_class(config, classes[head]._model_mapping)
        except KeyError:
            raise SkeletonError(f"{head} does not support model type {config.model_type!r}") from None
    model_class = getattr(transformers, head, None)
    if isinstance(model_class, type) and hasattr(model_class, "get_init_context"):
        return model_class
    raise SkeletonError(f"{head} is not an Auto class or a transformers model class")


def build_meta_model(model_class, config, dtype=None):
    """Instantiate like from_pretrained does: meta device, no init, weights not yet tied."""
    import copy

    import torch
    from transformers.utils.generic import ContextManagers

    if dtype is None:
        dtype = getattr(config, "dtype", None) or torch.float32
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, torch.float32)
        if not isinstance(dtype, torch.dtype):
            dtype = torch.float32
    config = copy.deepcopy(config)
    try:
        with ContextManagers(model_class.get_init_context(dtype, False, False, False)):
            return model_class(config)
    except Exception as exc:  # arbitrary model code: any failure means "cannot build on meta"
        raise SkeletonError(f"{model_class.__name__} failed to build on the meta device: {type(exc).__name__}: {exc}") from None


# --- tree ----------------------------------------------------------------------------------------------

_INT_NAME = re.compile(r"^\d+$")


def _dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def tree_from_model(model) -> tuple[ModuleNode, dict[str, str], dict[str, str]]:
    """Walk the module tree once: (root node, tied map, class name -> module)."""
    tied = dict(getattr(model, "all_tied_weights_keys", None) or {})
    first_path_of: dict[int, str] = {}
    class_modules: dict[str, str] = {}
    signatures: dict[int, int] = {}

    def visit(module, name: str, path: str, parent: ModuleNode | None) -> ModuleNode:
        cls = type(module)
        class_modules.setdefault(cls.__name__, cls.__module__)
        node = ModuleNode(name=name, path=path, class_name=cls.__name__, parent=parent)
        own = own_bytes = 0
        param_sig = []
        for local, param in module._parameters.items():
            if param is None:
                continue
            full = f"{path}.{local}" if path else local
            numel = param.numel()
            dtype = _dtype_name(param.dtype)
            info = ParamInfo(
                name=local, path=full, shape=tuple(param.shape), dtype=dtype, numel=numel,
                nbytes=numel * param.element_size(), trainable=bool(param.requires_grad),
            )
            shared_with = first_path_of.get(id(param))
            if shared_with is not None:
                info.tied_to = shared_with
            elif full in tied:
                info.tied_to = tied[full]
            else:
                first_path_of[id(param)] = full
                own += numel
                own_bytes += info.nbytes
            node.params.append(info)
            param_sig.append((local, info.shape, dtype, info.tied_to is None))
        node.own_params = own
        node.total_params = own
        node.total_bytes = own_bytes
        child_sig = []
        for child_name, child in module._modules.items():
            if child is None:
                continue
            child_path = f"{path}.{child_name}" if path else child_name
            child_node = visit(child, child_name, child_path, node)
            node.children.append(child_node)
            node.total_params += child_node.total_params
            node.total_bytes += child_node.total_bytes
            child_sig.append((child_name if not _INT_NAME.match(child_name) else "#", signatures[id(child_node)]))
        signatures[id(node)] = hash((cls.__name__, tuple(param_sig), tuple(child_sig)))
        _group_repeats(node, signatures)
        return node

    root = visit(model, "", "", None)
    root.name = type(model).__name__
    return root, tied, class_modules


def _group_repeats(node: ModuleNode, signatures: dict[int, int]) -> None:
    """Fold runs of identical numbered blocks: 'layers.0-79' x80 instead of 80 sibling lines."""
    children = node.children
    if len(children) < 2 or not all(_INT_NAME.match(c.name) for c in children):
        return
    runs: list[list[ModuleNode]] = []
    for child in children:
        if runs and signatures[id(runs[-1][0])] == signatures[id(child)]:
            runs[-1].append(child)
        else:
            runs.append([child])
    if len(runs) == len(children):
        return
    if len(runs) == 1:
        node.name = f"{node.name}.{children[0].name}-{children[-1].name}"
        node.repeat = len(children)
        node.class_name = children[0].class_name
        return
    grouped = []
    for run in runs:
        if len(run) == 1:
            grouped.append(run[0])
            continue
        group = ModuleNode(
            name=f"{run[0].name}-{run[-1].name}", path=node.path, class_name=run[0].class_name,
            children=run, own_params=0, total_params=sum(c.total_params for c in run),
            total_bytes=sum(c.total_bytes for c in run), repeat=len(run), parent=node,
        )
        for block in run:
            block.parent = group
        grouped.append(group)
    node.children = grouped


def skeleton_from_model(model, head: str, custom_code: bool = False) -> Skeleton:
    root, tied, class_modules = tree_from_model(model)
    by_dtype: dict[str, int] = {}
    trainable = 0
    for node in root.walk():
        for param in node.params:
            if param.tied_to is None:
                by_dtype[param.dtype] = by_dtype.get(param.dtype, 0) + param.numel
                if param.trainable:
                    trainable += param.numel
    dtype = _dtype_name(getattr(model, "dtype", "float32"))
    return Skeleton(
        root=root, model_class=type(model).__name__, head=head, dtype=dtype, total_params=root.total_params,
        trainable_params=trainable, total_bytes=root.total_bytes, by_dtype=by_dtype, tied=tied,
        class_modules=class_modules, custom_code=custom_code,
    )


@dataclass(slots=True)
class BuiltModel:
    """A meta model with what produced it; head matching needs the model itself."""

    model: Any
    config: Any
    config_json: dict
    head: str
    heads: list[str]
    custom_code: bool
    # The folder transformers read: the checkpoint, or with consent a view holding only approved code.
    load_path: str = ""


def _source_path(source: Checkpoint | str | os.PathLike) -> str:
    return source.path if isinstance(source, Checkpoint) else os.fspath(source)


def build_model_job(source: Checkpoint | str | os.PathLike, head: str | None = None, cancel: CancelToken | None = None) -> Job[BuiltModel]:
    cancel = cancel or CancelToken()
    path = _source_path(source)
    yield Progress(0, 3, "reading config")
    in_folder = os.path.join(path, "config.json")
    # Legacy caches keep files under content hashes; the record knows where config.json really is.
    config_file = (source.file_path("config.json") if isinstance(source, Checkpoint) else None) or in_folder
    config_json = _config_json(config_file)
    too_large = implausible_size(config_json)
    if too_large:
        raise SkeletonError(too_large)
    yield Progress(0, 3, "loading transformers")
    import_transformers()
    custom = needs_remote_code(config_json)
    access = code_access_for(path) if custom else None
    trusted = custom and access is not None and access.trust_remote_code
    if custom and not trusted:
        raise SkeletonError(
            "this checkpoint needs its own code to build the model; allow its custom code (Config tab) to see the module tree"
        )
    load_path = access.path if access is not None and access.trust_remote_code else path
    config = load_config(load_path, trusted, None if os.path.abspath(config_file) == os.path.abspath(in_folder) else config_json)
    heads = available_heads(config, config_json if trusted else None)
    chosen = head or default_head(config, config_json if trusted else None)
    cancel.raise_if_cancelled()
    yield Progress(1, 3, f"building {chosen} on the meta device")
    try:
        model_class = resolve_model_class(config, chosen, load_path, config_json, trusted)
        model = build_meta_model(model_class, config)
    except SkeletonError as exc:
        exc.heads, exc.head = heads, chosen
        raise
    cancel.raise_if_cancelled()
    return BuiltModel(
        model=model, config=config, config_json=config_json, head=chosen, heads=heads, custom_code=trusted, load_path=load_path
    )


def build_skeleton_job(source: Checkpoint | str | os.PathLike, head: str | None = None, cancel: CancelToken | None = None) -> Job[Skeleton]:
    built = yield from build_model_job(source, head, cancel)
    yield Progress(2, 3, "walking the module tree")
    return skeleton_from_model(built.model, built.head, built.custom_code)


def build_skeleton(source: Checkpoint | str | os.PathLike, head: str | None = None) -> Skeleton:
    return run_to_end(build_skeleton_job(source, head))


class SourceUnavailable(ExpectedFailure, LookupError):
    """A module class's source cannot be shown (custom code not allowed, no source file); the message says why."""


def module_source(skeleton: Skeleton, class_name: str) -> str:
    """Source of a module class, for reading. Custom code is only available if it was consented and loaded."""
    import importlib
    import inspect
    import sys

    module_name = skeleton.class_modules.get(class_name)
    if module_name is None:
        raise SourceUnavailable(f"{class_name} is not part of this model")
    module = sys.modules.get(module_name)
    if module is None:
        if not module_name.startswith(("torch.", "transformers.")):
            raise SourceUnavailable(f"the code of {class_name} is custom code that has not been allowed")
        module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise SourceUnavailable(f"{class_name} not found in {module_name}")
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError) as exc:
        raise SourceUnavailable(f"no source available for {class_name} ({exc})") from None
