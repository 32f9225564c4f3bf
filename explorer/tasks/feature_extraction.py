"""Feature extraction: the base model's last hidden state, pooled to one vector per sentence.

As in the seed example the base model (``AutoModel``, no head) runs and its
``last_hidden_state`` is read; its shape is reported. Mean pooling averages the real tokens
(padding excluded); CLS takes the first token. Sentences are compared by cosine similarity.
Encoder-decoder models run their encoder only.
"""

from __future__ import annotations

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CHOICE,
    KIND_LINES,
    RESULT_FEATURES,
    Field,
    TaskSpec,
    encode,
    register,
    rounded,
)

SPEC = TaskSpec(
    id="feature-extraction",
    title="Feature extraction",
    auto_class="AutoModel",
    result_type=RESULT_FEATURES,
    description="One vector per sentence from the model body, and how similar the sentences are.",
    inputs=(
        Field(
            "sentences",
            "Sentences (one per line)",
            KIND_LINES,
            "This is a sample sentence.\nThe cat sat on the mat.\nA checkpoint holds the weights of a model.",
            required=True,
        ),
    ),
    parameters=(
        Field("pooling", "Pooling", KIND_CHOICE, "mean", choices=("mean", "cls"), help="mean: average of the tokens; cls: the first token"),
        Field("normalize", "Normalize vectors", KIND_BOOL, False, help="Scale each vector to length 1"),
    ),
)


@register(SPEC)
def run(loaded, values: dict, cancel: CancelToken) -> Job[dict]:
    import torch

    model, sentences = loaded.model, values["sentences"]
    notices: list[str] = []
    encoded = encode(loaded, sentences, padding=True)
    notices += encoded.notices
    body = model
    if getattr(model.config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        body = model.get_encoder()
        notices.append("Encoder-decoder model: the vectors come from its encoder.")
    inputs = {k: v for k, v in encoded.inputs.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "Running the model")
    with torch.inference_mode():
        hidden = body(**inputs).last_hidden_state.float()
    mask = inputs["attention_mask"].to(hidden.device).unsqueeze(-1).to(hidden.dtype)
    if values["pooling"] == "mean":
        vectors = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    else:
        vectors = hidden[:, 0]
    if values["normalize"]:
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
    unit = torch.nn.functional.normalize(vectors, dim=-1)
    similarity = (unit @ unit.T).cpu()
    lengths = inputs["attention_mask"].sum(dim=1).tolist()
    return {
        "task": SPEC.id,
        "result_type": SPEC.result_type,
        "sentences": sentences,
        "pooling": values["pooling"],
        "last_hidden_state_shape": list(hidden.shape),
        "token_counts": [int(n) for n in lengths],
        "vector_size": int(vectors.shape[-1]),
        "vectors": [[rounded(v) for v in row] for row in vectors.cpu().tolist()],
        "norms": [rounded(n) for n in vectors.norm(dim=-1).cpu().tolist()],
        "similarity": [[rounded(v) for v in row] for row in similarity.tolist()],
        "notices": notices,
    }


def summary(result: dict) -> dict:
    return {
        "last_hidden_state_shape": result["last_hidden_state_shape"],
        "vector_size": result["vector_size"],
        "similarity": result["similarity"],
        "first_values": [row[:4] for row in result["vectors"]],
    }


def script(values: dict) -> str:
    return f'''sentences = {values["sentences"]!r}
inputs = tokenizer(sentences, padding=True, truncation=True, max_length=limit, return_tensors="pt").to(device)
inputs = {{k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "token_type_ids")}}
body = model.get_encoder() if model.config.is_encoder_decoder else model
with torch.inference_mode():
    last_hidden_states = body(**inputs).last_hidden_state.float()
print(f"Last hidden state shape: {{last_hidden_states.shape}}")
mask = inputs["attention_mask"].unsqueeze(-1).to(last_hidden_states.dtype)
if {values["pooling"]!r} == "mean":  # average of the real tokens, padding excluded
    vectors = (last_hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
else:  # the first ([CLS]) token
    vectors = last_hidden_states[:, 0]
if {values["normalize"]!r}:
    vectors = torch.nn.functional.normalize(vectors, dim=-1)
unit = torch.nn.functional.normalize(vectors, dim=-1)
similarity = (unit @ unit.T).cpu()
result = {{
    "last_hidden_state_shape": list(last_hidden_states.shape),
    "vector_size": vectors.shape[-1],
    "similarity": [[r(v) for v in row] for row in similarity.tolist()],
    "first_values": [[r(v) for v in row[:4]] for row in vectors.cpu().tolist()],
}}
'''


SPEC.summary = summary
SPEC.script = script
