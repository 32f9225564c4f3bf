"""Text classification: every label of ``id2label`` with its probability, one or many texts.

Several texts run as one padded batch, as in the seed examples (``padding=True,
truncation=True``). Softmax for single-label models; sigmoid per label when multi-label is
on (each label judged on its own), as the old pipeline did for multi-label checkpoints.
"""

from __future__ import annotations

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_LINES,
    RESULT_CLASSIFICATION,
    Field,
    TaskSpec,
    encode,
    label_names,
    register,
    rounded,
)

SPEC = TaskSpec(
    id="text-classification",
    title="Text classification",
    auto_class="AutoModelForSequenceClassification",
    result_type=RESULT_CLASSIFICATION,
    description="Scores every label of the classifier (sentiment, topic, …) for each text.",
    inputs=(
        Field(
            "texts",
            "Texts (one per line)",
            KIND_LINES,
            "I've been waiting for a HuggingFace course my whole life.",
            required=True,
        ),
    ),
    parameters=(
        Field("multi_label", "Multi-label (sigmoid)", KIND_BOOL, False, help="Off: softmax, the labels compete. On: sigmoid, each label scored on its own"),
    ),
)


@register(SPEC)
def run(loaded, values: dict, cancel: CancelToken) -> Job[dict]:
    import torch

    model, texts = loaded.model, values["texts"]
    names = label_names(model.config)
    notices: list[str] = []
    multi_label = values["multi_label"]
    if not multi_label and (model.config.num_labels == 1 or getattr(model.config, "problem_type", None) == "multi_label_classification"):
        multi_label = True
        notices.append("This classifier is multi-label (or has one output), so sigmoid scores are shown.")
    encoded = encode(loaded, texts, padding=True)
    notices += encoded.notices
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "Running the model")
    with torch.inference_mode():
        logits = model(**encoded.inputs).logits.float()
    probabilities = logits.sigmoid() if multi_label else logits.softmax(dim=-1)
    rows = []
    for text, row_logits, row in zip(texts, logits.tolist(), probabilities.tolist()):
        scores = [{"label": names.get(i, f"LABEL_{i}"), "score": rounded(p), "logit": rounded(l)} for i, (p, l) in enumerate(zip(row, row_logits))]
        ranked = sorted(scores, key=lambda item: item["score"], reverse=True)
        rows.append({"text": text, "label": ranked[0]["label"], "score": ranked[0]["score"], "scores": ranked})
    return {
        "task": SPEC.id,
        "result_type": SPEC.result_type,
        "multi_label": multi_label,
        "results": rows,
        "notices": notices,
    }


def summary(result: dict) -> list:
    return [[(s["label"], s["score"]) for s in row["scores"]] for row in result["results"]]


def script(values: dict) -> str:
    return f'''texts = {values["texts"]!r}
inputs = tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt").to(device)
with torch.inference_mode():
    logits = model(**inputs).logits.float()
multi_label = {values["multi_label"]!r} or model.config.num_labels == 1 or model.config.problem_type == "multi_label_classification"
probabilities = logits.sigmoid() if multi_label else torch.nn.functional.softmax(logits, dim=-1)
labels = model.config.id2label
result = []
for row in probabilities.tolist():
    scores = sorted(((labels[i], r(p)) for i, p in enumerate(row)), key=lambda item: item[1], reverse=True)
    result.append(scores)
'''


SPEC.summary = summary
SPEC.script = script
