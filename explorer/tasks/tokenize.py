"""Tokenizer playground: tokens, ids, character offsets, special tokens, counts and decoding.

Only the tokenizer is loaded. Shows what the seed tutorial prints (``input_ids``,
``attention_mask``) plus where each token comes from in the text.
"""

from __future__ import annotations

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_MULTILINE,
    KIND_TEXT,
    RESULT_TOKENS,
    Field,
    TaskInputError,
    TaskSpec,
    register,
)

SPEC = TaskSpec(
    id="tokenize",
    title="Tokenizer playground",
    auto_class=None,
    result_type=RESULT_TOKENS,
    description="Shows how the tokenizer cuts text into tokens and ids, and decodes them back.",
    inputs=(
        Field("text", "Text", KIND_MULTILINE, "We are very happy to show you the 🤗 Transformers library.", required=True),
        Field("text_pair", "Second text (optional)", KIND_TEXT, "", placeholder="a pair, as for QA or NLI"),
        Field("ids_to_decode", "Ids to decode (optional)", KIND_TEXT, "", placeholder="e.g. 101, 2057, 102", help="Token ids separated by commas or spaces, turned back into text"),
    ),
    parameters=(Field("add_special_tokens", "Add special tokens", KIND_BOOL, True),),
)


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


@register(SPEC)
def run(loaded, values: dict, cancel: CancelToken) -> Job[dict]:
    tokenizer = loaded.tokenizer
    text, pair = values["text"], values["text_pair"] or None
    ids_to_decode = parse_ids(values["ids_to_decode"], len(tokenizer))
    yield Progress(0, 1, "Tokenizing")
    fast = getattr(tokenizer, "is_fast", False)
    encoding = tokenizer(
        text,
        pair,
        add_special_tokens=values["add_special_tokens"],
        return_offsets_mapping=fast,
        return_special_tokens_mask=True,
    )
    cancel.raise_if_cancelled()
    ids = list(encoding["input_ids"])
    tokens = tokenizer.convert_ids_to_tokens(ids)
    offsets = encoding.get("offset_mapping") or [None] * len(ids)
    special = encoding.get("special_tokens_mask") or [0] * len(ids)
    sequences = encoding.sequence_ids() if fast else [None] * len(ids)
    rows = []
    for index, (token_id, token, offset, is_special, sequence) in enumerate(zip(ids, tokens, offsets, special, sequences)):
        rows.append(
            {
                "index": index,
                "id": int(token_id),
                "token": token,
                "start": offset[0] if offset else None,
                "end": offset[1] if offset else None,
                "sequence": sequence,
                "special": bool(is_special),
            }
        )
    special_tokens = {name: str(value) for name, value in tokenizer.special_tokens_map.items()}
    return {
        "task": SPEC.id,
        "result_type": SPEC.result_type,
        "text": text,
        "text_pair": pair,
        "tokenizer_class": type(tokenizer).__name__,
        "input_ids": ids,
        "attention_mask": list(encoding.get("attention_mask") or [1] * len(ids)),
        "tokens": rows,
        "counts": {
            "tokens": len(ids),
            "special_tokens": int(sum(special)),
            "characters": len(text) + (len(pair) if pair else 0),
            "vocabulary": len(tokenizer),
        },
        "model_max_length": tokenizer.model_max_length if tokenizer.model_max_length < 1_000_000 else None,
        "special_tokens": special_tokens,
        "decoded": tokenizer.decode(ids),
        "decoded_without_special": tokenizer.decode(ids, skip_special_tokens=True),
        "decoded_ids": None if ids_to_decode is None else {"ids": ids_to_decode, "text": tokenizer.decode(ids_to_decode), "tokens": tokenizer.convert_ids_to_tokens(ids_to_decode)},
        "notices": [] if fast else ["Slow (Python) tokenizer: no character offsets."],
    }


def summary(result: dict) -> dict:
    return {"input_ids": result["input_ids"], "tokens": [t["token"] for t in result["tokens"]], "decoded": result["decoded"]}


def script(values: dict) -> str:
    return f'''text = {values["text"]!r}
text_pair = {values["text_pair"] or None!r}
encoding = tokenizer(text, text_pair, add_special_tokens={values["add_special_tokens"]!r})
print(encoding)
ids_to_decode = [int(part) for part in {values["ids_to_decode"]!r}.replace(",", " ").replace("[", " ").replace("]", " ").split()]
if ids_to_decode:
    print(ids_to_decode, "->", repr(tokenizer.decode(ids_to_decode)))
result = {{
    "input_ids": encoding["input_ids"],
    "tokens": tokenizer.convert_ids_to_tokens(encoding["input_ids"]),
    "decoded": tokenizer.decode(encoding["input_ids"]),
}}
'''


SPEC.summary = summary
SPEC.script = script
