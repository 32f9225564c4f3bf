"""Model card (README.md) parsing: YAML front matter fields and the Markdown body.

A card comes from anywhere, so every step is bounded: the read (``safe_io``: a regular file,
at most 2 MiB), the front matter (no anchors, libyaml's nesting limit, then ``check_nesting``),
the text of each shown field, and how much of the body the window renders as Markdown
(``card_display``): Qt lays a Markdown table out cell by cell on the GUI thread, so a big
table or a giant card is shown as Markdown only up to a budget, and as plain text after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from explorer.core.safe_io import UnreadableFile, check_nesting, human_size, one_line, open_regular

MAX_CARD_BYTES = 2 * 1024 * 1024
# An anchor (&name) after a key, a list dash or a flow bracket; '&' inside plain text does not match.
_YAML_ANCHOR = re.compile(r"(?:^|[:\-\[{,]\s*)&[^\s,\[\]{}]+", re.MULTILINE)
SHOWN_FIELDS = ("license", "pipeline_tag", "library_name", "base_model", "language", "datasets", "tags", "metrics")
# Front matter fields are shown on one line above the card; a 3,000-character license must not fill the window.
FIELD_TEXT_LIMIT = 200
# Real front matter nests a few levels (model-index results); the rest of the app walks values recursively.
FRONT_MATTER_MAX_DEPTH = 20

# Measured on the offscreen platform (see tests/ui/test_overview_hostile.py): Qt parses Markdown in
# a worker in well under a second up to these sizes, and laying out what it built takes the GUI
# thread about 0.25 ms per table cell and a few ms per screen of prose.
MARKDOWN_BUDGET_CHARS = 128 * 1024
MARKDOWN_BUDGET_TABLE_CELLS = 1500
# The plain-text rest is laid out one paragraph at a time; one giant line would be one paragraph.
PLAIN_LINE_CHARS = 4096


def _safe_loader():
    import yaml

    # libyaml is ten times faster than the Python parser and refuses nesting past 1000 levels
    # instead of recursing until Python's limit.
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class ModelCard:
    front_matter: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    problem: str | None = None

    def field_text(self, name: str) -> str:
        """One line of at most FIELD_TEXT_LIMIT characters, whatever the front matter holds."""
        value = self.front_matter.get(name)
        if value is None:
            return ""
        return one_line(_value_text(value, FIELD_TEXT_LIMIT), FIELD_TEXT_LIMIT)


def _value_text(value: Any, budget: int, depth: int = 0) -> str:
    """Short display text of a YAML value; never str() of a huge int or of a whole nested tree."""
    if isinstance(value, str):
        return value[: budget + 1]
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple, set, frozenset, dict)):
        return str(value)[: budget + 1]
    if isinstance(value, int):
        # str() refuses ints past 4,300 digits; YAML makes them from a hex, binary or sexagesimal literal.
        return str(value) if value.bit_length() <= 4000 else "(a number with more than a thousand digits)"
    if depth >= 2:
        return "…"
    items = [f"{_value_text(k, budget, depth + 1)}: {_value_text(v, budget, depth + 1)}" for k, v in _first(value.items(), budget)] if isinstance(value, dict) else [
        _value_text(v, budget, depth + 1) for v in _first(value, budget)
    ]
    text = ", ".join(items)
    if len(items) < len(value):
        text += ", …"
    if depth == 0:
        return text
    return "{" + text + "}" if isinstance(value, dict) else "[" + text + "]"


def _first(items, budget: int) -> list:
    """As many items as could possibly show within ``budget`` characters (each takes at least one)."""
    chosen = []
    for item in items:
        if len(chosen) > budget // 2:
            break
        chosen.append(item)
    return chosen


def parse_model_card(text: str) -> ModelCard:
    card = ModelCard(body=text)
    if not text.startswith("---"):
        return card
    end = text.find("\n---", 3)
    if end < 0:
        return card
    header = text[3:end].strip("\n")
    rest = text[end + 4 :]
    card.body = rest.split("\n", 1)[1] if "\n" in rest else ""
    if _YAML_ANCHOR.search(header):
        # safe_load still expands aliases: a few lines of nested anchors ("billion laughs") take
        # gigabytes. Model cards do not need them.
        card.problem = "model card front matter uses YAML anchors, which are not read (they can expand without bound)"
        return card
    label = "model card front matter"
    try:
        import yaml

        data = yaml.load(header, Loader=_safe_loader())
        check_nesting(data, label, max_depth=FRONT_MATTER_MAX_DEPTH)
    except UnreadableFile as exc:
        card.problem = str(exc)
        return card
    except RecursionError:
        card.problem = f"{label} is nested too deeply to read"
        return card
    except Exception as exc:  # malformed YAML is common in the wild; show the body anyway
        card.problem = one_line(f"{label} is not valid YAML: {exc}")
        return card
    if isinstance(data, dict):
        card.front_matter = data
    return card


def read_model_card(path: str | None) -> ModelCard | None:
    """The card at ``path``, at most its first 2 MiB; a FIFO or device under that name is never read."""
    if not path:
        return None
    try:
        with open_regular(path, "README.md") as handle:
            raw = handle.read(MAX_CARD_BYTES + 1)
    except UnreadableFile as exc:
        return ModelCard(problem=str(exc))
    truncated = len(raw) > MAX_CARD_BYTES
    card = parse_model_card(raw[:MAX_CARD_BYTES].decode("utf-8", "replace"))
    if truncated:
        card.problem = "README.md is larger than 2 MiB; only the start is shown"
    return card


@dataclass(frozen=True)
class CardDisplay:
    """A card body split for the window: ``markdown`` rendered, ``plain`` shown as text after ``note``."""

    markdown: str
    plain: str = ""
    note: str | None = None


def card_display(body: str, *, budget_chars: int = MARKDOWN_BUDGET_CHARS, budget_cells: int = MARKDOWN_BUDGET_TABLE_CELLS) -> CardDisplay:
    """Markdown up to the line where the body passes either budget; plain text from there on.

    Cells are counted as '|' characters, an upper bound that needs no Markdown parser: a pipe
    in prose only moves the cut earlier. The cut is always at a line start, so no Markdown
    construct is split inside a line.
    """
    if len(body) <= budget_chars and body.count("|") <= budget_cells:
        return CardDisplay(body)
    cut, reason = len(body), ""
    if len(body) > budget_chars:
        cut = body.rfind("\n", 0, budget_chars) + 1
        reason = f"the window renders at most {human_size(budget_chars)} of a card as Markdown"
    pipe = -1
    for _ in range(budget_cells + 1):
        pipe = body.find("|", pipe + 1, cut)
        if pipe < 0:
            break
    if pipe >= 0:
        cut = body.rfind("\n", 0, pipe) + 1
        reason = f"the window renders at most {budget_cells:,} table cells as Markdown (more take seconds to lay out)"
    rest = body[cut:]
    part = "The rest of this model card" if cut else "This model card"
    note = f"{part} ({human_size(len(rest.encode('utf-8', 'replace')))}) is shown as plain text: {reason}."
    return CardDisplay(body[:cut], _short_lines(rest), note)


def _short_lines(text: str) -> str:
    """Lines longer than PLAIN_LINE_CHARS broken into pieces of that length."""
    return re.sub(rf"[^\n]{{{PLAIN_LINE_CHARS}}}(?=[^\n])", lambda match: match.group(0) + "\n", text)
