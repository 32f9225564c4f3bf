"""One editor per field kind, with the form's way to read and write it.

``FieldEditor`` pairs the widget with a getter (the raw value ``Field.convert`` takes) and a
setter (a value in the form's terms: what ``Field.convert`` returns, or raw text). Numbers keep
the exact value they are given, so a checkpoint's temperature of 0.6666 is shown and run as
0.6666, not as the two decimals a spin box would round it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CHOICE,
    KIND_CONVERSATION,
    KIND_CSV,
    KIND_FLOAT,
    KIND_ID_SEQUENCES,
    KIND_IDS,
    KIND_INT,
    KIND_LINES,
    KIND_MULTILINE,
    KIND_STRINGS,
    KIND_TEXT,
    Field,
    escape_line,
)

INT_LIMIT = 2**31 - 1
# Enough for any value a config writes by hand (0.6666, 1e-05); what is shown is trimmed of trailing zeros.
FLOAT_DECIMALS = 8
LARGE_TEXT_KINDS = (KIND_MULTILINE, KIND_LINES, KIND_STRINGS, KIND_ID_SEQUENCES, KIND_CONVERSATION)


@dataclass
class FieldEditor:
    widget: QWidget
    get: Callable[[], Any]
    set: Callable[[Any], None]
    changed: Any  # the widget's signal for a changed value


class _WheelWhenFocused:
    """A long form scrolls under the mouse wheel: a spin box or list it passes must not change its value."""

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()  # the scroll area behind scrolls instead


class SpinBox(_WheelWhenFocused, QSpinBox):
    pass


class ChoiceBox(_WheelWhenFocused, QComboBox):
    pass


class NumberBox(_WheelWhenFocused, QDoubleSpinBox):
    """A float spin box that holds up to FLOAT_DECIMALS decimals and shows only those it needs."""

    def __init__(self, shown_decimals: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown_decimals = shown_decimals
        self.setDecimals(FLOAT_DECIMALS)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        text = self.locale().toString(value, "f", FLOAT_DECIMALS)
        point = self.locale().decimalPoint()
        if point not in text:
            return text
        whole, _, fraction = text.partition(point)
        fraction = fraction.rstrip("0").ljust(self._shown_decimals, "0")
        return f"{whole}{point}{fraction}" if fraction else whole


def text_of(field: Field, value: Any) -> str:
    """A value in the form's terms (or raw text) as the text its editor shows."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if field.kind == KIND_ID_SEQUENCES and isinstance(value, (list, tuple)):
        return "\n".join(", ".join(str(i) for i in item) if isinstance(item, (list, tuple)) else str(item) for item in value)
    if field.kind == KIND_STRINGS and isinstance(value, (list, tuple)):
        return "\n".join(escape_line(str(item)) for item in value)
    if field.kind == KIND_CONVERSATION and isinstance(value, (list, tuple)):
        return "\n".join(f"{turn.get('role', 'user')}: {turn.get('content', '')}" if isinstance(turn, dict) else str(turn) for turn in value)
    if isinstance(value, (list, tuple)):
        separator = "\n" if field.kind == KIND_LINES else ", "
        return separator.join(str(item) for item in value)
    return str(value)


def _plain_text_editor(field: Field, placeholder: str, rows: tuple[int, int] = (60, 110)) -> FieldEditor:
    editor = QPlainTextEdit()
    editor.setPlaceholderText(field.placeholder or placeholder)
    editor.setMinimumHeight(rows[0])
    editor.setMaximumHeight(rows[1])
    return FieldEditor(editor, editor.toPlainText, lambda value: editor.setPlainText(text_of(field, value)), editor.textChanged)


def _conversation_editor(field: Field) -> FieldEditor:
    try:
        from explorer.ui.conversation_editor import ConversationEditor
    except ImportError:  # the turn-by-turn editor is optional: "role: content" lines say the same
        return _plain_text_editor(field, "system: You are a helpful assistant.\nuser: Hello!", rows=(90, 180))
    editor = ConversationEditor()

    def set_turns(value: Any) -> None:
        editor.set_value(field.convert(value) if isinstance(value, str) else list(value or []))

    return FieldEditor(editor, editor.value, set_turns, editor.changed)


def create_editor(field: Field, compact: bool = False) -> FieldEditor:
    """The editor of one field, empty; the form sets its starting value. ``compact``: a parameter's, among
    many rows (a text of a few lines), not an input's."""
    kind = field.kind
    rows = (40, 64) if compact else (60, 110)
    if kind in (KIND_MULTILINE, KIND_LINES, KIND_STRINGS):
        placeholder = {KIND_LINES: "One per line", KIND_STRINGS: "One per line; \\n for a newline"}.get(kind, "")
        made = _plain_text_editor(field, placeholder, rows)
    elif kind == KIND_ID_SEQUENCES:
        made = _plain_text_editor(field, "One sequence of ids per line, e.g. 50256, 198", rows)
    elif kind == KIND_CONVERSATION:
        made = _conversation_editor(field)
    elif kind in (KIND_TEXT, KIND_CSV, KIND_IDS):
        line = QLineEdit()
        line.setPlaceholderText(field.placeholder or ("Token ids, e.g. 50256, 198" if kind == KIND_IDS else ""))
        made = FieldEditor(line, line.text, lambda value: line.setText(text_of(field, value)), line.textChanged)
    elif kind == KIND_BOOL:
        box = QCheckBox(field.label)
        made = FieldEditor(box, box.isChecked, lambda value: box.setChecked(bool(value)), box.toggled)
    elif kind == KIND_CHOICE:
        combo = ChoiceBox()
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        combo.addItems(list(field.choices))
        made = FieldEditor(combo, combo.currentText, lambda value: combo.setCurrentText(str(value)), combo.currentTextChanged)
    elif kind == KIND_INT:
        spin = SpinBox()
        spin.setRange(int(field.minimum if field.minimum is not None else -INT_LIMIT), int(min(field.maximum if field.maximum is not None else INT_LIMIT, INT_LIMIT)))
        spin.setSingleStep(int(field.step or 1))
        made = FieldEditor(spin, spin.value, lambda value: spin.setValue(int(value)), spin.valueChanged)
    elif kind == KIND_FLOAT:
        step = field.step or 0.1
        spin = NumberBox(3 if step < 0.05 else 2)
        spin.setRange(field.minimum if field.minimum is not None else -1e9, field.maximum if field.maximum is not None else 1e9)
        spin.setSingleStep(step)
        made = FieldEditor(spin, spin.value, lambda value: spin.setValue(float(value)), spin.valueChanged)
    else:
        line = QLineEdit()
        made = FieldEditor(line, line.text, lambda value: line.setText(text_of(field, value)), line.textChanged)
    if isinstance(made.widget, QAbstractSpinBox):
        made.widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if field.special_value:
            made.widget.setSpecialValueText(field.special_value)
    made.widget.setToolTip(field.help)
    made.widget.setObjectName(f"field_{field.name}")
    return made


__all__ = ["FieldEditor", "LARGE_TEXT_KINDS", "NumberBox", "create_editor", "text_of"]
