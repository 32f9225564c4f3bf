"""Token classification (NER): a label per token, sub-words aggregated into entities.

The per-token table is the seed example (argmax label for every token, special tokens
included). Entities follow the old pipeline's aggregation strategies: ``none`` (each token),
``simple`` (neighbouring tokens of one entity type joined, B-/I- aware), and word-level
``first`` / ``max`` / ``average`` (a word takes the label of its first sub-token, of its
most confident sub-token, or of its averaged scores) before the same grouping. Offsets are
character positions in the input text, for highlighting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    KIND_CHOICE,
    KIND_MULTILINE,
    CommandLine,
    Field,
    Record,
    TaskError,
    TaskResult,
    TaskSpec,
    encode,
    label_names,
    register,
    rounded,
)

AGGREGATIONS = ("none", "simple", "first", "max", "average")

INPUTS = (
    Field(
        "text", "Text", KIND_MULTILINE,
        default="Hugging Face Inc. is a company based in New York City. Its headquarters are in DUMBO, "
        "therefore very close to the Manhattan Bridge.",
        required=True,
    ),
)
PARAMETERS = (
    Field("aggregation", "Aggregation", KIND_CHOICE, default="simple", choices=AGGREGATIONS, help="How sub-word tokens become entities"),
)


@dataclass(slots=True)
class TokenLabel(Record):
    """One token of the input with its most likely label (the seed example's table)."""

    index: int
    word: str  # the token as the tokenizer writes it
    entity: str  # the argmax label
    score: float
    start: int  # character offsets in the text
    end: int
    special: bool
    word_id: int | None  # which word of the text it is part of


@dataclass(slots=True)
class TokenEntity(Record):
    """A token labelled other than O, on its own (aggregation "none")."""

    entity: str
    score: float
    index: int
    word: str
    start: int
    end: int

    @property
    def label(self) -> str:
        return self.entity


@dataclass(slots=True)
class EntityGroup(Record):
    """Neighbouring tokens or words of one entity type, joined (every aggregation but "none")."""

    entity_group: str  # the type, without B-/I-
    score: float  # the pieces' average
    word: str  # the text it covers
    start: int
    end: int

    @property
    def label(self) -> str:
        return self.entity_group


@dataclass(kw_only=True)
class EntitiesResult(TaskResult):
    text: str
    aggregation: str
    labels: list[str]  # every label of the classifier, by id
    entities: list[TokenEntity] | list[EntityGroup]  # TokenEntity for aggregation "none"
    tokens: list[TokenLabel]
    notices: list[str] = field(default_factory=list)


class _Labelled(NamedTuple):
    """What grouping reads of a token or a word: its label, score and characters."""

    entity: str
    score: float
    start: int
    end: int


def _split_tag(label: str) -> tuple[str, str]:
    """('B', 'PER') for 'B-PER'; ('I', 'O') style fallbacks for labels without a prefix."""
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label


def group_entities(items: Sequence[TokenLabel | _Labelled], text: str) -> list[EntityGroup]:
    """Join neighbours of one type; a B- tag starts a new entity."""
    groups: list[list[TokenLabel | _Labelled]] = []
    for item in items:
        bi, tag = _split_tag(item.entity)
        if groups:
            last_bi, last_tag = _split_tag(groups[-1][-1].entity)
            if tag == last_tag and bi != "B":
                groups[-1].append(item)
                continue
        groups.append([item])
    entities = []
    for group in groups:
        _, tag = _split_tag(group[0].entity)
        start, end = group[0].start, group[-1].end
        entities.append(EntityGroup(tag, rounded(sum(i.score for i in group) / len(group)), text[start:end], start, end))
    return entities


def aggregate(
    tokens: list[TokenLabel], probabilities: list[list[float]], strategy: str, names: dict[int, str], text: str
) -> list[TokenEntity] | list[EntityGroup]:
    """Entities from the per-token rows; ``probabilities`` holds each token's full score vector."""
    content = [t for t in tokens if not t.special]
    if strategy == "none":
        return [TokenEntity(t.entity, t.score, t.index, t.word, t.start, t.end) for t in content if t.entity != "O"]
    items: Sequence[TokenLabel | _Labelled]
    if strategy == "simple":
        items = content
    else:
        words: dict[int, list[TokenLabel]] = {}
        for token in content:
            key = token.word_id if token.word_id is not None else -1 - token.index
            words.setdefault(key, []).append(token)
        items = []
        for pieces in words.values():  # in the text's order: dicts keep the order keys came in
            rows = [probabilities[p.index] for p in pieces]
            if strategy == "first":
                scores = rows[0]
            elif strategy == "max":
                scores = max(rows, key=max)
            else:
                scores = [sum(column) / len(pieces) for column in zip(*rows)]
            best = max(range(len(scores)), key=scores.__getitem__)
            items.append(_Labelled(names.get(best, f"LABEL_{best}"), scores[best], pieces[0].start, pieces[-1].end))
    return [e for e in group_entities(items, text) if e.entity_group != "O"]


def run(loaded, values: dict, cancel: CancelToken) -> Job[EntitiesResult]:
    import torch

    tokenizer, model, text = loaded.tokenizer, loaded.model, values["text"]
    if not getattr(tokenizer, "is_fast", False):
        raise TaskError("Entity offsets need a fast tokenizer (tokenizer.json); this checkpoint has only a slow one")
    names = label_names(model.config)
    encoded = encode(loaded, text, return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets = encoded.inputs.pop("offset_mapping")[0].tolist()
    special = encoded.inputs.pop("special_tokens_mask")[0].tolist()
    word_ids = encoded.inputs.word_ids(0)
    cancel.raise_if_cancelled()
    yield Progress(0, 1, "Running the model")
    with torch.inference_mode():
        logits = model(**encoded.inputs).logits[0].float()
    probabilities = logits.softmax(dim=-1)
    ids = encoded.inputs["input_ids"][0].tolist()
    token_strings = tokenizer.convert_ids_to_tokens(ids)
    rows = probabilities.tolist()
    tokens = []
    for index, (token, (start, end), is_special, word_id, row) in enumerate(zip(token_strings, offsets, special, word_ids, rows)):
        best = max(range(len(row)), key=row.__getitem__)
        tokens.append(TokenLabel(index, token, names.get(best, f"LABEL_{best}"), rounded(row[best]), start, end, bool(is_special), word_id))
    return EntitiesResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        text=text,
        aggregation=values["aggregation"],
        labels=[names[i] for i in sorted(names)],
        entities=aggregate(tokens, rows, values["aggregation"], names, text),
        tokens=tokens,
        notices=encoded.notices,
    )


def summary(result: EntitiesResult) -> dict:
    return {
        "tokens": [(t.word, t.entity) for t in result.tokens],
        "entities": [(e.label, e.start, e.end, e.score) for e in result.entities],
    }


def script(values: dict) -> str:
    return f'''# The seed example: a label for every token (argmax), then entities joined as the app does.
text = {python_literal(values["text"])}
aggregation = {python_literal(values["aggregation"])}
label_list = model.config.id2label
inputs = tokenizer(text, truncation=True, max_length=limit, return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="pt")
offsets = inputs.pop("offset_mapping")[0].tolist()
special = inputs.pop("special_tokens_mask")[0].tolist()
word_ids = inputs.word_ids(0)
with torch.inference_mode():
    logits = model(**inputs.to(device)).logits[0].float()
probabilities = logits.softmax(dim=-1).tolist()
tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
rows = []
for index, (token, (start, end), is_special, word_id, row) in enumerate(zip(tokens, offsets, special, word_ids, probabilities)):
    best = max(range(len(row)), key=row.__getitem__)
    rows.append(dict(index=index, word=token, entity=label_list[best], score=row[best], start=start, end=end, special=is_special, word_id=word_id, scores=row))


def split_tag(label):
    return (label[0], label[2:]) if label.startswith(("B-", "I-")) else ("I", label)


def group(items):
    groups = []
    for item in items:
        bi, tag = split_tag(item["entity"])
        if groups and split_tag(groups[-1][-1]["entity"])[1] == tag and bi != "B":
            groups[-1].append(item)
        else:
            groups.append([item])
    return [(split_tag(g[0]["entity"])[1], g[0]["start"], g[-1]["end"], r(sum(i["score"] for i in g) / len(g))) for g in groups]


content = [t for t in rows if not t["special"]]
if aggregation == "none":
    entities = [(t["entity"], t["start"], t["end"], r(t["score"])) for t in content if t["entity"] != "O"]
else:
    items = content
    if aggregation != "simple":
        words = {{}}
        for t in content:
            words.setdefault(t["word_id"] if t["word_id"] is not None else -1 - t["index"], []).append(t)
        items = []
        for pieces in words.values():
            if aggregation == "first":
                scores = pieces[0]["scores"]
            elif aggregation == "max":
                scores = max(pieces, key=lambda p: max(p["scores"]))["scores"]
            else:
                scores = [sum(column) / len(pieces) for column in zip(*(p["scores"] for p in pieces))]
            best = max(range(len(scores)), key=scores.__getitem__)
            items.append(dict(entity=label_list[best], score=scores[best], start=pieces[0]["start"], end=pieces[-1]["end"]))
    entities = [e for e in group(items) if e[0] != "O"]
result = {{"tokens": [(t["word"], t["entity"]) for t in rows], "entities": entities}}
'''


def text_lines(result: EntitiesResult) -> list[str]:
    return [f"{e.label:8} {e.score:.4f}  {e.start:>4}-{e.end:<4} {e.word}" for e in result.entities]


SPEC = register(
    TaskSpec(
        id="token-classification",
        order=4,
        title="Token classification (NER)",
        description="Labels every token (named entities, parts of speech) and joins sub-words into entities.",
        auto_class="AutoModelForTokenClassification",
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="text"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="entities",
        view="entities",
    )
)
