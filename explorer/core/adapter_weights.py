"""A PEFT adapter's tensors, mapped to the modules of its base model, read from file headers only.

peft saves an adapter's state dict with the names of the wrapped model: LoRA's two matrices of
``transformer.h.0.attn.c_attn`` are stored as ``base_model.model.transformer.h.0.attn.c_attn.lora_A.weight``
and ``...lora_B.weight`` (the adapter's name, "default", removed); IA3 stores one vector
(``...c_attn.ia3_l``); a module in ``modules_to_save`` is stored whole under its own name
(``base_model.model.lm_head.weight``). Here each stored name becomes (base module, part), and the
config's ``target_modules`` are matched against the base's module names the way peft matches them,
so the user sees which targets touch which modules and which touch nothing.

No torch at module level: the header is read by ``safetensors_header`` (or, for ``adapter_model.bin``,
by the restricted pickle reader, never unpickling anything); only the base's module tree needs
transformers, and it is built on the meta device by ``skeleton``.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from explorer.core.adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, AdapterConfig, find_base_checkpoint, read_adapter_config
from explorer.core.checkpoint import Checkpoint
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end
from explorer.core.pickle_reader import describe_pytorch_file
from explorer.core.pickle_scan import PickleImports
from explorer.core.safe_io import UnreadableFile
from explorer.core.safetensors_header import TensorInfo, read_header
from explorer.core.skeleton import Skeleton, SkeletonError, build_model_job, skeleton_from_model

# What peft calls the parameters each adapter type adds to a wrapped layer (the tuners' ``prefix``,
# peft.mapping.PEFT_TYPE_TO_PREFIX_MAPPING). A stored name's first component starting with one of
# these is the adapter's part; the components before it name the base module.
ADAPTER_PART_PREFIXES = (
    "lora_", "ia3_", "hada_", "lokr_", "oft_", "boft_", "vera_", "pvera_", "fourierft_", "vblora_", "hra_", "miss_",
    "bone_", "randlora_", "shira_", "c3a_", "road_", "delora_", "gralora_", "waveft_", "ln_tuning_", "adamss_",
    "beft_", "deft_", "frod_", "glora_", "hira_", "lily_", "osf_", "peanut_", "poly_", "psoft_", "shadow_",
    "supertuning_", "tinylora_", "unilora_", "xlora_", "trainable_tokens_",
)
PEFT_PREFIX = "base_model.model."

PART_ADAPTER = "adapter"  # parameters the adapter adds to a wrapped layer (lora_A, ia3_l, ...)
PART_SAVED = "modules_to_save"  # a whole module trained and stored in full, replacing the base's
PART_OTHER = "other"  # anything else (prompt embeddings, shared projections): no base module

# peft's task types and the Auto class its AutoPeftModelFor... classes load the base with: the
# stored names are relative to that model, so the base's tree is built with the same head.
TASK_HEADS = {
    "CAUSAL_LM": "AutoModelForCausalLM",
    "SEQ_2_SEQ_LM": "AutoModelForSeq2SeqLM",
    "SEQ_CLS": "AutoModelForSequenceClassification",
    "TOKEN_CLS": "AutoModelForTokenClassification",
    "QUESTION_ANS": "AutoModelForQuestionAnswering",
    "FEATURE_EXTRACTION": "AutoModel",
}
LINEAR_CLASSES = frozenset({"Linear", "Conv1D"})
ALL_LINEAR = "all-linear"
# A regular expression in target_modules is the file's text: a hostile one must not run long on every module.
MAX_PATTERN_CHARS = 2000
PATTERN_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class AdapterTensor:
    name: str  # as stored in the adapter's file
    module: str  # the base model's module it belongs to ("" when none: prompt embeddings, shared matrices)
    part: str  # "lora_A", "lora_B", "ia3_l", ...; for a module stored whole, its parameter ("weight")
    kind: str  # PART_ADAPTER, PART_SAVED or PART_OTHER
    shape: tuple[int, ...]
    dtype: str
    numel: int
    nbytes: int


@dataclass(slots=True)
class AdapterModule:
    """One base module the adapter changes, with the tensors it stores for it."""

    path: str
    kind: str  # PART_ADAPTER (a wrapped layer), PART_SAVED (replaced whole) or PART_OTHER
    tensors: list[AdapterTensor] = field(default_factory=list)
    in_base: bool | None = None  # None until the base's tree is known
    base_params: int | None = None  # the base module's parameters (tied ones included), once known

    @property
    def params(self) -> int:
        return sum(t.numel for t in self.tensors)


@dataclass(slots=True)
class AdapterWeights:
    """What an adapter folder stores: its config (when readable) and its tensors grouped by base module."""

    config: AdapterConfig | None = None
    file: str | None = None  # the weights file read (adapter_model.safetensors or .bin)
    tensors: list[AdapterTensor] = field(default_factory=list)
    modules: dict[str, AdapterModule] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pickle_imports: PickleImports | None = None

    @property
    def total_params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def by_dtype(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tensor in self.tensors:
            counts[tensor.dtype] = counts.get(tensor.dtype, 0) + tensor.numel
        return counts

    def wrapped(self) -> list[str]:
        """The base modules the adapter wraps with layers of its own (not the ones it stores whole)."""
        return [path for path, module in self.modules.items() if module.kind == PART_ADAPTER]


@dataclass(frozen=True, slots=True)
class TargetMatch:
    target: str  # one entry of target_modules (or the whole regular expression)
    modules: tuple[str, ...]  # base modules it matches, as peft would match them
    note: str = ""  # what could not be tried (an invalid or too slow regular expression)


@dataclass(slots=True)
class AdapterReport:
    weights: AdapterWeights
    base: Checkpoint | None = None
    skeleton: Skeleton | None = None
    targets: list[TargetMatch] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # targets that match nothing, tensors with no base module
    problems: list[str] = field(default_factory=list)  # what could not be read or built

    @property
    def base_params(self) -> int | None:
        return self.skeleton.total_params if self.skeleton is not None else None

    @property
    def share_of_base(self) -> float | None:
        """Adapter parameters as a fraction of the base's (None without a base tree)."""
        base = self.base_params
        return self.weights.total_params / base if base else None


# --- stored names -> base modules ----------------------------------------------------------------------


def _saved_pattern(modules_to_save: list[str]) -> re.Pattern | None:
    names = [re.escape(m) for m in modules_to_save if m]
    # peft's own test: the name is a component of the module path (``(^|.*\.)name($|\..*)``).
    return re.compile(rf"(^|.*\.)({'|'.join(names)})($|\..*)") if names else None


def split_stored_name(name: str, modules_to_save: list[str] | None = None) -> tuple[str, str, str]:
    """(base module, part, kind) of one stored adapter tensor name."""
    key = name.removeprefix(PEFT_PREFIX) if name.startswith(PEFT_PREFIX) else name.removeprefix("base_model.")
    parts = key.split(".")
    for i, component in enumerate(parts):
        if component in ("modules_to_save", "original_module") and i > 0:
            return ".".join(parts[:i]), ".".join(parts[i + 1:]) or component, PART_SAVED
        if component == "token_adapter" and i > 0:
            return ".".join(parts[:i]), ".".join(parts[i:]), PART_ADAPTER
        if component.startswith(ADAPTER_PART_PREFIXES):
            if i == 0:
                return "", component, PART_OTHER  # shared across layers (VeRA's vera_A), no single module
            return ".".join(parts[:i]), component, PART_ADAPTER
    module = ".".join(parts[:-1])
    saved = _saved_pattern(modules_to_save or [])
    if module and saved is not None and saved.fullmatch(module):
        return module, parts[-1], PART_SAVED
    return module, parts[-1], PART_OTHER


def _adapter_tensor(info: TensorInfo, modules_to_save: list[str]) -> AdapterTensor:
    module, part, kind = split_stored_name(info.name, modules_to_save)
    return AdapterTensor(info.name, module, part, kind, tuple(info.shape), info.dtype, info.numel, info.nbytes)


def _weights_file(source: Checkpoint | str | os.PathLike) -> tuple[str, str] | None:
    """(label, path) of the adapter's weights file, safetensors first as peft reads them."""
    for name in ADAPTER_WEIGHTS:
        if isinstance(source, Checkpoint):
            path = source.file_path(name)
        else:
            candidate = os.path.join(os.fspath(source), name)
            path = candidate if os.path.isfile(candidate) else None
        if path is not None:
            return name, path
    return None


def read_adapter_weights(source: Checkpoint | str | os.PathLike) -> AdapterWeights:
    """The adapter's config and tensors; what cannot be read is in ``problems``, never raised."""
    folder = source.path if isinstance(source, Checkpoint) else os.fspath(source)
    result = AdapterWeights()
    config_path = source.file_path(ADAPTER_CONFIG) if isinstance(source, Checkpoint) else None
    try:
        result.config = read_adapter_config(config_path or folder)
    except UnreadableFile as exc:
        result.problems.append(str(exc))
    found = _weights_file(source)
    if found is None:
        result.problems.append(f"no adapter weights ({' or '.join(ADAPTER_WEIGHTS)}) in this folder")
        return result
    label, path = found
    result.file = label
    if label.endswith(".safetensors"):
        try:
            infos = read_header(path, label).tensors
        except UnreadableFile as exc:
            result.problems.append(str(exc))
            return result
    else:
        report = describe_pytorch_file(path, label)
        result.pickle_imports = report.imports
        if report.error is not None:
            result.problems.append(str(report.error))
            return result
        infos = report.tensors
    saved = result.config.modules_to_save if result.config is not None else []
    for info in infos:
        tensor = _adapter_tensor(info, saved)
        result.tensors.append(tensor)
        module = result.modules.get(tensor.module)
        if module is None:
            module = result.modules[tensor.module] = AdapterModule(tensor.module, tensor.kind)
        elif tensor.kind == PART_SAVED:
            module.kind = PART_SAVED
        module.tensors.append(tensor)
    return result


# --- target_modules against the base's module names ----------------------------------------------------


def module_classes(skeleton: Skeleton) -> dict[str, str]:
    """Every module path of the base -> its class name; the root is "".

    Walked parents first, so a display group of identical blocks (which repeats its parent's path)
    never replaces the parent; a folded ModuleList ("h.0-11") is a ModuleList, not its blocks' class.
    """
    classes: dict[str, str] = {}
    for node in skeleton.root.walk():
        classes.setdefault(node.path, "ModuleList" if node.repeat > 1 else node.class_name)
    return classes


def _layer_allowed(config: dict, key: str) -> bool:
    """peft's layers_to_transform / layers_pattern filter for list targets (check_target_module_exists)."""
    indexes = config.get("layers_to_transform")
    if indexes is None or (isinstance(indexes, list) and not indexes):
        return True
    pattern = config.get("layers_pattern")
    match = None
    if not pattern:
        match = re.match(r".*?\.[^.]*\.(?P<idx>\d+)\.", key)
    else:
        for each in [pattern] if isinstance(pattern, str) else [p for p in pattern if isinstance(p, str)]:
            match = re.match(rf"(?:^|.*?\.){re.escape(each)}\.(?P<idx>\d+)\.", key)
            if match is not None:
                break
    if match is None:
        return False
    index = int(match.group("idx"))
    return index == indexes if isinstance(indexes, int) else index in indexes if isinstance(indexes, list) else False


class _PatternRefused(Exception):
    """A user's regular expression that cannot be tried; the message says why."""


def _user_pattern(text: str):
    """target_modules or exclude_modules as a regular expression, compiled by ``regex``.

    The user's pattern runs on every module name. ``re`` holds the interpreter lock while it backtracks,
    and a pattern such as ``(.*)*x`` backtracks for minutes, freezing the window; ``regex`` matches the
    same syntax, avoids most such blow-ups, releases the lock (``concurrent``) and stops at a timeout.
    """
    import regex

    if len(text) > MAX_PATTERN_CHARS:
        raise _PatternRefused(f"a regular expression of {len(text):,} characters; not tried")
    try:
        return regex.compile(text)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise _PatternRefused(f"not a valid regular expression ({exc})") from None


def _fullmatches(pattern, keys: list[str]) -> list[str]:
    deadline = time.monotonic() + PATTERN_SECONDS
    hits = []
    for key in keys:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            if pattern.fullmatch(key, timeout=remaining, concurrent=True):
                hits.append(key)
        except TimeoutError:
            raise _PatternRefused(f"the regular expression takes over {PATTERN_SECONDS:g} s to match the module names; not tried") from None
    return hits


def _not_excluded(config: dict, keys: list[str], saved: re.Pattern | None) -> tuple[list[str], str]:
    """The module names peft may wrap: not in exclude_modules, not stored whole; and a note when exclude_modules failed."""
    exclude = config.get("exclude_modules")
    note = ""
    excluded: set[str] = set()
    if isinstance(exclude, str) and exclude:
        try:
            excluded = set(_fullmatches(_user_pattern(exclude), keys))
        except _PatternRefused as exc:
            note = f"exclude_modules: {exc}"
    elif isinstance(exclude, list):
        names = [e for e in exclude if isinstance(e, str)]
        excluded = {k for k in keys if k in names or any(k.endswith(f".{e}") for e in names)}
    # Adapters never wrap a module that modules_to_save stores whole (peft's rule).
    return [k for k in keys if k not in excluded and (saved is None or saved.fullmatch(k) is None)], note


def _linear_modules(classes: dict[str, str]) -> list[str]:
    """What peft's 'all-linear' becomes: every Linear/Conv1D except the output layer (lm_head by convention here)."""
    return [path for path, cls in classes.items() if cls in LINEAR_CLASSES and path and path.rsplit(".", 1)[-1] != "lm_head"]


def match_targets(config: AdapterConfig, classes: dict[str, str]) -> list[TargetMatch]:
    """Which base modules each target_modules entry selects, as peft's check_target_module_exists decides."""
    target = config.target_modules
    if target is None:
        return []
    raw = config.fields
    candidates, note = _not_excluded(raw, [path for path in classes if path], _saved_pattern(config.modules_to_save))
    if isinstance(target, str):
        if target.lower() == ALL_LINEAR:
            return [TargetMatch(target, tuple(_linear_modules({k: classes[k] for k in candidates})), note)]
        shown = target if len(target) <= 200 else target[:80] + "…"
        try:
            return [TargetMatch(shown, tuple(_fullmatches(_user_pattern(target), candidates)), note)]
        except _PatternRefused as exc:
            return [TargetMatch(shown, (), str(exc))]
    matches = []
    for entry in target:
        hits = tuple(k for k in candidates if (k == entry or k.endswith(f".{entry}")) and _layer_allowed(raw, k))
        matches.append(TargetMatch(entry, hits, note))
    return matches


def compare_with_base(report: AdapterReport) -> None:
    """Fill the report's target matches and warnings from the base's tree (``report.skeleton``)."""
    skeleton, weights = report.skeleton, report.weights
    if skeleton is None:
        return
    classes = module_classes(skeleton)
    own: dict[str, int] = {}
    for node in skeleton.root.walk():
        if node.path not in own:
            # Tied parameters included: an lm_head tied to the embeddings still has its weight to replace.
            own[node.path] = sum(p.numel for n in node.walk() for p in n.params)
    for path, module in weights.modules.items():
        module.in_base = path in classes
        module.base_params = own.get(path) if module.in_base else None
    config = weights.config
    if config is not None:
        report.targets = match_targets(config, classes)
        base_id = report.base.id if report.base is not None else "the base model"
        for match in report.targets:
            if not match.modules:
                why = f" ({match.note})" if match.note else ""
                report.warnings.append(f"target {match.target!r} matches no module of {base_id}{why}")
            elif match.note and match.note not in report.warnings:
                report.warnings.append(match.note)
    stray = [path for path, module in weights.modules.items() if path and module.in_base is False]
    if stray:
        report.warnings.append(
            f"{len(stray)} module(s) the adapter stores tensors for are not in {skeleton.model_class} (e.g. {stray[0]})"
        )


# --- the job -----------------------------------------------------------------------------------------


def _head_for(config: AdapterConfig | None) -> str | None:
    return TASK_HEADS.get((config.task_type or "").upper()) if config is not None else None


def adapter_report_job(
    adapter: Checkpoint | str | os.PathLike,
    base: Checkpoint | None = None,
    cancel: CancelToken | None = None,
    checkpoints: list[Checkpoint] | None = None,
) -> Job[AdapterReport]:
    """Yields the adapter's AdapterWeights, then the base's Skeleton (when there is a base); returns the report.

    With ``checkpoints`` and no ``base``, the base is the one of them the adapter's config names
    (``find_base_checkpoint``), looked up here, off the caller's thread.
    """
    cancel = cancel or CancelToken()
    yield Progress(0, 3, "reading the adapter's tensors")
    weights = read_adapter_weights(adapter)
    yield weights
    if base is None and checkpoints:
        config = weights.config
        named = config.base_model if config is not None else (adapter.base_model if isinstance(adapter, Checkpoint) else None)
        base = find_base_checkpoint(named, checkpoints, config.revision if config is not None else None)
    report = AdapterReport(weights=weights, base=base, problems=list(weights.problems))
    if base is None:
        return report
    cancel.raise_if_cancelled()
    yield Progress(1, 3, f"building the module tree of {base.id}")
    head = _head_for(weights.config)
    try:
        built = yield from build_model_job(base, head, cancel)
    except SkeletonError as exc:
        if head is None or head in exc.heads:
            report.problems.append(f"the base's module tree could not be built: {exc}")
            return report
        # The base has no such head (an adapter trained on another task): its plain tree still names the modules.
        try:
            built = yield from build_model_job(base, None, cancel)
        except SkeletonError as again:
            report.problems.append(f"the base's module tree could not be built: {again}")
            return report
    yield Progress(2, 3, f"walking the module tree of {base.id}")
    report.skeleton = skeleton_from_model(built.model, built.head, built.custom_code)
    yield report.skeleton
    cancel.raise_if_cancelled()
    compare_with_base(report)
    return report


def adapter_report(adapter: Checkpoint | str | os.PathLike, base: Checkpoint | None) -> AdapterReport:
    return run_to_end(adapter_report_job(adapter, base))


__all__ = [
    "ADAPTER_PART_PREFIXES",
    "AdapterModule",
    "AdapterReport",
    "AdapterTensor",
    "AdapterWeights",
    "PART_ADAPTER",
    "PART_OTHER",
    "PART_SAVED",
    "TargetMatch",
    "adapter_report",
    "adapter_report_job",
    "compare_with_base",
    "match_targets",
    "module_classes",
    "read_adapter_weights",
    "split_stored_name",
]
