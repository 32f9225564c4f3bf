"""The Config tab: every field explained, derived facts, Auto class resolution, other files,
custom code behind consent, compare, copy.

All facts come from ``explorer.core.config_report`` built in a worker (it imports
transformers); this widget only renders the report dict and wires buttons.
"""

from __future__ import annotations

import json
import re
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.config_report import (
    apply_head_checks,
    auto_class_doc_job,
    compare_configs,
    compare_derived,
    config_report_job,
    exact_note,
)
from explorer.core.consent import STATE_CHANGED, STATE_GRANTED, ConsentStore
from explorer.core.head_survey import STATUS_LOADS, STATUS_MISMATCH, STATUS_PARTIAL, STATUS_UNCHECKED, HeadCheck, survey_heads
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
from explorer.ui.config_highlighter import PythonHighlighter
from explorer.ui.tab import CheckpointTab
from explorer.ui.workers import JobRunner

RELATION_TEXT = {
    "same": "same class as saved",
    "drops-head": "drops the saved head",
    "different-head": "replaces the saved head",
    "new-head": "adds an untrained head",
    "loads-all": "loads every saved weight",
    "mismatch": "shapes differ",
    "unknown": "not known until checked",
}
RELATION_COLORS = {
    "same": "#1b7f3b",
    "drops-head": "#a15c00",
    "different-head": "#a15c00",
    "new-head": "#a15c00",
}
WEIGHTS_COLORS = {
    STATUS_LOADS: "#1b7f3b",
    STATUS_PARTIAL: "#a15c00",
    STATUS_MISMATCH: "#b00020",
    STATUS_UNCHECKED: "#888888",
}
WEIGHTS_COLUMN = 2
WHY_COLUMN = 3
KEYS_SHOWN = 24  # per list in the detail line; the rest is counted
DIFF_BRUSH = QBrush(QColor("#fff4cc"))
ONLY_BRUSH = QBrush(QColor("#e3eefc"))


def _monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _selectable_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _read_only_text(text: str = "", max_height: int | None = None) -> QPlainTextEdit:
    editor = QPlainTextEdit(text)
    editor.setReadOnly(True)
    editor.setFont(_monospace())
    editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    if max_height:
        editor.setMaximumHeight(max_height)
    return editor


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    # One line per row: wrapped rows size themselves against the width the table has while its page
    # is hidden, which makes them absurdly tall. Full text is in tooltips and the detail line below.
    table.setWordWrap(False)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    header = table.horizontalHeader()
    for column in range(len(headers) - 1):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    return table


def _cell(text: str, tooltip: str | None = None, color: str | None = None, bold: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(tooltip or text)
    if color:
        item.setForeground(QBrush(QColor(color)))
    if bold:
        font = item.font()
        font.setBold(True)
        item.setFont(font)
    return item


def _doc_markup(text: str) -> str:
    """Docstring text as HTML: escaped, `code` spans as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


class ConfigTab(CheckpointTab):
    """Shows one checkpoint's configuration; heavy work starts only once the tab is visible."""

    status_changed = Signal(str)
    """Emitted with a short message for the window's status bar."""
    report_shown = Signal(object)
    """Emitted when a report for the current checkpoint has been rendered."""
    compare_shown = Signal()
    """Emitted when a comparison has been rendered."""
    consent_changed = Signal(str)
    """Emitted with the checkpoint path after the user allowed or revoked its code."""
    weights_checked = Signal(object)
    """Emitted with {Auto class: HeadCheck} once every Auto class was checked against the weights."""
    doc_shown = Signal(object)
    """Emitted with the documentation shown for the selected Auto class row."""

    def __init__(self, parent: QWidget | None = None, consent_store: ConsentStore | None = None) -> None:
        super().__init__(parent)
        self._store = consent_store or ConsentStore()
        self._checkpoint: Checkpoint | None = None
        self._checkpoints: list[Checkpoint] = []
        self._report: dict | None = None
        self._dirty = False
        self._runner: JobRunner | None = None
        self._generation = 0
        self._compare_runner: JobRunner | None = None
        self._compare_other: dict | None = None
        self._code_sources: dict[str, str] = {}
        self._resolution_rows: dict[str, dict] = {}
        self._survey_runner: JobRunner | None = None
        self._head_checks: dict[str, HeadCheck] = {}
        self._survey_problem: str | None = None
        self._field_counts = (0, 0, 0, 0)
        self._doc_runner: JobRunner | None = None
        self._doc_key: tuple | None = None
        self._docs: dict[tuple, dict] = {}

        self.title = _selectable_label()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setObjectName("configTitle")
        self.copy_python_button = QPushButton("Copy as Python")
        self.copy_python_button.setToolTip("Copy AutoConfig.from_pretrained(...) code for this checkpoint")
        self.copy_python_button.clicked.connect(self.copy_python)
        self.copy_json_button = QPushButton("Copy JSON")
        self.copy_json_button.setToolTip("Copy config.json as it is on disk")
        self.copy_json_button.clicked.connect(self.copy_json)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.copy_python_button)
        head.addWidget(self.copy_json_button)

        self.hint = _selectable_label()
        self.hint.setObjectName("configHint")
        self.hint.hide()

        self.banner = _selectable_label()
        self.banner.setObjectName("configProblems")
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.setStyleSheet("QLabel#configProblems { background: #fff4e5; border: 1px solid #f0c36d; border-radius: 4px; padding: 6px; }")
        self.banner.hide()

        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.addTab(self._build_fields_page(), "Fields")
        self.sections.addTab(self._build_facts_page(), "Facts")
        self.sections.addTab(self._build_resolution_page(), "Auto classes")
        self.sections.addTab(self._build_files_page(), "Other files")
        self.sections.addTab(self._build_code_page(), "Custom code")
        self.sections.addTab(self._build_compare_page(), "Compare")

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.hint)
        layout.addWidget(self.banner)
        layout.addWidget(self.sections, 1)
        self._show_placeholder("Select a checkpoint to see its configuration.")

    # ------------------------------------------------------------------ pages

    def _build_fields_page(self) -> QWidget:
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search fields, values and docs…")
        self.search_edit.setClearButtonEnabled(True)
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
        expand.clicked.connect(lambda: self.fields_view.expandAll())
        collapse = QPushButton("Collapse")
        collapse.clicked.connect(lambda: self.fields_view.collapseAll())
        self.fields_count = QLabel()
        self.fields_count.setStyleSheet("color: #555")
        self.search_edit.setMinimumWidth(180)
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
        self.fields_view.selectionModel().currentChanged.connect(self._on_field_selected)
        self.search_edit.textChanged.connect(self._on_search)
        self.filter_combo.currentIndexChanged.connect(self._on_filter)
        self.scope_combo.currentIndexChanged.connect(self._on_scope)

        self.detail = QTextBrowser()
        self.detail.setOpenExternalLinks(False)
        self.detail.setPlaceholderText("Select a field to read what it means.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.fields_view)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.fields_count)
        layout.addWidget(splitter, 1)
        return page

    def _build_facts_page(self) -> QWidget:
        self.facts_table = _table(["Fact", "Value", "How it is worked out"])
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        note = QLabel("Worked out from config.json and the safetensors headers; no weights are loaded.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.facts_table, 1)
        return page

    def _build_resolution_page(self) -> QWidget:
        self.saved_head_label = _selectable_label()
        self.saved_head_label.setTextFormat(Qt.TextFormat.RichText)
        self.tasks_label = _selectable_label()
        self.tasks_label.setTextFormat(Qt.TextFormat.RichText)
        self.show_unsupported = QCheckBox("Show Auto classes that do not support it")
        self.show_unsupported.toggled.connect(lambda _: self._fill_resolution())
        self.resolution_table = _table(["Auto class", "Builds", "Weights", "Why"])
        self.resolution_table.currentCellChanged.connect(self._on_resolution_selected)
        # Weights summaries are short; verdicts go to the stretching Why column and the detail line.
        self.resolution_table.horizontalHeader().setSectionResizeMode(WEIGHTS_COLUMN, QHeaderView.ResizeMode.Interactive)
        self.resolution_table.horizontalHeader().resizeSection(WEIGHTS_COLUMN, 190)
        self.resolution_detail = _selectable_label()
        self.resolution_detail.setTextFormat(Qt.TextFormat.RichText)
        self.resolution_detail.setMinimumHeight(48)
        self.resolution_detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # help(AutoModelForQuestionAnswering) in the tutorials: the Auto class's purpose and the built class's docstring.
        self.resolution_doc = QTextBrowser()
        self.resolution_doc.setObjectName("autoClassDoc")
        self.resolution_doc.setReadOnly(True)
        self.resolution_doc.setOpenExternalLinks(False)
        self.resolution_doc.setPlaceholderText("Select an Auto class to read what it and the class it builds are for.")
        below = QWidget()
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.resolution_detail)
        below_layout.addWidget(self.resolution_doc, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.resolution_table)
        splitter.addWidget(below)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([500, 260])  # proportions: the table keeps most of the height
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.saved_head_label)
        layout.addWidget(self.tasks_label)
        layout.addWidget(self.show_unsupported)
        layout.addWidget(splitter, 1)
        return page

    def _show_class_doc(self, entry: dict | None) -> None:
        """Show the documentation for the selected row, reading it in a worker the first time."""
        if entry is None or self._checkpoint is None:
            self.resolution_doc.clear()
            return
        # Without model_type nothing resolves, but the class it would build is still worth reading about.
        key = (entry["auto_class"], entry["resolves_to"] or entry.get("would_build"), entry.get("source") or "mapping")
        if key in self._docs:
            self.resolution_doc.setHtml(self._doc_html(self._docs[key]))
            return
        if key == self._doc_key and self._doc_runner is not None:
            return  # already being read (the weights check redraws the selected row as results arrive)
        self.resolution_doc.setHtml(f"<p style='color:#777'>Reading the documentation of {escape(entry['resolves_to'] or entry['auto_class'])}…</p>")
        if self._doc_runner is not None:
            self._doc_runner.cancel()
        self._doc_key = key
        path = self._checkpoint.path
        runner = JobRunner(lambda token: auto_class_doc_job(path, key[0], key[1], key[2], token), self)
        runner.finished.connect(lambda doc, k=key, g=self._generation: self._on_doc(g, k, doc))
        runner.failed.connect(lambda message, _details, g=self._generation: self._on_doc(g, key, {"problem": message}))
        runner.stopped.connect(lambda r=runner: self._on_doc_stopped(r))
        self._doc_runner = runner
        runner.start()

    def _on_doc(self, generation: int, key: tuple, doc: dict) -> None:
        if generation != self._generation or not isinstance(doc, dict):
            return
        if "auto_class" in doc:
            self._docs[key] = doc
        row = self.resolution_table.currentRow()
        item = self.resolution_table.item(row, 0) if row >= 0 else None
        entry = self._resolution_rows.get(item.text()) if item is not None else None
        if entry is not None and (entry["auto_class"], entry["resolves_to"] or entry.get("would_build"), entry.get("source") or "mapping") == key:
            self.resolution_doc.setHtml(self._doc_html(doc))
            self.doc_shown.emit(doc)

    def _on_doc_stopped(self, runner: JobRunner) -> None:
        if self._doc_runner is runner:
            self._doc_runner = None
            self._doc_key = None
        runner.deleteLater()

    @staticmethod
    def _doc_html(doc: dict) -> str:
        # The built class first: its docstring says what this checkpoint becomes; the Auto class text is generic.
        parts = []
        if doc.get("class_name"):
            source = f" <span style='color:#777'>({escape(doc['doc_source'])})</span>" if doc.get("doc_source") else ""
            parts.append(f"<p><b>{escape(doc['class_name'])}</b>{source}</p>")
            paragraphs = doc.get("class_doc") or []
            parts += [f"<p>{_doc_markup(p)}</p>" for p in paragraphs]
            if not paragraphs and not doc.get("problem"):
                parts.append("<p style='color:#777'>The class has no docstring.</p>")
        if doc.get("auto_class"):
            parts.append(f"<p><b>{escape(doc['auto_class'])}</b> — {escape(doc.get('head') or '')}. {_doc_markup(doc.get('purpose') or '')}</p>")
        if doc.get("problem"):
            parts.append(f"<p style='color:#b00020'>{escape(doc['problem'])}</p>")
        return "".join(parts)

    def _on_resolution_selected(self, row: int, _column: int, _previous_row: int, _previous_column: int) -> None:
        item = self.resolution_table.item(row, 0) if row >= 0 else None
        entry = self._resolution_rows.get(item.text()) if item is not None else None
        if entry is None:
            self.resolution_detail.clear()
            self._show_class_doc(None)
            return
        target = entry["resolves_to"] or "nothing"
        lines = [f"<b>{escape(entry['auto_class'])}</b> — {escape(entry['head'])} — builds <b>{escape(target)}</b>."]
        check = self._head_checks.get(entry["auto_class"]) if entry["resolves_to"] else None
        if check is not None and check.status != STATUS_UNCHECKED:
            color = WEIGHTS_COLORS[check.status]
            lines.append(f"<span style='color:{color}'><b>Weights:</b> {escape(check.summary)}.</span>")
            lines += self._key_lines(check)
        else:
            if entry["note"]:
                guess = " <i>(guessed from class names; the weights are being checked)</i>" if self._survey_runner is not None else ""
                lines.append(escape(entry["note"][0].upper() + entry["note"][1:]) + "." + guess)
            if check is not None:
                lines.append(f"<span style='color:#888'>Weights {escape(check.verdict)}.</span>")
        if entry["reason"]:
            lines.append("Why: " + escape(entry["reason"]) + ".")
        self.resolution_detail.setText("<br>".join(lines))
        self._show_class_doc(entry)

    @staticmethod
    def _key_lines(check: HeadCheck) -> list[str]:
        def listed(keys: list[str]) -> str:
            shown = ", ".join(f"<code>{escape(k)}</code>" for k in keys[:KEYS_SHOWN])
            return shown + (f" and {len(keys) - KEYS_SHOWN} more" if len(keys) > KEYS_SHOWN else "")

        lines = []
        if check.mismatched:
            shapes = [f"{k} {'×'.join(map(str, a))} → {'×'.join(map(str, b))}" for k, a, b in check.mismatched]
            lines.append("Different shape (saved → built): " + listed(shapes))
        if check.missing:
            lines.append("New, randomly initialised: " + listed(check.missing))
        if check.unexpected:
            lines.append("Dropped (saved, not loaded): " + listed(check.unexpected))
        if check.ignored:
            lines.append("Left out by design (saved, not loaded, not in from_pretrained's report): " + listed(check.ignored))
        return lines

    def _build_files_page(self) -> QWidget:
        self.files_scroll = QScrollArea()
        self.files_scroll.setWidgetResizable(True)
        self.files_container = QWidget()
        self.files_layout = QVBoxLayout(self.files_container)
        self.files_layout.addStretch(1)
        self.files_scroll.setWidget(self.files_container)
        return self.files_scroll

    def _build_code_page(self) -> QWidget:
        self.code_status = _selectable_label()
        self.code_status.setTextFormat(Qt.TextFormat.RichText)
        self.allow_button = QPushButton("Allow this code to run…")
        self.allow_button.clicked.connect(self.request_grant)
        self.revoke_button = QPushButton("Revoke permission…")
        self.revoke_button.clicked.connect(self.request_revoke)
        buttons = QHBoxLayout()
        buttons.addWidget(self.allow_button)
        buttons.addWidget(self.revoke_button)
        buttons.addStretch(1)
        self.code_files = QListWidget()
        self.code_files.setMaximumWidth(260)
        self.code_files.currentItemChanged.connect(self._on_code_file_selected)
        self.code_view = _read_only_text()
        self.code_view.setPlaceholderText("This checkpoint has no Python files.")
        self._highlighter = PythonHighlighter(self.code_view.document())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.code_files)
        splitter.addWidget(self.code_view)
        splitter.setStretchFactor(1, 1)
        # The advice for unregistered code holds JSON and Python: scroll it rather than squeeze the viewer.
        status_scroll = QScrollArea()
        status_scroll.setWidgetResizable(True)
        status_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        status_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        status_scroll.setWidget(self.code_status)
        self.code_status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(status_scroll, 1)
        top_layout.addLayout(buttons)
        self.code_splitter = QSplitter(Qt.Orientation.Vertical)
        self.code_splitter.addWidget(top)
        self.code_splitter.addWidget(splitter)
        self.code_splitter.setStretchFactor(1, 1)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.code_splitter, 1)
        return page

    def _build_compare_page(self) -> QWidget:
        self.compare_combo = QComboBox()
        self.compare_combo.setMinimumContentsLength(30)
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.start_compare)
        self.only_differences = QCheckBox("Only differences")
        self.only_differences.setChecked(True)
        self.only_differences.toggled.connect(lambda _: self._fill_compare())
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Compare with:"))
        bar.addWidget(self.compare_combo, 1)
        bar.addWidget(self.compare_button)
        bar.addWidget(self.only_differences)
        self.compare_status = QLabel("Pick another checkpoint to see both configs side by side.")
        self.compare_tree = QTreeWidget()
        self.compare_tree.setColumnCount(3)
        self.compare_tree.setHeaderLabels(["Field", "This checkpoint", "Other"])
        self.compare_tree.setAlternatingRowColors(True)
        compare_header = self.compare_tree.header()
        compare_header.setStretchLastSection(False)
        compare_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        compare_header.resizeSection(0, 300)
        compare_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        compare_header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.compare_status)
        layout.addWidget(self.compare_tree, 1)
        return page

    # ------------------------------------------------------------------ public API

    def set_checkpoint(self, ckpt: Checkpoint | None) -> None:
        if ckpt is not None and self._checkpoint is not None and ckpt.key == self._checkpoint.key and self._report is not None:
            return
        self._checkpoint = ckpt
        self._report = None
        self._compare_other = None
        self._cancel_build()
        self.compare_tree.clear()
        self.compare_status.setText("Pick another checkpoint to see both configs side by side.")
        self._refresh_compare_choices()
        if ckpt is None:
            self._dirty = False
            self._show_placeholder("Select a checkpoint to see its configuration.")
            return
        self._dirty = True
        self.title.setText(f"<b>{escape(display_text(ckpt.id))}</b>")
        if self.isVisible():
            self.activate()

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self._checkpoints = list(checkpoints)
        self._refresh_compare_choices()

    def activate(self) -> None:
        """Build the report for the current checkpoint if not done yet (the window calls this when shown)."""
        if self._dirty and self._checkpoint is not None and self._runner is None:
            self._start_build()

    def current_report(self) -> dict | None:
        return self._report

    def is_busy(self) -> bool:
        """True while a report is being built or its weights checked (the --screenshot mode waits for this)."""
        return (
            self._runner is not None
            or self._survey_runner is not None
            or (self._dirty and self._checkpoint is not None and self.isVisible())
        )

    def head_checks(self) -> dict[str, HeadCheck]:
        """The Auto classes checked so far against the current checkpoint's weights."""
        return dict(self._head_checks)

    def refresh(self) -> None:
        if self._checkpoint is not None:
            self._report = None
            self._dirty = True
            self._cancel_build()
            self.activate()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.activate()

    # ------------------------------------------------------------------ building

    def _cancel_build(self) -> None:
        self._generation += 1
        self._docs = {}
        if self._doc_runner is not None:
            self._doc_runner.cancel()
            self._doc_runner = None
        if self._runner is not None:
            self._runner.cancel()
            self._runner = None
        if self._survey_runner is not None:
            self._survey_runner.cancel()
            self._survey_runner = None
        self._head_checks = {}
        self._survey_problem = None

    def _start_build(self) -> None:
        ckpt = self._checkpoint
        assert ckpt is not None
        self._dirty = False
        self._generation += 1
        generation = self._generation
        path = ckpt.path
        self.title.setText(f"<b>{escape(display_text(ckpt.id))}</b> — reading config…")
        self.status_changed.emit("Config: reading…")
        store = self._store
        runner = JobRunner(lambda token: config_report_job(path, token, store), self)
        runner.finished.connect(lambda report, g=generation: self._on_report(g, report))
        runner.failed.connect(lambda message, details, g=generation: self._on_failed(g, message, details))
        runner.stopped.connect(lambda r=runner: self._on_stopped(r))
        self._runner = runner
        runner.start()

    def _on_stopped(self, runner: JobRunner) -> None:
        if self._runner is runner:
            self._runner = None
        runner.deleteLater()
        # A selection that arrived while an older build was finishing.
        if self._dirty and self.isVisible():
            self.activate()

    def _on_failed(self, generation: int, message: str, details: str) -> None:
        if generation != self._generation:
            return
        self.title.setText(f"<b>{escape(display_text(self._checkpoint.id if self._checkpoint else ''))}</b>")
        self._show_banner([f"The config could not be read: {message}"], [])
        self.status_changed.emit(f"Config: {message}")

    def _on_report(self, generation: int, report: dict) -> None:
        if generation != self._generation or report is None:
            return
        self._report = report
        self._head_checks = {}
        self._survey_problem = None
        self._render(report)
        self.status_changed.emit("")
        self.report_shown.emit(report)
        self._start_survey(generation, report)

    # ------------------------------------------------------------------ checking the weights

    def _start_survey(self, generation: int, report: dict) -> None:
        """Replace the name-based guesses with what from_pretrained would really load, class by class."""
        autos = [row["auto_class"] for row in report.get("resolution") or [] if row["resolves_to"]]
        ckpt = self._checkpoint
        if not autos or ckpt is None:
            return
        runner = JobRunner(lambda token: survey_heads(ckpt, autos, token), self)
        runner.yielded.connect(lambda item, g=generation: self._on_head_checked(g, item))
        runner.finished.connect(lambda checks, g=generation: self._on_survey_finished(g, checks))
        runner.failed.connect(lambda message, _details, g=generation: self._on_survey_failed(g, message))
        runner.stopped.connect(lambda r=runner: self._on_survey_stopped(r))
        self._survey_runner = runner
        self._refresh_weights_cells()  # the guesses now say that they are being checked
        runner.start()

    def _on_head_checked(self, generation: int, item) -> None:
        if generation != self._generation or not isinstance(item, HeadCheck):
            return
        self._head_checks[item.auto_class] = item
        self._refresh_weights_cells(item.auto_class)

    def _refresh_weights_cells(self, auto_class: str | None = None) -> None:
        """Redraw the Weights and Why cells of one Auto class (or all) and the detail line if it is selected."""
        table = self.resolution_table
        for row in range(table.rowCount()):
            cell = table.item(row, 0)
            entry = self._resolution_rows.get(cell.text()) if cell is not None else None
            if entry is None or (auto_class is not None and entry["auto_class"] != auto_class):
                continue
            self._set_weights_cells(row, entry)
            if row == table.currentRow():
                self._on_resolution_selected(row, 0, -1, -1)

    def _on_survey_finished(self, generation: int, checks) -> None:
        if generation != self._generation or not isinstance(checks, dict) or self._report is None:
            return
        self._head_checks = dict(checks)
        self._report = apply_head_checks(self._report, {name: check.to_json() for name, check in checks.items()})
        self._resolution_rows = {r["auto_class"]: r for r in self._report.get("resolution") or []}
        hint = self._report.get("load_hint") or ""
        self.hint.setText(hint)
        self.hint.setVisible(bool(hint))
        self._survey_runner = None
        self._refresh_weights_cells()
        self.weights_checked.emit(dict(checks))

    def _on_survey_failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self._survey_problem = message
        self._survey_runner = None
        self._refresh_weights_cells()
        self.status_changed.emit(f"Config: weights not checked: {message}")

    def _on_survey_stopped(self, runner: JobRunner) -> None:
        if self._survey_runner is runner:
            self._survey_runner = None
            self._refresh_weights_cells()
        runner.deleteLater()

    # ------------------------------------------------------------------ rendering

    def _show_placeholder(self, text: str) -> None:
        self.title.setText(f"<i>{escape(text)}</i>")
        self.hint.hide()
        self.banner.hide()
        self.fields_model.set_fields([])
        self.detail.clear()
        self.facts_table.setRowCount(0)
        self.resolution_table.setRowCount(0)
        self.saved_head_label.clear()
        self.tasks_label.clear()
        self._clear_files()
        self.code_files.clear()
        self.code_view.clear()
        self.code_status.clear()
        self.allow_button.hide()
        self.revoke_button.hide()
        self.sections.setTabText(4, "Custom code")
        self.copy_python_button.setEnabled(False)
        self.copy_json_button.setEnabled(False)

    def _render(self, report: dict) -> None:
        ckpt = self._checkpoint
        name = display_text(ckpt.id) if ckpt else report["path"]
        bits = [f"<b>{escape(name)}</b>"]
        if report.get("model_type"):
            bits.append(f"model_type <code>{escape(report['model_type'])}</code>")
        if report.get("config_class"):
            bits.append(escape(report["config_class"]))
        if report.get("architectures"):
            bits.append("saved as " + escape(", ".join(report["architectures"])))
        if report.get("transformers_version"):
            bits.append(f"transformers {escape(report['transformers_version'])}")
        self.title.setText(" · ".join(bits))
        self.hint.setText(report.get("load_hint") or "")
        self.hint.setVisible(bool(report.get("load_hint")))
        self._show_banner(report.get("problems") or [], report.get("warnings") or [])
        self.copy_python_button.setEnabled(bool(report.get("python")))
        self.copy_json_button.setEnabled(report.get("config_text") is not None)
        self._fill_fields(report)
        self._fill_facts(report)
        self._fill_resolution()
        self._fill_files(report)
        self._fill_code(report)

    def _show_banner(self, problems: list[str], warnings: list[str]) -> None:
        if not problems and not warnings:
            self.banner.hide()
            return
        lines = [f"<b style='color:#b00020'>Problem:</b> {escape(p)}" for p in problems]
        lines += [f"<b style='color:#a15c00'>Warning:</b> {escape(w)}" for w in warnings]
        self.banner.setText("<br>".join(lines))
        self.banner.show()

    def _fill_fields(self, report: dict) -> None:
        fields = report.get("fields") or []
        self.fields_model.set_fields(fields)
        self.detail.clear()
        in_file = [f for f in fields if f.get("in_file", True)]
        self._field_counts = (
            len(in_file),
            sum(1 for f in in_file if f.get("changed")),
            sum(1 for f in in_file if not f.get("known")),
            len(fields) - len(in_file),
        )
        self._show_fields_count(report.get("config_class"))
        if not fields:
            self.detail.setPlainText("No fields to show: " + ("; ".join(report.get("problems") or []) or "config.json is empty."))

    def _on_search(self, text: str) -> None:
        self.fields_proxy.set_text(text)
        if text:
            self.fields_view.expandAll()

    def _on_scope(self, _index: int) -> None:
        self.fields_proxy.set_scope(self.scope_combo.currentData() or SCOPE_FILE)
        self._show_fields_count((self._report or {}).get("config_class"))

    def _show_fields_count(self, config_class: str | None) -> None:
        total, changed, unknown, defaults = self._field_counts
        text = f"{total} fields · {changed} changed · {unknown} unknown"
        tooltip = ""
        if defaults:
            text += f" · {defaults} defaults " + ("shown" if self.fields_proxy.scope() == SCOPE_ALL else "hidden")
            tooltip = (
                f"{defaults} fields of {config_class or 'the config class'} are not in config.json; the config object has them "
                "at their defaults. Choose 'All fields incl. defaults' to see them."
            )
        self.fields_count.setText(text)
        self.fields_count.setToolTip(tooltip)

    def _on_filter(self, _index: int) -> None:
        self.fields_proxy.set_mode(self.filter_combo.currentData() or FILTER_ALL)
        if self.filter_combo.currentData() != FILTER_ALL:
            self.fields_view.expandAll()

    def _on_field_selected(self, current, _previous) -> None:
        if not current.isValid():
            return
        source = self.fields_proxy.mapToSource(current)
        field = self.fields_model.field(source.sibling(source.row(), 0).data(FIELD_ROLE))
        if field is None:
            path = source.sibling(source.row(), 0).data(Qt.ItemDataRole.ToolTipRole) or ""
            self.detail.setPlainText(path)
            return
        self.detail.setHtml(self._field_html(field))

    def _field_html(self, field: dict) -> str:
        parts = [f"<h3 style='margin:0'>{escape(field['path'])}</h3>"]
        if field.get("in_file") is False:
            meta = [f"type: <code>{escape(field['type'])}</code>"]
        else:
            meta = [f"type in config.json: <code>{escape(field['type'])}</code>"]
        if field.get("doc_type"):
            meta.append(f"documented type: <code>{escape(field['doc_type'])}</code>")
        state = status_text(field)
        if state:
            meta.append(f"status: <b>{escape(state)}</b>")
        parts.append("<p>" + " · ".join(meta) + "</p>")
        if field.get("doc"):
            source = field.get("doc_source")
            where = "" if source in (None, "explorer") else f" <span style='color:#777'>(from the {escape(source)} docstring)</span>"
            parts.append(f"<p>{escape(field['doc'])}{where}</p>")
        elif not field.get("known"):
            parts.append(
                "<p><b>Unknown field.</b> The installed transformers' config class does not declare it. It is kept on the "
                "config object, but no built-in code reads it: a typo, a setting for custom code, or a field of a newer version.</p>"
            )
        else:
            parts.append("<p style='color:#777'>No documentation for this field in the installed transformers.</p>")
        if field.get("alias_of"):
            parts.append(f"<p>Alias: transformers reads it as <code>{escape(field['alias_of'])}</code>.</p>")
        if field.get("type_problem"):
            parts.append(f"<p style='color:#b00020'><b>Wrong type:</b> {escape(field['type_problem'])}</p>")
        value = field["value"]
        scalar = not isinstance(value, (dict, list))
        if field.get("in_file") is False:
            parts.append(
                f"<p><b>Not in config.json.</b> The config object still has it: <code>config.{escape(field['name'])}</code> is "
                f"<code>{escape(value_text(value, 400))}</code>, the class default, unless you pass it to from_pretrained.</p>"
            )
            return "".join(parts)
        has_default = field.get("has_default") and not field.get("children")
        if scalar:
            line = f"<b>Value:</b> <code>{escape(json.dumps(value, ensure_ascii=False))}</code>"
            if has_default:
                verdict = "changed" if field.get("changed") else "same"
                line += f" &nbsp;·&nbsp; <b>Default:</b> <code>{escape(value_text(field.get('default'), 400))}</code> ({verdict})"
            parts.append(f"<p>{line}</p>")
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False)
            parts.append(f"<p><b>Value</b></p><pre>{escape(text[:4000])}</pre>")
            if has_default:
                default = json.dumps(field.get("default"), indent=2, ensure_ascii=False)
                parts.append(f"<p><b>Default</b> ({'changed' if field.get('changed') else 'same'})</p><pre>{escape(default[:2000])}</pre>")
        return "".join(parts)

    def _fill_facts(self, report: dict) -> None:
        facts = report.get("derived") or {}
        self.facts_table.setRowCount(0)
        for key, fact in facts.items():
            row = self.facts_table.rowCount()
            self.facts_table.insertRow(row)
            self.facts_table.setItem(row, 0, _cell(fact["label"], bold=True))
            self.facts_table.setItem(row, 1, _cell(fact["text"]))
            self.facts_table.setItem(row, 2, _cell(fact["how"]))
        if not facts:
            self.facts_table.insertRow(0)
            self.facts_table.setItem(0, 0, _cell("No facts"))
            self.facts_table.setItem(0, 2, _cell("config.json is missing or unreadable, and there are no safetensors weights"))

    def _fill_resolution(self) -> None:
        report = self._report
        self.resolution_table.setRowCount(0)
        self.resolution_detail.clear()
        if report is None:
            return
        architectures = report.get("architectures") or []
        if architectures:
            self.saved_head_label.setText(
                f"Weights saved with <b>{escape(', '.join(architectures))}</b> (<code>architectures</code>). "
                "Weights says what <code>from_pretrained</code> does with them for each class, checked against the tensors on disk: "
                "<span style='color:#1b7f3b'>every weight loads</span>, <span style='color:#a15c00'>some are dropped or start random</span>, "
                "or <span style='color:#b00020'>shapes differ</span>."
            )
        else:
            self.saved_head_label.setText("config.json lists no <code>architectures</code>: the head the weights were saved with is unknown.")
        tasks = report.get("tasks") or []
        self.tasks_label.setText(
            "Demos offered: " + (", ".join(f"<b>{escape(t)}</b>" for t in tasks) if tasks else "none (needs a tokenizer and a supported head)")
        )
        rows = report.get("resolution") or []
        self._resolution_rows = {r["auto_class"]: r for r in rows}
        shown = [
            r for r in rows
            if r["resolves_to"] or r["needs_consent"] or r.get("would_build") or self.show_unsupported.isChecked() or "missing" in r["reason"]
        ]
        hidden = len(rows) - len(shown)
        self.show_unsupported.setText(
            f"Show the {hidden} Auto classes that do not support it" if hidden else "Show Auto classes that do not support it"
        )
        for entry in shown:
            row = self.resolution_table.rowCount()
            self.resolution_table.insertRow(row)
            self.resolution_table.setItem(row, 0, _cell(entry["auto_class"], tooltip=entry["head"], bold=True))
            if entry.get("would_build") and not entry["resolves_to"]:
                target = "nothing: no model_type"
            else:
                target = entry["resolves_to"] or ("needs consent" if entry["needs_consent"] else "not supported")
            color = None if entry["resolves_to"] else ("#a15c00" if entry["needs_consent"] else "#888888")
            self.resolution_table.setItem(row, 1, _cell(target, color=color))
            self._set_weights_cells(row, entry)
        if shown:
            self.resolution_table.setCurrentCell(0, 0)

    def _set_weights_cells(self, row: int, entry: dict) -> None:
        """The exact check once it has arrived; until then the guess from class names, marked as one."""
        check = self._head_checks.get(entry["auto_class"]) if entry["resolves_to"] else None
        if check is not None and check.status != STATUS_UNCHECKED:
            weights = _cell(check.summary, tooltip=check.verdict, color=WEIGHTS_COLORS[check.status], bold=check.status == STATUS_LOADS)
            note = exact_note(entry, check.to_json(), (self._report or {}).get("architectures") or [])
            why = _cell(note, tooltip=f"{note}\n\nWhy {check.model_class}: {entry['reason']}")
        else:
            relation = entry.get("relation")
            if check is not None:
                tooltip = f"{check.verdict}; guessed from class names: {entry.get('note') or ''}"
            elif not entry["resolves_to"]:
                tooltip = ""
            elif self._survey_runner is not None:
                tooltip = "Guessed from class names; checking the weights…"
            elif self._survey_problem:
                tooltip = f"Guessed from class names; the weights could not be checked: {self._survey_problem}"
            else:
                tooltip = "Guessed from class names"
            weights = _cell(RELATION_TEXT.get(relation, ""), tooltip=tooltip, color=RELATION_COLORS.get(relation))
            if relation and entry["resolves_to"]:
                font = weights.font()
                font.setItalic(True)
                weights.setFont(font)
            why = _cell(entry["note"] or entry["reason"])
        self.resolution_table.setItem(row, WEIGHTS_COLUMN, weights)
        self.resolution_table.setItem(row, WHY_COLUMN, why)

    def _clear_files(self) -> None:
        while self.files_layout.count() > 1:
            item = self.files_layout.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()

    def _fill_files(self, report: dict) -> None:
        self._clear_files()
        absent = []
        position = 0
        for section in report.get("other_files") or []:
            if not section["present"]:
                absent.append(section["name"])
                continue
            box = QGroupBox(section["name"])
            form = QFormLayout(box)
            if section.get("error"):
                error = _selectable_label(section["error"])
                error.setStyleSheet("color: #b00020")
                form.addRow(error)
            for label, text in section.get("summary") or []:
                form.addRow(f"{label}:", _selectable_label(text))
            if section.get("data") is not None:
                raw = _read_only_text(json.dumps(section["data"], indent=2, ensure_ascii=False), max_height=220)
                raw.hide()
                toggle = QPushButton("Show JSON")
                toggle.setCheckable(True)
                toggle.toggled.connect(lambda on, w=raw, b=toggle: (w.setVisible(on), b.setText("Hide JSON" if on else "Show JSON")))
                toggle_row = QHBoxLayout()
                toggle_row.addWidget(toggle)
                toggle_row.addStretch(1)
                form.addRow(toggle_row)
                form.addRow(raw)
            self.files_layout.insertWidget(position, box)
            position += 1
        for template in report.get("chat_templates") or []:
            box = QGroupBox(f"Chat template — {template['name']} ({template['source']})")
            inner = QVBoxLayout(box)
            viewer = _read_only_text(template["text"], max_height=260)
            lines = template["text"].count("\n") + 1
            viewer.setFixedHeight(min(260, viewer.fontMetrics().lineSpacing() * (lines + 1) + 12))
            inner.addWidget(viewer)
            self.files_layout.insertWidget(position, box)
            position += 1
        if absent:
            note = _selectable_label("Not in this checkpoint: " + ", ".join(absent))
            note.setStyleSheet("color: #777")
            self.files_layout.insertWidget(position, note)

    def _fill_code(self, report: dict) -> None:
        code = report.get("remote_code") or {}
        files = code.get("files") or []
        sources = code.get("sources") or {}
        self.code_files.clear()
        self.code_view.clear()
        state = code.get("state")
        needs = bool(report.get("needs_remote_code"))
        self.sections.setTabText(4, f"Custom code ({len(files)})" if needs else "Custom code")
        if not needs:
            self.code_status.setText("This checkpoint needs no code of its own: transformers' built-in classes load it.")
            self.allow_button.hide()
            self.revoke_button.hide()
            return
        auto_map = code.get("auto_map") or {}
        mapped = "".join(f"<li><code>{escape(k)}</code> → <code>{escape(str(v))}</code></li>" for k, v in auto_map.items())
        if state == STATE_GRANTED:
            headline = "<b style='color:#1b7f3b'>You allowed this code to run.</b> The explorer passes trust_remote_code only for these exact files."
        elif state == STATE_CHANGED:
            headline = (
                "<b style='color:#b00020'>The code changed since you allowed it</b> ("
                + escape(", ".join(code.get("changed_files") or []) or "upstream references")
                + "). It will not run until you allow it again."
            )
        elif report.get("code_scan") and not auto_map:
            headline = (
                "<b style='color:#a15c00'>This folder holds Python files that config.json does not point at.</b> "
                "Nothing from them has been imported, and transformers will not import them either."
            )
        else:
            headline = (
                "<b style='color:#a15c00'>This checkpoint ships its own Python code.</b> Nothing from it has been imported. "
                "Read it below; resolution, parameters and demos that need it run only after you allow it."
            )
        missing = code.get("missing_files") or []
        extra = f"<p style='color:#b00020'>Missing: {escape(', '.join(missing))}</p>" if missing else ""
        blocking = code.get("problems") or []
        extra += "".join(f"<p style='color:#b00020'>{escape(problem)}</p>" for problem in blocking)
        extra += self._code_scan_html(report)
        self.code_status.setText(f"<p>{headline}</p>" + (f"<p>auto_map:</p><ul>{mapped}</ul>" if mapped else "") + extra)
        # Without auto_map nothing loads the code, so allowing it would change nothing.
        pointless = bool(report.get("code_scan")) and not auto_map
        # Unreadable code, auto_map entries pointing outside, newer records: consent is refused, so no button.
        refused = any("consent records" not in problem for problem in blocking)
        self.allow_button.setVisible(state != STATE_GRANTED and any(not f["missing"] for f in files) and not pointless and not refused)
        self.allow_button.setText("Allow this code again…" if state == STATE_CHANGED else "Allow this code to run…")
        self.revoke_button.setVisible(state in (STATE_GRANTED, STATE_CHANGED))
        for entry in files:
            unreadable = entry.get("problem")
            label = entry["name"] + (" (not readable)" if unreadable else " (missing)" if entry["missing"] else f" — {entry['size']:,} bytes")
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, entry["name"])
            item.setToolTip(f"SHA-256 {entry['sha256']}" if entry["sha256"] else unreadable or "named in auto_map, not in the folder")
            self.code_files.addItem(item)
        self._code_sources = sources
        # Room for the advice when there is some; otherwise the code viewer takes the page.
        advice = bool(report.get("code_scan"))
        self.code_splitter.setSizes([460, 300] if advice else [130, 630])
        if files:
            self.code_files.setCurrentRow(0)

    @staticmethod
    def _code_scan_html(report: dict) -> str:
        """For code that config.json does not point at: what it defines and how to make transformers use it."""
        scan = report.get("code_scan")
        if not scan:
            return ""
        registration = scan.get("registration") or {}
        defined = [f"<code>{escape(c['file'])}</code> defines <b>{escape(c['name'])}</b>"
                   + (f" (model_type <code>{escape(c['model_type'])}</code>)" if c.get("model_type") else "")
                   for c in scan.get("config_classes") or []]
        by_file: dict[str, list[str]] = {}
        for c in scan.get("model_classes") or []:
            by_file.setdefault(c["file"], []).append(c["name"])
        defined += [f"<code>{escape(f)}</code> defines <b>{escape(', '.join(n))}</b>" for f, n in by_file.items()]
        parts = [
            "<p><b>config.json has no auto_map</b>, so transformers does not use this code"
            + (f" and cannot load model_type <code>{escape(report['model_type'])}</code>" if report.get("model_type") and not report.get("config_class") else "")
            + ". Read without running it: " + "; ".join(defined) + ".</p>"
        ]
        if registration.get("auto_map"):
            parts.append(
                "<p>Either add this to config.json:</p><pre style='white-space: pre-wrap'>"
                + escape(json.dumps({"auto_map": registration["auto_map"]}, indent=2)) + "</pre>"
            )
        if registration.get("python"):
            code = registration["python"]  # names the folder itself, as a Python literal
            parts.append(
                "<p>or register the classes before loading (this runs the code; Copy as Python copies it):</p>"
                "<pre style='white-space: pre-wrap'>" + escape(code) + "</pre>"
            )
        if registration.get("type_mismatch"):
            parts.append(f"<p style='color:#b00020'>{escape(registration['type_mismatch'])}: AutoConfig.register needs them equal.</p>")
        return "".join(parts)

    def _on_code_file_selected(self, current: QListWidgetItem | None, _previous) -> None:
        if current is None:
            self.code_view.clear()
            return
        name = current.data(Qt.ItemDataRole.UserRole)
        text = self._code_sources.get(name)
        self.code_view.setPlainText(text if text is not None else f"# {name} cannot be shown: it is missing or not a regular file")

    # ------------------------------------------------------------------ consent

    def request_grant(self) -> bool:
        report, ckpt = self._report, self._checkpoint
        if report is None or ckpt is None:
            return False
        files = [f for f in (report.get("remote_code") or {}).get("files") or [] if not f["missing"]]
        listing = "\n".join(f"  {f['name']}  (SHA-256 {f['sha256'][:12]}…)" for f in files)
        answer = QMessageBox.question(
            self,
            "Allow this checkpoint's code to run?",
            f"{display_text(ckpt.id)} ships Python code that transformers imports when loading it:\n\n{listing}\n\n"
            "It runs with your permissions: it can read and change your files and use the network. Allow it only if "
            "you trust where the checkpoint comes from and have read the code.\n\n"
            "Permission is recorded for these exact files; if any changes, you will be asked again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            self._store.grant(ckpt.path)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Permission not recorded", f"The permission could not be saved: {exc}")
            return False
        self.consent_changed.emit(ckpt.path)
        self.refresh()
        return True

    def request_revoke(self) -> bool:
        ckpt = self._checkpoint
        if ckpt is None:
            return False
        answer = QMessageBox.question(
            self,
            "Revoke permission?",
            f"Stop running the code of {display_text(ckpt.id)}? Features that need it will ask again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            self._store.revoke(ckpt.path)
        except OSError as exc:
            QMessageBox.warning(self, "Permission not changed", f"The record could not be saved: {exc}")
            return False
        self.consent_changed.emit(ckpt.path)
        self.refresh()
        return True

    # ------------------------------------------------------------------ copy

    def copy_python(self) -> None:
        if self._report and self._report.get("python"):
            QGuiApplication.clipboard().setText(self._report["python"])
            self.status_changed.emit("Python code copied")

    def copy_json(self) -> None:
        if self._report and self._report.get("config_text") is not None:
            QGuiApplication.clipboard().setText(self._report["config_text"])
            self.status_changed.emit("config.json copied")

    # ------------------------------------------------------------------ compare

    def _refresh_compare_choices(self) -> None:
        current_key = self._checkpoint.key if self._checkpoint else None
        previous = self.compare_combo.currentData()
        self.compare_combo.blockSignals(True)
        self.compare_combo.clear()
        for ckpt in sorted(self._checkpoints, key=lambda c: display_text(c.id).lower()):
            if ckpt.key == current_key:
                continue
            label = display_text(ckpt.id)
            if ckpt.revision:
                label += f" @ {ckpt.revision[:8]}"
            self.compare_combo.addItem(label, ckpt.key)
            self.compare_combo.setItemData(self.compare_combo.count() - 1, display_text(ckpt.path), Qt.ItemDataRole.ToolTipRole)
        if previous is not None:
            index = self.compare_combo.findData(previous)
            if index >= 0:
                self.compare_combo.setCurrentIndex(index)
        self.compare_combo.blockSignals(False)
        self.compare_button.setEnabled(self.compare_combo.count() > 0 and self._checkpoint is not None)

    def start_compare(self) -> None:
        key = self.compare_combo.currentData()
        other = next((c for c in self._checkpoints if c.key == key), None)
        if other is None or self._checkpoint is None:
            return
        if self._compare_runner is not None:
            self._compare_runner.cancel()
        self.compare_status.setText(f"Reading {display_text(other.id)}…")
        store = self._store
        runner = JobRunner(lambda token: config_report_job(other.path, token, store), self)
        runner.finished.connect(lambda report, o=other, r=runner: self._on_compare_report(r, o, report))
        runner.failed.connect(lambda message, _details: self.compare_status.setText(f"Could not read the other config: {message}"))
        runner.stopped.connect(runner.deleteLater)
        self._compare_runner = runner
        runner.start()

    def _on_compare_report(self, runner: JobRunner, other: Checkpoint, report: dict) -> None:
        if runner is not self._compare_runner:
            return
        self._compare_runner = None
        self._compare_other = {"checkpoint": other, "report": report}
        if self._report is None:
            self.compare_status.setText("This checkpoint's config is not read yet; open the Fields page first.")
            return
        self._fill_compare()
        self.compare_shown.emit()

    def _fill_compare(self) -> None:
        self.compare_tree.clear()
        if not self._compare_other or self._report is None:
            return
        other_ckpt: Checkpoint = self._compare_other["checkpoint"]
        other = self._compare_other["report"]
        this_name = display_text(self._checkpoint.id) if self._checkpoint else "This checkpoint"
        self.compare_tree.setHeaderLabels(["Field", this_name, display_text(other_ckpt.id)])
        only_diff = self.only_differences.isChecked()
        field_rows = compare_configs(self._report.get("config"), other.get("config"))
        fact_rows = compare_derived(self._report, other)
        differing = sum(1 for r in field_rows if r["status"] != "same")
        self.compare_status.setText(
            f"{differing} of {len(field_rows)} config values differ."
            + ("" if other.get("config") is not None else " The other checkpoint's config.json could not be read.")
        )
        facts_root = QTreeWidgetItem(["Facts", "", ""])
        fields_root = QTreeWidgetItem(["config.json", "", ""])
        for root in (facts_root, fields_root):
            font = root.font(0)
            font.setBold(True)
            root.setFont(0, font)
        for row in fact_rows:
            if only_diff and row["status"] == "same":
                continue
            facts_root.addChild(self._compare_item(row["label"], row["a"], row["b"], row["status"], plain=True))
        for row in field_rows:
            if only_diff and row["status"] == "same":
                continue
            facts = self._compare_item(row["name"], row["a"], row["b"], row["status"])
            fields_root.addChild(facts)
        self.compare_tree.addTopLevelItem(facts_root)
        self.compare_tree.addTopLevelItem(fields_root)
        facts_root.setExpanded(True)
        fields_root.setExpanded(True)

    @staticmethod
    def _compare_item(name: str, a, b, status: str, plain: bool = False) -> QTreeWidgetItem:
        def shown(value, present: bool) -> str:
            if not present:
                return "—"
            return str(value) if plain else value_text(value)

        item = QTreeWidgetItem([name, shown(a, status != "only-b"), shown(b, status != "only-a")])
        brush = DIFF_BRUSH if status == "differs" else ONLY_BRUSH if status in ("only-a", "only-b") else None
        for column in range(3):
            item.setToolTip(column, item.text(column))
            if brush is not None:
                item.setBackground(column, brush)
        return item


__all__ = ["ConfigTab"]
