"""The Demo tab's task page: the task picker (suggested heads first), its warning, the form, Run and Stop.

The options come ready from the tab (``heads.demo_options`` runs in a job): the choices, the
checkpoint's facts, each task's starting values from the checkpoint, the task to open on and the
inputs last run on this checkpoint. This page only shows them: it opens on that task and builds
the chosen task's form from the checkpoint's values, then the remembered inputs over them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from explorer.tasks.base import Sourced, TaskSpec, get_task
from explorer.tasks.heads import CheckpointFacts, DemoOptions, TaskChoice
from explorer.ui.demo_form import TaskForm
from explorer.ui.demo_load import notice_style
from explorer.ui.palette import color


class TaskPage(QWidget):
    task_chosen = Signal()
    """Emitted when another task's form is shown."""
    run_requested = Signal()
    """Emitted when the user pressed Run."""
    stop_requested = Signal()
    """Emitted when the user pressed Stop."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices: list[TaskChoice] = []
        self._facts = CheckpointFacts()
        self._checkpoint_warnings: list[str] = []
        self._defaults: dict[str, dict[str, Sourced]] = {}
        self._remembered: dict[str, dict[str, Any]] = {}
        self._first_task: str | None = None
        self._first_task_reason = ""
        self._spec: TaskSpec | None = None
        self._form: TaskForm | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Task"))
        self.task_combo = QComboBox()
        self.task_combo.setObjectName("task_combo")
        self.task_combo.setMinimumWidth(300)
        self.task_combo.currentIndexChanged.connect(self._on_task_chosen)
        row.addWidget(self.task_combo)
        row.addStretch(1)
        layout.addLayout(row)
        self.task_reason = QLabel()
        self.task_reason.setObjectName("task_reason")
        self.task_reason.setWordWrap(True)
        self.task_reason.hide()
        layout.addWidget(self.task_reason)
        self.task_warning = QLabel()
        self.task_warning.setObjectName("task_warning")
        self.task_warning.setWordWrap(True)
        self.task_warning.hide()
        layout.addWidget(self.task_warning)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QFrame.Shape.NoFrame)
        # The form follows the pane's width; only a long form scrolls, and only vertically.
        self.form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.form_area, 1)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("run_button")
        self.run_button.setDefault(True)
        self.run_button.setStyleSheet("font-weight: bold; padding: 4px 18px;")
        self.run_button.clicked.connect(self.run_requested)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.repaint_colours()

    def repaint_colours(self) -> None:
        self.task_warning.setStyleSheet(notice_style("warning"))
        self.task_reason.setStyleSheet(f"color: {color('muted')};")
        if self._form is not None:
            self._form.repaint_colours()

    def current_task(self) -> TaskSpec | None:
        return self._spec

    def form(self) -> TaskForm | None:
        return self._form

    def set_options(self, options: DemoOptions, same_checkpoint: bool = False) -> None:
        """Fill the picker (suggested tasks first) and open on the checkpoint's task.

        The same checkpoint read again (a consent given, a rescan) keeps the task and what was typed
        (but the settings left at the checkpoint's values, which follow its files). Another checkpoint
        opens on its own task with its remembered inputs; when that is the task already shown and the
        checkpoint has none remembered, the inputs typed so far come along (to compare checkpoints).
        """
        previous_spec, previous_form = self._spec, self._form
        self._choices, self._facts = list(options.choices), options.facts
        self._checkpoint_warnings = list(options.warnings)
        self._defaults = dict(options.defaults)
        self._remembered = {task: dict(values) for task, values in options.remembered.items() if isinstance(values, dict)}
        self._first_task, self._first_task_reason = options.first_task, options.first_task_reason
        self.task_combo.blockSignals(True)
        self.task_combo.clear()
        model = self.task_combo.model()
        ordered = [c for c in self._choices if c.suggested] + [c for c in self._choices if not c.suggested]
        for choice in ordered:
            mark = "★ " if choice.suggested else ""
            suffix = "" if choice.available else " (not available)"
            if choice.available and choice.warning:
                suffix = " ⚠"
            self.task_combo.addItem(f"{mark}{choice.title}{suffix}", choice.task_id)
            index = self.task_combo.count() - 1
            self.task_combo.setItemData(index, choice.warning or "Suggested by the checkpoint's architecture", Qt.ItemDataRole.ToolTipRole)
            if not choice.available and isinstance(model, QStandardItemModel):
                model.item(index).setEnabled(False)
        self.task_combo.blockSignals(False)
        ids = [c.task_id for c in ordered]
        available = {c.task_id for c in ordered if c.available}
        previous = previous_spec.id if previous_spec is not None else None
        carried: dict[str, Any] | None = None
        if same_checkpoint and previous in available:
            opened = previous
            carried = previous_form.values_to_remember() if previous_form is not None else None
        else:
            opened = options.first_task if options.first_task in ids else (ids[0] if ids else None)
            if previous_form is not None and previous_spec is not None and opened == previous and opened not in self._remembered:
                typed = previous_form.values()
                carried = {f.name: typed[f.name] for f in previous_spec.inputs}
        self._form = None  # built anew for these facts and starting values, with what was typed
        self.task_combo.setCurrentIndex(ids.index(opened) if opened in ids else 0)
        self._on_task_chosen(self.task_combo.currentIndex())
        if carried and self._form is not None:
            self._form.restore(carried)

    def remember(self, task_id: str, values: dict[str, Any]) -> None:
        """The inputs of a run, brought back when this task is chosen again for this checkpoint."""
        self._remembered[task_id] = dict(values)

    def clear(self) -> None:
        """No checkpoint: no tasks, no form."""
        self._choices, self._facts, self._checkpoint_warnings = [], CheckpointFacts(), []
        self._defaults, self._remembered, self._first_task, self._first_task_reason = {}, {}, None, ""
        self.task_reason.clear()
        self.task_reason.hide()
        self.task_combo.blockSignals(True)
        self.task_combo.clear()
        self.task_combo.blockSignals(False)
        self.task_warning.hide()
        self._show_form(None)

    def select_task(self, task_id: str) -> None:
        for index in range(self.task_combo.count()):
            if self.task_combo.itemData(index) == task_id:
                self.task_combo.setCurrentIndex(index)
                return
        raise KeyError(task_id)

    def set_controls_enabled(self, enabled: bool) -> None:
        self.run_button.setEnabled(enabled)
        self.task_combo.setEnabled(enabled)

    def _on_task_chosen(self, index: int) -> None:
        task_id = self.task_combo.itemData(index)
        if task_id is None:
            return
        choice = next((c for c in self._choices if c.task_id == task_id), None)
        warnings = ([choice.warning] if choice and choice.warning else []) + self._checkpoint_warnings
        warning = "\n".join("⚠ " + w for w in warnings)
        self.task_warning.setText(warning)
        self.task_warning.setVisible(bool(warning))
        reason = self._first_task_reason if task_id == self._first_task else ""
        self.task_reason.setText(f"Opened on this task: {reason}." if reason else "")
        self.task_reason.setVisible(bool(reason))
        spec = get_task(task_id)
        if self._spec is None or spec.id != self._spec.id or self._form is None:
            self._show_form(spec)

    def _show_form(self, spec: TaskSpec | None) -> None:
        self._spec = spec
        self._form = None if spec is None else TaskForm(spec, self._facts, self._defaults.get(spec.id))
        if self._form is not None and spec is not None and spec.id in self._remembered:
            self._form.restore(self._remembered[spec.id])
        self.form_area.setWidget(self._form if self._form is not None else QWidget())
        if spec is not None:
            self.task_chosen.emit()


__all__ = ["TaskPage"]
