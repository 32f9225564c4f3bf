"""One ``model.generate()`` call as a job: tokens streamed as they come, Stop within a step, each step's top tokens.

transformers decodes; the app only listens. ``generate`` runs in a thread of its own, with a
streamer that hands each new token over, a stopping criterion that ends the run at the next step
once the user presses Stop, and a last logits processor that passes the scores through unchanged
and hands them over too, so the view can show each step's most likely tokens after every other
processor (the distribution the token was drawn from). The job's thread turns those into
``Partial`` pieces and does the decoding, so ``generate``'s thread does no more than in a notebook.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from explorer.core.jobs import CancelToken, Cancelled, Job, Progress

_DONE = object()
# How long a cancelled run may take to reach the end of its step before the job stops waiting for it.
_GRACE_SECONDS = 2.0


@dataclass
class Generated:
    """What came out of one generate() call."""

    sequence: Any  # the output's first sequence (prompt included for causal models)
    new_ids: list[int]  # the tokens generate added, in order
    top: list[tuple[list[int], list[float]]] = field(default_factory=list)  # per streamed step: best ids, probabilities
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # what generate warned about, as a notebook would print it


def _listeners(cancel: CancelToken, handover: queue.Queue, show_top_k: int, stream: bool):
    import torch
    from transformers import LogitsProcessor, StoppingCriteria
    from transformers.generation.streamers import BaseStreamer

    class HandOverTokens(BaseStreamer):
        """generate() calls put() with the prompt first (the decoder's start token for encoder-decoders)."""

        def __init__(self) -> None:
            self.prompt_seen = False

        def put(self, value: Any) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            handover.put(("token", int(value.reshape(-1)[0])))

        def end(self) -> None:
            pass

    class HandOverScores(LogitsProcessor):
        """Last in the list: the scores after every processor and warper, unchanged."""

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            handover.put(("scores", scores[0]))  # generate makes new tensors each step: no copy needed
            return scores

    class StopWhenCancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            handover.put(("step", None))
            return torch.full((input_ids.shape[0],), cancel.cancelled, dtype=torch.bool, device=input_ids.device)

    processors = [HandOverScores()] if show_top_k and stream else []
    return (HandOverTokens() if stream else None), processors, [StopWhenCancelled()]


def run_generate(
    model: Any,
    inputs: dict[str, Any],
    settings: dict[str, Any],
    *,
    seed: int,
    cancel: CancelToken,
    total_steps: int | None,
    stream: bool,
    show_top_k: int = 0,
    tokenizer: Any = None,
    on_token: Any = None,
) -> Job[Generated]:
    """Run ``model.generate(**inputs, **settings)`` after ``torch.manual_seed(seed)``; yield Progress, and
    whatever ``on_token(token_id, top)`` returns for each streamed token (top: (ids, probabilities) or None).

    ``stream`` needs one sequence (no beams): generate refuses a streamer with beam search.
    """
    import torch

    handover: queue.Queue = queue.Queue()
    streamer, processors, criteria = _listeners(cancel, handover, show_top_k, stream)
    box: dict[str, Any] = {}
    extra: dict[str, Any] = {"logits_processor": processors, "stopping_criteria": criteria}
    if streamer is not None:
        extra["streamer"] = streamer
    if settings.get("stop_strings"):
        extra["tokenizer"] = tokenizer  # generate needs it to find stop strings in token space

    def target() -> None:
        try:
            torch.manual_seed(seed)
            # A notebook prints generate's warnings (unfeasible lengths, unused flags); the app shows them as notices.
            with warnings.catch_warnings(record=True) as caught, torch.inference_mode():
                warnings.simplefilter("always", UserWarning)
                box["output"] = model.generate(**inputs, **settings, **extra)
            box["warnings"] = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught if issubclass(w.category, UserWarning)))
        except BaseException as error:  # handed to the job's thread
            box["error"] = error
        finally:
            handover.put((_DONE, None))

    generated = Generated(sequence=None, new_ids=[])
    cancel.raise_if_cancelled()
    yield Progress(0, total_steps, "Generating")
    started = time.perf_counter()
    thread = threading.Thread(target=target, name="model-explorer-generate", daemon=True)
    thread.start()
    steps, last_scores, cancelled_at = 0, None, None
    while True:
        try:
            kind, value = handover.get(timeout=0.05)
        except queue.Empty:
            if cancel.cancelled:
                cancelled_at = cancelled_at or time.monotonic()
                if time.monotonic() - cancelled_at > _GRACE_SECONDS:
                    raise Cancelled() from None
            continue
        if kind is _DONE:
            break
        if kind == "scores":
            last_scores = value
        elif kind == "step":
            steps += 1
            if not stream:
                yield Progress(steps, total_steps, "Generating")
        elif kind == "token" and not cancel.cancelled:  # after Stop, a token still in the queue is not shown
            top = _best(last_scores, show_top_k) if last_scores is not None else None
            last_scores = None
            generated.new_ids.append(value)
            if top is not None:
                generated.top.append(top)
            if on_token is not None:
                piece = on_token(value, top, time.perf_counter() - started)
                if piece is not None:
                    yield piece
            yield Progress(len(generated.new_ids), total_steps, "Generating")
    thread.join()
    generated.seconds = time.perf_counter() - started
    if "error" in box:
        raise box["error"]
    cancel.raise_if_cancelled()
    output = box["output"]
    generated.sequence = output[0]
    generated.warnings = box.get("warnings", [])
    return generated


def _best(scores: Any, k: int) -> tuple[list[int], list[float]]:
    import torch

    probabilities = torch.nn.functional.softmax(scores, dim=-1)
    best = torch.topk(probabilities, k=min(k, probabilities.shape[-1]))
    return best.indices.tolist(), best.values.tolist()


__all__ = ["Generated", "run_generate"]
