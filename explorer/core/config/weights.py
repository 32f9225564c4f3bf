"""The Auto classes section once the weights are checked: exact notes, relations and load hint.

Class names only suggest what an Auto class does with the saved head; ``head_survey`` builds
each class on the meta device and says exactly which saved weights it loads, drops or adds.
"""

from __future__ import annotations

import dataclasses

from explorer.core.config.lookups import RARE_AUTO_CLASSES, preferred_row
from explorer.core.config.model import (
    RELATION_DIFFERENT_HEAD,
    RELATION_DROPS_HEAD,
    RELATION_LOADS_ALL,
    RELATION_MISMATCH,
    RELATION_NEW_HEAD,
    RELATION_SAME,
    ConfigReport,
    ResolutionRow,
)
from explorer.core.head_survey import STATUS_LOADS, STATUS_MISMATCH, STATUS_PARTIAL, STATUS_UNCHECKED, HeadCheck, group_keys, module_names


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _dropped(check: HeadCheck) -> list[str]:
    return check.unexpected + check.ignored


def _every_weight_loads(checked: list[tuple[ResolutionRow, HeadCheck]], saved: set[str], mentioned: set[str]) -> list[str]:
    # One Auto class per built class, the one users write (AutoModel, not AutoModelForTextEncoding, for BertModel).
    by_class: dict[str, list[ResolutionRow]] = {}
    for row, check in checked:
        if check.status == STATUS_LOADS:
            by_class.setdefault(row.resolves_to, []).append(row)
    representatives = [preferred_row(group) for group in by_class.values()]
    # The task class over the generic ones: T5's weights load with AutoModelForSeq2SeqLM and T5Model alike.
    generic = ("AutoModel", *RARE_AUTO_CLASSES)
    row = min(representatives, key=lambda r: (r.resolves_to not in saved, r.auto_class in generic, r.auto_class == "AutoModel"))
    mentioned.add(row.resolves_to)
    if row.resolves_to in saved:
        parts = [f"Load with {row.auto_class}: it builds {row.resolves_to}, the class the weights were saved with, and every weight loads."]
    else:
        parts = [f"Load with {row.auto_class}: it builds {row.resolves_to} and every saved weight loads."]
    others = []
    for other in representatives:
        if other.resolves_to not in mentioned:
            mentioned.add(other.resolves_to)
            others.append(f"{other.auto_class} ({other.resolves_to})")
    if others:
        parts.append(f"{_join(others[:2])} also load{'s' if len(others[:2]) == 1 else ''} every weight.")
    return parts


def exact_load_hint(rows: list[ResolutionRow], architectures: list[str], checks: dict[str, HeadCheck]) -> str:
    """The load hint from checked weights (by Auto class) instead of class names.

    Says which class loads every weight, which others do too, which keep every saved weight
    and only add new ones (BertForPreTraining from an MLM checkpoint), and what AutoModel drops.
    """
    checked = [(row, checks[row.auto_class]) for row in rows if row.resolves_to and row.auto_class in checks]
    if not checked:
        return ""
    mentioned: set[str] = set()
    if any(check.status == STATUS_LOADS for _, check in checked):
        parts = _every_weight_loads(checked, set(architectures), mentioned)
    else:
        parts = []
        candidates = [(r, c) for r, c in checked if c.status == STATUS_PARTIAL]
        if candidates:
            row, check = min(candidates, key=lambda rc: (len(_dropped(rc[1])), len(rc[1].missing)))
            mentioned.add(row.resolves_to)
            parts.append(f"No Auto class loads every saved weight; {row.auto_class} ({row.resolves_to}) comes closest: {check.verdict}.")
        elif any(c.status == STATUS_MISMATCH for _, c in checked):
            parts.append("No Auto class loads this checkpoint as saved: tensor shapes differ from what config.json builds.")
    keepers = []
    for row, check in checked:
        if check.status == STATUS_PARTIAL and check.missing and not _dropped(check) and row.resolves_to not in mentioned:
            mentioned.add(row.resolves_to)
            new = module_names(check.missing)
            keepers.append(f"{row.auto_class} also loads every saved weight; only {_join(new)} {'is' if len(new) == 1 else 'are'} new.")
    parts.extend(keepers[:2])
    base = next(((r, c) for r, c in checked if r.auto_class == "AutoModel"), None)
    if base is not None:
        row, check = base
        dropped = _dropped(check)
        if row.resolves_to not in mentioned and check.status == STATUS_PARTIAL and dropped:
            text = f"AutoModel gives the bare {row.resolves_to}: it drops {_join(group_keys(dropped))}"
            if check.missing:
                text += f" and initialises {_join(module_names(check.missing))} randomly"
            parts.append(text + ".")
    return " ".join(parts)


def exact_note(row: ResolutionRow, check: HeadCheck, architectures: list[str]) -> str:
    """The note for one resolution row from its checked weights (replaces the guess from class names)."""
    if check.status == STATUS_UNCHECKED:
        return row.note or check.verdict
    if check.status == STATUS_LOADS:
        if row.resolves_to in architectures:
            return "the class the weights were saved with: every weight loads"
        if architectures:
            return f"every weight loads, though the weights were saved with {architectures[0]}"
    return check.verdict


def exact_relation(row: ResolutionRow, check: HeadCheck, architectures: list[str], base: str | None) -> str | None:
    """The row's relation to the saved head from its checked weights rather than from class names.

    'same' / 'loads-all' (every weight loads, same class or not), 'drops-head' (saved weights left
    out), 'new-head' (every saved weight kept, new parts start random), 'different-head' (both),
    'mismatch' (shapes differ); unchecked rows keep the guess.
    """
    if check.status == STATUS_UNCHECKED:
        return row.relation
    if check.status == STATUS_LOADS:
        return RELATION_SAME if row.resolves_to in architectures else RELATION_LOADS_ALL
    if check.status == STATUS_MISMATCH:
        return RELATION_MISMATCH
    dropped = bool(_dropped(check))
    added = bool(check.missing)
    if dropped and (not added or row.resolves_to == base):
        # BertModel from an MLM checkpoint drops cls.* and adds only the pooler: the bare model.
        return RELATION_DROPS_HEAD
    if added and not dropped:
        return RELATION_NEW_HEAD
    return RELATION_DIFFERENT_HEAD


def apply_head_checks(report: ConfigReport, checks: dict[str, HeadCheck]) -> ConfigReport:
    """A copy of the report whose resolution rows carry the checked weights and whose load hint is exact.

    Each checked row gets ``weights`` and its guessed note replaced by the exact one; rows that
    could not be checked keep their note.
    """
    architectures = report.architectures
    rows = []
    for row in report.resolution:
        check = checks.get(row.auto_class) if row.resolves_to else None
        if check is not None:
            row = dataclasses.replace(row, weights=check, note=exact_note(row, check, architectures))
        rows.append(row)
    base = next((r.resolves_to for r in rows if r.auto_class == "AutoModel"), None)
    for row in rows:
        if row.weights is not None:
            row.relation = exact_relation(row, row.weights, architectures, base)
    hint = exact_load_hint(rows, architectures, checks)
    return dataclasses.replace(report, resolution=rows, load_hint=hint or report.load_hint)


def with_checked_weights(report: ConfigReport) -> ConfigReport:
    """The report with every resolvable Auto class checked against the weights on disk (meta device, nothing loaded)."""
    from explorer.core.head_survey import survey_heads_now
    from explorer.core.skeleton import SkeletonError

    autos = [row.auto_class for row in report.resolution if row.resolves_to]
    if not autos:
        return report
    try:
        checks = survey_heads_now(report.path, autos)
    except SkeletonError as exc:
        # Nothing was checked: say so where the notes would otherwise read as facts about the weights.
        note = f"weights not checked: {exc}"
        rows = [dataclasses.replace(row, note=f"{row.note} ({note})" if row.note else note) for row in report.resolution]
        return dataclasses.replace(report, resolution=rows, weights_checked=False, weights_note=str(exc))
    return dataclasses.replace(apply_head_checks(report, checks), weights_checked=True)


__all__ = ["apply_head_checks", "exact_load_hint", "exact_note", "exact_relation", "with_checked_weights"]
