"""For every Auto class of a checkpoint: exactly which saved weights it loads, drops or initialises new.

Class names only suggest what an Auto class does with the saved head (BertForPreTraining
*looks* like a different head from BertForMaskedLM, yet it loads every MLM weight). The
survey answers exactly: it builds each class on the meta device and replays transformers'
loader on the checkpoint's tensors (``head_matching.match_head``), giving the
missing/unexpected/mismatched keys ``from_pretrained(..., output_loading_info=True)`` reports.

The weight files are listed once for all classes; Auto classes that resolve to the same
model class (AutoModel and AutoModelForTextEncoding both build BertModel) are built once.
Results are yielded one class at a time so a window can show each as soon as it is known.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from explorer.core.checkpoint import Checkpoint
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end
from explorer.core.skeleton import SkeletonError, build_meta_model, build_model_job, code_access_for, resolve_model_class
from explorer.core.tensors_on_disk import read_disk_tensors_job
from explorer.core.torch_import import import_transformers

STATUS_LOADS = "loads"  # every saved weight loads and nothing is new
STATUS_PARTIAL = "partial"  # some saved weights are dropped and/or some parameters start random
STATUS_MISMATCH = "mismatch"  # a saved tensor has another shape: from_pretrained refuses without ignore_mismatched_sizes
STATUS_UNCHECKED = "unchecked"  # the class could not be built (custom code not allowed, model code failed)

# Lists up to this long are written out in full; longer ones are grouped by common prefix.
LIST_IN_FULL = 4
MAX_GROUPS = 4


@dataclass(slots=True)
class HeadCheck:
    auto_class: str
    model_class: str | None
    status: str
    verdict: str  # one readable sentence fragment, e.g. "5 dropped: cls.predictions.*"
    summary: str  # a few words for a table cell, e.g. "2 new, 5 dropped"
    missing: list[str] = field(default_factory=list)  # built but not in the checkpoint: randomly initialised
    unexpected: list[str] = field(default_factory=list)  # in the checkpoint, no place in the model: dropped
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # (key, saved, built)
    # Saved weights the class drops on purpose (_keys_to_ignore_on_load_unexpected, e.g. the decoder for
    # T5EncoderModel): from_pretrained does not report them, but they are not loaded either.
    ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "auto_class": self.auto_class,
            "model_class": self.model_class,
            "status": self.status,
            "verdict": self.verdict,
            "summary": self.summary,
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "mismatched": [{"name": k, "checkpoint_shape": list(a), "model_shape": list(b)} for k, a, b in self.mismatched],
            "ignored": list(self.ignored),
            "problems": list(self.problems),
        }


# --------------------------------------------------------------------------- wording


def _module_of(key: str) -> list[str]:
    return key.split(".")[:-1]


def _common_prefix(parts_list: list[list[str]]) -> list[str]:
    prefix: list[str] = []
    for column in zip(*parts_list):
        if any(part != column[0] for part in column):
            break
        prefix.append(column[0])
    return prefix


def group_keys(keys: list[str], list_in_full: int = LIST_IN_FULL, max_groups: int = MAX_GROUPS) -> list[str]:
    """Readable items for a list of parameter names: short lists as they are, long ones as 'prefix.*' groups.

    ['cls.predictions.bias', 'cls.predictions.transform.dense.weight', ...] -> ['cls.predictions.*'].
    Keys without a common module are grouped by their first component, each group under its
    own common module with its count: ['qa_outputs.* (2)', 'transformer.* (722)'].
    """
    keys = sorted(keys)
    if len(keys) <= list_in_full:
        return keys
    # Only module paths form a prefix: a key never groups under itself.
    prefix = _common_prefix([_module_of(k) for k in keys])
    if prefix:
        return [".".join(prefix) + ".*"]
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.split(".")[0], []).append(key)
    if len(groups) > max_groups:
        shown = list(groups.items())[: max_groups - 1]
        rest = sum(len(members) for members in list(groups.values())[max_groups - 1:])
        return [_group_item(members) for _, members in shown] + [f"{rest} more"]
    return [_group_item(members) for members in groups.values()]


def _group_item(members: list[str]) -> str:
    if len(members) == 1:
        return members[0]
    inner = _common_prefix([_module_of(m) for m in members])
    return ".".join(inner) + f".* ({len(members)})"


def module_names(keys: list[str], limit: int = 3) -> list[str]:
    """The modules the keys belong to: ['bert.pooler.dense', 'cls.seq_relationship']; many are grouped by first component."""
    modules = sorted({".".join(_module_of(k)) or k for k in keys})
    if len(modules) <= limit:
        return modules
    groups: dict[str, list[list[str]]] = {}
    for module in modules:
        parts = module.split(".")
        groups.setdefault(parts[0], []).append(parts)
    names = [".".join(_common_prefix(members)) for members in groups.values()]
    return names if len(names) <= limit else names[: limit - 1] + [f"{len(names) - limit + 1} more"]


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) or "scalar"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def describe(
    missing: list[str], unexpected: list[str], mismatched: list[tuple[str, tuple, tuple]], saved_count: int | None = None,
    ignored: list[str] | None = None,
) -> tuple[str, str, str]:
    """(status, verdict, summary) for one match result; ``saved_count`` (tensors in the checkpoint) lets it say when nothing loads."""
    ignored = ignored or []
    if not (missing or unexpected or mismatched or ignored):
        return STATUS_LOADS, "every weight loads", "every weight loads"
    verdict, summary = [], []
    if saved_count and len(unexpected) + len(mismatched) + len(ignored) >= saved_count:
        # e.g. a class whose base-model prefix differs from the saved one: the whole model starts random.
        verdict.append("no saved weight loads")
        summary.append("nothing loads")
    if mismatched:
        shown = [f"{key} (saved {_shape(saved)}, built {_shape(built)})" for key, saved, built in mismatched[:3]]
        more = f" and {len(mismatched) - 3} more" if len(mismatched) > 3 else ""
        verdict.append(
            f"{_plural(len(mismatched), 'shape mismatch', 'shape mismatches')} "
            f"(from_pretrained fails unless ignore_mismatched_sizes=True): {', '.join(shown)}{more}"
        )
        summary.append(_plural(len(mismatched), "shape mismatch", "shape mismatches"))
    if missing:
        verdict.append(f"{len(missing)} new (randomly initialised): {', '.join(group_keys(missing))}")
        summary.append(f"{len(missing)} new")
    if unexpected:
        verdict.append(f"{len(unexpected)} dropped: {', '.join(group_keys(unexpected))}")
        summary.append(f"{len(unexpected)} dropped")
    if ignored:
        verdict.append(f"{len(ignored)} left out by design (from_pretrained does not list them): {', '.join(group_keys(ignored))}")
        summary.append(f"{len(ignored)} left out")
    status = STATUS_MISMATCH if mismatched else STATUS_PARTIAL
    return status, "; ".join(verdict), ", ".join(summary)


def _unchecked(auto_class: str, model_class: str | None, reason: str) -> HeadCheck:
    return HeadCheck(auto_class, model_class, STATUS_UNCHECKED, f"not checked: {reason}", "not checked", problems=[reason])


# --------------------------------------------------------------------------- quiet building

_quiet_threads: set[int] = set()
_quiet_lock = threading.Lock()


class _ThisThreadOnly(logging.Filter):
    """Drops transformers' log records from threads that are only building meta models."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in _quiet_threads


_filter = _ThisThreadOnly()


@contextmanager
def _quiet_model_code():
    """Model constructors warn about real-use settings (BertLMHeadModel: "add is_decoder=True");
    for a meta build they are noise. A handler filter scoped to this thread leaves other jobs'
    messages alone and, unlike changing the logger level, cannot be undone by another thread."""
    import_transformers()  # first imports go through the lock: another job may be importing too
    from transformers.utils import logging as hf_logging

    handlers = hf_logging._get_library_root_logger().handlers
    ident = threading.get_ident()
    with _quiet_lock:
        _quiet_threads.add(ident)
        for handler in handlers:
            if _filter not in handler.filters:
                handler.addFilter(_filter)
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_threads.discard(ident)


# --------------------------------------------------------------------------- the job


def _match_and_describe(model, tensors, auto_class: str) -> HeadCheck:
    from explorer.core.head_matching import match_head

    ignored = _record_ignored_keys(model)
    match = match_head(model, tensors, auto_class)
    left_out = _weights_among(sorted(ignored), model)
    status, verdict, summary = describe(match.missing, match.unexpected, match.mismatched, len(tensors), left_out)
    return HeadCheck(
        auto_class, match.model_class, status, verdict, summary,
        missing=match.missing, unexpected=match.unexpected, mismatched=match.mismatched, ignored=left_out,
        problems=list(match.problems),
    )


def _record_ignored_keys(model) -> set[str]:
    """Collect the unexpected keys that the model's ignore rules remove from the loading report."""
    ignored: set[str] = set()
    adjust = model._adjust_missing_and_unexpected_keys

    def adjust_and_record(loading_info) -> None:
        before = set(loading_info.unexpected_keys)
        adjust(loading_info)
        ignored.update(before - set(loading_info.unexpected_keys))

    # Only this meta instance is wrapped; it is discarded after the match.
    object.__setattr__(model, "_adjust_missing_and_unexpected_keys", adjust_and_record)
    return ignored


def _weights_among(keys: list[str], model) -> list[str]:
    """The keys of parts the class does not have (T5EncoderModel: decoder.*).

    A saved tensor of a module the class does have is a stale buffer (GPT-2's saved causal masks
    ``h.N.attn.bias``, position ids, inv_freq), not a weight the user loses.
    """
    if not keys:
        return []
    modules = {name for name, _ in model.named_modules()}
    prefix = getattr(model, "base_model_prefix", "") or ""

    def of_existing_module(key: str) -> bool:
        parent = key.rpartition(".")[0]
        candidates = {parent, f"{prefix}.{parent}" if parent else prefix}
        if prefix and parent.startswith(prefix + "."):
            candidates.add(parent[len(prefix) + 1:])
        return bool(candidates & modules)

    return [key for key in keys if not key.endswith(("position_ids", "inv_freq")) and not of_existing_module(key)]


def _copy_for(check: HeadCheck, auto_class: str) -> HeadCheck:
    return HeadCheck(
        auto_class, check.model_class, check.status, check.verdict, check.summary,
        list(check.missing), list(check.unexpected), list(check.mismatched), list(check.ignored), list(check.problems),
    )


def survey_heads(
    path: Checkpoint | str | os.PathLike,
    auto_classes: list[str] | None = None,
    cancel: CancelToken | None = None,
) -> Job[dict[str, HeadCheck]]:
    """Check each Auto class against the checkpoint's weights; yields a HeadCheck per class, returns them all.

    ``auto_classes`` defaults to every Auto class that supports the model type. Classes that need
    the checkpoint's own code are built only if the user allowed that code (consent store).
    Raises SkeletonError (message for the user) when nothing can be checked: no or unreadable
    config.json, custom model code not allowed, no readable weights.
    """
    cancel = cancel or CancelToken()
    folder = path.path if isinstance(path, Checkpoint) else os.fspath(path)
    # The class the weights were saved with, built the way the Parameters tab builds it: this reads
    # the config (consent rules included) once, and its model serves that class's check.
    cancel.raise_if_cancelled()  # the first step may import torch, which no cancel interrupts
    with _quiet_model_code():
        built = yield from build_model_job(path, None, cancel)
    disk = yield from read_disk_tensors_job(path, cancel)
    if not disk.tensors:
        raise SkeletonError("no weights to check: " + ("; ".join(disk.problems) or "the checkpoint has no weight files"))
    auto_map = built.config_json.get("auto_map") if isinstance(built.config_json.get("auto_map"), dict) else {}
    code_path = built.load_path or folder
    trusted = built.custom_code
    if auto_map and not trusted:  # a built-in model type whose auto_map adds heads of its own code
        access = code_access_for(folder)
        trusted, code_path = access.trust_remote_code, access.path
    heads = list(auto_classes) if auto_classes is not None else list(built.heads)
    unmatched_models = {type(built.model): built.model}
    by_model_class: dict[Any, HeadCheck] = {}
    results: dict[str, HeadCheck] = {}
    for number, auto_class in enumerate(heads):
        cancel.raise_if_cancelled()
        yield Progress(number, len(heads), f"checking {auto_class}")
        try:
            model_class = resolve_model_class(built.config, auto_class, code_path, built.config_json, trusted)
        except SkeletonError as exc:
            reason = str(exc)
            if auto_class in auto_map and not trusted:
                reason = "it needs the checkpoint's own code, which you have not allowed"
            check = _unchecked(auto_class, None, reason)
        except Exception as exc:  # importing allowed custom code runs arbitrary code
            check = _unchecked(auto_class, None, f"its class could not be imported ({type(exc).__name__}: {exc})")
        else:
            done = by_model_class.get(model_class)
            if done is not None:
                check = _copy_for(done, auto_class)
            else:
                try:
                    with _quiet_model_code():
                        model = unmatched_models.pop(model_class, None)
                        if model is None:
                            model = build_meta_model(model_class, built.config)
                        check = _match_and_describe(model, disk.tensors, auto_class)
                except SkeletonError as exc:
                    check = _unchecked(auto_class, model_class.__name__, str(exc))
                except Exception as exc:  # conversion and tying code is model-specific; one failure must not stop the rest
                    check = _unchecked(auto_class, model_class.__name__, f"matching failed ({type(exc).__name__}: {exc})")
                by_model_class[model_class] = check
        results[auto_class] = check
        yield check
    yield Progress(len(heads), len(heads), "weights checked")
    return results


def survey_heads_now(path: Checkpoint | str | os.PathLike, auto_classes: list[str] | None = None) -> dict[str, HeadCheck]:
    return run_to_end(survey_heads(path, auto_classes))


__all__ = [
    "HeadCheck",
    "STATUS_LOADS",
    "STATUS_MISMATCH",
    "STATUS_PARTIAL",
    "STATUS_UNCHECKED",
    "describe",
    "group_keys",
    "module_names",
    "survey_heads",
    "survey_heads_now",
]
