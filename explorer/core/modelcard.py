"""Model card (README.md) parsing: YAML front matter fields and the Markdown body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_CARD_BYTES = 2 * 1024 * 1024
# An anchor (&name) after a key, a list dash or a flow bracket; '&' inside plain text does not match.
_YAML_ANCHOR = re.compile(r"(?:^|[:\-\[{,]\s*)&[^\s,\[\]{}]+", re.MULTILINE)
SHOWN_FIELDS = ("license", "pipeline_tag", "library_name", "base_model", "language", "datasets", "tags", "metrics")


@dataclass
class ModelCard:
    front_matter: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    problem: str | None = None

    def field_text(self, name: str) -> str:
        value = self.front_matter.get(name)
        if value is None:
            return ""
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)


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
    try:
        import yaml

        data = yaml.safe_load(header)
    except Exception as exc:  # malformed YAML is common in the wild; show the body anyway
        card.problem = f"model card front matter is not valid YAML: {exc}"
        return card
    if isinstance(data, dict):
        card.front_matter = data
    return card


def read_model_card(path: str | None) -> ModelCard | None:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        return ModelCard(problem=f"README.md cannot be read ({exc.strerror or exc})")
    truncated = len(raw) > MAX_CARD_BYTES
    card = parse_model_card(raw[:MAX_CARD_BYTES].decode("utf-8", "replace"))
    if truncated:
        card.problem = "README.md is larger than 2 MiB; only the start is shown"
    return card
