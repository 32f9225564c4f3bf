"""Extractive question answering: the best answer spans of the context, with their scores.

Long contexts are split into overlapping windows (``stride`` tokens shared) as the old
question-answering pipeline did. In each window, start and end logits outside the context
are masked, turned into probabilities, and a span's score is p(start) * p(end) with
start <= end < start + max answer length. The seed example's independent argmax of start and
end is reported too (``argmax_answer``), and the raw logits of every window feed the plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    ROUND_DIGITS,
    KIND_INT,
    KIND_MULTILINE,
    KIND_TEXT,
    CommandLine,
    Field,
    Partial,
    Record,
    TaskError,
    TaskInputError,
    TaskResult,
    TaskSpec,
    max_input_length,
    register,
    rounded,
)

INPUTS = (
    Field("question", "Question", KIND_TEXT, default="What is Hugging Face creating?", required=True),
    Field("context", "Context", KIND_MULTILINE, default="Hugging Face is creating a tool that democratizes AI.", required=True),
)
PARAMETERS = (
    Field("top_n", "Answers", KIND_INT, default=3, minimum=1, maximum=20, step=1, help="How many of the best spans to list"),
    Field("max_answer_length", "Max answer length (tokens)", KIND_INT, default=15, minimum=1, maximum=512, step=1),
    Field(
        "stride", "Window overlap (tokens)", KIND_INT, default=128, minimum=0, maximum=1024, step=8,
        help="Long contexts are split into windows sharing this many tokens",
    ),
)


@dataclass(slots=True)
class Answer(Record):
    answer: str  # the context's text from start to end
    score: float  # p(start) * p(end)
    start: int  # character offsets in the context
    end: int
    window: int  # which window of a long context it was found in
    token_start: int  # token positions in that window
    token_end: int


@dataclass(slots=True)
class ArgmaxAnswer(Record):
    """The seed example's reading: argmax of the start and of the end logits, each on its own (first window)."""

    answer: str
    token_start: int
    token_end: int  # one past the last token


@dataclass(slots=True)
class LogitsWindow(Record):
    """One window of the context as the model read it, for the logits plot."""

    tokens: list[str]
    start_logits: list[float]
    end_logits: list[float]
    context_mask: list[int]  # 1 where the token belongs to the context
    offsets: list[list[int]]  # each token's (start, end) characters in its text


@dataclass(kw_only=True)
class AnswerResult(TaskResult):
    question: str
    context: str
    answers: list[Answer]  # best first, each span once
    argmax_answer: ArgmaxAnswer
    windows: list[LogitsWindow]
    notices: list[str] = field(default_factory=list)


def best_spans(start_probs, end_probs, allowed, top_n: int, max_answer_length: int) -> list[tuple[int, int, float]]:
    """(start, end, score) of the best spans in one window; tensors are 1-D over its tokens."""
    import torch

    if not bool(allowed.any()):
        return []
    # Outside the context the probabilities are exactly 0 (logit -10000 underflows in softmax), so
    # spans touching the question or padding score 0 without a mask of their own.
    outer = start_probs[:, None] * end_probs[None, :]
    candidates = torch.tril(torch.triu(outer), max_answer_length - 1)
    flat = candidates.flatten()
    k = min(top_n, int((flat > 0).sum()))
    if k == 0:
        return []
    values, indices = flat.topk(k)
    width = candidates.shape[1]
    return [(int(i) // width, int(i) % width, float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def run(loaded, values: dict, cancel: CancelToken) -> Job[AnswerResult]:
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    if not getattr(tokenizer, "is_fast", False):
        raise TaskError("Answer offsets need a fast tokenizer (tokenizer.json); this checkpoint has only a slow one")
    question, context = values["question"].strip(), values["context"]
    limit = max_input_length(loaded)
    # It encodes a dummy pair each time it is asked: once per loaded model is enough.
    specials = loaded.remember("special_tokens_in_pair", lambda: tokenizer.num_special_tokens_to_add(pair=True))
    notices = []
    stride = values["stride"]
    stride_lowered = False
    # A question has at most as many tokens as UTF-8 bytes: only tokenize it alone when that bound
    # does not already leave room for the stride (saves a tokenizer call per run).
    if stride + len(question.encode("utf-8")) + specials >= limit:
        question_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        room = limit - question_tokens - specials
        if room < 8:
            raise TaskInputError(f"The question is {question_tokens} tokens: too long for a model that reads {limit} tokens with the context")
        stride_lowered = stride >= room
    if stride_lowered:
        stride = room // 2
    pad_right = tokenizer.padding_side == "right"
    windows = tokenizer(
        question if pad_right else context,
        context if pad_right else question,
        truncation="only_second" if pad_right else "only_first",
        max_length=limit,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        return_tensors="pt",
    )
    context_index = 1 if pad_right else 0
    count = windows["input_ids"].shape[0]
    if count > 1:
        notices.append(f"The context is longer than the model's {limit} tokens; it was read in {count} overlapping windows.")
        if stride_lowered:
            notices.append(f"The window overlap was lowered to {stride} tokens to leave room for new context in each window.")
    offsets = windows.pop("offset_mapping").tolist()
    windows.pop("overflow_to_sample_mapping", None)
    model_inputs = {k: v.to(loaded.input_device) for k, v in windows.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    cancel.raise_if_cancelled()
    yield Progress(0, count, "Running the model")
    with torch.inference_mode():
        outputs = model(**model_inputs)
    start_logits, end_logits = outputs.start_logits.float().cpu(), outputs.end_logits.float().cpu()
    answers: list[Answer] = []
    plots: list[LogitsWindow] = []
    for window in range(count):
        cancel.raise_if_cancelled()
        sequence_ids = windows.sequence_ids(window)
        outside = torch.tensor([s != context_index for s in sequence_ids])
        allowed = (~outside).float()
        # Same masking as the old pipeline: non-context tokens get a very low logit before softmax.
        start = start_logits[window].masked_fill(outside, -10000.0).softmax(-1)
        end = end_logits[window].masked_fill(outside, -10000.0).softmax(-1)
        for first, last, score in best_spans(start, end, allowed, values["top_n"], values["max_answer_length"]):
            char_start, char_end = offsets[window][first][0], offsets[window][last][1]
            answers.append(Answer(context[char_start:char_end], rounded(score), char_start, char_end, window, first, last))
        ids = windows["input_ids"][window].tolist()
        plots.append(
            LogitsWindow(
                tokens=tokenizer.convert_ids_to_tokens(ids),
                # Rounded in one tensor op: a Python loop over every token cost more than the span search.
                start_logits=start_logits[window].double().round(decimals=ROUND_DIGITS).tolist(),
                end_logits=end_logits[window].double().round(decimals=ROUND_DIGITS).tolist(),
                context_mask=allowed.int().tolist(),
                offsets=offsets[window],
            )
        )
        yield Progress(window + 1, count, "Scoring spans")
    answers.sort(key=lambda a: a.score, reverse=True)
    unique: list[Answer] = []
    seen: set[tuple[int, int]] = set()
    for answer in answers:
        if (answer.start, answer.end) not in seen:
            seen.add((answer.start, answer.end))
            unique.append(answer)
    unique = unique[: values["top_n"]]
    if unique:
        yield Partial("answer", unique[0])
    first_ids = windows["input_ids"][0]
    answer_start = int(torch.argmax(start_logits[0]))
    answer_end = int(torch.argmax(end_logits[0])) + 1
    argmax_answer = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(first_ids[answer_start:answer_end]))
    return AnswerResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        question=question,
        context=context,
        answers=unique,
        argmax_answer=ArgmaxAnswer(argmax_answer, answer_start, answer_end),
        windows=plots,
        notices=notices,
    )


def summary(result: AnswerResult) -> dict:
    return {
        "answers": [(a.answer, a.start, a.end, a.score) for a in result.answers],
        "argmax_answer": result.argmax_answer.answer,
    }


def script(values: dict) -> str:
    return f'''question = {python_literal(values["question"].strip())}
context = {python_literal(values["context"])}
top_n, max_answer_length, stride = {python_literal((values["top_n"], values["max_answer_length"], values["stride"]))}
room = limit - len(tokenizer(question, add_special_tokens=False)["input_ids"]) - tokenizer.num_special_tokens_to_add(pair=True)
stride = stride if stride < room else room // 2
pad_right = tokenizer.padding_side == "right"
windows = tokenizer(
    question if pad_right else context, context if pad_right else question,
    truncation="only_second" if pad_right else "only_first", max_length=limit, stride=stride,
    return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest", return_tensors="pt",
)
offsets = windows.pop("offset_mapping").tolist()
model_inputs = {{k: v.to(device) for k, v in windows.items() if k in ("input_ids", "attention_mask", "token_type_ids")}}
with torch.inference_mode():
    outputs = model(**model_inputs)
start_logits, end_logits = outputs.start_logits.float().cpu(), outputs.end_logits.float().cpu()
answers = []
for w in range(windows["input_ids"].shape[0]):
    allowed = torch.tensor([1.0 if s == (1 if pad_right else 0) else 0.0 for s in windows.sequence_ids(w)])
    start = torch.where(allowed > 0, start_logits[w], torch.tensor(-10000.0)).softmax(-1)
    end = torch.where(allowed > 0, end_logits[w], torch.tensor(-10000.0)).softmax(-1)
    # score(span) = p(start) * p(end), end >= start, at most max_answer_length tokens, inside the context
    candidates = torch.tril(torch.triu(start[:, None] * end[None, :]), max_answer_length - 1) * allowed[:, None] * allowed[None, :]
    k = min(top_n, int((candidates.flatten() > 0).sum()))
    if k == 0:
        continue
    best = candidates.flatten().topk(k)
    for score, index in zip(best.values.tolist(), best.indices.tolist()):
        first, last = index // candidates.shape[1], index % candidates.shape[1]
        s, e = offsets[w][first][0], offsets[w][last][1]
        answers.append((context[s:e], s, e, r(score)))
answers.sort(key=lambda a: a[3], reverse=True)
unique = []
for a in answers:
    if all((a[1], a[2]) != (u[1], u[2]) for u in unique):
        unique.append(a)

# The seed example's reading: argmax of the start logits and of the end logits, independently.
answer_start = torch.argmax(start_logits[0])
answer_end = torch.argmax(end_logits[0]) + 1
argmax_answer = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(windows["input_ids"][0][answer_start:answer_end]))
result = {{"answers": unique[:top_n], "argmax_answer": argmax_answer}}
'''


def text_lines(result: AnswerResult) -> list[str]:
    return [f"{a.score:.4f}  {a.start:>4}-{a.end:<4} {a.answer}" for a in result.answers]


SPEC = register(
    TaskSpec(
        id="question-answering",
        order=5,
        title="Question answering",
        description="Finds the answer to a question as a span of the context (SQuAD-style models).",
        auto_class="AutoModelForQuestionAnswering",
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="question", context="context"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="answer-spans",
        view="answer_spans",
    )
)
