"""The Compare section: two checkpoints' config values and derived facts side by side."""

from __future__ import annotations

from typing import Any

from explorer.core.config.model import DIFFERS, ONLY_A, ONLY_B, SAME, CompareRow, ConfigReport


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def compare_configs(a: dict | None, b: dict | None) -> list[CompareRow]:
    """A row per value of either config (nested values by dotted path), sorted by name.

    Bookkeeping fields (transformers_version, _name_or_path) are compared too: a version gap
    often explains other differences.
    """
    flat_a = _flatten(a or {})
    flat_b = _flatten(b or {})
    rows = []
    for name in sorted(set(flat_a) | set(flat_b), key=str.lower):
        in_a, in_b = name in flat_a, name in flat_b
        if in_a and in_b:
            status = SAME if flat_a[name] == flat_b[name] else DIFFERS
        else:
            status = ONLY_A if in_a else ONLY_B
        rows.append(CompareRow(name, flat_a.get(name), flat_b.get(name), status))
    return rows


def compare_derived(a: ConfigReport, b: ConfigReport) -> list[CompareRow]:
    """A row per derived fact of either report; a and b are the facts' texts."""
    rows = []
    for key in list(a.derived) + [k for k in b.derived if k not in a.derived]:
        fa, fb = a.derived.get(key), b.derived.get(key)
        label = (fa or fb).label
        if fa and fb:
            status = SAME if fa.value == fb.value else DIFFERS
        else:
            status = ONLY_A if fa else ONLY_B
        rows.append(CompareRow(key, fa.text if fa else None, fb.text if fb else None, status, label=label))
    return rows


__all__ = ["compare_configs", "compare_derived"]
