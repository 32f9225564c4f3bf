"""A form built from a task declaration: one editor per Field, values back as a dict.

Rendering only: conversion and validation stay in ``Field.convert`` (explorer.tasks). What a
field takes from the checkpoint (the mask token its button types, a switch that needs a chat
template) comes from the checkpoint's facts, read by the tab before the form is built.

A field the checkpoint gives a starting value (``TaskSpec.checkpoint_defaults``, read by the
tab's selection job) starts from it and says where it came from beside its editor: the file
of the checkpoint, transformers' default, or "changed here" once its value differs (compared
as converted values), with a ↺ button that puts the checkpoint's value back. Many such fields
(a generation_config's decoding settings) go in a section of their own that folds away, its
header counting what came from where.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CONVERSATION,
    KIND_CSV,
    KIND_FLOAT,
    KIND_ID_SEQUENCES,
    KIND_IDS,
    KIND_INT,
    KIND_LINES,
    KIND_STRINGS,
    SOURCE_CHANGED,
    SOURCE_CHECKPOINT,
    SOURCE_LIBRARY,
    Field,
    Sourced,
    TaskInputError,
    TaskSpec,
)
from explorer.tasks.heads import CheckpointFacts
from explorer.ui.demo_fields import FLOAT_DECIMALS, FieldEditor, create_editor, text_of
from explorer.ui.palette import color

# From this many fields with the checkpoint's values on, they get a section of their own.
SECTION_MIN_FIELDS = 6
DECODING_FIELDS = frozenset({"do_sample", "num_beams", "max_new_tokens"})
RESET_MARK = "↺"
# Narrower than this, a note names only the file ("generation_config.json"); the tooltip says the rest.
FULL_NOTES_WIDTH = 560
FILE_NOTES_WIDTH = 460  # below it, a note is one word


def short_source(sourced: Sourced, tiny: bool = False) -> str:
    """The note for a narrow form: the checkpoint's file alone says where the value came from; in a very
    narrow one, a word (the tooltip keeps the whole story)."""
    if tiny:
        return "checkpoint" if sourced.source == SOURCE_CHECKPOINT else "default" if sourced.source == SOURCE_LIBRARY else sourced.source
    return sourced.detail if sourced.source == SOURCE_CHECKPOINT and sourced.detail else sourced.source


def same_value(a: Any, b: Any) -> bool:
    """Equal as the form holds them: floats to the decimals an editor keeps."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
            return math.isclose(a, b, rel_tol=0.0, abs_tol=0.5 * 10**-FLOAT_DECIMALS) or a == b
        return False
    return a == b


def _produced_by_editor(field: Field, raw: Any) -> bool:
    """Whether a stored value is of a kind this field's editor gives (a damaged store holds anything)."""
    if field.kind == KIND_BOOL:
        return isinstance(raw, bool)
    if field.kind in (KIND_INT, KIND_FLOAT):
        return isinstance(raw, (int, float)) and not isinstance(raw, bool)
    if field.kind == KIND_CONVERSATION:
        return isinstance(raw, (str, list))
    if field.kind in (KIND_LINES, KIND_STRINGS, KIND_CSV, KIND_IDS, KIND_ID_SEQUENCES):
        return isinstance(raw, (str, list))
    return isinstance(raw, str)


class FoldingSection(QWidget):
    """A header that folds the rows below it away; the header's summary says what they hold."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(2)
        header = QHBoxLayout()
        self.toggle = QToolButton()
        self.toggle.setObjectName("section_toggle")
        self.toggle.setText(title)
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.toggle.setStyleSheet("QToolButton { font-weight: bold; border: none; background: transparent; }")
        header.addWidget(self.toggle)
        self.summary = QLabel()
        self.summary.setObjectName("section_summary")
        self.summary.setWordWrap(True)
        header.addWidget(self.summary, 1)
        self.reset_all = QPushButton(f"{RESET_MARK} All")
        self.reset_all.setObjectName("reset_all")
        self.reset_all.setToolTip("Put every setting of this section back to the checkpoint's value")
        self.reset_all.setVisible(False)
        header.addWidget(self.reset_all)
        layout.addLayout(header)
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(18, 0, 6, 0)
        layout.addWidget(self.body)
        self.toggle.toggled.connect(self._fold)

    def _fold(self, shown: bool) -> None:
        self.body.setVisible(shown)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)


class TaskForm(QWidget):
    """Inputs on top (large editors), parameters below in a compact grid."""

    changed = Signal()
    """Emitted when any value changes."""

    def __init__(
        self,
        spec: TaskSpec,
        facts: CheckpointFacts | None = None,
        defaults: dict[str, Sourced] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.spec = spec
        names = {f.name for f in spec.fields}
        self._sources = {name: value for name, value in (defaults or {}).items() if name in names and isinstance(value, Sourced)}
        inputs = {field.name for field in spec.inputs}
        self._editors: dict[str, FieldEditor] = {field.name: create_editor(field, compact=field.name not in inputs) for field in spec.fields}
        self.editors: dict[str, QWidget] = {name: made.widget for name, made in self._editors.items()}
        self.source_labels: dict[str, QLabel] = {}
        self.reset_buttons: dict[str, QToolButton] = {}
        self.section: FoldingSection | None = None
        self._notes_level = 2  # 2: the whole source, 1: the file, 0: a word (by the form's width)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.description = QLabel(spec.description)
        self.description.setWordWrap(True)
        layout.addWidget(self.description)
        for field in spec.inputs:
            self._add_input(layout, field)
        self._add_parameters(layout)
        layout.addStretch(1)
        for field in spec.fields:
            self._editors[field.name].set(self._starting_value(field))
            self._editors[field.name].changed.connect(self.changed)
            if field.name in self._sources:
                self._editors[field.name].changed.connect(lambda *_args, name=field.name: self._show_source(name))
            if field.requires:
                controller = self.editors.get(field.requires)
                if isinstance(controller, QCheckBox):
                    controller.toggled.connect(self._update_enabled)
        # What each editor shows for the checkpoint's value: untouched, it means exactly that value, even one
        # its text cannot say (a stop string of blank lines, a float past the shown decimals).
        self._start_raw = {name: self._editors[name].get() for name in self._sources}
        for name in self._sources:
            self._show_source(name)
        self._update_enabled()
        self._fit_to_checkpoint(facts or CheckpointFacts())
        self.repaint_colours()

    # ------------------------------------------------------------------ building

    def _starting_value(self, field: Field) -> Any:
        return self._sources[field.name].value if field.name in self._sources else field.default

    def _source_widgets(self, field: Field) -> tuple[QLabel, QToolButton] | None:
        if field.name not in self._sources:
            return None
        note = QLabel()
        note.setObjectName(f"source_{field.name}")
        font = note.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        note.setFont(font)
        reset = QToolButton()
        reset.setObjectName(f"reset_{field.name}")
        reset.setText(RESET_MARK)
        reset.setAutoRaise(True)
        reset.setToolTip("Back to the checkpoint's value")
        policy = reset.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the column keeps its width: rows do not shift as values change
        reset.setSizePolicy(policy)
        reset.clicked.connect(lambda _checked=False, name=field.name: self.reset(name))
        self.source_labels[field.name] = note
        self.reset_buttons[field.name] = reset
        return note, reset

    def _add_input(self, layout: QVBoxLayout, field: Field) -> None:
        header = QHBoxLayout()
        label = QLabel(f"<b>{field.label}</b>")
        label.setToolTip(field.help)
        header.addWidget(label)
        header.addStretch(1)
        source = self._source_widgets(field)
        if source is not None:
            header.addWidget(source[0])
            header.addWidget(source[1])
        layout.addLayout(header)
        layout.addWidget(self.editors[field.name])

    def _add_parameters(self, layout: QVBoxLayout) -> None:
        sourced = [f for f in self.spec.parameters if f.name in self._sources]
        grouped = sourced if len(sourced) >= SECTION_MIN_FIELDS else []
        plain = QGridLayout()
        plain.setColumnStretch(1, 1)
        for field in self.spec.parameters:
            if field not in grouped:
                self._add_row(plain, field)
        layout.addLayout(plain)
        if grouped:
            title = "Decoding" if DECODING_FIELDS & {f.name for f in grouped} else "Checkpoint settings"
            self.section = FoldingSection(title)
            self.section.grid.setColumnStretch(1, 1)
            for field in grouped:
                self._add_row(self.section.grid, field)
            self.section.reset_all.clicked.connect(self.reset_all)
            layout.addWidget(self.section)

    def _add_row(self, grid: QGridLayout, field: Field) -> None:
        row = grid.rowCount()
        editor = self.editors[field.name]
        if field.kind != KIND_BOOL:
            label = QLabel(field.label)
            label.setToolTip(field.help)
            label.setWordWrap(True)
            label.setBuddy(editor)
            grid.addWidget(label, row, 0)
        grid.addWidget(editor, row, 1)
        source = self._source_widgets(field)
        if source is not None:  # the reset button right by the value it resets, the note after it
            grid.addWidget(source[1], row, 2)
            grid.addWidget(source[0], row, 3)

    def repaint_colours(self) -> None:
        self.description.setStyleSheet(f"color: {color('muted')};")
        for name in self._sources:
            self._show_source(name)
        if self.section is not None:
            self.section.summary.setStyleSheet(f"color: {color('muted')};")

    def _fit_to_checkpoint(self, facts: CheckpointFacts) -> None:
        for field in self.spec.fields:
            if field.insert_button is not None:
                text = getattr(facts, field.insert_button.fact, None) or field.insert_button.fallback
                self.add_insert_button(field.name, f"Insert {text}", text)
            editor = self.editors[field.name]
            if hasattr(editor, "set_tools_supported"):  # the conversation editor offers a "tool" turn only then
                editor.set_tools_supported(facts.chat_template_reads_tools)
            if field.only_if is not None and not getattr(facts, field.only_if.fact, False):
                editor = self.editors[field.name]
                editor.setEnabled(False)
                editor.setToolTip(field.only_if.why_not)

    def _update_enabled(self) -> None:
        for field in self.spec.fields:
            if field.requires:
                controller = self.editors.get(field.requires)
                if isinstance(controller, QCheckBox):
                    self.editors[field.name].setEnabled(controller.isChecked())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        width = event.size().width()
        level = 2 if width >= FULL_NOTES_WIDTH else 1 if width >= FILE_NOTES_WIDTH else 0
        if level != self._notes_level:
            self._notes_level = level
            for name in self._sources:
                self._show_source(name)

    # ------------------------------------------------------------------ sources

    def sources(self) -> dict[str, Sourced]:
        """The checkpoint's starting values this form shows, by field name."""
        return dict(self._sources)

    def is_changed(self, name: str) -> bool:
        """True when a field with a checkpoint value holds another one (or one that cannot be read)."""
        sourced = self._sources.get(name)
        if sourced is None:
            return False
        raw = self._editors[name].get()
        if raw == self._start_raw.get(name, object()):
            return False
        try:
            current = self.spec.field(name).convert(raw)
        except (TaskInputError, TypeError, ValueError):
            return True
        return not same_value(current, sourced.value)

    def source_text(self, name: str) -> str:
        """What the form says beside the field: the checkpoint's file, transformers' default or "changed here"."""
        sourced = self._sources.get(name)
        if sourced is None:
            return ""
        return SOURCE_CHANGED if self.is_changed(name) else sourced.describe()

    def reset(self, name: str) -> None:
        """Back to the checkpoint's value."""
        self._editors[name].set(self._sources[name].value)

    def reset_all(self) -> None:
        for name in self._sources:
            if self.is_changed(name):
                self.reset(name)

    def _show_source(self, name: str) -> None:
        note, reset = self.source_labels.get(name), self.reset_buttons.get(name)
        if note is None or reset is None:
            return
        sourced = self._sources[name]
        changed = self.is_changed(name)
        if changed:
            text = SOURCE_CHANGED
        elif self._notes_level == 2:
            text = sourced.describe()
        else:
            text = short_source(sourced, tiny=self._notes_level == 0)
        note.setText(text)
        shown = text_of(self.spec.field(name), sourced.value) or "(none)"
        where = sourced.describe() if sourced.source != SOURCE_CHECKPOINT or not sourced.detail else f"the checkpoint's {sourced.detail}"
        note.setToolTip(f"Starts from {shown!r}: {where}." + (" Changed here; ↺ puts it back." if changed else ""))
        weight = "font-weight: 600;" if changed else ""
        note.setStyleSheet(f"color: {color('accent' if changed else 'muted')}; {weight}")
        reset.setVisible(changed)
        self._update_summary()

    def _update_summary(self) -> None:
        if self.section is None:
            return
        names = [f.name for f in self.spec.parameters if f.name in self._sources and self.source_labels.get(f.name) is not None]
        changed = sum(1 for name in names if self.is_changed(name))
        by_source: dict[str, int] = {}
        for name in names:
            sourced = self._sources[name]
            where = f"from {sourced.detail}" if sourced.source == SOURCE_CHECKPOINT and sourced.detail else sourced.source
            by_source[where] = by_source.get(where, 0) + 1
        parts = [f"{count} {where}" for where, count in sorted(by_source.items(), key=lambda item: -item[1])]
        text = f"{len(names)} settings · " + ", ".join(parts)
        if changed:
            text += f" · {changed} changed here"
        self.section.summary.setText(text)
        self.section.reset_all.setVisible(bool(changed))

    # ------------------------------------------------------------------ values

    def values(self) -> dict[str, Any]:
        """Raw values (strings, numbers, booleans, turns) for ``TaskSpec.resolve``.

        A field left at the checkpoint's value gives exactly that value, whatever its editor
        rounds it to for display.
        """
        values: dict[str, Any] = {}
        for field in self.spec.fields:
            if field.name in self._sources and not self.is_changed(field.name):
                values[field.name] = self._sources[field.name].value
            else:
                values[field.name] = self._editors[field.name].get()
        return values

    def values_to_remember(self) -> dict[str, Any]:
        """What to bring back next time: every field without a checkpoint value, and those changed here.

        A setting left at the checkpoint's value is not kept, so it follows the checkpoint if its file changes.
        """
        values = self.values()
        return {name: value for name, value in values.items() if name not in self._sources or self.is_changed(name)}

    def restore(self, values: Any) -> list[str]:
        """Bring back remembered values; one its field no longer accepts is left out. The names restored."""
        if not isinstance(values, dict):
            return []
        restored = []
        for field in self.spec.fields:
            if field.name not in values or not _produced_by_editor(field, values[field.name]):
                continue
            try:
                value = field.convert(values[field.name])
            except (TaskInputError, TypeError, ValueError, AttributeError):
                continue
            self._editors[field.name].set(value)
            restored.append(field.name)
        return restored

    def set_value(self, name: str, value: Any) -> None:
        self._editors[name].set(value)

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self._editors:
                self.set_value(name, value)

    def add_insert_button(self, field_name: str, caption: str, text: str) -> QPushButton:
        """A button that types ``text`` at the cursor of a text editor (e.g. the mask token)."""
        editor = self.editors[field_name]
        button = QPushButton(caption)
        button.setObjectName(f"insert_{field_name}")

        def insert() -> None:
            if isinstance(editor, QPlainTextEdit):
                editor.insertPlainText(text)
            elif isinstance(editor, QLineEdit):
                editor.insert(text)
            editor.setFocus()

        button.clicked.connect(insert)
        layout = self.layout()
        index = layout.indexOf(editor)  # QVBoxLayout here: editors of inputs are direct children
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(button)
        layout.insertLayout(index + 1, row)
        return button
