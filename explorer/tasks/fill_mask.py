"""Fill-mask: the most likely tokens for each mask token, with their probabilities.

Same mechanics as the seed example (softmax over the vocabulary at each mask position; the
first entry is the argmax it prints) and as the old fill-mask pipeline (top-k per mask, the
sentence with the mask replaced).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    KIND_INT,
    KIND_MULTILINE,
    CommandLine,
    Field,
    FromCheckpoint,
    Partial,
    Record,
    TaskInputError,
    TaskResult,
    TaskSpec,
    encode,
    register,
    rounded,
)

MASK_PLACEHOLDER = "[MASK]"

INPUTS = (
    Field(
        "text", "Text with mask", KIND_MULTILINE, default="The capital of France is [MASK].", required=True,
        help="Put the tokenizer's mask token where a word is missing; [MASK] is replaced by the tokenizer's own mask token",
        insert_button=FromCheckpoint("mask_token", fallback=MASK_PLACEHOLDER),
    ),
)
PARAMETERS = (Field("top_k", "Top-k per mask", KIND_INT, default=5, minimum=1, maximum=100, step=1),)


@dataclass(slots=True)
class MaskPrediction(Record):
    token: str
    token_id: int
    score: float
    sequence: str  # the text with this token in the mask's place


@dataclass(slots=True)
class MaskedPosition(Record):
    position: int  # the mask's token index
    predictions: list[MaskPrediction]  # best first


@dataclass(kw_only=True)
class FillMaskResult(TaskResult):
    text: str  # as run: [MASK] replaced by the tokenizer's own mask token
    mask_token: str
    masks: list[MaskedPosition]
    notices: list[str] = field(default_factory=list)


def with_tokenizer_mask(text: str, tokenizer) -> str:
    """Users type [MASK] whatever the model; RoBERTa-style tokenizers call it <mask>."""
    mask = tokenizer.mask_token
    if mask is None:
        raise TaskInputError("This tokenizer has no mask token, so it cannot fill masks; choose another task")
    if mask != MASK_PLACEHOLDER:
        text = text.replace(MASK_PLACEHOLDER, mask)
    return text


def run(loaded, values: dict, cancel: CancelToken) -> Job[FillMaskResult]:
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    text = with_tokenizer_mask(values["text"], tokenizer)
    if tokenizer.mask_token not in text:
        raise TaskInputError(f"The text has no mask token: put {tokenizer.mask_token} where a word is missing")
    encoded = encode(loaded, text)
    input_ids = encoded.inputs["input_ids"]
    positions = (input_ids[0] == tokenizer.mask_token_id).nonzero(as_tuple=True)[0]
    if len(positions) == 0:
        raise TaskInputError("The mask token was cut off with the truncated text; move it nearer the start")
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "Running the model")
    with torch.inference_mode():
        logits = model(**encoded.inputs).logits
    cancel.raise_if_cancelled()
    masks = []
    for index in positions.tolist():
        probabilities = logits[0, index].float().softmax(dim=-1)
        best = probabilities.topk(min(values["top_k"], probabilities.shape[-1]))
        predictions = []
        for probability, token_id in zip(best.values.tolist(), best.indices.tolist()):
            filled = input_ids[0].clone()
            filled[index] = token_id
            predictions.append(
                MaskPrediction(
                    token=tokenizer.decode([token_id]),
                    token_id=token_id,
                    score=rounded(probability),
                    sequence=tokenizer.decode(filled, skip_special_tokens=True),
                )
            )
        masks.append(MaskedPosition(index, predictions))
        yield Partial("mask", masks[-1])
    return FillMaskResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        text=text,
        mask_token=tokenizer.mask_token,
        masks=masks,
        notices=encoded.notices,
    )


def summary(result: FillMaskResult) -> list:
    return [[(p.token, p.score) for p in mask.predictions] for mask in result.masks]


def script(values: dict) -> str:
    return f'''text = {python_literal(values["text"])}.replace("[MASK]", tokenizer.mask_token)
inputs = tokenizer(text, truncation=True, max_length=limit, return_tensors="pt").to(device)
with torch.inference_mode():
    logits = model(**inputs).logits
masked_index = (inputs.input_ids == tokenizer.mask_token_id)[0].nonzero(as_tuple=True)[0]
result = []
for index in masked_index.tolist():
    probabilities = logits[0, index].float().softmax(dim=-1)
    best = probabilities.topk(min({python_literal(values["top_k"])}, probabilities.shape[-1]))
    result.append([(tokenizer.decode([i]), r(p)) for p, i in zip(best.values.tolist(), best.indices.tolist())])
'''


def text_lines(result: FillMaskResult) -> list[str]:
    lines = []
    for mask in result.masks:
        lines += [f"{p.score:.4f}  {p.token!r:20}  {p.sequence}" for p in mask.predictions]
        lines.append("")
    return lines


SPEC = register(
    TaskSpec(
        id="fill-mask",
        order=2,
        title="Fill mask",
        description="Predicts the token hidden behind each mask token (BERT, RoBERTa, …).",
        auto_class="AutoModelForMaskedLM",
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="text"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="fill-mask",
        view="fill_mask",
    )
)
