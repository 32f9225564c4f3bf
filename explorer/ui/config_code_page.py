"""Custom code page of the Config tab: the checkpoint's own Python, read here, run only with the user's consent.

The page shows the code and what consent allows, and asks the user; the tab records the answer.
"""

from __future__ import annotations

import json
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QMessageBox, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget

from explorer.core.config.model import CodeScanSection, ConfigReport
from explorer.core.consent import STATE_CHANGED, STATE_GRANTED, CodeFile
from explorer.ui.config_common import colored, paragraph, read_only_text, selectable_label
from explorer.ui.config_highlighter import PythonHighlighter

TITLE = "Custom code"


def _code_scan_html(report: ConfigReport, section: CodeScanSection) -> str:
    """For code that config.json does not point at: what it defines and how to make transformers use it."""
    registration = section.registration
    defined = [
        f"<code>{escape(c.file)}</code> defines <b>{escape(c.name)}</b>"
        + (f" (model_type <code>{escape(c.model_type)}</code>)" if c.model_type else "")
        for c in section.scan.config_classes
    ]
    by_file: dict[str, list[str]] = {}
    for c in section.scan.model_classes:
        by_file.setdefault(c.file, []).append(c.name)
    defined += [f"<code>{escape(f)}</code> defines <b>{escape(', '.join(n))}</b>" for f, n in by_file.items()]
    unknown_type = report.model_type and not report.config_class
    parts = [
        "<p><b>config.json has no auto_map</b>, so transformers does not use this code"
        + (f" and cannot load model_type <code>{escape(report.model_type)}</code>" if unknown_type else "")
        + ". Read without running it: " + "; ".join(defined) + ".</p>"
    ]
    if registration.auto_map:
        parts.append(
            "<p>Either add this to config.json:</p><pre style='white-space: pre-wrap'>"
            + escape(json.dumps({"auto_map": registration.auto_map}, indent=2)) + "</pre>"
        )
    if registration.python:  # names the folder itself, as a Python literal
        parts.append(
            "<p>or register the classes before loading (this runs the code; Copy as Python copies it):</p>"
            "<pre style='white-space: pre-wrap'>" + escape(registration.python) + "</pre>"
        )
    if registration.type_mismatch:
        parts.append(paragraph("error", f"{escape(registration.type_mismatch)}: AutoConfig.register needs them equal."))
    return "".join(parts)


def _headline(report: ConfigReport) -> str:
    code = report.remote_code
    if code.state == STATE_GRANTED:
        return colored("ok", "You allowed this code to run.", bold=True) + " The explorer passes trust_remote_code only for these exact files."
    if code.state == STATE_CHANGED:
        return (
            colored("error", "The code changed since you allowed it", bold=True)
            + " (" + escape(", ".join(code.changed_files) or "upstream references") + "). It will not run until you allow it again."
        )
    if report.code_scan is not None and not code.auto_map:
        return (
            colored("warning", "This folder holds Python files that config.json does not point at.", bold=True)
            + " Nothing from them has been imported, and transformers will not import them either."
        )
    return (
        colored("warning", "This checkpoint ships its own Python code.", bold=True) + " Nothing from it has been imported. "
        "Read it below; resolution, parameters and demos that need it run only after you allow it."
    )


def _status_html(report: ConfigReport) -> str:
    code = report.remote_code
    mapped = "".join(f"<li><code>{escape(k)}</code> → <code>{escape(str(v))}</code></li>" for k, v in code.auto_map.items())
    extra = paragraph("error", f"Missing: {escape(', '.join(code.missing_files))}") if code.missing_files else ""
    extra += "".join(paragraph("error", escape(problem)) for problem in code.problems)
    if report.code_scan is not None:
        extra += _code_scan_html(report, report.code_scan)
    return f"<p>{_headline(report)}</p>" + (f"<p>auto_map:</p><ul>{mapped}</ul>" if mapped else "") + extra


class CustomCodePage(QWidget):
    grant_requested = Signal()
    revoke_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sources: dict[str, str | None] = {}
        self._title = TITLE
        self._report: ConfigReport | None = None
        self.code_status = selectable_label(rich=True)
        self.code_status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.allow_button = QPushButton("Allow this code to run…")
        self.revoke_button = QPushButton("Revoke permission…")
        buttons = QHBoxLayout()
        buttons.addWidget(self.allow_button)
        buttons.addWidget(self.revoke_button)
        buttons.addStretch(1)
        self.code_files = QListWidget()
        self.code_files.setMaximumWidth(260)
        self.code_view = read_only_text()
        self.code_view.setPlaceholderText("This checkpoint has no Python files.")
        self._highlighter = PythonHighlighter(self.code_view.document())
        files_and_code = QSplitter(Qt.Orientation.Horizontal)
        files_and_code.addWidget(self.code_files)
        files_and_code.addWidget(self.code_view)
        files_and_code.setStretchFactor(1, 1)
        # The advice for unregistered code holds JSON and Python: scroll it rather than squeeze the viewer.
        status_scroll = QScrollArea()
        status_scroll.setWidgetResizable(True)
        status_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        status_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        status_scroll.setWidget(self.code_status)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(status_scroll, 1)
        top_layout.addLayout(buttons)
        self.code_splitter = QSplitter(Qt.Orientation.Vertical)
        self.code_splitter.addWidget(top)
        self.code_splitter.addWidget(files_and_code)
        self.code_splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.code_splitter, 1)

        self.allow_button.clicked.connect(self.grant_requested)
        self.revoke_button.clicked.connect(self.revoke_requested)
        self.code_files.currentItemChanged.connect(self._on_file_selected)

    def title(self) -> str:
        """The page's tab title: counts the files when there is code."""
        return self._title

    def clear(self) -> None:
        self._report = None
        self.code_files.clear()
        self.code_view.clear()
        self.code_status.clear()
        self.allow_button.hide()
        self.revoke_button.hide()
        self._title = TITLE

    def repaint_colours(self) -> None:
        self._highlighter.repaint_colours()
        if self._report is not None and self._report.needs_remote_code:
            self.code_status.setText(_status_html(self._report))

    def show_report(self, report: ConfigReport) -> None:
        self.clear()
        self._report = report
        code = report.remote_code
        files = code.files
        if not report.needs_remote_code:
            self.code_status.setText("This checkpoint needs no code of its own: transformers' built-in classes load it.")
            return
        self._title = f"{TITLE} ({len(files)})"
        self.code_status.setText(_status_html(report))
        # Without auto_map nothing loads the code, so allowing it would change nothing.
        pointless = report.code_scan is not None and not code.auto_map
        # Unreadable code, auto_map entries pointing outside, newer records: consent is refused, so no button.
        refused = any("consent records" not in problem for problem in code.problems)
        readable = any(f.path is not None for f in files)
        self.allow_button.setVisible(code.state != STATE_GRANTED and readable and not pointless and not refused)
        self.allow_button.setText("Allow this code again…" if code.state == STATE_CHANGED else "Allow this code to run…")
        self.revoke_button.setVisible(code.state in (STATE_GRANTED, STATE_CHANGED))
        for entry in files:
            self.code_files.addItem(self._file_item(entry))
        self._sources = dict(code.sources)
        # Room for the advice when there is some; otherwise the code viewer takes the page.
        self.code_splitter.setSizes([460, 300] if report.code_scan is not None else [130, 630])
        if files:
            self.code_files.setCurrentRow(0)

    @staticmethod
    def _file_item(entry: CodeFile) -> QListWidgetItem:
        missing = entry.path is None
        suffix = " (not readable)" if entry.problem else " (missing)" if missing else f" — {entry.size:,} bytes"
        item = QListWidgetItem(entry.name + suffix)
        item.setData(Qt.ItemDataRole.UserRole, entry.name)
        item.setToolTip(f"SHA-256 {entry.sha256}" if entry.sha256 else entry.problem or "named in auto_map, not in the folder")
        return item

    def _on_file_selected(self, current: QListWidgetItem | None, _previous) -> None:
        if current is None:
            self.code_view.clear()
            return
        name = current.data(Qt.ItemDataRole.UserRole)
        text = self._sources.get(name)
        self.code_view.setPlainText(text if text is not None else f"# {name} cannot be shown: it is missing or not a regular file")

    # ------------------------------------------------------------------ asking the user

    def confirm_grant(self, checkpoint_name: str, files: list[CodeFile]) -> bool:
        listing = "\n".join(f"  {f.name}  (SHA-256 {(f.sha256 or '')[:12]}…)" for f in files if f.path is not None)
        answer = QMessageBox.question(
            self,
            "Allow this checkpoint's code to run?",
            f"{checkpoint_name} ships Python code that transformers imports when loading it:\n\n{listing}\n\n"
            "It runs with your permissions: it can read and change your files and use the network. Allow it only if "
            "you trust where the checkpoint comes from and have read the code.\n\n"
            "Permission is recorded for these exact files; if any changes, you will be asked again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def confirm_revoke(self, checkpoint_name: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Revoke permission?",
            f"Stop running the code of {checkpoint_name}? Features that need it will ask again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def tell_not_recorded(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)


__all__ = ["CustomCodePage"]
