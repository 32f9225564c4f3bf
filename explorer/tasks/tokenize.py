"""Tokenizer playground: tokens, ids, character offsets, special tokens, counts and decoding.

Only the tokenizer is loaded. Shows what the seed tutorials print (``input_ids``,
``attention_mask``) plus where each token comes from in the text; with "padded batch" on,
each line is a text and the batch is padded as ``tokenizer([...], padding=True,
truncation=True)`` does for a model (the input_ids and attention_mask matrices).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_MULTILINE,
    KIND_TEXT,
    CommandLine,
    Field,
    Record,
    TaskInputError,
    TaskResult,
    TaskSpec,
    max_input_length,
    register,
)

INPUTS = (
    Field("text", "Text", KIND_MULTILINE, default="We are very happy to show you the 🤗 Transformers library.", required=True),
    Field("text_pair", "Second text (optional)", KIND_TEXT, default="", placeholder="a pair, as for QA or NLI"),
    Field(
        "ids_to_decode", "Ids to decode (optional)", KIND_TEXT, default="", placeholder="e.g. 101, 2057, 102",
        help="Token ids separated by commas or spaces, turned back into text",
    ),
)
PARAMETERS = (
    Field("add_special_tokens", "Add special tokens", KIND_BOOL, default=True),
    Field(
        "batch", "Padded batch (one text per line)", KIND_BOOL, default=False,
        help="Each line is a text; tokenizer(texts, padding=True, truncation=True) pads them to the longest, "
        "as a model receives them: one row of input_ids and attention_mask per text (0 marks padding)",
    ),
)


@dataclass(slots=True)
class TokenRow(Record):
    index: int
    id: int
    token: str
    start: int | None  # character offsets in its text; None from a slow tokenizer
    end: int | None
    sequence: int | None  # 0 the text, 1 the second text, None a special token (fast tokenizers only)
    special: bool


@dataclass(slots=True)
class PaddedBatch(Record):
    """Several texts as one padded batch, as a model receives them."""

    texts: list[str]
    tokens: list[list[str]]  # each row's tokens, padding included
    shape: list[int]  # of input_ids and attention_mask: texts, positions
    lengths: list[int]  # real tokens of each text
    truncated: list[bool]  # cut at max_length
    padding_side: str
    pad_token_id: int | None
    max_length: int


@dataclass(slots=True)
class TokenCounts(Record):
    tokens: int  # in a batch: the real tokens of every text
    special_tokens: int | None  # None for a batch
    characters: int
    vocabulary: int


@dataclass(slots=True)
class DecodedIds(Record):
    """The ids the user typed, turned back into text."""

    ids: list[int]
    text: str
    tokens: list[str]


@dataclass(kw_only=True)
class TokenizeResult(TaskResult):
    text: str
    text_pair: str | None
    input_ids: list[int] | list[list[int]]  # a list per text in a batch
    attention_mask: list[int] | list[list[int]]
    tokens: list[TokenRow]  # a single text's tokens; empty for a batch
    batch: PaddedBatch | None
    counts: TokenCounts
    decoded: str | None  # None for a batch
    decoded_without_special: str | None
    notices: list[str] = field(default_factory=list)
    decoded_ids: DecodedIds | None = None
    model_max_length: int | None = None  # the tokenizer's limit, when it has a real one
    special_tokens: dict[str, str] = field(default_factory=dict)
    tokenizer_class: str = ""


def parse_ids(text: str, vocabulary: int) -> list[int] | None:
    """'101, 2057 102' -> [101, 2057, 102]; None when empty; TaskInputError for anything else."""
    parts = text.replace(",", " ").replace("[", " ").replace("]", " ").split()
    if not parts:
        return None
    ids = []
    for part in parts:
        if not part.lstrip("-").isdigit():
            raise TaskInputError(f"Ids to decode: {part!r} is not a whole number")
        value = int(part)
        if not 0 <= value < vocabulary:
            raise TaskInputError(f"Ids to decode: {value} is outside the vocabulary (0 to {vocabulary - 1})")
        ids.append(value)
    return ids


def run(loaded, values: dict, cancel: CancelToken) -> Job[TokenizeResult]:
    tokenizer = loaded.tokenizer
    ids_to_decode = parse_ids(values["ids_to_decode"], len(tokenizer)) if values["ids_to_decode"].strip() else None
    yield Progress(0, 1, "Tokenizing")
    if values["batch"]:
        result = _batch(loaded, values)
    else:
        result = _single(tokenizer, values)
    cancel.raise_if_cancelled()
    if ids_to_decode is not None:
        result.decoded_ids = DecodedIds(ids_to_decode, tokenizer.decode(ids_to_decode), tokenizer.convert_ids_to_tokens(ids_to_decode))
    result.model_max_length = tokenizer.model_max_length if tokenizer.model_max_length < 1_000_000 else None
    result.special_tokens = dict(
        loaded.remember("special_tokens", lambda: {name: str(value) for name, value in tokenizer.special_tokens_map.items()})
    )
    result.tokenizer_class = type(tokenizer).__name__
    return result


def _single(tokenizer, values: dict) -> TokenizeResult:
    text, pair = values["text"], values["text_pair"] or None
    fast = getattr(tokenizer, "is_fast", False)
    if fast:
        # The Rust encoding already holds tokens, offsets, special-token mask and sequence ids:
        # read them there instead of asking for extra Python lists and converting ids back.
        native = _encode_natively(tokenizer, text, pair, values["add_special_tokens"])
        ids, tokens, offsets = native.ids, native.tokens, native.offsets
        special, sequences, mask = native.special_tokens_mask, native.sequence_ids, native.attention_mask
    else:
        encoding = tokenizer(text, pair, add_special_tokens=values["add_special_tokens"], return_special_tokens_mask=True)
        ids = list(encoding["input_ids"])
        tokens = tokenizer.convert_ids_to_tokens(ids)
        offsets = [(None, None)] * len(ids)
        special = encoding.get("special_tokens_mask") or [0] * len(ids)
        sequences = [None] * len(ids)
        mask = list(encoding.get("attention_mask") or [1] * len(ids))
    rows = [
        TokenRow(index, token_id, token, start, end, sequence, is_special == 1)
        for index, (token_id, token, (start, end), is_special, sequence) in enumerate(zip(ids, tokens, offsets, special, sequences))
    ]
    return TokenizeResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        text=text,
        text_pair=pair,
        input_ids=ids,  # fresh lists from the encoding: no copy needed
        attention_mask=mask,
        tokens=rows,
        batch=None,
        counts=TokenCounts(
            tokens=len(ids),
            special_tokens=int(sum(special)),
            characters=len(text) + (len(pair) if pair else 0),
            vocabulary=len(tokenizer),
        ),
        decoded=_decode(tokenizer, ids),
        decoded_without_special=_decode(tokenizer, ids, skip_special_tokens=True),
        notices=[] if fast else ["Slow (Python) tokenizer: no character offsets."],
    )


def _encode_natively(tokenizer, text: str, pair: str | None, add_special_tokens: bool):
    """The Rust encoding of one text (and its pair) as ``tokenizer(text, pair)`` makes it.

    transformers' call sets the backend's truncation, padding and special-token splitting for the
    call, then encodes; once they are as such a call leaves them (off, off, the tokenizer's own
    setting), encoding directly gives the same encoding without the call's Python layers, which
    are most of a short text's time. Otherwise the call itself runs (and leaves them so).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    settled = (
        backend is not None
        and backend.truncation is None
        and backend.padding is None
        and backend.encode_special_tokens == bool(getattr(tokenizer, "split_special_tokens", False))
    )
    if not settled:
        return tokenizer(text, pair, add_special_tokens=add_special_tokens).encodings[0]
    return backend.encode(text, pair, add_special_tokens=add_special_tokens)


def _decode(tokenizer, ids: list[int], skip_special_tokens: bool = False) -> str:
    """tokenizer.decode for one flat list of ints, minus its input conversion (the ids already are a list of
    ints; the conversion checks each of them again and is a large share of a short run)."""
    single = getattr(tokenizer, "_decode", None)
    if single is None:
        return tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
    return single(ids, skip_special_tokens=skip_special_tokens)


def _batch(loaded, values: dict) -> TokenizeResult:
    tokenizer = loaded.tokenizer
    texts = [line for line in values["text"].splitlines() if line.strip()]
    if values["text_pair"]:
        raise TaskInputError("A second text goes with a single text: clear it, or turn off the padded batch")
    notices: list[str] = []
    limit = max_input_length(loaded)
    pad_missing = tokenizer.pad_token is None
    if pad_missing:
        if tokenizer.eos_token is None:
            raise TaskInputError("This tokenizer has neither a padding nor an end-of-text token, so texts of different lengths cannot form a batch")
        # The usual fix for GPT-2 style tokenizers; set only for this call (the loaded tokenizer is shared).
        tokenizer.pad_token = tokenizer.eos_token
        notices.append(f"This tokenizer has no padding token; padded with its end-of-text token {tokenizer.eos_token!r} (tokenizer.pad_token = tokenizer.eos_token).")
    try:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=limit, add_special_tokens=values["add_special_tokens"])
        lengths_untruncated = [len(row) for row in tokenizer(texts, add_special_tokens=values["add_special_tokens"])["input_ids"]]
    finally:
        if pad_missing:
            tokenizer.pad_token = None
    input_ids = [list(row) for row in batch["input_ids"]]
    attention_mask = [list(row) for row in batch["attention_mask"]]
    truncated = [length > limit for length in lengths_untruncated]
    if any(truncated):
        notices.append(f"{sum(truncated)} text(s) are longer than {limit} tokens, the model's limit, and were cut there (truncation=True).")
    return TokenizeResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        text=values["text"],
        text_pair=None,
        input_ids=input_ids,
        attention_mask=attention_mask,
        tokens=[],
        batch=PaddedBatch(
            texts=texts,
            tokens=[tokenizer.convert_ids_to_tokens(row) for row in input_ids],
            shape=[len(input_ids), len(input_ids[0]) if input_ids else 0],
            lengths=[sum(row) for row in attention_mask],
            truncated=truncated,
            padding_side=tokenizer.padding_side,
            pad_token_id=tokenizer.eos_token_id if pad_missing else tokenizer.pad_token_id,
            max_length=limit,
        ),
        counts=TokenCounts(
            tokens=sum(sum(row) for row in attention_mask),
            special_tokens=None,
            characters=sum(len(text) for text in texts),
            vocabulary=len(tokenizer),
        ),
        decoded=None,
        decoded_without_special=None,
        notices=notices,
    )


def summary(result: TokenizeResult) -> dict:
    if result.batch:
        return {"input_ids": result.input_ids, "attention_mask": result.attention_mask, "tokens": result.batch.tokens}
    return {"input_ids": result.input_ids, "tokens": [t.token for t in result.tokens], "decoded": result.decoded}


def script(values: dict) -> str:
    decode = f'''ids_to_decode = [int(part) for part in {python_literal(values["ids_to_decode"])}.replace(",", " ").replace("[", " ").replace("]", " ").split()]
if ids_to_decode:
    print(ids_to_decode, "->", repr(tokenizer.decode(ids_to_decode)))
'''
    if values["batch"]:
        texts = [line for line in values["text"].splitlines() if line.strip()]
        return f'''texts = {python_literal(texts)}
if tokenizer.pad_token is None:  # GPT-2 style tokenizers pad with their end-of-text token
    tokenizer.pad_token = tokenizer.eos_token
batch = tokenizer(texts, padding=True, truncation=True, max_length=limit, add_special_tokens={python_literal(values["add_special_tokens"])})
print(batch)
{decode}result = {{
    "input_ids": batch["input_ids"],
    "attention_mask": batch["attention_mask"],
    "tokens": [tokenizer.convert_ids_to_tokens(row) for row in batch["input_ids"]],
}}
'''
    return f'''text = {python_literal(values["text"])}
text_pair = {python_literal(values["text_pair"] or None)}
encoding = tokenizer(text, text_pair, add_special_tokens={python_literal(values["add_special_tokens"])})
print(encoding)
{decode}result = {{
    "input_ids": encoding["input_ids"],
    "tokens": tokenizer.convert_ids_to_tokens(encoding["input_ids"]),
    "decoded": tokenizer.decode(encoding["input_ids"]),
}}
'''


def several_texts(texts: list[str]) -> dict:
    """Several --text options: one padded batch, a text per line."""
    return {"text": "\n".join(texts), "batch": True}


def text_lines(result: TokenizeResult) -> list[str]:
    batch = result.batch
    if batch:
        lines = [f"padded batch, input_ids shape {batch.shape} (padding on the {batch.padding_side})"]
        for text, ids, mask in zip(batch.texts, result.input_ids, result.attention_mask):
            lines += [text, f"  input_ids:      {ids}", f"  attention_mask: {mask}"]
        return lines
    return [
        " ".join(f"{t.token}({t.id})" for t in result.tokens),
        f"{result.counts.tokens} tokens; decoded: {result.decoded}",
    ]


SPEC = register(
    TaskSpec(
        id="tokenize",
        order=9,
        title="Tokenizer playground",
        description="Shows how the tokenizer cuts text into tokens and ids, and decodes them back.",
        auto_class=None,
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="text", context="text_pair", several_texts=several_texts),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="tokens",
        view="tokens",
    )
)
