"""Progress and cancelling while transformers loads: its tqdm bars become our Progress, per tensor.

``from_pretrained`` runs in a helper thread (``call_in_thread``); transformers' tqdm hook hands
each loading loop to ``_ObservedIterable``, which reports Progress and raises at the next item
once the job is cancelled.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Iterator

from explorer.core.jobs import CancelToken, Cancelled, Job, Progress


class _LoadObserver(threading.local):
    cancel: CancelToken | None = None
    report: Any = None


_observer = _LoadObserver()
_hook_installed = False
_hook_lock = threading.Lock()


class _ObservedIterable:
    """Stands in for transformers' tqdm while our loader thread loads: progress and cancel per item."""

    def __init__(self, iterable: Any, desc: str | None, cancel: CancelToken, report: Any) -> None:
        self._iterable = iterable
        self._desc = desc or "Loading"
        self._cancel = cancel
        self._report = report

    def __iter__(self) -> Iterator[Any]:
        try:
            total = len(self._iterable)
        except TypeError:
            total = None
        step = max(1, (total or 100) // 100)
        for index, item in enumerate(self._iterable):
            self._cancel.raise_if_cancelled()
            if index % step == 0:
                self._report(Progress(index, total, f"{self._desc} ({index}/{total})" if total else self._desc))
            yield item
        if total:
            self._report(Progress(total, total, f"{self._desc} ({total}/{total})"))

    def __getattr__(self, _name: str) -> Any:
        return lambda *args, **kwargs: None

    def __enter__(self) -> "_ObservedIterable":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def install_tqdm_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        from transformers.utils import logging as hf_logging

        previous = None

        def hook(factory, args, kwargs):
            cancel, report = _observer.cancel, _observer.report
            iterable = args[0] if args else kwargs.get("iterable")
            if cancel is None or iterable is None:
                if previous is not None:
                    return previous(factory, args, kwargs)
                return factory(*args, **kwargs)
            return _ObservedIterable(iterable, kwargs.get("desc"), cancel, report)

        previous = hf_logging.set_tqdm_hook(hook)
        _hook_installed = True


def install_gguf_hook() -> None:
    """transformers' GGUF loader dequantises tensor by tensor under tqdm.auto's own bar, not its logging hook:
    that bar, too, becomes our Progress (and the place a cancelled load stops) while our loader thread loads."""
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_loading
    except Exception:  # noqa: BLE001 (a transformers without the legacy loader: nothing to observe)
        return
    with _hook_lock:
        original = getattr(gguf_loading, "tqdm", None)
        if original is None or getattr(original, "observed_by_model_explorer", False):
            return

        def observed(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
            cancel, report = _observer.cancel, _observer.report
            if cancel is None or iterable is None:
                return original(iterable, *args, **kwargs)
            return _ObservedIterable(iterable, kwargs.get("desc"), cancel, report)

        observed.observed_by_model_explorer = True  # type: ignore[attr-defined]
        gguf_loading.tqdm = observed


_DONE = object()


def call_in_thread(function: Any, cancel: CancelToken, grace_seconds: float = 1.5) -> Job[Any]:
    """Run ``function`` in a daemon thread; yield the Progress it reports; return its value.

    When cancelled, the loader stops at its next tensor; if it is inside a step that cannot be
    interrupted, the job still stops after ``grace_seconds`` and the thread's result is dropped.
    """
    reports: queue.Queue = queue.Queue()
    box: dict[str, Any] = {}

    def target() -> None:
        _observer.cancel, _observer.report = cancel, reports.put
        try:
            box["value"] = function()
        except BaseException as error:  # handed to the job's thread
            box["error"] = error
        finally:
            _observer.cancel = _observer.report = None
            reports.put(_DONE)

    thread = threading.Thread(target=target, name="model-explorer-load", daemon=True)
    thread.start()
    cancelled_at = None
    while True:
        try:
            item = reports.get(timeout=0.05)
        except queue.Empty:
            if cancel.cancelled:
                cancelled_at = cancelled_at or time.monotonic()
                if time.monotonic() - cancelled_at > grace_seconds:
                    raise Cancelled()
            continue
        if item is _DONE:
            break
        yield item
    if "error" in box:
        raise box["error"]
    cancel.raise_if_cancelled()
    return box["value"]


__all__ = ["call_in_thread", "install_gguf_hook", "install_tqdm_hook"]
