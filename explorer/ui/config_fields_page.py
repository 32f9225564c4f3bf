"""Fields page of the Config tab: every config.json field in a tree, filtered and searched, explained below."""

from __future__ import annotations

import json
from html import escape

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    
    
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from explorer.core.config.model import ConfigReport, FieldRecord
from explorer.ui.config_common import colored, paragraph, with_detail_below
from explorer.ui.config_fields_model import (
    FIELD_ROLE,
    FILTER_ALL,
    FILTER_TITLES,
    SCOPE_ALL,
    SCOPE_FILE,
    SCOPE_TITLES,
    ConfigFieldsFilter,
    ConfigFieldsModel,
    status_text,
    value_text,
)
from explorer.ui import palette


class FieldsPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config_class: str | None = None
        self._counts = (0, 0, 0, 0)  # in the file, changed, unknown, left at their defaults

        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search fields, values and docs…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(180)
        self.filter_combo = QComboBox()
        for key, title in FILTER_TITLES.items():
            self.filter_combo.addItem(title, key)
        self.scope_combo = QComboBox()
        for key, title in SCOPE_TITLES.items():
            self.scope_combo.addItem(title, key)
        self.scope_combo.setToolTip(
            "config.json sets only some fields; the config object has the class's other fields at their defaults "
            "(output_hidden_states, return_dict, use_cache…)"
        )
        expand = QPushButton("Expand all")
        collapse = QPushButton("Collapse")
        self.fields_count = QLabel()
        self.fields_count.setObjectName("configFieldsCount")
        bar = QHBoxLayout()
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.scope_combo)
        bar.addWidget(self.filter_combo)
        bar.addWidget(expand)
        bar.addWidget(collapse)

        self.fields_model = ConfigFieldsModel(self)
        self.fields_proxy = ConfigFieldsFilter(self)
        self.fields_proxy.setSourceModel(self.fields_model)
        self.fields_view = QTreeView()
        self.fields_view.setModel(self.fields_proxy)
        self.fields_view.setUniformRowHeights(True)
        self.fields_view.setAlternatingRowColors(True)
        self.fields_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.fields_view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(0, 230)
        for column in (2, 3, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        splitter, self.detail = with_detail_below(self.fields_view, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.fields_count)
        layout.addWidget(splitter, 1)

        expand.clicked.connect(self.fields_view.expandAll)
        collapse.clicked.connect(self.fields_view.collapseAll)
        self.fields_view.selectionModel().currentChanged.connect(self._on_field_selected)
        self.search_edit.textChanged.connect(self._on_search)
        self.filter_combo.currentIndexChanged.connect(self._on_filter)
        self.scope_combo.currentIndexChanged.connect(self._on_scope)

    def clear(self) -> None:
        self.fields_model.set_fields([])
        self.detail.clear()

    def show_report(self, report: ConfigReport) -> None:
        fields = report.fields
        self.fields_model.set_fields(fields)
        self.detail.clear()
        in_file = [f for f in fields if f.in_file]
        self._counts = (
            len(in_file),
            sum(1 for f in in_file if f.changed),
            sum(1 for f in in_file if not f.known),
            len(fields) - len(in_file),
        )
        self._config_class = report.config_class
        self._show_count()
        if not fields:
            self.detail.setPlainText("No fields to show: " + ("; ".join(report.problems) or "config.json is empty."))

    def repaint_colours(self) -> None:
        self.fields_model.repaint_colours()
        self._show_count()
        self._on_field_selected(self.fields_view.currentIndex(), QModelIndex())

    def _show_count(self) -> None:
        total, changed, unknown, defaults = self._counts
        text = f"{total} fields · {changed} changed · {unknown} unknown"
        tooltip = ""
        if defaults:
            text += f" · {defaults} defaults " + ("shown" if self.fields_proxy.scope() == SCOPE_ALL else "hidden")
            tooltip = (
                f"{defaults} fields of {self._config_class or 'the config class'} are not in config.json; the config object has them "
                "at their defaults. Choose 'All fields incl. defaults' to see them."
            )
        self.fields_count.setText(text)
        self.fields_count.setToolTip(tooltip)
        self.fields_count.setStyleSheet(f"color: {palette.color('muted')}")

    def _on_search(self, text: str) -> None:
        self.fields_proxy.set_text(text)
        if text:
            self.fields_view.expandAll()

    def _on_scope(self, _index: int) -> None:
        self.fields_proxy.set_scope(self.scope_combo.currentData() or SCOPE_FILE)
        self._show_count()

    def _on_filter(self, _index: int) -> None:
        self.fields_proxy.set_mode(self.filter_combo.currentData() or FILTER_ALL)
        if self.filter_combo.currentData() != FILTER_ALL:
            self.fields_view.expandAll()

    def _on_field_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        source = self.fields_proxy.mapToSource(current)
        first = source.sibling(source.row(), 0)
        field = self.fields_model.field(first.data(FIELD_ROLE))
        if field is None:  # a value nested inside a field: its path says where it is
            self.detail.setPlainText(first.data(Qt.ItemDataRole.ToolTipRole) or "")
            return
        self.detail.setHtml(field_html(field))


def field_html(field: FieldRecord) -> str:
    """What the detail pane says about a field: types, status, documentation, value against the default."""
    parts = [f"<h3 style='margin:0'>{escape(field.path)}</h3>"]
    meta = [f"type: <code>{escape(field.type)}</code>" if not field.in_file else f"type in config.json: <code>{escape(field.type)}</code>"]
    if field.doc_type:
        meta.append(f"documented type: <code>{escape(field.doc_type)}</code>")
    state = status_text(field)
    if state:
        meta.append(f"status: <b>{escape(state)}</b>")
    parts.append("<p>" + " · ".join(meta) + "</p>")
    if field.doc:
        where = "" if field.doc_source in (None, "explorer") else " " + colored("muted", f"(from the {escape(field.doc_source)} docstring)")
        parts.append(f"<p>{escape(field.doc)}{where}</p>")
    elif not field.known:
        parts.append(
            "<p><b>Unknown field.</b> The installed transformers' config class does not declare it. It is kept on the "
            "config object, but no built-in code reads it: a typo, a setting for custom code, or a field of a newer version.</p>"
        )
    else:
        parts.append(paragraph("muted", "No documentation for this field in the installed transformers."))
    if field.alias_of:
        parts.append(f"<p>Alias: transformers reads it as <code>{escape(field.alias_of)}</code>.</p>")
    if field.type_problem:
        parts.append(paragraph("error", f"<b>Wrong type:</b> {escape(field.type_problem)}"))
    if not field.in_file:
        parts.append(
            f"<p><b>Not in config.json.</b> The config object still has it: <code>config.{escape(field.name)}</code> is "
            f"<code>{escape(value_text(field.value, 400))}</code>, the class default, unless you pass it to from_pretrained.</p>"
        )
        return "".join(parts)
    has_default = field.has_default and not field.children
    verdict = "changed" if field.changed else "same"
    if not isinstance(field.value, (dict, list)):
        line = f"<b>Value:</b> <code>{escape(json.dumps(field.value, ensure_ascii=False))}</code>"
        if has_default:
            line += f" &nbsp;·&nbsp; <b>Default:</b> <code>{escape(value_text(field.default, 400))}</code> ({verdict})"
        parts.append(f"<p>{line}</p>")
    else:
        text = json.dumps(field.value, indent=2, ensure_ascii=False)
        parts.append(f"<p><b>Value</b></p><pre>{escape(text[:4000])}</pre>")
        if has_default:
            default = json.dumps(field.default, indent=2, ensure_ascii=False)
            parts.append(f"<p><b>Default</b> ({verdict})</p><pre>{escape(default[:2000])}</pre>")
    return "".join(parts)


__all__ = ["FieldsPage", "field_html"]
