"""The Demo tab: pick a device and a task, fill the form, run the head, see the result.

A coordinator of pages: the load page (device, dtype, load options, Load/Unload), the task page
(picker, form, Run/Stop), the results page (progress, errors, the task's own view of its result)
and the export page (copy as Python, JSON). The pages only show and ask; the tab runs the work,
each kind in its own job slot: "devices" (listed once, when the tab is first shown), "facts"
(on selection: the checkpoint's small files and the consent check, which hashes its code) and
"model" (load, run, unload). Every model job goes through one ``ModelSession`` (one model, one
job at a time), so a new job replaces the running one in the slot and waits in the session
until it has stopped. Devices, the loaded model, the tasks and the scripts live in ``explorer.tasks``.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from explorer.core.checkpoint import FORMAT_ADAPTER, FORMAT_TRANSFORMERS
from explorer.core.demo_inputs import remember_inputs
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.tasks.base import TaskInputError, TaskResult, TaskSpec
from explorer.tasks.devices import DeviceInfo, list_devices, spread_available
from explorer.tasks.heads import CheckpointFacts, DemoOptions, demo_options, mismatch_warning
from explorer.tasks.session import LoadRequest, ModelSession, remote_code_allowed
from explorer.ui.demo_compare import CompareView
from explorer.ui.demo_export import ExportPage, FinishedRun
from explorer.ui.demo_form import TaskForm
from explorer.ui.demo_load import LoadPage
from explorer.ui.demo_results import ResultsPage
from explorer.ui.demo_task import TaskPage
from explorer.ui.demo_views import ResultView
from explorer.ui.palette import notifier
from explorer.ui.tab import CheckpointTab
from explorer.ui.workers import JobFactory

SHUTDOWN_BUDGET_SECONDS = 1.8


def _devices_job(cancel: CancelToken) -> Job[list[DeviceInfo]]:
    yield Progress(0, None, "Detecting devices")
    return list_devices()


def _options_job(path: str, model_type: str | None, architectures: list[str], needs_code: bool, cancel: CancelToken) -> Job[DemoOptions]:
    yield Progress(0, None, "Reading the checkpoint's settings")
    return demo_options(path, model_type, architectures, needs_code)


def _format_options_job(checkpoint, checkpoints: list, cancel: CancelToken) -> Job[DemoOptions]:
    """An adapter's or GGUF's options: the base found among the scanned checkpoints, or the GGUF's header read."""
    from explorer.tasks.format_options import format_demo_options

    yield Progress(0, None, "Reading the checkpoint's settings")
    return format_demo_options(checkpoint, checkpoints)


def _remember_job(path: str, task_id: str, values: dict, cancel: CancelToken) -> Job[bool]:
    """Keep a run's inputs for this checkpoint and task (a small atomic write, off the GUI thread).

    The write comes before the first yield: a run started right after replaces this job in its slot,
    and a job is only stopped at a yield, so the write is never skipped.
    """
    kept = remember_inputs(path, task_id, values)
    yield Progress(1, 1, "Inputs kept for next time")
    return kept


def _run_job(
    session: ModelSession, task_id: str, request: LoadRequest, values: dict, adapter: str, cancel: CancelToken
) -> Job[tuple[TaskResult, bool]]:
    """The run (an adapter's: on, off, or both to compare), and whether the checkpoint's code was allowed for it."""
    if adapter == "compare":
        from explorer.tasks.format_loading import compare_job

        result = yield from compare_job(session, task_id, request, values, cancel)
    else:
        result = yield from session.run(task_id, request, values, cancel, adapter_enabled=adapter != "off")
    return result, remote_code_allowed(request.path)


class DemoTab(CheckpointTab):
    devices_ready = Signal()
    """Emitted when the device list has been read (first time the tab is shown)."""
    tasks_ready = Signal()
    """Emitted when the task picker has been filled for the selected checkpoint."""
    run_finished = Signal(object)
    """Emitted with the result of a finished run (the task's TaskResult)."""
    run_failed = Signal(str, str)
    """Emitted with (message, details) when a load or run failed."""
    job_stopped = Signal()
    """Emitted when the current model job ended, whatever the outcome."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = ModelSession()
        self._facts = CheckpointFacts()
        self._options_path: str | None = None  # the checkpoint whose options the task page shows
        self._target = None  # an adapter's or GGUF's LoadTarget (explorer.tasks.format_loading); None for a folder
        self._checkpoints: list = []  # every scanned checkpoint: where an adapter's base is looked for
        self._activated = False
        self._needs_refresh = True
        self._model_job = ""  # "load", "run" or "unload" while one runs
        self._closed = False
        self.options = LoadPage()
        self.task = TaskPage()
        self.results = ResultsPage()
        self.export = ExportPage()
        self._lay_out()
        self.options.load_requested.connect(self.load_model)
        self.options.unload_requested.connect(self.unload_model)
        self.options.options_changed.connect(self._update_load_hint)
        self.task.task_chosen.connect(self._update_load_hint)
        self.task.run_requested.connect(self.run_task)
        self.task.stop_requested.connect(self.stop)
        self.results.cancel_requested.connect(self.stop)
        self.export.failed.connect(self.results.show_error)
        notifier().changed.connect(self._repaint_colours)
        self._set_controls_enabled(False)

    def _lay_out(self) -> None:
        outer = QVBoxLayout(self)
        outer.addWidget(self.options)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.task, 1)
        left_layout.addWidget(self.export)
        splitter.addWidget(left)
        splitter.addWidget(self.results)
        # Half each: a form of twenty decoding settings, each with its source, needs the room as much as the result.
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([500, 500])
        outer.addWidget(splitter, 1)

    def _repaint_colours(self, _scheme: str = "") -> None:
        for page in (self.options, self.task, self.results):
            page.repaint_colours()

    # ------------------------------------------------------------------ the window's protocol

    def set_checkpoint(self, checkpoint) -> None:
        previous = self.checkpoint()
        if checkpoint is None or previous is None or checkpoint.path != previous.path:
            self.options.clear_options()
        super().set_checkpoint(checkpoint)
        self._needs_refresh = True
        if self._activated and self.isVisible():
            self._refresh_for_checkpoint()

    def set_checkpoints(self, checkpoints) -> None:
        """A new scan: an adapter's base may have appeared (or gone), so its options are read again."""
        self._checkpoints = list(checkpoints)
        checkpoint = self.checkpoint()
        if checkpoint is not None and checkpoint.format == FORMAT_ADAPTER:
            self._needs_refresh = True
            if self._activated and self.isVisible():
                self._refresh_for_checkpoint()

    def activate(self) -> None:
        """The tab is shown: read devices once, then fit the task list to the checkpoint."""
        if not self._activated:
            self._activated = True
            self.jobs.start("devices", _devices_job, done=self._devices_found, failed=self._devices_failed)
        if self._needs_refresh:
            self._refresh_for_checkpoint()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.activate()

    def shutdown(self, wait_seconds: float = SHUTDOWN_BUDGET_SECONDS) -> bool:
        """Window closing: cancel every job and wait up to ``wait_seconds`` (the threads stop within a step)."""
        self._closed = True
        return super().shutdown(wait_seconds)

    # ------------------------------------------------------------------ what the tests and the window read

    def current_task(self) -> TaskSpec | None:
        return self.task.current_task()

    def form(self) -> TaskForm | None:
        return self.task.form()

    def result_view(self) -> ResultView | None:
        return self.results.view()

    def select_task(self, task_id: str) -> None:
        self.task.select_task(task_id)

    @property
    def load_button(self) -> QPushButton:
        return self.options.load_button

    @property
    def run_button(self) -> QPushButton:
        return self.task.run_button

    @property
    def progress_label(self) -> QLabel:
        return self.results.progress_label

    def request(self, auto_class: str | None) -> LoadRequest | None:
        """The load settings of the controls; raises TaskInputError when a config override is malformed."""
        checkpoint = self.checkpoint()
        if checkpoint is None:
            return None
        target = self._target
        if target is None or checkpoint.format == FORMAT_TRANSFORMERS:
            return self.options.request(checkpoint.path, auto_class)
        if target.blocked or target.path is None:
            return None
        return dataclasses.replace(
            self.options.request(target.path, auto_class), adapter=target.adapter, gguf_file=target.gguf_file
        )

    def adapter_mode(self) -> str:
        """How an adapter's runs go: "on", "off" or "compare"."""
        return self.options.adapter_mode()

    def set_adapter_mode(self, mode: str) -> None:
        self.options.set_adapter_mode(mode)

    # ------------------------------------------------------------------ checkpoint, devices

    def _refresh_for_checkpoint(self) -> None:
        self._needs_refresh = False
        checkpoint = self.checkpoint()
        self._set_controls_enabled(False)
        if checkpoint is None:
            self.jobs.cancel("facts")
            self._facts = CheckpointFacts()
            self._options_path = None
            self._target = None
            self.options.set_format("", False)
            self.task.clear()
            return
        if checkpoint.format != FORMAT_TRANSFORMERS:
            job = partial(_format_options_job, checkpoint, list(self._checkpoints))
        else:
            job = partial(_options_job, checkpoint.path, checkpoint.model_type, list(checkpoint.architectures or []), checkpoint.needs_remote_code)
        self.jobs.start("facts", job, done=self._show_options, failed=self.results.show_error)

    def _show_options(self, options: DemoOptions) -> None:
        checkpoint = self.checkpoint()
        path = checkpoint.path if checkpoint is not None else None
        self._facts = options.facts
        self._target = options.target
        self.task.set_options(options, same_checkpoint=path is not None and path == self._options_path)
        self._options_path = path
        self._show_format(options.target)
        self._set_controls_enabled(True)
        self.tasks_ready.emit()

    def _show_format(self, target) -> None:
        if target is None:
            self.options.set_format("", False)
            return
        if target.blocked:
            description = f"{target.description or 'This checkpoint'}: cannot be loaded here (why: below the task)"
        elif target.gguf_file:
            size = target.dequantised_size()
            description = f"{target.description}: loaded by transformers, its weights dequantised to the dtype chosen here" + (
                f" ({size})" if size else ""
            )
        else:
            description = target.description
        self.options.set_format(description, adapter=target.adapter is not None, blocked=target.blocked)

    def _set_controls_enabled(self, enabled: bool) -> None:
        blocked = self._target is not None and bool(self._target.blocked)
        self.task.set_controls_enabled(enabled)
        self.task.run_button.setEnabled(enabled and not blocked)  # nothing a Run or a Load could do but fail
        self.options.load_button.setEnabled(enabled and not blocked)

    def _devices_found(self, devices: list[DeviceInfo]) -> None:
        self.options.set_devices(devices, spread_available(devices))
        self.devices_ready.emit()

    def _devices_failed(self, message: str, details: str) -> None:
        self.results.show_error(f"Devices could not be listed: {message}", details)

    def _update_load_hint(self) -> None:
        spec, checkpoint = self.current_task(), self.checkpoint()
        try:
            overrides, _ = self.options.load_options()
        except TaskInputError:
            overrides = ()  # the page says what is wrong with them
        architectures = list(checkpoint.architectures or []) if checkpoint else None
        self.options.show_hint(mismatch_warning(self._facts.config, dict(overrides), spec.auto_class if spec else None, architectures))

    # ------------------------------------------------------------------ model jobs

    def _start_model_job(
        self, kind: str, job: JobFactory, done: Callable[[Any], None] | None = None, partial_result: Callable[[Any], None] | None = None
    ) -> None:
        if self._closed:
            return
        # The slot's previous job (if any) is cancelled here; this one waits in the session until it stopped.
        self.jobs.start(
            "model", job, done=done, partial=partial_result, progress=self.results.show_progress,
            failed=self._model_job_failed, ended=self._model_job_ended,
        )
        self._model_job = kind
        self.results.job_started()
        self.task.stop_button.setEnabled(True)

    def _model_job_failed(self, message: str, details: str) -> None:
        self.results.show_error(message, details)
        self._update_status()
        self.run_failed.emit(message, details)

    def _model_job_ended(self) -> None:
        self._model_job = ""
        self.results.job_ended()
        self.task.stop_button.setEnabled(False)
        self.job_stopped.emit()

    def _update_status(self) -> None:
        text = self._session.status()
        loaded = self._session.loaded
        if loaded is not None:
            text += f" · loaded in {loaded.load_seconds:.1f} s"
        self.options.set_loaded(text, loaded is not None)
        self.status_changed.emit(text)

    def _request_or_say_why(self, spec: TaskSpec) -> LoadRequest | None:
        try:
            request = self.request(spec.auto_class)
        except TaskInputError as error:
            self.results.show_error(str(error))
            return None
        if request is None:
            blocked = self._target.blocked if self._target is not None and self.checkpoint() is not None else ""
            self.results.show_error(blocked or "Choose a checkpoint first.")
        return request

    def load_model(self) -> None:
        spec = self.current_task()
        request = self._request_or_say_why(spec) if spec is not None else None
        if request is not None:
            self._start_model_job("load", partial(self._session.load, request), done=self._loaded)

    def _loaded(self, loaded) -> None:
        self.results.show_notices(loaded.notices)
        self._update_status()

    def unload_model(self) -> None:
        self._start_model_job("unload", self._session.unload, done=lambda _none: self._update_status())

    def stop(self) -> None:
        """Stop the model job now: nothing of it arrives any more; the session frees itself within a step."""
        if self.jobs.busy("model"):
            had_run = self._model_job == "run"
            self.jobs.cancel("model")
            self.results.show_stopped(had_run)

    def run_task(self) -> None:
        spec, form = self.current_task(), self.form()
        if spec is None or form is None:
            return
        values = form.values()
        try:
            resolved = spec.resolve(values)
        except TaskInputError as error:
            self.results.show_error(str(error))
            return
        request = self._request_or_say_why(spec)
        if request is None:
            return
        adapter = self.adapter_mode() if request.adapter and spec.auto_class is not None else "on"
        self.results.begin_run(spec, resolved, partial(CompareView) if adapter == "compare" else None)
        self.export.set_last_run(None)
        checkpoint = self.checkpoint()
        self._remember(checkpoint.path if checkpoint is not None else request.path, spec.id, form.values_to_remember())

        def finished(outcome: tuple[dict, bool]) -> None:
            result, code_allowed = outcome
            self.results.show_result(spec, resolved, result)
            self.export.set_last_run(FinishedRun(spec.id, request, values, result, code_allowed, adapter))
            self._update_status()
            self.run_finished.emit(result)

        job = partial(_run_job, self._session, spec.id, request, values, adapter)
        self._start_model_job("run", job, done=finished, partial_result=self.results.show_partial)

    def _remember(self, path: str, task_id: str, values: dict) -> None:
        """This run's inputs come back when the checkpoint and task are chosen again, now and in a later session."""
        self.task.remember(task_id, values)
        self.jobs.start("inputs", partial(_remember_job, path, task_id, values), failed=self._remember_failed)

    def _remember_failed(self, message: str, details: str) -> None:
        # Not worth interrupting the run: the inputs are still remembered for this session.
        self.status_changed.emit(f"The inputs could not be kept for next time: {message}")

    # ------------------------------------------------------------------ copy as Python, export

    def script_for_last_run(self) -> str | None:
        return self.export.script()

    def show_script(self) -> None:
        self.export.show_script()

    def export_json(self, path: str) -> None:
        self.export.export_json(path)


__all__ = ["DemoTab"]
