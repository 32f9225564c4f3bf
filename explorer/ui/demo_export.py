"""The Demo tab's export page: "Copy as Python" (a script that reproduces the last run) and "Export JSON".

It keeps the last finished run: the task, the load request, the form's values, the result and
whether the checkpoint's own code was allowed when it ran (the script trusts it only then).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.tasks.base import TaskInputError, TaskResult
from explorer.tasks.session import LoadRequest


@dataclass(frozen=True)
class FinishedRun:
    task_id: str
    request: LoadRequest
    values: dict
    result: TaskResult
    code_allowed: bool  # the user's consent to the checkpoint's code, as it stood for this run
    adapter: str = "on"  # an adapter's run: "on", "off" or "compare" (the script does the same)


class ScriptDialog(QDialog):
    def __init__(self, code: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Copy as Python")
        self.resize(760, 560)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("This script reproduces the run on its own (copied to the clipboard):"))
        self.editor = QPlainTextEdit(code)
        self.editor.setReadOnly(True)
        self.editor.setFont(QFont("monospace"))
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.editor)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        save = buttons.addButton("Save…", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self._copy)
        save.clicked.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._code = code

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self._code)

    def _save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save script", "run_model.py", "Python (*.py)")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(self._code)


class ExportPage(QWidget):
    failed = Signal(str)
    """Emitted with a message when a script cannot be written or a file cannot be saved."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._last_run: FinishedRun | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.script_button = QPushButton("Copy as Python")
        self.script_button.setToolTip("A standalone script that reproduces the last run and prints the same result")
        self.script_button.clicked.connect(self.show_script)
        self.export_button = QPushButton("Export JSON…")
        self.export_button.clicked.connect(self._choose_export_file)
        row.addWidget(self.script_button)
        row.addWidget(self.export_button)
        row.addStretch(1)
        self.set_last_run(None)

    def set_last_run(self, run: FinishedRun | None) -> None:
        """The run to export (None while a run goes on: the buttons wait for its end)."""
        if run is not None:
            self._last_run = run
        for button in (self.script_button, self.export_button):
            button.setEnabled(run is not None)

    def script(self) -> str | None:
        """The last run as a standalone script; TaskInputError when a value cannot be written in Python."""
        if self._last_run is None:
            return None
        from explorer.tasks.script import python_script

        run = self._last_run
        return python_script(run.task_id, run.request, run.values, trust_remote_code=run.code_allowed, adapter=run.adapter)

    def show_script(self) -> None:
        try:
            code = self.script()
        except TaskInputError as error:  # a value no Python literal can hold: said, not raised into Qt
            self.failed.emit(str(error))
            return
        if code is None:
            return
        QGuiApplication.clipboard().setText(code)
        ScriptDialog(code, self).exec()

    def export_json(self, path: str) -> None:
        from explorer.tasks.script import result_json

        if self._last_run is None:
            return
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(result_json(self._last_run.result))

    def _choose_export_file(self) -> None:
        if self._last_run is None:
            return
        name = f"{self._last_run.task_id}-{os.path.basename(self._last_run.request.path.rstrip('/'))}.json"
        path, _ = QFileDialog.getSaveFileName(self, "Export result", name, "JSON (*.json)")
        if path:
            try:
                self.export_json(path)
            except OSError as error:
                self.failed.emit(f"The result could not be saved: {error.strerror or error}")


__all__ = ["ExportPage", "FinishedRun", "ScriptDialog"]
