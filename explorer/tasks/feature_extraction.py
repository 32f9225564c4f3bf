"""Feature extraction: a layer's hidden states, pooled to one vector per sentence.

As in the seed examples the base model (``AutoModel``, no head) runs and its
``last_hidden_state`` is read; its shape is reported. Any other layer comes from
``output_hidden_states=True``. Mean pooling averages the real tokens (padding excluded); CLS
takes the first token; "pooler" is the model's pooler output (``model(input_ids)[1]``).
Sentences are compared by cosine similarity. ``output_attentions`` reports the attention
weights' shape. Encoder-decoder models run their encoder only.

A folder saved by sentence-transformers says how its embeddings are made (pooling mode,
normalisation, truncation length, lowercasing; ``sentence_transformers_layout``): those are the
starting values, so the vectors equal ``SentenceTransformer(folder).encode(sentences)``, and
``run --json`` adds ``embedding_settings`` (each value and where it came from) for such folders.
The pooling modes are sentence-transformers' own: max sets padding to -1e9 before the maximum,
mean_sqrt_len_tokens divides the sum by the square root of the token count, weightedmean weighs
token i by i (from 1), lasttoken takes the last real token whichever side the padding is on.
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
    SOURCE_CHECKPOINT,
    CommandLine,
    Encoded,
    Field,
    Sourced,
    TaskInputError,
    TaskResult,
    TaskSpec,
    encode,
    max_input_length,
    register,
    rounded,
    settings_with_sources,
)
from explorer.tasks.sentence_transformers_layout import POOLING_MODES, Said, read_layout

LAST_LAYER = -1  # the form shows it as "last"

INPUTS = (
    Field(
        "sentences", "Sentences (one per line)", KIND_LINES,
        default="This is a sample sentence.\nThe cat sat on the mat.\nA checkpoint holds the weights of a model.",
        required=True,
    ),
)
POOLING_CHOICES = ("mean", "cls", "pooler", *(mode for mode in POOLING_MODES if mode not in ("mean", "cls")))
PARAMETERS = (
    Field(
        "pooling", "Pooling", KIND_CHOICE, default="mean", choices=POOLING_CHOICES,
        help="mean: average of the tokens; cls: the first token; pooler: the model's pooler output "
        "(model(input_ids)[1], BERT's dense+tanh over [CLS]; only for models that have a pooler, last layer only); "
        "sentence-transformers' max, mean_sqrt_len_tokens (sum / sqrt(token count)), weightedmean (token i weighs i) "
        "and lasttoken (the last real token)",
    ),
    Field(
        "layer", "Hidden states of layer", KIND_INT, default=LAST_LAYER, minimum=LAST_LAYER, maximum=1000, step=1,
        help="Which layer's hidden states to pool (output_hidden_states=True): 0 is the embedding output, "
        "n the output of layer n; 'last' is last_hidden_state",
        special_value="last",
    ),
    Field("normalize", "Normalize vectors", KIND_BOOL, default=False, help="Scale each vector to length 1"),
    Field(
        "max_seq_length", "Truncate to (tokens)", KIND_INT, default=0, minimum=0, maximum=2**31 - 1, step=1,
        special_value="model limit",
        help="sentence-transformers' max_seq_length: longer sentences are cut to this many tokens; "
        "'model limit' cuts only what the model cannot take",
    ),
    Field(
        "lowercase", "Lowercase the sentences", KIND_BOOL, default=False,
        help="sentence-transformers' do_lower_case: each sentence is lowercased before it is tokenized",
    ),
    Field(
        "output_attentions", "Attention shapes", KIND_BOOL, default=False,
        help="Also ask for the attention weights (output_attentions=True; runs eager attention) and show their shape",
    ),
)
# The settings a sentence-transformers folder can set, reported with their sources.
EMBEDDING_SETTINGS = ("pooling", "layer", "normalize", "max_seq_length", "lowercase")
APP_DEFAULT = "app default"  # where a setting starts when the checkpoint does not say


@dataclass(kw_only=True)
class FeaturesResult(TaskResult):
    sentences: list[str]
    pooling: str  # one of POOLING_CHOICES
    # Each of EMBEDDING_SETTINGS: {"value", "source"}; run --json prints it for sentence-transformers folders only.
    embedding_settings: dict[str, dict]
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
    from_sentence_transformers: bool = False  # the folder has modules.json

    def to_json(self) -> dict:
        data = super().to_json()
        del data["from_sentence_transformers"]
        if not self.from_sentence_transformers:  # other folders print what they always printed
            del data["embedding_settings"]
        return data


def has_pooler(body) -> bool:
    return getattr(body, "pooler", None) is not None


def checkpoint_defaults(folder: str, loaded=None) -> dict[str, Sourced]:
    """What a sentence-transformers folder's files set (none for other folders: the app's choices stand)."""
    return _sourced(read_layout(folder))


def _sourced(layout) -> dict[str, Sourced]:
    if layout is None:
        return {}
    said = {
        "pooling": layout.pooling,
        # sentence-transformers pools the Transformer's token embeddings: the last hidden state.
        "layer": layout.token_vectors and Said(LAST_LAYER, layout.token_vectors.file),
        "normalize": layout.normalize,
        "max_seq_length": layout.max_seq_length,
        "lowercase": layout.lowercase,
    }
    return {name: Sourced(item.value, SOURCE_CHECKPOINT, item.file) for name, item in said.items() if item is not None}


def starting_settings(checkpoint: dict[str, Sourced]) -> dict[str, Sourced]:
    """Every embedding setting's starting value and source: the checkpoint's, else the app's."""
    return {name: checkpoint.get(name) or Sourced(SPEC.field(name).default, APP_DEFAULT) for name in EMBEDDING_SETTINGS}


def run(loaded, values: dict, cancel: CancelToken) -> Job[FeaturesResult]:
    import torch

    model, sentences = loaded.model, values["sentences"]
    notices: list[str] = []
    layout = read_layout(loaded.request.path)
    if layout is not None:
        notices += layout.notices
    encoded = _encode(loaded, sentences, values)
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
    with torch.inference_mode():
        vectors = outputs.pooler_output.float() if pooling == "pooler" else pool(hidden, inputs["attention_mask"], pooling)
        if values["normalize"]:
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        unit = torch.nn.functional.normalize(vectors, dim=-1)
        similarity = (unit @ unit.T).cpu()
    lengths = inputs["attention_mask"].sum(dim=1).tolist()
    settings = settings_with_sources({name: values[name] for name in EMBEDDING_SETTINGS}, starting_settings(_sourced(layout)))
    return FeaturesResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        sentences=sentences,
        pooling=pooling,
        embedding_settings=settings,
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
        from_sentence_transformers=layout is not None,
    )


def _encode(loaded, sentences: list[str], values: dict) -> Encoded:
    """Tokenized as sentence-transformers tokenizes: lowercased when asked, cut at max_seq_length when it is set."""
    texts = [sentence.lower() for sentence in sentences] if values["lowercase"] else sentences
    wanted = values["max_seq_length"]
    if not wanted:
        return encode(loaded, texts, padding=True)  # cut only where the model's limit cuts
    limit = min(wanted, max_input_length(loaded))
    notices = [] if wanted == limit else [f"Truncation at {wanted} tokens is more than the model takes; sentences are cut at {limit}."]
    tokenizer = loaded.tokenizer
    # Usually every sentence fits: one tokenizer call; a second, truncated one only when one is longer.
    inputs = tokenizer(texts, padding=True, truncation=False, return_tensors="pt")
    if inputs["input_ids"].shape[-1] > limit:
        longer = int((inputs["attention_mask"].sum(dim=1) > limit).sum())
        notices.append(f"{longer} of {len(texts)} sentences were longer than {limit} tokens and were cut to {limit}, as sentence-transformers cuts them.")
        inputs = tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
    return Encoded(inputs.to(loaded.input_device), notices)


def pool(hidden, attention_mask, mode: str):
    """One vector per sentence from its token vectors, as sentence-transformers' Pooling computes it."""
    import torch

    mask = attention_mask.to(hidden.device).unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
    if mode == "lasttoken":
        length = hidden.shape[1]
        present, from_end = attention_mask.to(hidden.device).flip(1).max(dim=1)
        last = length - 1 - torch.where(present == 0, length - 1, from_end)
        return (hidden * mask)[torch.arange(hidden.shape[0], device=hidden.device), last]
    if mode == "weightedmean":
        mask = mask * torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype).view(1, -1, 1)
    total, count = (hidden * mask).sum(dim=1), mask.sum(dim=1).clamp(min=1e-9)
    return total / count.sqrt() if mode == "mean_sqrt_len_tokens" else total / count


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
        "norms": result.norms,
    }


# What each pooling mode writes into the script, after ``hidden`` and ``mask`` (the padding's 0s).
POOLING_CODE = {
    "mean": "vectors = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # average of the real tokens",
    "cls": "vectors = hidden[:, 0]  # the first ([CLS]) token",
    "pooler": "vectors = outputs.pooler_output.float()  # model(input_ids)[1]: the pooler over [CLS]",
    "max": "vectors = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values  # padding is never the maximum",
    "mean_sqrt_len_tokens": "vectors = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9).sqrt()  # sum / sqrt(token count)",
    "weightedmean": """weights = mask * torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype).view(1, -1, 1)  # token i weighs i
vectors = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)""",
    "lasttoken": """# The last real token, whichever side the padding is on.
present, from_end = inputs["attention_mask"].flip(1).max(dim=1)
last = hidden.shape[1] - 1 - torch.where(present == 0, hidden.shape[1] - 1, from_end)
vectors = (hidden * mask)[torch.arange(hidden.shape[0], device=hidden.device), last]""",
}


def script(values: dict, checkpoint: dict[str, Sourced] | None = None) -> str:
    layer = values["layer"]
    sources = starting_settings(checkpoint or {})

    def said(name: str) -> str:
        """Where a setting came from, as a comment (a literal: nothing from a file reaches the code raw)."""
        source = sources[name].describe() if values[name] == sources[name].value else "changed here"
        return python_literal(source)

    attentions = values["output_attentions"]
    eager = (
        '''
if body.config._attn_implementation != "eager":
    body.set_attn_implementation("eager")  # only eager attention forms the attention weights
'''
        if attentions
        else ""
    )
    lines = [f"sentences = {python_literal(values['sentences'])}"]
    if values["lowercase"]:
        lines.append(f"sentences = [sentence.lower() for sentence in sentences]  # do_lower_case, from {said('lowercase')}")
    if values["max_seq_length"]:
        lines.append(f"limit = min(limit, {python_literal(values['max_seq_length'])})  # max_seq_length, from {said('max_seq_length')}")
    normalize = f"\nvectors = torch.nn.functional.normalize(vectors, dim=-1)  # from {said('normalize')}" if values["normalize"] else ""
    return "\n".join(lines) + f'''
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
# {values["pooling"]} pooling, from {said("pooling")}
{POOLING_CODE[values["pooling"]]}{normalize}
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
    "norms": [r(n) for n in vectors.norm(dim=-1).cpu().tolist()],
}}
'''


def settings_line(result: FeaturesResult) -> str:
    """The pooling, normalisation and truncation in one line, each with where it came from."""
    settings = result.embedding_settings
    length = settings["max_seq_length"]["value"]
    return "; ".join([
        f"{result.pooling} pooling ({settings['pooling']['source']})",
        f"{'normalized' if settings['normalize']['value'] else 'not normalized'} ({settings['normalize']['source']})",
        f"{f'cut at {length} tokens' if length else 'cut at the model limit'} ({settings['max_seq_length']['source']})",
    ])


def text_lines(result: FeaturesResult) -> list[str]:
    lines = [f"last hidden state shape: {result.last_hidden_state_shape}; vector size {result.vector_size}"]
    if result.from_sentence_transformers:
        lines.append(settings_line(result))
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
        checkpoint_defaults=checkpoint_defaults,
        summary=summary,
        text_lines=text_lines,
        result_type="features",
        view="features",
    )
)
