"""Small widgets and HTML helpers the Config tab's pages share."""

from __future__ import annotations

import re
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QLabel, QPlainTextEdit, QSplitter, QTableWidget, QTableWidgetItem, QTextBrowser, QWidget,
)

from explorer.ui import palette


def monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def selectable_label(text: str = "", rich: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if rich:
        label.setTextFormat(Qt.TextFormat.RichText)
    return label


def read_only_text(text: str = "", max_height: int | None = None) -> QPlainTextEdit:
    editor = QPlainTextEdit(text)
    editor.setReadOnly(True)
    editor.setFont(monospace())
    editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    if max_height:
        editor.setMaximumHeight(max_height)
    return editor


def one_line_rows(view: QAbstractItemView, columns: int) -> None:
    """Rows of one line, the last column stretching, the others sized to their contents.

    Wrapped rows size themselves against the width the view has while its page is hidden, which
    makes them absurdly tall; full texts are in tooltips and the detail lines instead.
    """
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setWordWrap(False)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    header = view.horizontalHeader()
    for column in range(columns - 1):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(columns - 1, QHeaderView.ResizeMode.Stretch)


def with_detail_below(view: QWidget, view_stretch: int = 3) -> tuple[QSplitter, QTextBrowser]:
    """A list of fields above, the selected field's explanation below (the pages of fields share this)."""
    detail = QTextBrowser()
    detail.setOpenExternalLinks(False)
    detail.setPlaceholderText("Select a field to read what it means.")
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.addWidget(view)
    splitter.addWidget(detail)
    splitter.setStretchFactor(0, view_stretch)
    splitter.setStretchFactor(1, 1)
    return splitter, detail


def table(headers: list[str]) -> QTableWidget:
    widget = QTableWidget(0, len(headers))
    widget.setHorizontalHeaderLabels(headers)
    one_line_rows(widget, len(headers))
    return widget


def cell(text: str, tooltip: str | None = None, role: str | None = None, bold: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(tooltip or text)
    if role:
        item.setForeground(QBrush(palette.qcolor(role)))
    if bold:
        font = item.font()
        font.setBold(True)
        item.setFont(font)
    return item


def colored(role: str, html: str, bold: bool = False) -> str:
    """``html`` in the colour of a palette role."""
    tag = "b" if bold else "span"
    return f"<{tag} style='color:{palette.color(role)}'>{html}</{tag}>"


def paragraph(role: str, html: str) -> str:
    return f"<p style='color:{palette.color(role)}'>{html}</p>"


def doc_markup(text: str) -> str:
    """Docstring text as HTML: escaped, `code` spans as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


__all__ = ["cell", "colored", "doc_markup", "monospace", "one_line_rows", "paragraph", "read_only_text", "selectable_label", "table"]
