"""Values that enter generated Python ("Copy as Python", the Config tab's snippets) as data, never as code.

Folder names, labels, texts and config values come from checkpoints and users, and any of them
may hold quotes, triple quotes, backslashes or line breaks. Formatting such text into a script,
even inside a docstring or a comment, lets it end the string or the line and write code of
its own. So every such value enters a script through ``python_literal`` (a literal built by
``repr``, which Python reads back as the same value) and every name that must be code (a class
name, a keyword argument) through ``python_identifier``, which refuses anything but a plain
identifier. What neither accepts is refused with ``NotScriptable``, never written.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Any

# Python's parser refuses more than 200 nested brackets; the app's JSON readers accept 100 levels
# (safe_io.MAX_JSON_DEPTH), so whatever they read can be written.
MAX_LITERAL_DEPTH = 100
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class NotScriptable(ValueError):
    """A value or name that cannot be written into a script safely; the text says which and why."""


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def python_identifier(name: Any, what: str = "name") -> str:
    """``name`` if it is a plain ASCII identifier and not a keyword (a class or argument name); else NotScriptable."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or keyword.iskeyword(name):
        raise NotScriptable(f"{what} {_shown(name)} is not a Python name; it cannot be written into a script")
    return str.__str__(name)


def is_identifier(name: Any) -> bool:
    try:
        python_identifier(name)
    except NotScriptable:
        return False
    return True


def _float_literal(value: float) -> str:
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else 'float("-inf")'
    return float.__repr__(value)


def _int_literal(value: int) -> str:
    try:
        return int.__repr__(value)
    except ValueError:  # past Python's digit limit for int -> str
        raise NotScriptable("a number with thousands of digits cannot be written into a script") from None


def python_literal(value: Any, quote: str = "'") -> str:
    """Python source that evaluates to ``value``: str, bytes, int, float (NaN and infinities too), bool, None,
    and lists, tuples and dicts of them. Anything else, or nesting deeper than MAX_LITERAL_DEPTH, is refused.

    The base types' own ``__repr__`` is called, so a subclass cannot change what is written. Strings are
    quoted as ``repr`` quotes them, or with ``quote='"'`` always in double quotes (the style of snippets
    that sit beside JSON).
    """
    if quote not in ("'", '"'):
        raise ValueError(f"quote must be ' or \"; got {quote!r}")
    return _literal(value, 0, quote == '"')


def _double_quoted(text: str) -> str:
    """``text`` as repr writes it, but between double quotes."""
    body = str.__repr__(text)
    if body[0] == '"':
        return body
    # Inside repr's '...', a backslash always starts an escape of two or more characters, a ' only
    # appears escaped and a " only appears bare: swap those two and keep every other escape as it is.
    out: list[str] = []
    inner, i = body[1:-1], 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\":
            escaped = inner[i + 1]
            out.append("'" if escaped == "'" else "\\" + escaped)
            i += 2
        else:
            out.append('\\"' if ch == '"' else ch)
            i += 1
    return '"' + "".join(out) + '"'


def _literal(value: Any, depth: int, double: bool = False) -> str:
    if depth > MAX_LITERAL_DEPTH:
        raise NotScriptable(f"a value nested more than {MAX_LITERAL_DEPTH} levels deep cannot be written into a script")
    if value is None or value is True or value is False:
        return repr(value)
    if isinstance(value, str):
        return _double_quoted(value) if double else str.__repr__(value)
    if isinstance(value, bytes):
        return bytes.__repr__(value)
    if isinstance(value, int):
        return _int_literal(value)
    if isinstance(value, float):
        return _float_literal(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item, depth + 1, double) for item in value) + "]"
    if isinstance(value, tuple):
        items = [_literal(item, depth + 1, double) for item in value]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k, depth + 1, double)}: {_literal(v, depth + 1, double)}" for k, v in value.items()) + "}"
    raise NotScriptable(f"a value of type {type(value).__name__} cannot be written into a script")


def keyword_arguments(options: dict[str, Any]) -> list[str]:
    """``name=literal`` for each option whose name is a plain identifier; the others as one ``**{...}``.

    Config keys are read from files and typed by users: a key that is not a Python name still
    reaches from_pretrained, as a dict entry, never as code.
    """
    named = [f"{key}={python_literal(value)}" for key, value in options.items() if is_identifier(key)]
    others = {key: value for key, value in options.items() if not is_identifier(key)}
    if others:
        named.append("**" + python_literal(others))
    return named


__all__ = ["NotScriptable", "python_literal", "python_identifier", "is_identifier", "keyword_arguments"]
