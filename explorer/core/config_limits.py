"""Sizes in a config that no real model has, caught before anything is built from it.

Building a model, even on the meta device where weights take no memory, creates one Python
object per module: a config claiming 10^12 layers would run for hours and fill the memory
before any message could be shown. The largest published models have some 130 layers and
256 experts per layer (DeepSeek-V3: 61 x 256 expert blocks), so the bounds below leave a wide
margin and still build in seconds.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from explorer.core.safe_io import is_finite_number

MAX_LAYERS = 4096
MAX_EXPERTS = 4096
MAX_EXPERT_BLOCKS = 250_000  # layers x experts: one module group each

# num_hidden_layers, n_layer, encoder_layers, depth, depths, num_blocks...; not layer_norm_eps or block_size.
_LAYER_KEY = re.compile(r"(?:^|_)(?:n_layers?|layers?|depths?|blocks?)\Z")
_EXPERT_KEY = re.compile(r"(?:^|_)experts\Z")
_MAX_WALK = 100_000  # config values visited at most (the readers bound configs to a few hundred thousand)


def _count(value: Any) -> int | float | None:
    """A size as a number: an int or a float, or the sum of a list of them (Swin's depths)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return sum(value)
    return None


def _readable(number: int | float) -> str:
    if isinstance(number, float):
        return f"{number:g}"
    return f"{number:,}" if abs(number) < 10**30 else f"a {int(number.bit_length() * 0.30103) + 1}-digit number"


def _sizes(config: dict, prefix: str = "") -> Iterable[tuple[str, str, int | float]]:
    """(kind, dotted key, number) for every layer or expert count in a config, nested configs included."""
    pending: list[tuple[dict, str]] = [(config, prefix)]
    visited = 0
    while pending and visited < _MAX_WALK:
        mapping, at = pending.pop()
        for key, value in mapping.items():
            visited += 1
            name = f"{at}{key}"
            if isinstance(value, dict):
                pending.append((value, name + "."))
                continue
            if not isinstance(key, str):
                continue
            kind = "layers" if _LAYER_KEY.search(key) else "experts" if _EXPERT_KEY.search(key) else None
            if kind is None:
                continue
            number = _count(value)
            if number is not None:
                yield kind, name, number


def implausible_size(config: dict, source: str = "config.json") -> str | None:
    """Why a model built from ``config`` would be absurdly large, or None when it is not.

    ``source`` names where the values came from in the message (config.json, an override).
    """
    if not isinstance(config, dict):
        return None
    most = {"layers": 0, "experts": 0}
    for kind, name, number in _sizes(config):
        limit = MAX_LAYERS if kind == "layers" else MAX_EXPERTS
        if number != number or number > limit:  # NaN compares unequal to itself
            return (
                f"{source} sets {name} to {_readable(number)}: no model of that size can be built (this explorer builds "
                f"models of up to {limit:,} {kind}); nothing was built"
            )
        if number < 0:
            return f"{source} sets {name} to {_readable(number)}, which is not a count of {kind}; nothing was built"
        most[kind] = max(most[kind], int(number))
    if most["layers"] * most["experts"] > MAX_EXPERT_BLOCKS:
        return (
            f"{source} asks for {most['layers']:,} layers of {most['experts']:,} experts each: more expert blocks than "
            f"any real model has ({MAX_EXPERT_BLOCKS:,} at most here); nothing was built"
        )
    return None


def number_problems(raw: dict) -> list[str]:
    """NaN, infinities and integers past 64 bits anywhere in config.json: JSON allows none of them as sizes."""
    found: list[str] = []
    pending: list[tuple[Any, str]] = [(raw, "")]
    visited = 0
    while pending and visited < 100_000 and len(found) < 5:
        value, at = pending.pop()
        visited += 1
        if isinstance(value, dict):
            pending.extend((v, f"{at}{k}.") for k, v in value.items())
        elif isinstance(value, list):
            pending.extend((v, f"{at}[{i}].") for i, v in enumerate(value[:1000]))
        elif isinstance(value, float) and not is_finite_number(value):
            spelled = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
            found.append(f"config.json: {at.rstrip('.')} is {spelled}, which no setting can compute with (JSON has no such number)")
        elif type(value) is int and abs(value) >= 2**63:
            found.append(f"config.json: {at.rstrip('.')} is {_readable(value)}, larger than any size a model can have")
    return found


__all__ = ["number_problems", "MAX_EXPERTS", "MAX_EXPERT_BLOCKS", "MAX_LAYERS", "implausible_size"]
