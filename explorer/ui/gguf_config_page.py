"""The Config tab for a GGUF model: its metadata as explained fields, its chat template, the raw metadata.

A GGUF file carries no config.json: its header's metadata is the config, under llama.cpp's key
names. The fields page groups the keys that matter (model sizes, attention, RoPE, tokenizer, file
and quantisation) with what each means and the config field transformers sets from it; every
other key is under More. The header is read in a job (``gguf_facts.facts_job``).
"""

from __future__ import annotations

import json
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTabWidget, 
    QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.formatting import human_bytes, human_count, json_ready
from explorer.core.gguf_facts import GROUPS, GgufFacts, GgufField
from explorer.ui import palette
from explorer.ui.config_common import colored, read_only_text, selectable_label, with_detail_below
from explorer.ui.gguf_page import GgufPage

PLACEHOLDER = "Select a checkpoint to see its configuration."
FIELD_COLUMNS = ("Field", "Value", "GGUF key", "transformers field")
FieldRole = Qt.ItemDataRole.UserRole + 1


def summary_html(checkpoint: Checkpoint | None, facts: GgufFacts) -> str:
    """One line: what the model is, its size, whether transformers can load it."""
    bits = [f"<b>{escape(display_text(checkpoint.id if checkpoint else facts.name or ''))}</b>", "GGUF"]
    if facts.architecture:
        bits.append(f"architecture <code>{escape(facts.architecture)}</code>")
    if facts.name:
        bits.append(escape(facts.name))
    bits.append(f"{human_count(facts.num_parameters)} parameters in {len(facts.tensors):,} tensors")
    parts = f"{len(facts.files)} files" if len(facts.files) > 1 else "1 file"
    bits.append(f"{human_bytes(facts.file_size)} ({parts})")
    if facts.transformers_loads is True:
        bits.append(colored("ok", "transformers can load this architecture (dequantised)"))
    elif facts.transformers_loads is False:
        bits.append(colored("warning", "transformers cannot load this architecture"))
    return " · ".join(bits)


def field_detail_html(entry: GgufField) -> str:
    parts = [f"<h3 style='margin:0'>{escape(entry.label)}</h3>"]
    key = "found as" if entry.derived else "GGUF key"
    parts.append(f"<p>{key}: <code>{escape(entry.key)}</code></p>")
    if entry.explanation:
        parts.append(f"<p>{escape(entry.explanation)}</p>")
    if entry.transformers_field:
        parts.append(
            f"<p>transformers sets <code>{escape(entry.transformers_field)}</code> from it when it loads the file "
            "(<code>from_pretrained(..., gguf_file=...)</code>).</p>"
        )
    parts.append(f"<p>Value: <code>{escape(entry.shown)}</code></p>")
    return "".join(parts)


def show_problem(banner: QLabel, message: str | None) -> None:
    """The reader's one-line message in an error box (hidden when there is none)."""
    if message is None:
        banner.hide()
        return
    banner.setStyleSheet(
        f"QLabel {{ background: {palette.color('error_bg')}; border: 1px solid {palette.color('error_border')}; "
        "border-radius: 4px; padding: 6px; }"
    )
    banner.setText(colored("error", "The GGUF header could not be read:", bold=True) + f" {escape(message)}")
    banner.show()


class GgufFieldsView(QWidget):
    """The fields grouped, searchable, with the selected field explained below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search fields, keys and values…")
        self.search_edit.setClearButtonEnabled(True)
        self.count = QLabel()
        bar = QHBoxLayout()
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.count)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(FIELD_COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.tree.header()
        header.setStretchLastSection(False)
        # The values get the room; keys and labels keep a readable width and show whole in their tooltips.
        for column, width in ((0, 200), (2, 260)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        splitter, self.detail = with_detail_below(self.tree, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        self._fields: list[GgufField] = []
        self.search_edit.textChanged.connect(self._filter)
        self.tree.currentItemChanged.connect(self._selected)

    def clear(self) -> None:
        self._fields = []
        self.tree.clear()
        self.detail.clear()
        self.count.clear()

    def show_fields(self, fields: list[GgufField]) -> None:
        self._fields = list(fields)
        self.tree.clear()
        self.detail.clear()
        bold = QFont(self.tree.font())
        bold.setBold(True)
        muted = QBrush(palette.qcolor("muted"))
        for group in GROUPS:
            members = [f for f in fields if f.group == group]
            if not members:
                continue
            parent = QTreeWidgetItem(self.tree, [f"{group} ({len(members)})"])
            parent.setFont(0, bold)
            parent.setFirstColumnSpanned(True)
            for entry in members:
                item = QTreeWidgetItem(parent, [entry.label, entry.shown, entry.key, entry.transformers_field or ""])
                item.setData(0, FieldRole, entry)
                item.setToolTip(1, entry.shown)
                item.setToolTip(2, entry.key)
                item.setToolTip(0, entry.explanation or entry.key)
                if entry.derived:
                    item.setForeground(2, muted)
        self.tree.expandAll()
        self.count.setText(f"{sum(1 for f in fields if not f.derived)} keys")
        self.count.setStyleSheet(f"color: {palette.color('muted')}")
        self._filter(self.search_edit.text())

    def repaint_colours(self) -> None:
        muted = QBrush(palette.qcolor("muted"))
        for top in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(top)
            for index in range(group.childCount()):
                item = group.child(index)
                if item.data(0, FieldRole).derived:
                    item.setForeground(2, muted)
        self.count.setStyleSheet(f"color: {palette.color('muted')}")

    def visible_fields(self) -> list[GgufField]:
        """The fields the search leaves shown (tests)."""
        shown = []
        for top in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(top)
            for index in range(group.childCount()):
                item = group.child(index)
                if not item.isHidden() and not group.isHidden():
                    shown.append(item.data(0, FieldRole))
        return shown

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for top in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(top)
            any_shown = False
            for index in range(group.childCount()):
                item = group.child(index)
                entry: GgufField = item.data(0, FieldRole)
                hay = f"{entry.label}\n{entry.key}\n{entry.shown}\n{entry.transformers_field or ''}\n{entry.explanation}".lower()
                item.setHidden(bool(needle) and needle not in hay)
                any_shown = any_shown or not item.isHidden()
            group.setHidden(not any_shown)

    def _selected(self, current: QTreeWidgetItem | None, _previous) -> None:
        entry = current.data(0, FieldRole) if current is not None else None
        if isinstance(entry, GgufField):
            self.detail.setHtml(field_detail_html(entry))


class GgufConfigPage(GgufPage):
    """The Config tab's page for checkpoints of format gguf."""

    TAB_NAME = "Config"
    PLACEHOLDER = PLACEHOLDER

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = selectable_label(rich=True)
        self.title.setObjectName("ggufConfigTitle")
        self.banner = selectable_label(rich=True)
        self.banner.setObjectName("ggufConfigProblem")
        self.banner.hide()
        self.fields = GgufFieldsView()
        self.template_note = selectable_label(rich=True)
        self.template_view = read_only_text()
        template_page = QWidget()
        template_layout = QVBoxLayout(template_page)
        template_layout.setContentsMargins(0, 6, 0, 0)
        template_layout.addWidget(self.template_note)
        template_layout.addWidget(self.template_view, 1)
        self.raw_view = read_only_text()
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.addTab(self.fields, "Fields")
        self.sections.addTab(template_page, "Chat template")
        self.sections.addTab(self.raw_view, "Raw metadata")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.banner)
        layout.addWidget(self.sections, 1)
        palette.notifier().changed.connect(self._scheme_changed)
        self._show_placeholder(PLACEHOLDER)

    def heading(self) -> QLabel:
        return self.title

    def _clear(self, text: str) -> None:
        self._show_placeholder(text)

    # ------------------------------------------------------------------ what it shows

    def _on_failed(self, message: str, _details: str) -> None:
        checkpoint = self.checkpoint()
        self._error = message
        self.title.setText(f"<b>{escape(display_text(checkpoint.id if checkpoint else ''))}</b>")
        self._show_banner()
        self.status_changed.emit(f"Config: {message}")

    def _on_facts(self, facts: GgufFacts) -> None:
        self._facts = facts
        self.status_changed.emit("")
        self.title.setText(summary_html(self.checkpoint(), facts))
        self.fields.show_fields(facts.fields)
        if facts.chat_template is not None:
            lines = facts.chat_template.count("\n") + 1
            self.template_note.setText(
                f"<code>tokenizer.chat_template</code>: {lines:,} lines, {len(facts.chat_template):,} characters "
                "(Jinja; llama.cpp, Ollama and transformers' <code>apply_chat_template</code> format a conversation with it)."
            )
            self.template_view.setPlainText(facts.chat_template)
        else:
            note = "This file has no chat template (<code>tokenizer.chat_template</code>): prompts are plain text."
            if "tokenizer.chat_template" in facts.metadata:
                note = "<code>tokenizer.chat_template</code> is not text; see the raw metadata."
            self.template_note.setText(note)
            self.template_view.clear()
        self.raw_view.setPlainText(json.dumps(json_ready(facts.metadata), indent=2, ensure_ascii=False))

    def _show_placeholder(self, text: str) -> None:
        self.title.setText(f"<i>{escape(text)}</i>" if text else "")
        self.banner.hide()
        self.fields.clear()
        self.template_note.clear()
        self.template_view.clear()
        self.raw_view.clear()

    def _show_banner(self) -> None:
        show_problem(self.banner, self._error)

    def _scheme_changed(self, _scheme: str) -> None:
        """Colours baked into texts and brushes are drawn again; what the user opened or searched stays."""
        self._show_banner()
        if self._facts is not None:
            self.title.setText(summary_html(self.checkpoint(), self._facts))
            self.fields.repaint_colours()


__all__ = ["GgufConfigPage", "GgufFieldsView", "field_detail_html", "show_problem", "summary_html"]
