"""A form built from a task declaration: one editor per Field, values back as a dict.

Rendering only: conversion and validation stay in ``Field.convert`` (explorer.tasks). What a
field takes from the checkpoint (the mask token its button types, a switch that needs a chat
template) comes from the checkpoint's facts, read by the tab before the form is built.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CHOICE,
    KIND_CSV,
    KIND_FLOAT,
    KIND_INT,
    KIND_LINES,
    KIND_MULTILINE,
    KIND_TEXT,
    Field,
    TaskSpec,
)
from explorer.tasks.heads import CheckpointFacts
from explorer.ui.palette import color

INT_LIMIT = 2**31 - 1


class TaskForm(QWidget):
    """Inputs on top (large editors), parameters below in a compact form."""

    changed = Signal()
    """Emitted when any value changes."""

    def __init__(self, spec: TaskSpec, facts: CheckpointFacts | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.description = QLabel(spec.description)
        self.description.setWordWrap(True)
        layout.addWidget(self.description)
        self.repaint_colours()
        for field in spec.inputs:
            label = QLabel(f"<b>{field.label}</b>")
            label.setToolTip(field.help)
            layout.addWidget(label)
            editor = self._editor(field)
            layout.addWidget(editor)
        if spec.parameters:
            parameters = QFormLayout()
            parameters.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
            for field in spec.parameters:
                editor = self._editor(field)
                if field.kind == KIND_BOOL:
                    parameters.addRow("", editor)
                else:
                    label = QLabel(field.label)
                    label.setToolTip(field.help)
                    parameters.addRow(label, editor)
            layout.addLayout(parameters)
        layout.addStretch(1)
        for field in spec.fields:
            if field.requires:
                controller = self.editors.get(field.requires)
                if isinstance(controller, QCheckBox):
                    controller.toggled.connect(self._update_enabled)
        self._update_enabled()
        self._fit_to_checkpoint(facts or CheckpointFacts())

    def repaint_colours(self) -> None:
        self.description.setStyleSheet(f"color: {color('muted')};")

    def _fit_to_checkpoint(self, facts: CheckpointFacts) -> None:
        for field in self.spec.fields:
            if field.insert_button is not None:
                text = getattr(facts, field.insert_button.fact, None) or field.insert_button.fallback
                self.add_insert_button(field.name, f"Insert {text}", text)
            if field.only_if is not None and not getattr(facts, field.only_if.fact, False):
                editor = self.editors[field.name]
                editor.setEnabled(False)
                editor.setToolTip(field.only_if.why_not)

    def _editor(self, field: Field) -> QWidget:
        if field.kind in (KIND_MULTILINE, KIND_LINES):
            editor = QPlainTextEdit()
            editor.setPlainText(str(field.default or ""))
            editor.setPlaceholderText(field.placeholder or ("One per line" if field.kind == KIND_LINES else ""))
            editor.setMinimumHeight(60)
            editor.setMaximumHeight(110)
            editor.textChanged.connect(self.changed)
        elif field.kind in (KIND_TEXT, KIND_CSV):
            editor = QLineEdit(str(field.default or ""))
            editor.setPlaceholderText(field.placeholder)
            editor.textChanged.connect(self.changed)
        elif field.kind == KIND_BOOL:
            editor = QCheckBox(field.label)
            editor.setChecked(bool(field.default))
            editor.toggled.connect(self.changed)
        elif field.kind == KIND_CHOICE:
            editor = QComboBox()
            editor.addItems(list(field.choices))
            editor.setCurrentText(str(field.default))
            editor.currentTextChanged.connect(self.changed)
        elif field.kind == KIND_INT:
            editor = QSpinBox()
            editor.setRange(int(field.minimum if field.minimum is not None else -INT_LIMIT), int(min(field.maximum or INT_LIMIT, INT_LIMIT)))
            editor.setSingleStep(int(field.step or 1))
            editor.setValue(int(field.default))
            if field.special_value:
                editor.setSpecialValueText(field.special_value)
            editor.valueChanged.connect(self.changed)
        elif field.kind == KIND_FLOAT:
            editor = QDoubleSpinBox()
            step = field.step or 0.1
            editor.setDecimals(3 if step < 0.05 else 2)
            editor.setRange(field.minimum if field.minimum is not None else -1e9, field.maximum if field.maximum is not None else 1e9)
            editor.setSingleStep(step)
            editor.setValue(float(field.default))
            editor.valueChanged.connect(self.changed)
        else:
            editor = QLineEdit(str(field.default or ""))
        editor.setToolTip(field.help)
        editor.setObjectName(f"field_{field.name}")
        self.editors[field.name] = editor
        return editor

    def _update_enabled(self) -> None:
        for field in self.spec.fields:
            if field.requires:
                controller = self.editors.get(field.requires)
                if isinstance(controller, QCheckBox):
                    self.editors[field.name].setEnabled(controller.isChecked())

    def values(self) -> dict[str, Any]:
        """Raw values (strings, numbers, booleans) for ``TaskSpec.resolve``."""
        values: dict[str, Any] = {}
        for field in self.spec.fields:
            editor = self.editors[field.name]
            if isinstance(editor, QPlainTextEdit):
                values[field.name] = editor.toPlainText()
            elif isinstance(editor, QLineEdit):
                values[field.name] = editor.text()
            elif isinstance(editor, QCheckBox):
                values[field.name] = editor.isChecked()
            elif isinstance(editor, QComboBox):
                values[field.name] = editor.currentText()
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                values[field.name] = editor.value()
        return values

    def set_value(self, name: str, value: Any) -> None:
        editor = self.editors[name]
        if isinstance(editor, QPlainTextEdit):
            editor.setPlainText("\n".join(value) if isinstance(value, list) else str(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(", ".join(value) if isinstance(value, list) else str(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QDoubleSpinBox):
            editor.setValue(float(value))

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.editors:
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
