"""Other files page of the Config tab: what matters in each settings file beside config.json, and chat templates."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from explorer.core.config.model import ChatTemplate, ConfigReport, OtherFile
from explorer.ui import palette
from explorer.ui.config_common import read_only_text, selectable_label


class _JsonToggle(QPushButton):
    """Shows or hides a file's full JSON under its summary."""

    def __init__(self, viewer: QWidget) -> None:
        super().__init__("Show JSON")
        self._viewer = viewer
        self.setCheckable(True)
        self.toggled.connect(self._on_toggled)

    def _on_toggled(self, shown: bool) -> None:
        self._viewer.setVisible(shown)
        self.setText("Hide JSON" if shown else "Show JSON")


def _file_box(section: OtherFile) -> QGroupBox:
    box = QGroupBox(section.name)
    form = QFormLayout(box)
    if section.error:
        error = selectable_label(section.error)
        error.setStyleSheet(f"color: {palette.color('error')}")
        form.addRow(error)
    for label, text in section.summary:
        form.addRow(f"{label}:", selectable_label(text))
    if section.data is not None:
        raw = read_only_text(json.dumps(section.data, indent=2, ensure_ascii=False), max_height=220)
        raw.hide()
        toggle_row = QHBoxLayout()
        toggle_row.addWidget(_JsonToggle(raw))
        toggle_row.addStretch(1)
        form.addRow(toggle_row)
        form.addRow(raw)
    return box


def _template_box(template: ChatTemplate) -> QGroupBox:
    box = QGroupBox(f"Chat template — {template.name} ({template.source})")
    inner = QVBoxLayout(box)
    viewer = read_only_text(template.text, max_height=260)
    lines = template.text.count("\n") + 1
    viewer.setFixedHeight(min(260, viewer.fontMetrics().lineSpacing() * (lines + 1) + 12))
    inner.addWidget(viewer)
    return box


class OtherFilesPage(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        container = QWidget()
        self._layout = QVBoxLayout(container)
        self._layout.addStretch(1)
        self.setWidget(container)
        self._report: ConfigReport | None = None

    def clear(self) -> None:
        self._report = None
        while self._layout.count() > 1:
            widget = self._layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()

    def repaint_colours(self) -> None:
        if self._report is not None:
            self.show_report(self._report)

    def show_report(self, report: ConfigReport) -> None:
        self.clear()
        self._report = report
        boxes: list[QWidget] = [_file_box(section) for section in report.other_files if section.present]
        boxes += [_template_box(template) for template in report.chat_templates]
        absent = [section.name for section in report.other_files if not section.present]
        if absent:
            note = selectable_label("Not in this checkpoint: " + ", ".join(absent))
            note.setStyleSheet(f"color: {palette.color('muted')}")
            boxes.append(note)
        for position, widget in enumerate(boxes):
            self._layout.insertWidget(position, widget)


__all__ = ["OtherFilesPage"]
