"""One ``model.generate()`` call as a job: tokens streamed as they come, Stop within a step, each step's top tokens.

transformers decodes; the app only listens. ``generate`` runs in a thread of its own, with a
streamer that hands each new token over (and ends the run at the next step once the user presses
Stop; a stopping criterion does that with beam search), and a logits processor that passes the
scores through unchanged and keeps them, so the view can show each step's most likely tokens after
the logits processors (with sampling, before its temperature, top-k and top-p, which generate
applies after a caller's processors). The job's thread turns those into
``Partial`` pieces and does the decoding (text, no tensors), so ``generate``'s thread is the only
one doing tensor work while it runs, as in a notebook.
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
# How often the job's thread collects generate's tokens: often enough to look live, rarely enough not to slow it.
_COLLECT_SECONDS = 0.03
_TOPS_BATCH = 16  # steps whose top tokens are worked out together


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

    pending_rows: list[Any] = []  # processed score rows whose top tokens are not yet handed over

    def hand_over_tops() -> None:
        """The top tokens of the pending steps, in one batch of tensor operations (a few per step cost
        generate several percent): probabilities are softmax's, computed for the k best only."""
        if not pending_rows:
            return
        rows = torch.stack(pending_rows)
        pending_rows.clear()
        best = torch.topk(rows, k=min(show_top_k, rows.shape[-1]), dim=-1)
        probabilities = torch.exp(best.values - torch.logsumexp(rows, dim=-1, keepdim=True))
        handover.put(("tops", list(zip(best.indices.tolist(), probabilities.tolist()))))

    class HandOverTokens(BaseStreamer):
        """generate() calls put() with the prompt first (the decoder's start token for encoder-decoders)."""

        def __init__(self) -> None:
            self.prompt_seen = False

        def put(self, value: Any) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            if cancel.cancelled:  # Stop: generate ends here, within the step (cheaper than a criterion per step)
                raise Cancelled()
            handover.put(("token", int(value.view(-1)[0])))

        def end(self) -> None:
            hand_over_tops()

    class HandOverScores(LogitsProcessor):
        """Keeps the step's scores after the logits processors (repetition penalty, bad words, ...); returns
        them unchanged. generate puts a caller's processors before sampling's warpers (temperature, top-k,
        top-p), so while sampling these are the scores before those: what the model and the processors
        make of the step, not yet narrowed for the draw.

        The top tokens are worked out here, in generate's thread, a batch of steps at a time: torch's
        OpenMP workers spin between operations only while one thread drives them, so tensor work in a
        second thread would slow every step of generate.
        """

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            pending_rows.append(scores[0])  # generate makes new score tensors each step: no copy needed
            if len(pending_rows) >= _TOPS_BATCH:
                hand_over_tops()
            return scores

    class StopWhenCancelled(StoppingCriteria):
        def __init__(self) -> None:
            self.answers: dict[tuple, Any] = {}  # generate only reads the answer: one tensor per shape will do

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if not stream:
                handover.put(("step", None))  # progress, when no token is streamed
            key = (input_ids.shape[0], input_ids.device, cancel.cancelled)
            answer = self.answers.get(key)
            if answer is None:
                answer = self.answers[key] = torch.full(key[:1], key[2], dtype=torch.bool, device=key[1])
            return answer

    processors = [HandOverScores()] if show_top_k and stream else []
    return (HandOverTokens() if stream else None), processors, ([] if stream else [StopWhenCancelled()])


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
    on_tokens: Any = None,
) -> Job[Generated]:
    """Run ``model.generate(**inputs, **settings)`` after ``torch.manual_seed(seed)``; yield Progress, and
    the pieces ``on_tokens(batch, elapsed)`` returns for the streamed tokens collected since the last call
    (batch: [(token_id, top)], top: (ids, probabilities) or None).

    ``stream`` needs one sequence (no beams): generate refuses a streamer with beam search.
    """
    import torch

    show_top_k = show_top_k if stream else 0
    handover: queue.Queue = queue.Queue()
    ended = threading.Event()  # wakes the collecting loop at once when generate returns
    streamer, processors, criteria = _listeners(cancel, handover, show_top_k, stream)
    box: dict[str, Any] = {}
    extra: dict[str, Any] = {"logits_processor": processors, "stopping_criteria": criteria}
    if streamer is not None:
        extra["streamer"] = streamer
    if tokenizer is not None:
        # generate needs it for stop strings, the checkpoint's own as much as ones changed here.
        extra["tokenizer"] = tokenizer

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
            ended.set()

    generated = Generated(sequence=None, new_ids=[])
    cancel.raise_if_cancelled()
    yield Progress(0, total_steps, "Generating")
    started = time.perf_counter()
    thread = threading.Thread(target=target, name="model-explorer-generate", daemon=True)
    thread.start()
    steps, finished = 0, False
    waiting: list[int] = []  # streamed tokens not yet handed on
    tops: list[tuple[list[int], list[float]]] = []  # their steps' top tokens, as they come
    while not finished:
        # Collect what came in the last few hundredths of a second: waking for every token would make
        # this thread compete with generate for the interpreter hundreds of times a second.
        ended.wait(_COLLECT_SECONDS)
        items = []
        while True:
            try:
                items.append(handover.get_nowait())
            except queue.Empty:
                break
        # After Stop, the job waits for generate to end its step (the streamer or the criterion stops it
        # there): leaving earlier would let the next run start on the same model while this one still runs.
        last_progress = None
        for kind, value in items:
            if kind is _DONE:
                finished = True
            elif kind == "step":
                steps += 1
                last_progress = Progress(steps, total_steps, "Generating")
            elif kind == "token":
                waiting.append(value)
            elif kind == "tops":
                tops.extend(value)
        # A token goes on once its step's top tokens have come (they come in batches), or at once without them.
        batch = []
        while waiting and not cancel.cancelled and (not show_top_k or tops):  # after Stop, queued tokens are not shown
            token_id, top = waiting.pop(0), tops.pop(0) if show_top_k else None
            generated.new_ids.append(token_id)
            if top is not None:
                generated.top.append(top)
            batch.append((token_id, top))
        if batch:
            for piece in on_tokens(batch, time.perf_counter() - started) if on_tokens is not None else ():
                if cancel.cancelled:  # Stop pressed while this batch was handed on: show no more of it
                    break
                yield piece
            last_progress = Progress(len(generated.new_ids), total_steps, "Generating")
        if last_progress is not None:
            yield last_progress
    thread.join()
    generated.seconds = time.perf_counter() - started
    if "error" in box:
        raise box["error"]
    cancel.raise_if_cancelled()
    output = box["output"]
    generated.sequence = output[0]
    generated.warnings = box.get("warnings", [])
    return generated


__all__ = ["Generated", "run_generate"]
