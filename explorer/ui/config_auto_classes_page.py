"""Auto classes page of the Config tab: what each Auto class builds, what it does with the saved weights, its docs.

The tab runs the jobs (the weights check, reading documentation); this page shows their results
and asks for the documentation of the selected row with ``doc_wanted``.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHeaderView, QSplitter, QTableView, QTextBrowser, QVBoxLayout, QWidget

from explorer.core.config.model import SOURCE_MAPPING, AutoClassDoc, ConfigReport, ResolutionRow
from explorer.core.head_survey import STATUS_UNCHECKED, HeadCheck
from explorer.ui.config_common import colored, doc_markup, one_line_rows, paragraph, selectable_label
from explorer.ui.config_resolution_model import HEADERS, WEIGHTS_COLUMN, WEIGHTS_ROLES, ResolutionModel

KEYS_SHOWN = 24  # per list in the detail line; the rest is counted

DocKey = tuple[str, str | None, str]  # (Auto class, class it builds, where that class comes from)


def doc_key(row: ResolutionRow) -> DocKey:
    # Without model_type nothing resolves, but the class it would build is still worth reading about.
    return row.auto_class, row.shown_class, row.source or SOURCE_MAPPING


def _listed(keys: list[str]) -> str:
    shown = ", ".join(f"<code>{escape(k)}</code>" for k in keys[:KEYS_SHOWN])
    return shown + (f" and {len(keys) - KEYS_SHOWN} more" if len(keys) > KEYS_SHOWN else "")


def _key_lines(check: HeadCheck) -> list[str]:
    lines = []
    if check.mismatched:
        shapes = [f"{k} {'×'.join(map(str, a))} → {'×'.join(map(str, b))}" for k, a, b in check.mismatched]
        lines.append("Different shape (saved → built): " + _listed(shapes))
    if check.missing:
        lines.append("New, randomly initialised: " + _listed(check.missing))
    if check.unexpected:
        lines.append("Dropped (saved, not loaded): " + _listed(check.unexpected))
    if check.ignored:
        lines.append("Left out by design (saved, not loaded, not in from_pretrained's report): " + _listed(check.ignored))
    return lines


def doc_html(doc: AutoClassDoc) -> str:
    # The built class first: its docstring says what this checkpoint becomes; the Auto class text is generic.
    parts = []
    if doc.class_name:
        source = " " + colored("muted", f"({escape(doc.doc_source)})") if doc.doc_source else ""
        parts.append(f"<p><b>{escape(doc.class_name)}</b>{source}</p>")
        parts += [f"<p>{doc_markup(p)}</p>" for p in doc.class_doc]
        if not doc.class_doc and not doc.problem:
            parts.append(paragraph("muted", "The class has no docstring."))
    if doc.auto_class:
        parts.append(f"<p><b>{escape(doc.auto_class)}</b> — {escape(doc.head)}. {doc_markup(doc.purpose)}</p>")
    if doc.problem:
        parts.append(paragraph("error", escape(doc.problem)))
    return "".join(parts)


class AutoClassesPage(QWidget):
    doc_wanted = Signal(object)
    """Emitted with a ResolutionRow whose documentation is not read yet (the tab reads it, then calls show_doc)."""
    doc_shown = Signal(object)
    """Emitted with the AutoClassDoc shown for the selected row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._docs: dict[DocKey, AutoClassDoc] = {}
        self._reading: DocKey | None = None  # documentation asked for and not arrived yet
        self._architectures: list[str] = []

        self.saved_head_label = selectable_label(rich=True)
        self.tasks_label = selectable_label(rich=True)
        self.show_unsupported = QCheckBox("Show Auto classes that do not support it")
        self.model = ResolutionModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        one_line_rows(self.table, len(HEADERS))
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        # Weights summaries are short; verdicts go to the stretching Why column and the detail line.
        self.table.horizontalHeader().setSectionResizeMode(WEIGHTS_COLUMN, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().resizeSection(WEIGHTS_COLUMN, 190)
        self.resolution_detail = selectable_label(rich=True)
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
        splitter.addWidget(self.table)
        splitter.addWidget(below)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([500, 260])  # proportions: the table keeps most of the height
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.saved_head_label)
        layout.addWidget(self.tasks_label)
        layout.addWidget(self.show_unsupported)
        layout.addWidget(splitter, 1)

        self.show_unsupported.toggled.connect(self._on_show_unsupported)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.model.dataChanged.connect(self._on_data_changed)

    # ------------------------------------------------------------------ contents

    def clear(self) -> None:
        self.model.set_rows([], [])
        self.saved_head_label.clear()
        self.tasks_label.clear()
        self.resolution_detail.clear()
        self.resolution_doc.clear()
        self.forget_docs()

    def forget_docs(self) -> None:
        """Documentation read for another checkpoint (or before its code was allowed) no longer applies."""
        self._docs = {}
        self._reading = None

    def show_report(self, report: ConfigReport) -> None:
        self._architectures = list(report.architectures)
        self._show_saved_head()
        self.tasks_label.setText(
            "Demos offered: " + (", ".join(f"<b>{escape(t)}</b>" for t in report.tasks) if report.tasks else "none (needs a tokenizer and a supported head)")
        )
        self.model.set_rows(report.resolution, report.architectures)
        self._after_reset()

    def repaint_colours(self) -> None:
        if self.model.rowCount():
            self._show_saved_head()
        self.model.repaint()
        current = self.model.row_at(self.table.currentIndex())
        if current is not None:
            self._show_detail(current)

    def _show_saved_head(self) -> None:
        if self._architectures:
            self.saved_head_label.setText(
                f"Weights saved with <b>{escape(', '.join(self._architectures))}</b> (<code>architectures</code>). "
                "Weights says what <code>from_pretrained</code> does with them for each class, checked against the tensors on disk: "
                + colored("ok", "every weight loads") + ", " + colored("warning", "some are dropped or start random")
                + ", or " + colored("error", "shapes differ") + "."
            )
        else:
            self.saved_head_label.setText("config.json lists no <code>architectures</code>: the head the weights were saved with is unknown.")

    def update_rows(self, rows: list[ResolutionRow]) -> None:
        self.model.update_rows(rows)

    def _on_show_unsupported(self, shown: bool) -> None:
        current = self.model.row_at(self.table.currentIndex())
        self.model.set_show_unsupported(shown)
        self._after_reset(current.auto_class if current is not None else None)

    def _after_reset(self, keep: str | None = None) -> None:
        hidden = self.model.hidden_count()
        self.show_unsupported.setText(
            f"Show the {hidden} Auto classes that do not support it" if hidden else "Show Auto classes that do not support it"
        )
        index = self.model.index_of(keep) if keep else QModelIndex()
        if not index.isValid() and self.model.rowCount():
            index = self.model.index(0, 0)
        if index.isValid():
            self.table.setCurrentIndex(index)
        else:
            self.resolution_detail.clear()
            self.resolution_doc.clear()

    # ------------------------------------------------------------------ the weights check

    def add_check(self, check: HeadCheck) -> None:
        self.model.add_check(check)

    def set_checks(self, checks: dict[str, HeadCheck]) -> None:
        self.model.set_checks(checks)

    def set_checking(self, running: bool, problem: str | None = None) -> None:
        self.model.set_checking(running, problem)

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, _roles=None) -> None:
        current = self.table.currentIndex()
        if current.isValid() and top_left.row() <= current.row() <= bottom_right.row():
            self._show_detail(self.model.row_at(current))

    # ------------------------------------------------------------------ the selected row

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(self.model.row_at(current))

    def _show_detail(self, row: ResolutionRow | None) -> None:
        if row is None:
            self.resolution_detail.clear()
            self.resolution_doc.clear()
            return
        lines = [f"<b>{escape(row.auto_class)}</b> — {escape(row.head)} — builds <b>{escape(row.resolves_to or 'nothing')}</b>."]
        check = self.model.check_for(row)
        if check is not None and check.status != STATUS_UNCHECKED:
            lines.append(colored(WEIGHTS_ROLES[check.status], f"<b>Weights:</b> {escape(check.summary)}."))
            lines += _key_lines(check)
        else:
            if row.note:
                guess = " <i>(guessed from class names; the weights are being checked)</i>" if self.model.checking() else ""
                lines.append(escape(row.note[0].upper() + row.note[1:]) + "." + guess)
            if check is not None:
                lines.append(colored("muted", f"Weights {escape(check.verdict)}."))
        if row.reason:
            lines.append("Why: " + escape(row.reason) + ".")
        self.resolution_detail.setText("<br>".join(lines))
        self._show_doc_of(row)

    def _show_doc_of(self, row: ResolutionRow) -> None:
        """The documentation for the selected row; asks for it the first time."""
        key = doc_key(row)
        if key in self._docs:
            self.resolution_doc.setHtml(doc_html(self._docs[key]))
            return
        if key == self._reading:
            return  # already asked for (the weights check redraws the selected row as results arrive)
        self.resolution_doc.setHtml(paragraph("muted", f"Reading the documentation of {escape(row.resolves_to or row.auto_class)}…"))
        self._reading = key
        self.doc_wanted.emit(row)

    def show_doc(self, key: DocKey, doc: AutoClassDoc) -> None:
        """Documentation has arrived (or could not be read: ``doc.auto_class`` is empty, it is not kept)."""
        if doc.auto_class:
            self._docs[key] = doc
        current = self.model.row_at(self.table.currentIndex())
        if current is not None and doc_key(current) == key:
            self.resolution_doc.setHtml(doc_html(doc))
            self.doc_shown.emit(doc)

    def doc_ended(self, key: DocKey) -> None:
        if self._reading == key:
            self._reading = None


__all__ = ["AutoClassesPage", "DocKey", "doc_html", "doc_key"]
