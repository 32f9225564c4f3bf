"""Loading the formats besides transformers folders: a PEFT adapter on its base model, and a GGUF file.

An adapter loads as a notebook loads it: the base with the Auto class the adapter's ``task_type``
implies, then ``PeftModel.from_pretrained(base, adapter_folder)``; the tokenizer is the adapter's
when its folder has one, else the base's. The adapter can be switched off for a run without
reloading (peft's ``disable_adapter()``), so both outputs come from the same loaded model.

A GGUF loads with ``from_pretrained(folder, gguf_file=name)`` where the installed transformers
knows its architecture; its weights are then dequantised to a PyTorch dtype, which the load's
notice says (from which types, to which dtype, at what memory). Where transformers cannot load it
(an architecture it does not map, a split model, a type it cannot dequantise) ``gguf_target``
says why in one sentence before anything is tried. Nothing here imports torch at module level.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

from explorer.core.checkpoint import FORMAT_ADAPTER, FORMAT_GGUF, Checkpoint
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.tasks.base import ModelFacts, TaskError

# peft's TaskType -> the Auto class of the model it wraps (None: the task's own head).
PEFT_AUTO_CLASSES = {
    "CAUSAL_LM": "AutoModelForCausalLM",
    "SEQ_CLS": "AutoModelForSequenceClassification",
    "TOKEN_CLS": "AutoModelForTokenClassification",
    "QUESTION_ANS": "AutoModelForQuestionAnswering",
    "SEQ_2_SEQ_LM": "AutoModelForSeq2SeqLM",
    "FEATURE_EXTRACTION": "AutoModel",
}


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """peft asks transformers' deprecated ``is_gradient_checkpointing``: that one FutureWarning, nothing broader."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        yield


MISSING_ADAPTER_KEYS = "Found missing adapter keys"  # peft's warning when the base has no module for a saved weight


def adapter_auto_class(task_type: str | None) -> str | None:
    return PEFT_AUTO_CLASSES.get((task_type or "").upper())


def saved_head_auto_class(architecture: str) -> str | None:
    from explorer.tasks.heads import _auto_class_of_architecture

    return _auto_class_of_architecture(architecture)


def missing_base_message(base_model: str | None) -> str:
    if not base_model:
        return "The adapter's adapter_config.json names no base model (base_model_name_or_path), so it cannot be loaded."
    return (
        f"The base model {base_model} is not on this machine (neither in the hub cache nor in the scanned folders), so the "
        f"adapter cannot run. Download it (e.g. hf download {base_model}) or add the folder that holds it, then choose the "
        "adapter again."
    )


# --------------------------------------------------------------------------- what to load


@dataclass(frozen=True)
class LoadTarget:
    """Where the model of a non-transformers checkpoint comes from, worked out before loading.

    ``path`` is the folder from_pretrained reads (an adapter's base, a GGUF's folder); ``blocked``
    is the one sentence saying why it cannot be loaded ("" when it can).
    """

    format: str
    path: str | None
    adapter: str | None = None  # the adapter folder
    gguf_file: str | None = None  # the file name inside ``path``
    auto_class: str | None = None  # the head the format fixes (adapter task_type, GGUF architecture); None: any
    blocked: str = ""
    description: str = ""  # what is loaded, for the Demo's header ("LoRA adapter on gpt2 (hub cache, main)")
    model_type: str | None = None
    architectures: tuple[str, ...] = ()
    needs_remote_code: bool = False
    has_chat_template: bool = False
    num_parameters: int | None = None  # a GGUF's: what dequantising multiplies by the dtype's size
    file_bytes: int | None = None

    def dequantised_size(self) -> str:
        """A GGUF's memory once dequantised, before loading: 'about 151 KiB in float32, 76 KiB in (b)float16' ('' if unknown)."""
        from explorer.core.formatting import human_bytes

        if not self.num_parameters:
            return ""
        return (
            f"about {human_bytes(self.num_parameters * 4)} in float32, {human_bytes(self.num_parameters * 2)} in (b)float16, "
            f"for a {human_bytes(self.file_bytes)} file"
        )


def adapter_target(adapter_folder: str, checkpoints: list[Checkpoint] | None = None, base_path: str | None = None) -> LoadTarget:
    """The base found for an adapter: ``base_path`` when given (the CLI's --base), else among ``checkpoints``."""
    from explorer.core.adapters import find_base_checkpoint, read_adapter_config
    from explorer.core.locate import loadable_checkpoint
    from explorer.core.safe_io import UnreadableFile

    try:
        config = read_adapter_config(adapter_folder)
    except UnreadableFile as error:
        return LoadTarget(FORMAT_ADAPTER, None, adapter_folder, blocked=f"The adapter cannot be read: {error}")
    auto_class = adapter_auto_class(config.task_type)
    kind = f"{config.kind} adapter" + (f" (r={config.r})" if config.r else "")
    if base_path is not None:
        if not os.path.isdir(base_path):
            return LoadTarget(FORMAT_ADAPTER, None, adapter_folder, auto_class, blocked=f"--base {base_path}: no such folder")
        from explorer.tasks.heads import checkpoint_facts

        saved = checkpoint_facts(base_path).config
        architectures = [a for a in saved.get("architectures") or () if isinstance(a, str)]
        if auto_class is None and architectures:
            auto_class = saved_head_auto_class(architectures[0])
        return LoadTarget(
            FORMAT_ADAPTER, os.path.abspath(base_path), adapter_folder, auto_class=auto_class,
            description=f"{kind} on {base_path}", model_type=saved.get("model_type") if isinstance(saved.get("model_type"), str) else None,
            architectures=tuple(architectures),
        )
    base = find_base_checkpoint(config.base_model, list(checkpoints or []), config.revision)
    if auto_class is None and base is not None and base.architectures:
        # No task_type: peft puts the adapter on the model as given, so its weights are named after the base's own
        # head (a bare AutoModel would leave them all out).
        auto_class = saved_head_auto_class(base.architectures[0])
    if base is None:
        return LoadTarget(FORMAT_ADAPTER, None, adapter_folder, auto_class, blocked=missing_base_message(config.base_model),
                          description=f"{kind} on {config.base_model or 'an unnamed base model'}")
    where = base.source + (f", {base.revision[:10]}" if base.revision else "")
    return LoadTarget(
        FORMAT_ADAPTER, loadable_checkpoint(base).path, adapter_folder, auto_class=auto_class,
        description=f"{kind} on {base.id} ({where})", model_type=base.model_type,
        architectures=tuple(base.architectures), needs_remote_code=base.needs_remote_code,
    )


# GGUF architecture names (llama.cpp's) that transformers knows under another name.
GGUF_ARCHITECTURE_ALIASES = {
    "qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "minimax-m2": "minimax_m2",
    "t5encoder": "t5", "command-r": "cohere",
}
GGUF_SEQ2SEQ = frozenset({"t5", "umt5"})
GGUF_ENCODERS = frozenset({"t5encoder"})
# Keys of transformers' GGUF mapping table that are sections, not architectures.
_NOT_ARCHITECTURES = frozenset({"general", "tokenizer", "tokenizer_config"})


def gguf_architectures() -> tuple[frozenset[str], str]:
    """The GGUF architectures the installed transformers loads, and its version ('' with an empty set: none)."""
    try:
        import transformers
        from transformers.integrations.ggml import GGUF_CONFIG_MAPPING
    except Exception:  # noqa: BLE001 (no transformers, or one without GGUF support)
        return frozenset(), ""
    names = set(GGUF_CONFIG_MAPPING) - _NOT_ARCHITECTURES
    try:  # the newer loader, which may keep weights in their blocks
        from transformers.integrations.gguf import GGUF_ARCHS

        names |= set(GGUF_ARCHS)
    except Exception:  # noqa: BLE001
        pass
    return frozenset(names), transformers.__version__


def gguf_auto_class(architecture: str) -> str:
    if architecture in GGUF_ENCODERS:
        return "AutoModel"
    return "AutoModelForSeq2SeqLM" if architecture in GGUF_SEQ2SEQ else "AutoModelForCausalLM"


def gguf_target(parts: list[str]) -> LoadTarget:
    """How transformers would load this GGUF model (its file path(s), first part first), or why it cannot."""
    from explorer.core.gguf_file import read_gguf
    from explorer.core.safe_io import UnreadableFile

    if not parts:
        return LoadTarget(FORMAT_GGUF, None, blocked="The GGUF file is missing (moved or deleted?).")
    first = parts[0]
    folder, name = os.path.dirname(os.path.abspath(first)), os.path.basename(first)
    try:
        header = read_gguf(first)
    except UnreadableFile as error:
        return LoadTarget(FORMAT_GGUF, folder, gguf_file=name, blocked=f"The GGUF file cannot be read: {error}")
    architecture = header.architecture or "unknown"
    target = LoadTarget(
        FORMAT_GGUF, folder, gguf_file=name, auto_class=gguf_auto_class(architecture), model_type=architecture,
        description=f"GGUF {architecture} model, {name}", has_chat_template=isinstance(header.metadata.get("tokenizer.chat_template"), str),
        num_parameters=header.num_parameters, file_bytes=header.file_size,
    )
    known, version = gguf_architectures()
    if not version:
        return dataclasses.replace(target, blocked="The installed transformers cannot read GGUF files, so this model cannot run here.")
    if len(parts) > 1:
        return dataclasses.replace(target, blocked=(
            f"This model is split into {len(parts)} files and transformers loads a GGUF from one file only; merge the parts "
            "(llama.cpp's gguf-split --merge) to run it here."
        ))
    if architecture not in known and GGUF_ARCHITECTURE_ALIASES.get(architecture) not in known:
        return dataclasses.replace(target, blocked=(
            f"transformers {version} cannot load GGUF models of architecture {architecture!r}, so this model runs only in "
            "llama.cpp, Ollama or LM Studio."
        ))
    unknown = sorted(t for t in header.dtypes if t.startswith("unknown"))
    if unknown:
        return dataclasses.replace(target, blocked=(
            f"Some tensors are of a quantisation type the installed gguf package does not know ({', '.join(unknown)}), "
            "so they cannot be dequantised for PyTorch."
        ))
    return target


def target_for(checkpoint: Checkpoint, checkpoints: list[Checkpoint] | None = None) -> LoadTarget | None:
    """The load target of an adapter or GGUF checkpoint; None for a transformers folder."""
    if checkpoint.format == FORMAT_ADAPTER:
        return adapter_target(checkpoint.path, checkpoints)
    if checkpoint.format == FORMAT_GGUF:
        target = gguf_target(checkpoint.gguf_parts())
        if target.model_type and target.gguf_file:  # named as the list names it (an Ollama blob is "model.gguf")
            target = dataclasses.replace(target, description=f"GGUF {target.model_type} model, {checkpoint.id}")
        return target
    return None


# --------------------------------------------------------------------------- loading


def _adapter_tokenizer_source(request: Any) -> str:
    from explorer.tasks.session import has_tokenizer_files

    return request.adapter if has_tokenizer_files(request.adapter) else request.path


def load_adapter(request: Any, cancel: CancelToken) -> Job[Any]:
    """Base model (the session's usual load), then the adapter on it with peft; the LoadedModel says both."""
    from explorer.tasks.load_progress import call_in_thread
    from explorer.tasks.session import _load_tokenizer, _memory_by_device, load_model

    if not os.path.isdir(request.adapter):
        raise TaskError(f"Adapter folder {request.adapter!r} does not exist (moved or deleted?)")
    base_request = dataclasses.replace(request, adapter=None)
    loaded = yield from load_model(base_request, cancel)
    source = _adapter_tokenizer_source(request)
    if source != request.path:
        yield Progress(0, None, "Loading the adapter's tokenizer")
        loaded.tokenizer = yield from call_in_thread(lambda: _load_tokenizer(source, False), cancel)
    loaded.request = request
    if loaded.model is None:
        return loaded
    base_class = loaded.model_class

    def wrap() -> tuple[Any, int, int]:
        from peft import PeftModel, get_peft_model_state_dict

        with warnings.catch_warnings(record=True) as caught:
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            warnings.filterwarnings("always", MISSING_ADAPTER_KEYS, UserWarning)
            model = PeftModel.from_pretrained(loaded.model, request.adapter)
        missing = 0
        for warning in caught:
            if str(warning.message).startswith(MISSING_ADAPTER_KEYS):
                missing += str(warning.message).count("'") // 2
            else:  # not ours to hide
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return model, missing, len(get_peft_model_state_dict(model))

    yield Progress(0, None, "Loading the adapter")
    try:
        model, missing, total = yield from call_in_thread(wrap, cancel)
    except TaskError:
        raise
    except Exception as error:  # peft raises many kinds (a target module the base lacks, shapes)
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TaskError(f"The adapter could not be put on its base model: {text}", traceback.format_exc()) from error
    if total and missing >= total:
        raise TaskError(
            f"None of the adapter's weights fit {base_class}: they are named for another head of the base model. Choose a "
            "task whose head is the one the adapter was trained on.",
            f"{missing} of {total} adapter weights missing",
        )
    if missing:
        loaded.notices.append(
            f"{missing} of the adapter's {total} weights have no place in {base_class} and were left at their starting "
            "values: the adapter is only partly applied."
        )
    model.eval()
    sizes = _memory_by_device(model)
    loaded.model = model
    loaded.model_class = f"{base_class} + adapter"
    loaded.memory_by_device, loaded.memory_bytes = sizes, sum(sizes.values())
    return loaded


def _gguf_notice(loaded: Any, header: Any) -> str:
    from explorer.core.formatting import human_bytes

    packed = [m for m in loaded.model.modules() if type(m).__name__.startswith("Gguf")]
    types = ", ".join(sorted(header.dtypes, key=lambda t: -header.dtypes[t]))
    memory = human_bytes(loaded.memory_bytes)
    if packed:
        return (
            f"{len(packed)} layers keep their GGUF blocks ({types}); the rest was dequantised to {loaded.dtype_name}: "
            f"{memory} in memory for a {human_bytes(header.file_size)} file."
        )
    return (
        f"The GGUF's weights ({types}) were dequantised to {loaded.dtype_name} for PyTorch: {memory} in memory for a "
        f"{human_bytes(header.file_size)} file. Outputs can differ slightly from llama.cpp's, which computes on the "
        "quantised blocks."
    )


def load_gguf(request: Any, cancel: CancelToken) -> Job[Any]:
    """Tokenizer and model from one GGUF file with transformers' own loader; the notice says what dequantising cost."""
    from explorer.core.gguf_file import read_gguf
    from explorer.core.safe_io import UnreadableFile
    from explorer.core.torch_import import import_transformers
    from explorer.tasks.devices import check_dtype, find_device, list_devices, torch_dtype
    from explorer.tasks.load_progress import call_in_thread, install_gguf_hook, install_tqdm_hook
    from explorer.tasks.session import LoadedModel, _input_device, _memory_by_device, _model_error

    started = time.perf_counter()
    yield Progress(0, None, "Checking the device")
    file = os.path.join(request.path, request.gguf_file)
    if not os.path.isfile(file):
        raise TaskError(f"GGUF file {file!r} does not exist (moved or deleted?)")
    devices = list_devices()
    check_dtype(find_device("cpu" if request.spread else request.device, devices), request.dtype)
    target = gguf_target([file])
    if target.blocked:
        raise TaskError(target.blocked)
    try:
        header = read_gguf(file)
    except UnreadableFile as error:
        raise TaskError(f"The GGUF file cannot be read: {error}") from None
    yield Progress(0, None, "Importing transformers")
    transformers = import_transformers()
    install_tqdm_hook()
    install_gguf_hook()
    transformers.utils.logging.disable_progress_bar()
    cancel.raise_if_cancelled()

    def tokenizer() -> Any:
        try:
            return transformers.AutoTokenizer.from_pretrained(request.path, gguf_file=request.gguf_file, local_files_only=True)
        except Exception as error:  # noqa: BLE001 (one message for the user)
            raise TaskError(f"The GGUF's tokenizer could not be built: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
                            traceback.format_exc()) from error

    yield Progress(0, None, "Building the tokenizer from the GGUF")
    tok = yield from call_in_thread(tokenizer, cancel)
    if request.auto_class is None:
        return LoadedModel(request, None, tok, "cpu", "-", load_seconds=time.perf_counter() - started)
    auto = getattr(transformers, request.auto_class)

    def load() -> Any:
        return auto.from_pretrained(
            request.path, gguf_file=request.gguf_file, dtype=torch_dtype(request.dtype),
            device_map="auto" if request.spread else request.device, local_files_only=True, **request.load_options(),
        )

    yield Progress(0, None, "Reading and dequantising the weights")
    try:
        model = yield from call_in_thread(load, cancel)
    except Exception as error:
        raise _model_error(error, request, False) from error
    model.eval()
    sizes = _memory_by_device(model)
    loaded = LoadedModel(
        request=request, model=model, tokenizer=tok, input_device=_input_device(model),
        dtype_name=str(next(model.parameters()).dtype).replace("torch.", ""), memory_bytes=sum(sizes.values()),
        memory_by_device=sizes, load_seconds=0.0, model_class=type(model).__name__,
    )
    loaded.notices.append(_gguf_notice(loaded, header))
    loaded.load_seconds = time.perf_counter() - started
    return loaded


# --------------------------------------------------------------------------- a GGUF's decoding settings

GGUF_HEADER = "GGUF header"
# tokenizer.ggml.* ids transformers copies into the config of a model it loads from a GGUF.
GGUF_TOKEN_IDS = {"bos_token_id": "bos_token_id", "eos_token_id": "eos_token_id", "padding_token_id": "pad_token_id"}


def gguf_generation_config(file: str) -> Any:
    """The GenerationConfig transformers gives a model loaded from this GGUF: the config's token ids, read from the
    header (bounded, no weights) before loading, so the form starts from what generate will use."""
    from transformers import GenerationConfig

    from explorer.core.gguf_file import read_gguf

    metadata = read_gguf(file).metadata
    config = {}
    for key, name in GGUF_TOKEN_IDS.items():
        value = metadata.get(f"tokenizer.ggml.{key}")
        if isinstance(value, int) and not isinstance(value, bool):
            config[name] = value
    return GenerationConfig.from_model_config(config)


def task_defaults_for(task: Any, request: Any) -> dict:
    """A task's starting values for a request: for a GGUF's decoding settings, what its header gives the loaded
    model (there is no generation_config.json beside a GGUF); otherwise the checkpoint folder's files."""
    from explorer.tasks import generation_settings

    if not request.gguf_file or task.checkpoint_defaults is not generation_settings.checkpoint_defaults:
        return task.defaults_for(request.path)
    config = gguf_generation_config(os.path.join(request.path, request.gguf_file))
    return generation_settings.defaults_from(config, GGUF_HEADER)


# --------------------------------------------------------------------------- adapter on and off


def adapter_switch(loaded: Any, enabled: bool) -> contextlib.AbstractContextManager:
    """Where the run happens: as loaded, or with the adapter switched off (the base model alone)."""
    if enabled or loaded.model is None or not getattr(loaded.request, "adapter", None):
        return contextlib.nullcontext()
    return loaded.model.disable_adapter()


@dataclass(slots=True)
class FormatModelFacts(ModelFacts):
    """ModelFacts of an adapter (its folder, the base it ran on, on or off) or a GGUF (its file): keys only they print."""

    base: str | None = None
    adapter_enabled: bool | None = None
    gguf_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry = ModelFacts.to_json(self)  # the slots dataclass is a new class: no zero-argument super()
        if self.adapter_enabled is not None:
            entry["base"] = self.base
            entry["adapter"] = "on" if self.adapter_enabled else "off"
        if self.gguf_file is not None:
            entry["gguf_file"] = self.gguf_file
        return entry


def model_facts(facts: ModelFacts, loaded: Any, adapter_enabled: bool) -> ModelFacts:
    """The facts a result carries: unchanged for a transformers folder (its JSON keeps its keys)."""
    request = loaded.request
    if not request.adapter and not request.gguf_file:
        return facts
    own = {f.name: getattr(facts, f.name) for f in dataclasses.fields(ModelFacts)}
    if request.adapter:
        own["path"] = request.adapter
        return FormatModelFacts(**own, base=request.path, adapter_enabled=adapter_enabled)
    return FormatModelFacts(**own, gguf_file=request.gguf_file)


@dataclass
class Comparison:
    """One task run twice on the same input: with the adapter and without it."""

    adapter_on: Any  # TaskResult
    adapter_off: Any  # TaskResult

    @property
    def notices(self) -> list[str]:
        """What either run says, once (the load's notices come with both)."""
        return list(dict.fromkeys([*self.adapter_on.notices, *self.adapter_off.notices]))

    def to_json(self) -> dict[str, Any]:
        return {"adapter on": self.adapter_on.to_json(), "adapter off": self.adapter_off.to_json()}


def compare_job(session: Any, task_id: str, request: Any, values: dict, cancel: CancelToken | None = None) -> Job[Comparison]:
    """Run with the adapter on, then off, on one loaded model; a Partial("adapter") marks where the second run starts."""
    from explorer.tasks.base import Partial

    cancel = cancel or CancelToken()
    yield Partial("adapter", {"enabled": True})
    on = yield from session.run(task_id, request, values, cancel, adapter_enabled=True)
    yield Partial("adapter", {"enabled": False})
    off = yield from session.run(task_id, request, values, cancel, adapter_enabled=False)
    return Comparison(on, off)


__all__ = [
    "Comparison",
    "LoadTarget",
    "PEFT_AUTO_CLASSES",
    "adapter_auto_class",
    "adapter_switch",
    "adapter_target",
    "compare_job",
    "FormatModelFacts",
    "gguf_architectures",
    "model_facts",
    "gguf_target",
    "load_adapter",
    "load_gguf",
    "missing_base_message",
    "quiet_peft",
    "target_for",
    "task_defaults_for",
]
