"""The Demo tab: pick a device and a task, fill the form, run the head, see the result.

Thin by design: devices, the loaded model, the tasks and "copy as Python" live in
``explorer.tasks``. Every model job (load, run, unload) goes through one ``ModelSession``
(one model, one job at a time) in a ``JobRunner`` thread; a new job cancels the running one,
whose late signals are ignored. Nothing heavy happens until the tab is first shown.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.jobs import Progress
from explorer.tasks.base import Partial, TaskInputError, TaskSpec, get_task
from explorer.tasks.devices import DTYPE_CHOICES, DeviceInfo
from explorer.tasks.heads import CheckpointFacts, TaskChoice, checkpoint_facts, mismatch_warning, task_choices
from explorer.tasks.session import (
    NEEDS_CONSENT,
    LoadRequest,
    ModelSession,
    has_tokenizer_files,
    parse_config_overrides,
    remote_code_allowed,
)
from explorer.ui.demo_form import TaskForm
from explorer.ui.demo_results import ResultView, create_view
from explorer.ui.tab import CheckpointTab
from explorer.ui.workers import JobRunner

SHUTDOWN_BUDGET_SECONDS = 1.8


class ErrorPanel(QFrame):
    """A message the user can act on, with the technical details one click away."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("demo_error")
        self.setStyleSheet("#demo_error { background: #fdecea; border: 1px solid #e0a0a0; border-radius: 4px; }")
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("color: #8a1f11;")
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
        self.hide()

    def show_error(self, message: str, details: str = "") -> None:
        self.message.setText(message)
        self.details.setPlainText(details)
        self.toggle.setVisible(bool(details))
        self.toggle.setChecked(False)
        self.show()


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
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(code))
        save.clicked.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._code = code

    def _save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save script", "run_model.py", "Python (*.py)")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(self._code)


class DemoTab(CheckpointTab):
    status_changed = Signal(str)
    """Emitted with what is loaded where and the memory it takes (for the status bar)."""
    devices_ready = Signal()
    """Emitted when the device list has been read (first time the tab is shown)."""
    run_finished = Signal(object)
    """Emitted with the result dict of a finished run."""
    run_failed = Signal(str, str)
    """Emitted with (message, details) when a load or run failed."""
    job_stopped = Signal()
    """Emitted when the current model job ended, whatever the outcome."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = ModelSession()
        self._checkpoint = None
        self._facts = CheckpointFacts()
        self._choices: list[TaskChoice] = []
        self._checkpoint_warnings: list[str] = []
        self._devices: list[DeviceInfo] | None = None
        self._activated = False
        self._needs_refresh = True
        self._runners: set[JobRunner] = set()
        self._current: JobRunner | None = None
        self._current_kind = ""
        self._spec: TaskSpec | None = None
        self._form: TaskForm | None = None
        self._view: ResultView | None = None
        self._last_run: dict[str, Any] | None = None
        self._device_runner: JobRunner | None = None
        self._shut_down = False
        self._build()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        device_row = QHBoxLayout()
        device_row.addWidget(QLabel("Device"))
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("device_combo")
        self.device_combo.setMinimumWidth(240)
        self.device_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device_combo.addItem("cpu · detecting devices…", "cpu")
        self.device_combo.currentIndexChanged.connect(self._update_dtypes)
        device_row.addWidget(self.device_combo)
        device_row.addWidget(QLabel("dtype"))
        self.dtype_combo = QComboBox()
        self.dtype_combo.setObjectName("dtype_combo")
        for name in DTYPE_CHOICES:
            self.dtype_combo.addItem(name, name)
        device_row.addWidget(self.dtype_combo)
        self.spread_check = QCheckBox("Spread over devices")
        self.spread_check.setToolTip("device_map='auto': accelerate places layers over every GPU and the CPU, for a model larger than one device")
        self.spread_check.toggled.connect(lambda spread: self.device_combo.setEnabled(not spread))
        device_row.addWidget(self.spread_check)
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Load the model for the chosen task now (Run also loads it when needed)")
        self.load_button.clicked.connect(self.load_model)
        self.unload_button = QPushButton("Unload")
        self.unload_button.setToolTip("Free the memory the model takes")
        self.unload_button.clicked.connect(self.unload_model)
        self.unload_button.setEnabled(False)
        device_row.addWidget(self.load_button)
        device_row.addWidget(self.unload_button)
        device_row.addStretch(1)
        outer.addLayout(device_row)
        self._build_load_options(outer)

        self.loaded_label = QLabel("No model loaded")
        self.loaded_label.setObjectName("loaded_label")
        self.loaded_label.setStyleSheet("color: palette(mid);")
        outer.addWidget(self.loaded_label)

        task_row = QHBoxLayout()
        task_row.addWidget(QLabel("Task"))
        self.task_combo = QComboBox()
        self.task_combo.setObjectName("task_combo")
        self.task_combo.setMinimumWidth(300)
        self.task_combo.currentIndexChanged.connect(self._on_task_chosen)
        task_row.addWidget(self.task_combo)
        task_row.addStretch(1)
        outer.addLayout(task_row)
        self.task_warning = QLabel()
        self.task_warning.setObjectName("task_warning")
        self.task_warning.setWordWrap(True)
        self.task_warning.setStyleSheet("background: #fff4d6; border: 1px solid #e6c875; border-radius: 4px; padding: 4px; color: #5a4500;")
        self.task_warning.hide()
        outer.addWidget(self.task_warning)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QFrame.Shape.NoFrame)
        # The form follows the pane's width; only a long form scrolls, and only vertically.
        self.form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_layout.addWidget(self.form_area, 1)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("run_button")
        self.run_button.setDefault(True)
        self.run_button.setStyleSheet("font-weight: bold; padding: 4px 18px;")
        self.run_button.clicked.connect(self.run_task)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        left_layout.addLayout(buttons)
        export_row = QHBoxLayout()
        self.script_button = QPushButton("Copy as Python")
        self.script_button.setToolTip("A standalone script that reproduces the last run and prints the same result")
        self.script_button.clicked.connect(self.show_script)
        self.script_button.setEnabled(False)
        self.export_button = QPushButton("Export JSON…")
        self.export_button.clicked.connect(self._choose_export_file)
        self.export_button.setEnabled(False)
        export_row.addWidget(self.script_button)
        export_row.addWidget(self.export_button)
        export_row.addStretch(1)
        left_layout.addLayout(export_row)
        splitter.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("demo_progress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.stop)
        progress_row.addWidget(self.progress)
        progress_row.addWidget(self.progress_label, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        self.progress_box.hide()
        right_layout.addWidget(self.progress_box)
        self.error_panel = ErrorPanel()
        right_layout.addWidget(self.error_panel)
        self.notices = QLabel()
        self.notices.setObjectName("demo_notices")
        self.notices.setWordWrap(True)
        self.notices.setStyleSheet("background: #fff4d6; border: 1px solid #e6c875; border-radius: 4px; padding: 4px; color: #5a4500;")
        self.notices.hide()
        right_layout.addWidget(self.notices)
        self.result_holder = QVBoxLayout()
        self.placeholder = QLabel("Choose a checkpoint in the list, then a task, and press Run.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(mid);")
        self.result_holder.addWidget(self.placeholder, 1)
        right_layout.addLayout(self.result_holder, 1)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([380, 620])
        outer.addWidget(splitter, 1)
        self._set_controls_enabled(False)

    def _build_load_options(self, outer: QVBoxLayout) -> None:
        """Config overrides and ignore_mismatched_sizes for from_pretrained, folded away until wanted."""
        self.load_options_toggle = QToolButton()
        self.load_options_toggle.setObjectName("load_options_toggle")
        self.load_options_toggle.setText("Load options")
        self.load_options_toggle.setCheckable(True)
        self.load_options_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.load_options_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.load_options_toggle.setAutoRaise(True)
        self.load_options_toggle.setToolTip("Change config values when loading, as from_pretrained(path, num_labels=10)")
        outer.addWidget(self.load_options_toggle)
        self.load_options_box = QWidget()
        self.load_options_box.setObjectName("load_options_box")
        box = QVBoxLayout(self.load_options_box)
        box.setContentsMargins(18, 0, 0, 0)
        row = QHBoxLayout()
        label = QLabel("Config overrides")
        label.setToolTip("One KEY=VALUE per line; VALUE is JSON (10, true, \"text\", [1, 2]) or else plain text")
        row.addWidget(label, 0, Qt.AlignmentFlag.AlignTop)
        self.config_overrides_edit = QPlainTextEdit()
        self.config_overrides_edit.setObjectName("config_overrides_edit")
        self.config_overrides_edit.setPlaceholderText("num_labels=10   (one KEY=VALUE per line, passed to from_pretrained)")
        self.config_overrides_edit.setMaximumHeight(54)
        self.config_overrides_edit.setToolTip(label.toolTip())
        row.addWidget(self.config_overrides_edit, 1)
        self.ignore_mismatched_check = QCheckBox("Ignore mismatched sizes")
        self.ignore_mismatched_check.setObjectName("ignore_mismatched_check")
        self.ignore_mismatched_check.setToolTip(
            "ignore_mismatched_sizes=True: saved weights whose shape differs from the model's (a classifier saved for "
            "another num_labels) start afresh with random values instead of failing the load"
        )
        row.addWidget(self.ignore_mismatched_check, 0, Qt.AlignmentFlag.AlignTop)
        box.addLayout(row)
        self.load_options_hint = QLabel()
        self.load_options_hint.setObjectName("load_options_hint")
        self.load_options_hint.setWordWrap(True)
        self.load_options_hint.hide()
        box.addWidget(self.load_options_hint)
        self.load_options_box.hide()
        outer.addWidget(self.load_options_box)
        self.load_options_toggle.toggled.connect(self._show_load_options)
        self.config_overrides_edit.textChanged.connect(self._update_load_options_hint)
        self.ignore_mismatched_check.toggled.connect(self._update_load_options_hint)

    def _show_load_options(self, shown: bool) -> None:
        self.load_options_box.setVisible(shown)
        self.load_options_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def load_options(self) -> tuple[tuple[tuple[str, Any], ...], bool]:
        """(config overrides, ignore mismatched sizes) from the Load options; TaskInputError for a bad line."""
        return parse_config_overrides(self.config_overrides_edit.toPlainText()), self.ignore_mismatched_check.isChecked()

    def _update_load_options_hint(self) -> None:
        error_style = "color: #8a1f11;"
        warning_style = "background: #fff4d6; border: 1px solid #e6c875; border-radius: 4px; padding: 4px; color: #5a4500;"
        try:
            overrides, ignore = self.load_options()
        except TaskInputError as error:
            self._set_load_options_hint(str(error), error_style)
            self.load_options_toggle.setText("Load options (check the overrides)")
            return
        count = len(overrides) + (1 if ignore else 0)
        self.load_options_toggle.setText(f"Load options ({count} set)" if count else "Load options")
        auto_class = self._spec.auto_class if self._spec else None
        warning = mismatch_warning(self._facts.config, dict(overrides), auto_class, list(self._checkpoint.architectures or []) if self._checkpoint else None)
        if warning and ignore:
            self._set_load_options_hint("⚠ " + warning.split(". Those")[0] + ": those weights will start afresh (ignore_mismatched_sizes=True).", warning_style)
        elif warning:
            self._set_load_options_hint("⚠ " + warning, warning_style)
        else:
            self._set_load_options_hint("", "")

    def _set_load_options_hint(self, text: str, style: str) -> None:
        self.load_options_hint.setText(text)
        self.load_options_hint.setStyleSheet(style)
        self.load_options_hint.setVisible(bool(text))
        if text and not self.load_options_toggle.isChecked():
            self.load_options_toggle.setChecked(True)

    # ------------------------------------------------------------------ public API

    def set_checkpoint(self, ckpt) -> None:
        if ckpt is None or self._checkpoint is None or ckpt.path != self._checkpoint.path:
            # Overrides describe one checkpoint (num_labels of its head); another starts clean.
            self.config_overrides_edit.blockSignals(True)
            self.config_overrides_edit.clear()
            self.config_overrides_edit.blockSignals(False)
            self.ignore_mismatched_check.setChecked(False)
        self._checkpoint = ckpt
        self._needs_refresh = True
        if self._activated and self.isVisible():
            self._refresh_for_checkpoint()

    def activate(self) -> None:
        """The tab is shown: read devices once, then fit the task list to the checkpoint."""
        if not self._activated:
            self._activated = True
            self._detect_devices()
        if self._needs_refresh:
            self._refresh_for_checkpoint()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.activate()

    def current_task(self) -> TaskSpec | None:
        return self._spec

    def form(self) -> TaskForm | None:
        return self._form

    def result_view(self) -> ResultView | None:
        return self._view

    def select_task(self, task_id: str) -> None:
        for index in range(self.task_combo.count()):
            if self.task_combo.itemData(index) == task_id:
                self.task_combo.setCurrentIndex(index)
                return
        raise KeyError(task_id)

    def request(self, auto_class: str | None) -> LoadRequest | None:
        """The load settings of the controls; raises TaskInputError when a config override is malformed."""
        if self._checkpoint is None:
            return None
        overrides, ignore = self.load_options()
        return LoadRequest(
            path=self._checkpoint.path,
            auto_class=auto_class,
            device=self.device_combo.currentData() or "cpu",
            dtype=self.dtype_combo.currentData() or "auto",
            spread=self.spread_check.isChecked(),
            config_overrides=overrides,
            ignore_mismatched_sizes=ignore,
        )

    def is_busy(self) -> bool:
        """True while devices are being detected, a model loads, or a run goes on."""
        return self._current is not None or self._device_runner is not None

    def shutdown(self, wait_seconds: float = SHUTDOWN_BUDGET_SECONDS) -> bool:
        """Window closing: cancel every job and wait up to ``wait_seconds`` (the threads stop within a step).

        Returns True when every worker thread ended within the budget.
        """
        self._shut_down = True
        deadline = time.monotonic() + wait_seconds
        runners = list(self._runners) + ([self._device_runner] if self._device_runner else [])
        for runner in runners:
            runner.cancel()
        # A worker's thread quits as soon as its job returns (a direct connection), so waiting here
        # needs no event processing.
        return all(runner.wait(max(0, int((deadline - time.monotonic()) * 1000))) for runner in runners)

    # ------------------------------------------------------------------ checkpoint and tasks

    def _refresh_for_checkpoint(self) -> None:
        self._needs_refresh = False
        ckpt = self._checkpoint
        self.task_combo.blockSignals(True)
        self.task_combo.clear()
        if ckpt is None:
            self._facts = CheckpointFacts()
            self._choices = []
            self.task_combo.blockSignals(False)
            self._set_controls_enabled(False)
            self._show_form(None)
            return
        self._facts = checkpoint_facts(ckpt.path)
        self._checkpoint_warnings = []
        if not has_tokenizer_files(ckpt.path):
            self._checkpoint_warnings.append("This checkpoint has no tokenizer files; the demos need one to turn text into ids.")
        if ckpt.needs_remote_code and not remote_code_allowed(ckpt.path):
            self._checkpoint_warnings.append(NEEDS_CONSENT)
        self._choices = task_choices(
            list(ckpt.architectures or []),
            ckpt.model_type,
            list(self._facts.label_names),
            auto_map=self._facts.auto_map,
            code_allowed=remote_code_allowed(ckpt.path) if self._facts.auto_map else False,
        )
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
        previous = self._spec.id if self._spec else None
        ids = [c.task_id for c in ordered]
        keep = previous if previous in ids and next(c for c in ordered if c.task_id == previous).suggested else None
        self.task_combo.setCurrentIndex(ids.index(keep) if keep else 0)
        self._on_task_chosen(self.task_combo.currentIndex())
        self._set_controls_enabled(True)

    def _on_task_chosen(self, index: int) -> None:
        task_id = self.task_combo.itemData(index)
        if task_id is None:
            return
        choice = next((c for c in self._choices if c.task_id == task_id), None)
        warnings = [choice.warning] if choice and choice.warning else []
        warnings += self._checkpoint_warnings
        warning = "\n".join("⚠ " + w for w in warnings)
        self.task_warning.setText(warning)
        self.task_warning.setVisible(bool(warning))
        spec = get_task(task_id)
        if self._spec is None or spec.id != self._spec.id or self._form is None:
            self._show_form(spec)

    def _show_form(self, spec: TaskSpec | None) -> None:
        self._spec = spec
        if spec is None:
            self._form = None
            self.form_area.setWidget(QWidget())
            return
        form = TaskForm(spec)
        if spec.id == "fill-mask":
            mask = self._facts.mask_token or "[MASK]"
            form.add_insert_button("text", f"Insert {mask}", mask)
        if "use_chat_template" in form.editors and not self._facts.has_chat_template:
            box = form.editors["use_chat_template"]
            box.setEnabled(False)
            box.setToolTip("This tokenizer has no chat template: the prompt is used as it is")
        self._form = form
        self.form_area.setWidget(form)
        self._update_load_options_hint()

    def _set_controls_enabled(self, enabled: bool) -> None:
        for widget in (self.run_button, self.load_button, self.task_combo):
            widget.setEnabled(enabled)

    # ------------------------------------------------------------------ devices

    def _detect_devices(self) -> None:
        from explorer.tasks.devices import list_devices

        def job(cancel):
            yield Progress(0, None, "Detecting devices")
            return list_devices()

        runner = JobRunner(job, self)
        runner.finished.connect(self._devices_found)
        runner.failed.connect(lambda message, details: self.error_panel.show_error(f"Devices could not be listed: {message}", details))
        runner.stopped.connect(lambda: setattr(self, "_device_runner", None))
        self._device_runner = runner
        runner.start()

    def _devices_found(self, devices: list[DeviceInfo]) -> None:
        from explorer.tasks.devices import spread_available

        self._devices = devices
        current = self.device_combo.currentData()
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for device in devices:
            self.device_combo.addItem(device.label, device.id)
        ids = [d.id for d in devices]
        self.device_combo.setCurrentIndex(ids.index(current) if current in ids else 0)
        self.device_combo.blockSignals(False)
        available, reason = spread_available(devices)
        self.spread_check.setEnabled(available)
        self.spread_check.setToolTip(f"device_map='auto' — {reason}")
        self._update_dtypes()
        self.devices_ready.emit()

    def _update_dtypes(self) -> None:
        device = next((d for d in self._devices or [] if d.id == self.device_combo.currentData()), None)
        model = self.dtype_combo.model()
        for index in range(self.dtype_combo.count()):
            name = self.dtype_combo.itemData(index)
            option = device.dtype(name) if device else None
            enabled = option.supported if option else True
            if isinstance(model, QStandardItemModel):
                model.item(index).setEnabled(enabled)
            self.dtype_combo.setItemData(index, (option.reason if option else "") or "", Qt.ItemDataRole.ToolTipRole)
        if isinstance(model, QStandardItemModel) and not model.item(self.dtype_combo.currentIndex()).isEnabled():
            self.dtype_combo.setCurrentIndex(0)

    # ------------------------------------------------------------------ model jobs

    def _start(self, kind: str, factory: Callable, on_yield: Callable[[Any], None] | None = None, on_done: Callable[[Any], None] | None = None) -> None:
        if self._shut_down:
            return
        if self._current is not None:
            self._current.cancel()  # the new job waits in the session until the old one has stopped
        runner = JobRunner(factory, self)
        self._runners.add(runner)
        self._current, self._current_kind = runner, kind

        def mine() -> bool:
            return runner is self._current

        runner.progressed.connect(lambda p: self._on_progress(p) if mine() else None)
        if on_yield is not None:
            runner.yielded.connect(lambda item: on_yield(item) if mine() else None)
        runner.finished.connect(lambda value: self._on_finished(kind, value, on_done) if mine() else None)
        runner.failed.connect(lambda message, details: self._on_failed(message, details) if mine() else None)
        runner.cancelled.connect(lambda: self._on_cancelled(kind) if mine() else None)
        runner.stopped.connect(lambda: self._on_stopped(runner))
        self.error_panel.hide()
        self.progress_box.show()
        self.progress.setRange(0, 0)
        self.progress_label.setText("Starting…")
        self.stop_button.setEnabled(True)
        runner.start()

    def _on_progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        else:
            self.progress.setRange(0, 0)
        self.progress_label.setText(progress.message)

    def _on_finished(self, kind: str, value: Any, on_done: Callable[[Any], None] | None) -> None:
        if on_done is not None:
            on_done(value)
        self._update_status()

    def _on_failed(self, message: str, details: str) -> None:
        self.error_panel.show_error(message, details)
        self._update_status()
        self.run_failed.emit(message, details)

    def _on_cancelled(self, kind: str) -> None:
        self.progress_label.setText("Stopped")
        if kind == "run" and self._view is not None:
            self._show_notices(["Stopped before the end; what is shown is what was computed so far."])

    def _on_stopped(self, runner: JobRunner) -> None:
        self._runners.discard(runner)
        runner.deleteLater()
        if runner is self._current:
            self._current = None
            self.progress_box.hide()
            self.stop_button.setEnabled(False)
            self.job_stopped.emit()

    def _update_status(self) -> None:
        text = self._session.status()
        loaded = self._session.loaded
        if loaded is not None:
            text += f" · loaded in {loaded.load_seconds:.1f} s"
        self.loaded_label.setText(text)
        self.unload_button.setEnabled(loaded is not None)
        self.status_changed.emit(text)

    def load_model(self) -> None:
        if self._spec is None:
            return
        try:
            request = self.request(self._spec.auto_class)
        except TaskInputError as error:
            self.error_panel.show_error(str(error))
            return
        if request is None:
            return
        self._start("load", lambda cancel: self._session.load(request, cancel), on_done=self._loaded)

    def _loaded(self, loaded) -> None:
        self._show_notices(loaded.notices)

    def unload_model(self) -> None:
        self._start("unload", lambda cancel: self._session.unload(cancel))

    def stop(self) -> None:
        if self._current is not None:
            self._current.cancel()
            self.progress_label.setText("Stopping…")

    def run_task(self) -> None:
        if self._spec is None or self._form is None:
            return
        spec, values = self._spec, self._form.values()
        try:
            resolved = spec.resolve(values)
            request = self.request(spec.auto_class)
        except TaskInputError as error:
            self.error_panel.show_error(str(error))
            return
        if request is None:
            self.error_panel.show_error("Choose a checkpoint first.")
            return
        self._show_notices([])
        self._set_view(create_view(spec.result_type))
        self._view.begin(resolved)
        self.script_button.setEnabled(False)
        self.export_button.setEnabled(False)
        run = {"task_id": spec.id, "request": request, "values": values}

        def finished(result: dict) -> None:
            run["result"] = result
            self._last_run = run
            self._view.show_result(result)
            if not spec.streams:
                self._view.layout_.addStretch(0)  # short charts and tables stay at the top
            self._show_notices(result.get("notices", []))
            self.script_button.setEnabled(True)
            self.export_button.setEnabled(True)
            self.run_finished.emit(result)

        self._start("run", lambda cancel: self._session.run(spec.id, request, values, cancel), on_yield=self._on_partial, on_done=finished)

    def _on_partial(self, item: Any) -> None:
        if isinstance(item, Partial) and self._view is not None:
            self._view.show_partial(item)

    def _set_view(self, view: ResultView) -> None:
        while self.result_holder.count():
            old = self.result_holder.takeAt(0).widget()
            if old is not None and old is not self.placeholder:
                old.deleteLater()
            elif old is self.placeholder:
                old.hide()
        self._view = view
        self.result_holder.addWidget(view, 1)

    def _show_notices(self, notices: list[str]) -> None:
        self.notices.setText("\n".join(f"• {n}" for n in notices))
        self.notices.setVisible(bool(notices))

    # ------------------------------------------------------------------ copy as Python, export

    def script_for_last_run(self) -> str | None:
        if self._last_run is None:
            return None
        from explorer.tasks.script import python_script

        run = self._last_run
        return python_script(run["task_id"], run["request"], run["values"], trust_remote_code=remote_code_allowed(run["request"].path))

    def show_script(self) -> None:
        try:
            code = self.script_for_last_run()
        except TaskInputError as error:  # a value no Python literal can hold: said, not raised into Qt
            self.error_panel.show_error(str(error))
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
            handle.write(result_json(self._last_run["result"]))

    def _choose_export_file(self) -> None:
        if self._last_run is None:
            return
        name = f"{self._last_run['task_id']}-{os.path.basename(self._last_run['request'].path.rstrip('/'))}.json"
        path, _ = QFileDialog.getSaveFileName(self, "Export result", name, "JSON (*.json)")
        if path:
            try:
                self.export_json(path)
            except OSError as error:
                self.error_panel.show_error(f"The result could not be saved: {error.strerror or error}")


__all__ = ["DemoTab"]
