"""Feature extraction: a layer's hidden states, pooled to one vector per sentence.

As in the seed examples the base model (``AutoModel``, no head) runs and its
``last_hidden_state`` is read; its shape is reported. Any other layer comes from
``output_hidden_states=True``. Mean pooling averages the real tokens (padding excluded); CLS
takes the first token; "pooler" is the model's pooler output (``model(input_ids)[1]``).
Sentences are compared by cosine similarity. ``output_attentions`` reports the attention
weights' shape. Encoder-decoder models run their encoder only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CHOICE,
    KIND_INT,
    KIND_LINES,
    CommandLine,
    Field,
    TaskInputError,
    TaskResult,
    TaskSpec,
    encode,
    register,
    rounded,
)

LAST_LAYER = -1  # the form shows it as "last"

INPUTS = (
    Field(
        "sentences", "Sentences (one per line)", KIND_LINES,
        default="This is a sample sentence.\nThe cat sat on the mat.\nA checkpoint holds the weights of a model.",
        required=True,
    ),
)
PARAMETERS = (
    Field(
        "pooling", "Pooling", KIND_CHOICE, default="mean", choices=("mean", "cls", "pooler"),
        help="mean: average of the tokens; cls: the first token; pooler: the model's pooler output "
        "(model(input_ids)[1], BERT's dense+tanh over [CLS]; only for models that have a pooler, last layer only)",
    ),
    Field(
        "layer", "Hidden states of layer", KIND_INT, default=LAST_LAYER, minimum=LAST_LAYER, maximum=1000, step=1,
        help="Which layer's hidden states to pool (output_hidden_states=True): 0 is the embedding output, "
        "n the output of layer n; 'last' is last_hidden_state",
        special_value="last",
    ),
    Field("normalize", "Normalize vectors", KIND_BOOL, default=False, help="Scale each vector to length 1"),
    Field(
        "output_attentions", "Attention shapes", KIND_BOOL, default=False,
        help="Also ask for the attention weights (output_attentions=True; runs eager attention) and show their shape",
    ),
)


@dataclass(kw_only=True)
class FeaturesResult(TaskResult):
    sentences: list[str]
    pooling: str  # mean, cls or pooler
    layer: int | None  # the pooled layer's hidden states; None: the last hidden state
    layers: int | None  # how many layers the model has
    last_hidden_state_shape: list[int]
    hidden_state_shape: list[int]  # of the pooled layer
    attentions_shape: list[int] | None  # layers, batch, heads, tokens, tokens; when asked for
    has_pooler: bool
    token_counts: list[int]  # real tokens of each sentence
    vector_size: int
    vectors: list[list[float]]  # one per sentence
    norms: list[float]
    similarity: list[list[float]]  # cosine similarity of every pair of sentences
    notices: list[str] = field(default_factory=list)


def has_pooler(body) -> bool:
    return getattr(body, "pooler", None) is not None


def run(loaded, values: dict, cancel: CancelToken) -> Job[FeaturesResult]:
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
    pooling, layer = values["pooling"], values["layer"]
    if pooling == "pooler":
        if not has_pooler(body):
            raise TaskInputError(f"{type(body).__name__} has no pooler; choose mean or cls pooling")
        if layer != LAST_LAYER:
            raise TaskInputError("The pooler reads the last layer only; set the layer to 'last' or choose mean or cls pooling")
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "Running the model")
    want_hidden = layer != LAST_LAYER
    attentions_shape = None
    with torch.inference_mode(), _eager_attention(body, values["output_attentions"]) as eager:
        outputs = body(**inputs, output_hidden_states=want_hidden, output_attentions=values["output_attentions"])
    if values["output_attentions"]:
        attentions = getattr(outputs, "attentions", None) or ()
        if attentions:
            attentions_shape = [len(attentions), *attentions[0].shape]
        else:
            notices.append(f"{type(body).__name__} returned no attention weights{'' if eager else ' (its attention cannot switch to eager)'}.")
    last = outputs.last_hidden_state.float()
    hidden_states = getattr(outputs, "hidden_states", None) if want_hidden else None
    if want_hidden:
        if not hidden_states:
            raise TaskInputError(f"{type(body).__name__} does not return per-layer hidden states; set the layer to 'last'")
        if layer >= len(hidden_states):
            raise TaskInputError(
                f"Layer {layer} does not exist: this model has {len(hidden_states) - 1} layers (0 is the embedding output)"
            )
        hidden = hidden_states[layer].float()
    else:
        hidden = last
    mask = inputs["attention_mask"].to(hidden.device).unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        vectors = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    elif pooling == "cls":
        vectors = hidden[:, 0]
    else:
        vectors = outputs.pooler_output.float()
    if values["normalize"]:
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
    unit = torch.nn.functional.normalize(vectors, dim=-1)
    similarity = (unit @ unit.T).cpu()
    lengths = inputs["attention_mask"].sum(dim=1).tolist()
    return FeaturesResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        sentences=sentences,
        pooling=pooling,
        layer=None if layer == LAST_LAYER else layer,
        layers=len(hidden_states) - 1 if hidden_states else getattr(body.config, "num_hidden_layers", None),
        last_hidden_state_shape=list(last.shape),
        hidden_state_shape=list(hidden.shape),
        attentions_shape=attentions_shape,
        has_pooler=has_pooler(body),
        token_counts=[int(n) for n in lengths],
        vector_size=int(vectors.shape[-1]),
        vectors=[[rounded(v) for v in row] for row in vectors.cpu().tolist()],
        norms=[rounded(n) for n in vectors.norm(dim=-1).cpu().tolist()],
        similarity=[[rounded(v) for v in row] for row in similarity.tolist()],
        notices=notices,
    )


@contextlib.contextmanager
def _eager_attention(body, wanted: bool):
    """Attention weights exist only in eager attention (sdpa and flash never form them): switch for this run."""
    previous = getattr(body.config, "_attn_implementation", None)
    if not wanted or previous in (None, "eager") or not hasattr(body, "set_attn_implementation"):
        yield previous == "eager" or previous is None
        return
    try:
        body.set_attn_implementation("eager")
    except (ValueError, ImportError, NotImplementedError):
        yield False
        return
    try:
        yield body.config._attn_implementation == "eager"
    finally:
        body.set_attn_implementation(previous)


def summary(result: FeaturesResult) -> dict:
    return {
        "last_hidden_state_shape": result.last_hidden_state_shape,
        "hidden_state_shape": result.hidden_state_shape,
        "attentions_shape": result.attentions_shape,
        "vector_size": result.vector_size,
        "similarity": result.similarity,
        "first_values": [row[:4] for row in result.vectors],
    }


def script(values: dict) -> str:
    layer = values["layer"]
    if values["pooling"] == "mean":
        pool = """vectors = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # average of the real tokens"""
    elif values["pooling"] == "cls":
        pool = """vectors = hidden[:, 0]  # the first ([CLS]) token"""
    else:
        pool = """vectors = outputs.pooler_output.float()  # model(input_ids)[1]: the pooler over [CLS]"""
    attentions = values["output_attentions"]
    eager = (
        '''
if body.config._attn_implementation != "eager":
    body.set_attn_implementation("eager")  # only eager attention forms the attention weights
'''
        if attentions
        else ""
    )
    return f'''sentences = {python_literal(values["sentences"])}
inputs = tokenizer(sentences, padding=True, truncation=True, max_length=limit, return_tensors="pt").to(device)
inputs = {{k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "token_type_ids")}}
body = model.get_encoder() if model.config.is_encoder_decoder else model
{eager.strip()}
with torch.inference_mode():
    outputs = body(**inputs, output_hidden_states={python_literal(layer != LAST_LAYER)}, output_attentions={python_literal(attentions)})
last_hidden_states = outputs.last_hidden_state.float()
print(f"Last hidden state shape: {{last_hidden_states.shape}}")
hidden = {"last_hidden_states" if layer == LAST_LAYER else f"outputs.hidden_states[{python_literal(layer)}].float()  # 0: embeddings, n: layer n"}
mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
{pool}
if {python_literal(values["normalize"])}:
    vectors = torch.nn.functional.normalize(vectors, dim=-1)
unit = torch.nn.functional.normalize(vectors, dim=-1)
similarity = (unit @ unit.T).cpu()
attentions_shape = [len(outputs.attentions), *outputs.attentions[0].shape] if {python_literal(attentions)} and outputs.attentions else None
if attentions_shape:
    print("Attentions: layers, batch, heads, tokens, tokens =", attentions_shape)
result = {{
    "last_hidden_state_shape": list(last_hidden_states.shape),
    "hidden_state_shape": list(hidden.shape),
    "attentions_shape": attentions_shape,
    "vector_size": vectors.shape[-1],
    "similarity": [[r(v) for v in row] for row in similarity.tolist()],
    "first_values": [[r(v) for v in row[:4]] for row in vectors.cpu().tolist()],
}}
'''


def text_lines(result: FeaturesResult) -> list[str]:
    lines = [f"last hidden state shape: {result.last_hidden_state_shape}; vector size {result.vector_size}"]
    if result.layer is not None:
        lines.append(f"pooled layer {result.layer} of {result.layers}: hidden states shape {result.hidden_state_shape}")
    if result.attentions_shape:
        lines.append(f"attentions (layers, batch, heads, tokens, tokens): {result.attentions_shape}")
    lines += [" ".join(f"{v:6.3f}" for v in row) + "   " + sentence for sentence, row in zip(result.sentences, result.similarity)]
    return lines


SPEC = register(
    TaskSpec(
        id="feature-extraction",
        order=8,
        title="Feature extraction",
        description="One vector per sentence from the model body, and how similar the sentences are.",
        auto_class="AutoModel",
        any_head=True,
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="sentences"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="features",
        view="features",
    )
)
