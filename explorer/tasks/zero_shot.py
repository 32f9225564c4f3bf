"""Zero-shot classification with an NLI model, as the old zero-shot pipeline did it.

Each candidate label becomes a hypothesis ("This example is {label}.") paired with the text
as premise. Single-label: softmax of the entailment logits across labels. Multi-label: for
each label on its own, softmax over (contradiction, entailment). The entailment index comes
from the model's own ``label2id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CSV,
    KIND_MULTILINE,
    KIND_TEXT,
    CommandLine,
    Field,
    ScoredLabel,
    TaskError,
    TaskInputError,
    TaskResult,
    TaskSpec,
    encode,
    register,
    rounded,
)

INPUTS = (
    Field("text", "Text", KIND_MULTILINE, default="I have been waiting for a course like this my whole life.", required=True),
    Field("labels", "Candidate labels (comma separated)", KIND_CSV, default="education, politics, business", required=True),
)
PARAMETERS = (
    Field("hypothesis_template", "Hypothesis template", KIND_TEXT, default="This example is {}.", help="{} is replaced by each label"),
    Field(
        "multi_label", "Multi-label", KIND_BOOL, default=False,
        help="Off: labels compete (scores add up to 1). On: each label judged on its own",
    ),
)


@dataclass(slots=True)
class LabelHypothesis(ScoredLabel):
    hypothesis: str  # the sentence the model judged against the text


@dataclass(kw_only=True)
class ZeroShotResult(TaskResult):
    sequence: str  # the text
    labels: list[str]  # best first, as the old pipeline returned them
    scores: list[float]  # in the labels' order
    ranked: list[LabelHypothesis]
    multi_label: bool  # each label judged on its own, else labels compete
    entailment_label: str  # the config's label whose logit scores a label
    notices: list[str] = field(default_factory=list)


def entailment_index(config) -> int:
    for label, index in (getattr(config, "label2id", None) or {}).items():
        if str(label).lower().startswith("entail"):
            return int(index)
    raise TaskError(
        "This classifier has no 'entailment' label in its config (label2id), so it is not an NLI model and cannot "
        "do zero-shot classification. Use an MNLI/XNLI model, or the text-classification task."
    )


def _check_hypotheses_fit(loaded, hypotheses: list[str]) -> None:
    """Only the text is cut to fit (as the zero-shot pipeline does): a hypothesis that leaves it no room is
    the user's to shorten, said in words rather than the tokenizer's "sequence to truncate too short"."""
    from explorer.tasks.base import max_input_length

    limit = max_input_length(loaded)
    tokenizer = loaded.tokenizer
    room_for_pair = tokenizer.num_special_tokens_to_add(pair=True)
    for hypothesis in hypotheses:
        length = len(tokenizer(hypothesis, add_special_tokens=False)["input_ids"])
        if length + room_for_pair >= limit:
            shown = hypothesis if len(hypothesis) <= 60 else hypothesis[:59] + "…"
            raise TaskInputError(
                f"The hypothesis {shown!r} is {length} tokens: with the text it cannot fit the model's {limit}. "
                "Shorten the hypothesis template or the label"
            )


def run(loaded, values: dict, cancel: CancelToken) -> Job[ZeroShotResult]:
    import torch

    model, text, labels = loaded.model, values["text"], values["labels"]
    template = values["hypothesis_template"]
    if "{}" not in template:
        raise TaskInputError("The hypothesis template needs {} where the label goes, e.g. 'This example is {}.'")
    entail = entailment_index(model.config)
    contradiction = -1 if entail == 0 else 0
    hypotheses = [template.format(label) for label in labels]
    _check_hypotheses_fit(loaded, hypotheses)
    encoded = encode(loaded, [text] * len(labels), hypotheses, truncation="only_first", padding=True)
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "Running the model")
    with torch.inference_mode():
        logits = model(**encoded.inputs).logits.float().cpu()
    if values["multi_label"]:
        scores = logits[:, [contradiction, entail]].softmax(dim=-1)[:, 1]
    else:
        scores = logits[:, entail].softmax(dim=0)
    ranked = sorted(
        (LabelHypothesis(label, rounded(score), hyp) for label, score, hyp in zip(labels, scores.tolist(), hypotheses)),
        key=lambda item: item.score,
        reverse=True,
    )
    return ZeroShotResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        sequence=text,
        labels=[item.label for item in ranked],
        scores=[item.score for item in ranked],
        ranked=ranked,
        multi_label=values["multi_label"],
        entailment_label=model.config.id2label[entail],
        notices=encoded.notices,
    )


def summary(result: ZeroShotResult) -> dict:
    return {"labels": result.labels, "scores": result.scores}


def script(values: dict) -> str:
    return f'''sequence = {python_literal(values["text"])}
candidate_labels = {python_literal(values["labels"])}
hypotheses = [{python_literal(values["hypothesis_template"])}.format(label) for label in candidate_labels]
entail = next(int(i) for name, i in model.config.label2id.items() if name.lower().startswith("entail"))
contradiction = -1 if entail == 0 else 0
inputs = tokenizer([sequence] * len(candidate_labels), hypotheses, truncation="only_first", max_length=limit, padding=True, return_tensors="pt").to(device)
with torch.inference_mode():
    logits = model(**inputs).logits.float().cpu()
if {python_literal(values["multi_label"])}:  # each label on its own: entailment vs contradiction
    scores = logits[:, [contradiction, entail]].softmax(dim=-1)[:, 1]
else:  # labels compete: softmax of the entailment logits
    scores = logits[:, entail].softmax(dim=0)
ranked = sorted(zip(candidate_labels, (r(s) for s in scores.tolist())), key=lambda item: item[1], reverse=True)
result = {{"labels": [label for label, _ in ranked], "scores": [score for _, score in ranked]}}
'''


def text_lines(result: ZeroShotResult) -> list[str]:
    return [f"{label:20} {score:.4f}" for label, score in zip(result.labels, result.scores)]


SPEC = register(
    TaskSpec(
        id="zero-shot-classification",
        order=7,
        title="Zero-shot classification",
        description="Scores labels you type, with a natural-language-inference model (MNLI-style).",
        auto_class="AutoModelForSequenceClassification",
        needs_entailment_label=True,
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="text", labels="labels"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="zero-shot",
        view="zero_shot",
    )
)
