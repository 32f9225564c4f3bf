"""The Demo tab's results page: the job's progress, an error the user can act on, notices, the result view.

The view of a result is the one its task names (``explorer.ui.demo_views``); this page holds it,
feeds it the run's partial results and the final one, and draws a finished result again when
the colour scheme changes (views bake colours into HTML and plots).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.jobs import Progress
from explorer.tasks.base import Partial, TaskResult, TaskSpec
from explorer.ui.demo_load import notice_style
from explorer.ui.demo_views import ResultView, create_view
from explorer.ui.palette import color

STOPPED_NOTICE = "Stopped before the end; what is shown is what was computed so far."


class ErrorPanel(QFrame):
    """A message the user can act on, with the technical details one click away."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("demo_error")
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.toggle = QToolButton()
        self.toggle.setText("Details")
        self.toggle.setCheckable(True)
        row.addWidget(self.message, 1)
        row.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(row)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFont("monospace"))
        self.details.setMaximumHeight(160)
        self.details.hide()
        layout.addWidget(self.details)
        self.toggle.toggled.connect(self.details.setVisible)
        self.repaint_colours()
        self.hide()

    def repaint_colours(self) -> None:
        self.setStyleSheet(f"#demo_error {{ background: {color('error_bg')}; border: 1px solid {color('error_border')}; border-radius: 4px; }}")
        self.message.setStyleSheet(f"color: {color('error')};")

    def show_error(self, message: str, details: str = "") -> None:
        self.message.setText(message)
        self.details.setPlainText(details)
        self.toggle.setVisible(bool(details))
        self.toggle.setChecked(False)
        self.show()


class ResultsPage(QWidget):
    cancel_requested = Signal()
    """Emitted when the user pressed Cancel beside the progress bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view: ResultView | None = None
        self._make_view = create_view  # the run's view maker (an adapter's comparison shows the task's view twice)
        self._shown: tuple[TaskSpec, dict, TaskResult] | None = None  # what the view shows, to draw it again
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("demo_progress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        progress_row.addWidget(self.progress)
        progress_row.addWidget(self.progress_label, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        self.progress_box.hide()
        layout.addWidget(self.progress_box)
        self.error_panel = ErrorPanel()
        layout.addWidget(self.error_panel)
        self.notices = QLabel()
        self.notices.setObjectName("demo_notices")
        self.notices.setWordWrap(True)
        self.notices.hide()
        layout.addWidget(self.notices)
        self.result_holder = QVBoxLayout()
        self.placeholder = QLabel("Choose a checkpoint in the list, then a task, and press Run.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result_holder.addWidget(self.placeholder, 1)
        layout.addLayout(self.result_holder, 1)
        self.repaint_colours()

    def view(self) -> ResultView | None:
        return self._view

    # ------------------------------------------------------------------ a job's progress

    def job_started(self) -> None:
        self.error_panel.hide()
        self.progress_box.show()
        self.progress.setRange(0, 0)
        self.progress_label.setText("Starting…")

    def show_progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        else:
            self.progress.setRange(0, 0)
        self.progress_label.setText(progress.message)

    def job_ended(self) -> None:
        self.progress_box.hide()

    def show_error(self, message: str, details: str = "") -> None:
        self.error_panel.show_error(message, details)

    def show_notices(self, notices: list[str]) -> None:
        self.notices.setText("\n".join(f"• {n}" for n in notices))
        self.notices.setVisible(bool(notices))

    def show_stopped(self, had_run: bool) -> None:
        """The user stopped the job; a run keeps what it computed so far."""
        self.progress_label.setText("Stopped")
        if had_run and self._view is not None:
            self.show_notices([STOPPED_NOTICE])

    # ------------------------------------------------------------------ the result

    def begin_run(self, spec: TaskSpec, values: dict, make_view=None) -> None:
        """A run of ``spec`` starts: its view (``make_view(spec)``, else the task's own) replaces the last one and clears itself."""
        self.show_notices([])
        self._make_view = make_view or create_view
        self._set_view(self._make_view(spec))
        self._view.begin(values)
        self._shown = None

    def show_partial(self, item: object) -> None:
        if isinstance(item, Partial) and self._view is not None:
            self._view.show_partial(item)

    def show_result(self, spec: TaskSpec, values: dict, result: TaskResult) -> None:
        self._view.show_result(result)
        if not spec.streams:
            self._view.layout_.addStretch(0)  # short charts and tables stay at the top
        self._shown = (spec, values, result)
        self.show_notices(result.notices)

    def _set_view(self, view: ResultView) -> None:
        while self.result_holder.count():
            old = self.result_holder.takeAt(0).widget()
            if old is not None and old is not self.placeholder:
                old.deleteLater()
            elif old is self.placeholder:
                old.hide()
        self._view = view
        self.result_holder.addWidget(view, 1)

    def repaint_colours(self) -> None:
        self.placeholder.setStyleSheet(f"color: {color('muted')};")
        self.notices.setStyleSheet(notice_style("warning"))
        self.error_panel.repaint_colours()
        if self._shown is not None:
            spec, values, result = self._shown
            self._set_view(self._make_view(spec))
            self._view.begin(values)
            self.show_result(spec, values, result)


__all__ = ["ErrorPanel", "ResultsPage"]
