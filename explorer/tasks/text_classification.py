"""Text classification: every label of ``id2label`` with its probability, one or many texts.

Several texts run as one padded batch, as in the seed examples (``padding=True,
truncation=True``). Softmax for single-label models; sigmoid per label when multi-label is
on (each label judged on its own), as the old pipeline did for multi-label checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CSV,
    KIND_LINES,
    CommandLine,
    Field,
    Record,
    ScoredLabel,
    TaskInputError,
    TaskResult,
    TaskSpec,
    encode,
    label_names,
    register,
    rounded,
)

INPUTS = (
    Field("texts", "Texts (one per line)", KIND_LINES, default="I've been waiting for a HuggingFace course my whole life.", required=True),
)
PARAMETERS = (
    Field(
        "gold_labels", "Gold labels (optional)", KIND_CSV, default="", placeholder="one per text, by name or id: POSITIVE, 0",
        help="The right label of each text, comma separated, by name or id: the model then also returns its loss "
        "(model(**inputs, labels=torch.tensor([...])).loss, as when training)",
    ),
    Field(
        "multi_label", "Multi-label (sigmoid)", KIND_BOOL, default=False,
        help="Off: softmax, the labels compete. On: sigmoid, each label scored on its own",
    ),
)


@dataclass(slots=True)
class LabelScore(ScoredLabel):
    logit: float


@dataclass(slots=True)
class ClassifiedText(Record):
    text: str
    label: str  # the best label
    score: float
    scores: list[LabelScore]  # every label, best first


@dataclass(slots=True)
class GoldLabel(Record):
    id: int
    label: str


@dataclass(kw_only=True)
class ClassificationResult(TaskResult):
    multi_label: bool  # sigmoid per label, else softmax across labels
    results: list[ClassifiedText]  # one per text
    gold_labels: list[GoldLabel] | None
    loss: float | None  # against the gold labels
    loss_kind: str | None  # the config's problem_type the loss follows
    notices: list[str] = field(default_factory=list)


def gold_label_ids(gold: list[str], texts: list[str], names: dict[int, str], num_labels: int) -> list[int]:
    """Label names or ids, one per text -> ids; TaskInputError names what does not fit."""
    if len(gold) != len(texts):
        raise TaskInputError(f"Gold labels: give one per text ({len(texts)}), got {len(gold)}")
    by_name = {name.lower(): index for index, name in names.items()}
    ids = []
    for item in gold:
        if item.lower() in by_name:
            ids.append(by_name[item.lower()])
        elif item.lstrip("-").isdigit() and 0 <= int(item) < num_labels:
            ids.append(int(item))
        else:
            known = ", ".join(f"{i} {n}" for i, n in sorted(names.items())) or f"ids 0 to {num_labels - 1}"
            raise TaskInputError(f"Gold labels: {item!r} is not a label of this classifier ({known})")
    return ids


def labels_tensor(ids: list[int], num_labels: int, problem_type: str | None):
    """What the model's loss expects: class ids for softmax heads, one-hot floats for multi-label ones."""
    import torch

    if problem_type == "multi_label_classification":
        return torch.nn.functional.one_hot(torch.tensor(ids), num_labels).float()
    return torch.tensor(ids)


def run(loaded, values: dict, cancel: CancelToken) -> Job[ClassificationResult]:
    import torch

    model, texts = loaded.model, values["texts"]
    names = label_names(model.config)
    notices: list[str] = []
    multi_label = values["multi_label"]
    if not multi_label and (model.config.num_labels == 1 or getattr(model.config, "problem_type", None) == "multi_label_classification"):
        multi_label = True
        notices.append("This classifier is multi-label (or has one output), so sigmoid scores are shown.")
    gold = values["gold_labels"]
    gold_ids = gold_label_ids(gold, texts, names, model.config.num_labels) if gold else None
    if gold_ids is not None and model.config.num_labels == 1:
        raise TaskInputError("Gold labels: this model has one output (a regression score), so there are no labels to name")
    encoded = encode(loaded, texts, padding=True)
    notices += encoded.notices
    extra = {}
    if gold_ids is not None:
        extra["labels"] = labels_tensor(gold_ids, model.config.num_labels, model.config.problem_type).to(loaded.input_device)
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "Running the model")
    with torch.inference_mode():
        outputs = model(**encoded.inputs, **extra)
    logits = outputs.logits.float()
    loss = None if gold_ids is None or outputs.loss is None else rounded(outputs.loss)
    probabilities = logits.sigmoid() if multi_label else logits.softmax(dim=-1)
    rows = []
    for text, row_logits, row in zip(texts, logits.tolist(), probabilities.tolist()):
        scores = [LabelScore(names.get(i, f"LABEL_{i}"), rounded(p), rounded(l)) for i, (p, l) in enumerate(zip(row, row_logits))]
        ranked = sorted(scores, key=lambda item: item.score, reverse=True)
        rows.append(ClassifiedText(text, ranked[0].label, ranked[0].score, ranked))
    return ClassificationResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        multi_label=multi_label,
        results=rows,
        gold_labels=None if gold_ids is None else [GoldLabel(i, names.get(i, f"LABEL_{i}")) for i in gold_ids],
        loss=loss,
        loss_kind=None if loss is None else model.config.problem_type,
        notices=notices,
    )


def summary(result: ClassificationResult) -> dict:
    return {"scores": [[(s.label, s.score) for s in row.scores] for row in result.results], "loss": result.loss}


def script(values: dict) -> str:
    gold = values["gold_labels"]
    if gold:
        labels_code = f'''
# Gold labels, by name or id: with them the model also returns the loss (as in training).
label_ids = {{name.lower(): i for i, name in model.config.id2label.items()}}
gold = [label_ids[item.lower()] if item.lower() in label_ids else int(item) for item in {python_literal(list(gold))}]
if model.config.problem_type == "multi_label_classification":
    labels = torch.nn.functional.one_hot(torch.tensor(gold), model.config.num_labels).float()
else:
    labels = torch.tensor(gold)
with torch.inference_mode():
    outputs = model(**inputs, labels=labels.to(device))
print("loss:", outputs.loss.item())
'''
        loss = "r(outputs.loss)"
    else:
        labels_code = """
with torch.inference_mode():
    outputs = model(**inputs)
"""
        loss = "None"
    return f'''texts = {python_literal(values["texts"])}
inputs = tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt").to(device)
{labels_code.strip()}
logits = outputs.logits.float()
multi_label = {python_literal(values["multi_label"])} or model.config.num_labels == 1 or model.config.problem_type == "multi_label_classification"
probabilities = logits.sigmoid() if multi_label else torch.nn.functional.softmax(logits, dim=-1)
labels = model.config.id2label
result = []
for row in probabilities.tolist():
    scores = sorted(((labels[i], r(p)) for i, p in enumerate(row)), key=lambda item: item[1], reverse=True)
    result.append(scores)
result = {{"scores": result, "loss": {loss}}}
'''


def text_lines(result: ClassificationResult) -> list[str]:
    lines = []
    for row in result.results:
        lines.append(f"{row.text}")
        lines += [f"  {s.label:20} {s.score:.4f}" for s in row.scores]
    if result.loss is not None:
        gold = ", ".join(g.label for g in result.gold_labels or [])
        lines.append(f"loss against the gold labels ({gold}): {result.loss:.6f}")
    return lines


SPEC = register(
    TaskSpec(
        id="text-classification",
        order=3,
        title="Text classification",
        description="Scores every label of the classifier (sentiment, topic, …) for each text.",
        auto_class="AutoModelForSequenceClassification",
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="texts"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="classification",
        view="classification",
    )
)
