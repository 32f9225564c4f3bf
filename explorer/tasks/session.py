"""The one loaded model, used by one job at a time.

``ModelSession`` is the serial executor for the shared resource: every job that touches the
model (load, run, unload) first takes the session lock, polling its cancel token while it
waits, so a new run can cancel the old one and start as soon as the old one has stopped
(within one step). Loading runs ``from_pretrained`` in a helper thread so the job can report
per-tensor progress and stop at the next tensor when cancelled. Errors the user can act on
(device gone, out of memory, no tokenizer, no such head, custom code not allowed) become
``TaskError`` with a plain message; nothing silently falls back to the CPU.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from explorer.core.checkpoint import TOKENIZER_FILES
from explorer.core.consent import ConsentRequired, code_access
from explorer.core.preflight import load_blocker
from explorer.core.safe_io import UnreadableFile, check_nesting
from explorer.core.jobs import CancelToken, Cancelled, Job, Progress
from explorer.tasks.base import ModelFacts, TaskError, TaskInputError, TaskResult, get_task
from explorer.tasks.devices import (
    check_dtype,
    find_device,
    is_out_of_memory,
    list_devices,
    out_of_memory_error,
    torch_dtype,
)
from explorer.tasks.load_progress import call_in_thread, install_tqdm_hook


@dataclass(frozen=True)
class LoadRequest:
    path: str
    auto_class: str | None  # None: only the tokenizer (tokenizer playground)
    device: str = "cpu"
    dtype: str = "auto"
    spread: bool = False  # device_map="auto" through accelerate
    # Config values replaced at load time, as from_pretrained(path, num_labels=10): (key, value) pairs.
    config_overrides: tuple[tuple[str, Any], ...] = ()
    # Saved weights whose shape differs from the model's (a new num_labels) start afresh instead of failing.
    ignore_mismatched_sizes: bool = False
    # A PEFT adapter folder put on the model at ``path`` (its base); see explorer.tasks.format_loading.
    adapter: str | None = None
    # A GGUF file inside ``path``, loaded (dequantised) with from_pretrained(path, gguf_file=...).
    gguf_file: str | None = None

    def load_options(self) -> dict[str, Any]:
        """The keyword arguments this request adds to from_pretrained."""
        options: dict[str, Any] = dict(self.config_overrides)
        if self.ignore_mismatched_sizes:
            options["ignore_mismatched_sizes"] = True
        return options


def parse_config_overrides(items: str | list[str] | tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """'num_labels=10' lines (or a list of them) -> (("num_labels", 10),). Values are JSON, else plain text.

    Raises TaskInputError naming the bad line.
    """
    import json

    lines = items.splitlines() if isinstance(items, str) else list(items)
    pairs: dict[str, Any] = {}
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, separator, raw = text.partition("=")
        key, raw = key.strip(), raw.strip()
        if not separator or not key.isidentifier():
            raise TaskInputError(f"Config override {text!r}: write KEY=VALUE, e.g. num_labels=10")
        if key in RESERVED_LOAD_KEYWORDS:
            raise TaskInputError(f"Config override {key!r} is a loading option, not a config value; use the app's own control for it")
        if not raw:
            raise TaskInputError(f"Config override {key!r} has no value")
        try:
            value = json.loads(raw)
            check_nesting(value, f"Config override {key!r}")
        except RecursionError:
            raise TaskInputError(f"Config override {key!r} is nested too deeply to be a config value") from None
        except UnreadableFile as error:
            raise TaskInputError(str(error)) from None
        except ValueError as error:
            if "integer string conversion" in str(error):
                raise TaskInputError(f"Config override {key!r} holds a number with thousands of digits") from None
            value = raw  # plain text, e.g. problem_type=multi_label_classification
        if key == "id2label" and isinstance(value, dict):
            # JSON keys are text; transformers indexes id2label by int and converts only when it reads a file.
            try:
                value = {int(k): v for k, v in value.items()}
            except ValueError:
                raise TaskInputError("Config override id2label: its keys must be label ids (0, 1, …)") from None
        pairs[key] = value
    return tuple(pairs.items())


# Keywords of from_pretrained itself: a "config override" with one of these names would change how loading works.
RESERVED_LOAD_KEYWORDS = frozenset(
    {
        "config", "cache_dir", "dtype", "torch_dtype", "device_map", "local_files_only", "trust_remote_code", "revision",
        "output_loading_info", "ignore_mismatched_sizes", "state_dict", "token", "use_safetensors", "weights_only",
        "subfolder", "from_tf", "from_flax", "force_download", "proxies", "attn_implementation", "quantization_config",
        "max_memory", "offload_folder", "key_mapping", "tp_plan", "gguf_file",
    }
)


@dataclass
class LoadedModel:
    request: LoadRequest
    model: Any
    tokenizer: Any
    input_device: str
    dtype_name: str
    memory_bytes: int = 0
    memory_by_device: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    load_seconds: float = 0.0
    model_class: str = ""
    # Facts about the tokenizer or model that cost a call to find and never change while loaded.
    derived: dict[str, Any] = field(default_factory=dict)

    def remember(self, key: str, compute: Any) -> Any:
        """``compute()`` once per loaded model (e.g. num_special_tokens_to_add, which encodes a dummy input)."""
        if key not in self.derived:
            self.derived[key] = compute()
        return self.derived[key]

    def describe(self) -> str:
        from explorer.core.formatting import human_bytes

        name = os.path.basename(os.path.normpath(self.request.adapter or self.request.path))
        if self.request.gguf_file:
            name = self.request.gguf_file
        if self.model is None:
            return f"Tokenizer of {name} loaded"
        places = ", ".join(f"{device} {human_bytes(size)}" for device, size in self.memory_by_device.items())
        return f"{self.model_class} · {name} · {self.dtype_name} · {places}"


# --------------------------------------------------------------------------- loading


NEEDS_CONSENT = (
    "This checkpoint needs its own Python code and you have not allowed it. Review the code files "
    "and allow them in the Config tab, then load again."
)


def remote_code_allowed(path: str) -> bool:
    """Whether the user approved exactly the checkpoint's code on disk now (loading itself goes through code_access)."""
    from explorer.core.consent import trust_remote_code_for

    try:
        return trust_remote_code_for(path)
    except Exception:  # a broken consent store fails closed
        return False


def has_tokenizer_files(path: str) -> bool:
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    return bool(names & TOKENIZER_FILES)


def _read_config_json(path: str) -> dict:
    """config.json as the scan reads it (bounded, never blocking); {} when it cannot be read (transformers then says why)."""
    from explorer.core.discovery import read_config_file

    try:
        return read_config_file(os.path.join(path, "config.json"))
    except (OSError, ValueError):
        return {}


def _read_model_type(path: str) -> str | None:
    value = _read_config_json(path).get("model_type")
    return value if isinstance(value, str) else None


def _load_tokenizer(path: str, trust: bool) -> Any:
    from transformers import AutoTokenizer

    if not has_tokenizer_files(path):
        raise TaskError(
            "This checkpoint has no tokenizer (no tokenizer.json, vocab.txt, vocab.json, spiece.model or "
            "tokenizer_config.json), so text cannot be turned into ids. Copy the tokenizer files of the base "
            "model into the folder to run a demo."
        )
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust)
    except Exception as error:  # transformers raises many kinds here; the user needs one message
        if "trust_remote_code" in str(error) and not trust:
            raise TaskError(NEEDS_CONSENT, traceback.format_exc()) from error
        raise TaskError(f"The tokenizer could not be loaded: {error}", traceback.format_exc()) from error


def _model_error(error: Exception, request: LoadRequest, trust: bool) -> Exception:
    text = str(error)
    if isinstance(error, (Cancelled, TaskError)):
        return error
    if is_out_of_memory(error):
        return out_of_memory_error(error, request.device if not request.spread else "the devices")
    from explorer.core.tensors_on_disk import pickle_weights_problem

    # torch's refusal of a pickle advises turning its safety off: the user gets our reason instead.
    weights_problem = pickle_weights_problem(request.path, error)
    if weights_problem is not None:
        return TaskError(f"The weights could not be loaded: {weights_problem}", weights_problem)
    model_type = _read_model_type(request.path) or "this"
    if "Unrecognized configuration class" in text or "Unrecognized model" in text:
        return TaskError(
            f"{model_type} models have no {request.auto_class} head in the installed transformers; "
            "choose a task whose head this model type has.",
            text,
        )
    if "trust_remote_code" in text and not trust:
        return TaskError(NEEDS_CONSENT, text)
    if "ignore_mismatched_sizes" in text:
        return TaskError(
            "Some saved weights have another shape than the model built with these settings "
            f"({', '.join(f'{k}={v!r}' for k, v in request.config_overrides) or 'no config overrides'}), e.g. a classifier "
            "saved for fewer labels. Turn on 'Ignore mismatched sizes' (--ignore-mismatched-sizes) to start those weights "
            "afresh, or remove the override.",
            traceback.format_exc(),
        )
    override_keys = [key for key, _ in request.config_overrides]
    if isinstance(error, TypeError) and "unexpected keyword argument" in text:
        bad = next((key for key in override_keys if f"'{key}'" in text), None)
        if bad is not None:
            return TaskError(f"Config override {bad!r} is not a setting of this model's config; check its spelling in the Config tab.", text)
    return TaskError(f"The model could not be loaded: {text.splitlines()[0] if text else type(error).__name__}", traceback.format_exc())


def _memory_by_device(model: Any) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for tensor in list(model.parameters()) + list(model.buffers()):
        key = str(tensor.device)
        sizes[key] = sizes.get(key, 0) + tensor.numel() * tensor.element_size()
    return sizes


def _input_device(model: Any) -> str:
    try:
        return str(model.get_input_embeddings().weight.device)
    except (AttributeError, NotImplementedError):
        return str(next(model.parameters()).device)


def load_model(request: LoadRequest, cancel: CancelToken | None = None) -> Job[LoadedModel]:
    """Load tokenizer and model for ``request``; yields Progress; raises TaskError or Cancelled."""
    cancel = cancel or CancelToken()
    if request.adapter or request.gguf_file:
        from explorer.tasks.format_loading import load_adapter, load_gguf

        return (yield from (load_adapter if request.adapter else load_gguf)(request, cancel))
    started = time.perf_counter()
    yield Progress(0, None, "Checking the device")
    if not os.path.isdir(request.path):
        raise TaskError(f"Checkpoint folder {request.path!r} does not exist (moved or deleted?)")
    devices = list_devices()
    if request.spread:
        check_dtype(find_device("cpu", devices), request.dtype)
    else:
        check_dtype(find_device(request.device, devices), request.dtype)
    blocker = load_blocker(request.path, need_weights=request.auto_class is not None, overrides=dict(request.config_overrides))
    if blocker:
        raise TaskError(blocker)
    try:
        access = code_access(request.path)
    except ConsentRequired as error:
        raise TaskError(str(error)) from None
    trust, load_path = access.trust_remote_code, access.path
    cancel.raise_if_cancelled()
    yield Progress(0, None, "Importing transformers")
    # Through the app's import lock: another thread (the start-up warm-up) may be importing it now.
    from explorer.core.torch_import import import_transformers

    transformers = import_transformers()

    install_tqdm_hook()
    transformers.utils.logging.disable_progress_bar()  # our hook still sees every iteration
    cancel.raise_if_cancelled()
    yield Progress(0, None, "Loading the tokenizer")
    tokenizer = yield from call_in_thread(lambda: _load_tokenizer(load_path, trust), cancel)
    if request.auto_class is None:
        return LoadedModel(request, None, tokenizer, "cpu", "-", load_seconds=time.perf_counter() - started)
    try:
        auto = getattr(transformers, request.auto_class)
    except Exception as error:  # AttributeError, or the lazy module's import failing
        raise TaskError(f"transformers {transformers.__version__} has no {request.auto_class}: {error}", traceback.format_exc()) from error

    def load() -> tuple[Any, dict]:
        return auto.from_pretrained(
            load_path,
            dtype=torch_dtype(request.dtype),
            device_map="auto" if request.spread else request.device,
            local_files_only=True,
            trust_remote_code=trust,
            output_loading_info=True,
            **request.load_options(),
        )

    yield Progress(0, None, "Loading the weights")
    try:
        model, info = yield from call_in_thread(load, cancel)
    except Exception as error:
        raise _model_error(error, request, trust) from error
    model.eval()
    notices = []
    missing = list(info.get("missing_keys") or [])
    if missing and all(key.startswith("pooler.") or ".pooler." in key for key in missing):
        notices.append(
            "The pooler layer is not in the checkpoint (newly initialised with random values): pooler outputs are "
            "meaningless; the other demos do not use it."
        )
    elif missing:
        shown = ", ".join(sorted(missing)[:6]) + (" …" if len(missing) > 6 else "")
        notices.append(
            f"{len(missing)} weights of {type(model).__name__} are not in the checkpoint and were newly "
            f"initialised with random values ({shown}): results from that part are meaningless until it is trained."
        )
    mismatched = sorted(info.get("mismatched_keys") or [])
    if mismatched:
        shown = ", ".join(f"{key} {list(saved)} → {list(built)}" for key, saved, built in mismatched[:4]) + (" …" if len(mismatched) > 4 else "")
        notices.append(
            f"{len(mismatched)} saved weights have another shape than the model built with your config overrides and were "
            f"newly initialised with random values ({shown}): that part gives meaningless results until it is trained."
        )
    if request.config_overrides:
        notices.append("Loaded with config overrides: " + ", ".join(f"{k}={v!r}" for k, v in request.config_overrides) + ".")
    dtype = next(model.parameters()).dtype
    sizes = _memory_by_device(model)
    return LoadedModel(
        request=request,
        model=model,
        tokenizer=tokenizer,
        input_device=_input_device(model),
        dtype_name=str(dtype).replace("torch.", ""),
        memory_bytes=sum(sizes.values()),
        memory_by_device=sizes,
        notices=notices,
        load_seconds=time.perf_counter() - started,
        model_class=type(model).__name__,
    )


# --------------------------------------------------------------------------- the session


def _same_files(a: LoadRequest, b: LoadRequest) -> bool:
    """Both requests read the same tokenizer (the model loaded for one serves a tokenizer-only task of the other)."""
    return (a.path, a.adapter, a.gguf_file) == (b.path, b.adapter, b.gguf_file)


class ModelSession:
    """Holds at most one loaded model; every job on it runs alone (see module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: LoadedModel | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    def status(self) -> str:
        loaded = self._loaded
        return loaded.describe() if loaded is not None else "No model loaded"

    def _acquire(self, cancel: CancelToken) -> Job[None]:
        waited = False
        while not self._lock.acquire(timeout=0.05):
            cancel.raise_if_cancelled()
            if not waited:
                waited = True
                yield Progress(0, None, "Waiting for the previous run to stop")

    def _ensure_loaded(self, request: LoadRequest, cancel: CancelToken) -> Job[LoadedModel]:
        if self._loaded is not None and self._loaded.request == request:
            return self._loaded
        if request.auto_class is None and self._loaded is not None and _same_files(self._loaded.request, request):
            return self._loaded  # a tokenizer-only task reuses the tokenizer loaded with the model
        self._release_model()
        self._loaded = yield from load_model(request, cancel)
        return self._loaded

    def load(self, request: LoadRequest, cancel: CancelToken | None = None) -> Job[LoadedModel]:
        cancel = cancel or CancelToken()
        yield from self._acquire(cancel)
        try:
            return (yield from self._ensure_loaded(request, cancel))
        finally:
            self._lock.release()

    def run(
        self, task_id: str, request: LoadRequest, values: dict | None, cancel: CancelToken | None = None, adapter_enabled: bool = True
    ) -> Job[TaskResult]:
        """Load when needed (same request reuses the model), then run the task once; the result says which model ran it.

        ``adapter_enabled=False`` runs an adapter's base model alone, without reloading (peft's disable_adapter).
        """
        from explorer.tasks.format_loading import adapter_switch, model_facts, task_defaults_for
        cancel = cancel or CancelToken()
        task = get_task(task_id)
        # Bad input fails before any loading; what the caller leaves out starts from the checkpoint's own values.
        resolved = task.resolve(values, task_defaults_for(task, request))
        if request.auto_class != task.auto_class:
            request = dataclasses.replace(request, auto_class=task.auto_class)
        if not self._lock.acquire(blocking=False):  # usually free: no waiting job to create
            yield from self._acquire(cancel)
        try:
            loaded = self._loaded
            if loaded is None or (loaded.request is not request and loaded.request != request):
                loaded = yield from self._ensure_loaded(request, cancel)
            started = time.perf_counter()
            try:
                with adapter_switch(loaded, adapter_enabled):
                    result = yield from task.run(loaded, resolved, cancel)
            except (Cancelled, TaskError, TaskInputError):
                raise
            except Exception as error:
                where = loaded.request.device if not loaded.request.spread else "the devices"
                if is_out_of_memory(error):
                    raise out_of_memory_error(error, where) from error
                raise TaskError(
                    f"The model failed on this input: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
                    traceback.format_exc(),
                ) from error
            result.notices = list(loaded.notices) + result.notices
            result.seconds = round(time.perf_counter() - started, 4)
            facts = ModelFacts(
                path=loaded.request.path,
                class_name=loaded.model_class or None,
                device=loaded.input_device if not loaded.request.spread else "auto",
                dtype=loaded.dtype_name,
                config_overrides=dict(loaded.request.config_overrides),
                ignore_mismatched_sizes=loaded.request.ignore_mismatched_sizes,
            )
            result.model = model_facts(facts, loaded, adapter_enabled)
            return result
        finally:
            self._lock.release()

    def _release_model(self) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is None:
            return
        on_accelerator = any(not d.startswith("cpu") for d in loaded.memory_by_device)
        del loaded
        gc.collect()
        if on_accelerator:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            mps = getattr(torch, "mps", None)
            if mps is not None and torch.backends.mps.is_available():
                mps.empty_cache()

    def unload(self, cancel: CancelToken | None = None) -> Job[None]:
        cancel = cancel or CancelToken()
        yield from self._acquire(cancel)
        try:
            yield Progress(0, None, "Unloading")
            self._release_model()
        finally:
            self._lock.release()

    def unload_now(self) -> None:
        """For shutdown and tests: waits for the running job to finish its current step."""
        with self._lock:
            self._release_model()


__all__ = ["LoadRequest", "LoadedModel", "ModelSession", "load_model", "has_tokenizer_files", "parse_config_overrides"]
