"""The Config tab: every field explained, derived facts, Auto class resolution, other files,
custom code behind consent, compare, copy.

The tab coordinates: it runs the jobs in its slots (the report, the weights check, the
documentation of an Auto class, the other report of a comparison) and hands the typed parts
of ``explorer.core.config.ConfigReport`` to its pages, one module each; pages render and emit.
"""

from __future__ import annotations

from functools import partial
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTabWidget, QVBoxLayout, QWidget

from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.config import AutoClassDoc, ConfigReport, ResolutionRow, apply_head_checks, auto_class_doc_job, config_report_job
from explorer.core.consent import ConsentStore
from explorer.core.head_survey import HeadCheck, survey_heads
import explorer.tasks  # noqa: F401  (hands the task declarations to the report's catalog: the demos it offers)
from explorer.ui import palette
from explorer.ui.config_auto_classes_page import AutoClassesPage, DocKey, doc_key
from explorer.ui.config_code_page import CustomCodePage
from explorer.ui.config_common import colored, selectable_label
from explorer.ui.config_compare_page import ComparePage
from explorer.ui.config_facts_page import FactsPage
from explorer.ui.config_fields_page import FieldsPage
from explorer.ui.config_files_page import OtherFilesPage
from explorer.ui.tab import CheckpointTab

PLACEHOLDER = "Select a checkpoint to see its configuration."


class ConfigTab(CheckpointTab):
    """Shows one checkpoint's configuration; heavy work starts only once the tab is visible."""

    report_shown = Signal(object)
    """Emitted with the ConfigReport once it is rendered for the current checkpoint."""
    compare_shown = Signal()
    """Emitted when a comparison has been rendered."""
    consent_changed = Signal(str)
    """Emitted with the checkpoint path after the user allowed or revoked its code."""
    weights_checked = Signal(object)
    """Emitted with {Auto class: HeadCheck} once every Auto class was checked against the weights."""
    doc_shown = Signal(object)
    """Emitted with the AutoClassDoc shown for the selected Auto class row."""

    def __init__(self, parent: QWidget | None = None, consent_store: ConsentStore | None = None) -> None:
        super().__init__(parent)
        self._store = consent_store or ConsentStore()
        self._checkpoints: list[Checkpoint] = []
        self._report: ConfigReport | None = None
        self._dirty = False  # the checkpoint changed and its report is not built yet
        self._notices: tuple[list[str], list[str]] = ([], [])  # problems and warnings in the banner

        self.title = selectable_label(rich=True)
        self.title.setObjectName("configTitle")
        self.copy_python_button = QPushButton("Copy as Python")
        self.copy_python_button.setToolTip("Copy AutoConfig.from_pretrained(...) code for this checkpoint")
        self.copy_json_button = QPushButton("Copy JSON")
        self.copy_json_button.setToolTip("Copy config.json as it is on disk")
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.copy_python_button)
        head.addWidget(self.copy_json_button)
        self.hint = selectable_label()
        self.hint.setObjectName("configHint")
        self.hint.hide()
        self.banner = selectable_label(rich=True)
        self.banner.setObjectName("configProblems")
        self.banner.hide()

        self.fields_page = FieldsPage()
        self.facts_page = FactsPage()
        self.auto_classes_page = AutoClassesPage()
        self.files_page = OtherFilesPage()
        self.code_page = CustomCodePage()
        self.compare_page = ComparePage()
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.addTab(self.fields_page, "Fields")
        self.sections.addTab(self.facts_page, "Facts")
        self.sections.addTab(self.auto_classes_page, "Auto classes")
        self.sections.addTab(self.files_page, "Other files")
        self.sections.addTab(self.code_page, self.code_page.title())
        self.sections.addTab(self.compare_page, "Compare")

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.hint)
        layout.addWidget(self.banner)
        layout.addWidget(self.sections, 1)

        self.copy_python_button.clicked.connect(self.copy_python)
        self.copy_json_button.clicked.connect(self.copy_json)
        self.auto_classes_page.doc_wanted.connect(self._read_doc)
        self.auto_classes_page.doc_shown.connect(self.doc_shown)
        self.code_page.grant_requested.connect(self.request_grant)
        self.code_page.revoke_requested.connect(self.request_revoke)
        self.compare_page.compare_requested.connect(self._compare_with)
        palette.notifier().changed.connect(self._scheme_changed)
        self._show_placeholder(PLACEHOLDER)

    # ------------------------------------------------------------------ the tab protocol

    def set_checkpoint(self, ckpt: Checkpoint | None) -> None:
        current = self.checkpoint()
        if ckpt is not None and current is not None and ckpt.key == current.key and self._report is not None:
            return
        super().set_checkpoint(ckpt)
        self._report = None
        self.jobs.cancel()
        self.auto_classes_page.forget_docs()
        self.auto_classes_page.model.forget_checks()
        self.compare_page.reset()
        self.compare_page.set_choices(self._checkpoints, ckpt)
        if ckpt is None:
            self._dirty = False
            self._show_placeholder(PLACEHOLDER)
            return
        self._dirty = True
        self.title.setText(f"<b>{escape(display_text(ckpt.id))}</b>")
        if self.isVisible():
            self.activate()

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self._checkpoints = list(checkpoints)
        self.compare_page.set_choices(self._checkpoints, self.checkpoint())

    def activate(self) -> None:
        """Build the report for the current checkpoint if not done yet (the window calls this when shown)."""
        if self._dirty and self.checkpoint() is not None:
            self._start_build()

    def is_busy(self) -> bool:
        """True while a report is being built or its weights checked (the --screenshot mode waits for this)."""
        return (
            self.jobs.busy("report")
            or self.jobs.busy("weights")
            or (self._dirty and self.checkpoint() is not None and self.isVisible())
        )

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.activate()

    # ------------------------------------------------------------------ what it shows

    def current_report(self) -> ConfigReport | None:
        return self._report

    def head_checks(self) -> dict[str, HeadCheck]:
        """The Auto classes checked so far against the current checkpoint's weights."""
        return self.auto_classes_page.model.checks()

    def refresh(self) -> None:
        """Build the report again (the consent for the checkpoint's code changed)."""
        if self.checkpoint() is not None:
            self._report = None
            self._dirty = True
            for slot in ("report", "weights", "doc"):
                self.jobs.cancel(slot)
            self.auto_classes_page.forget_docs()
            self.auto_classes_page.model.forget_checks()
            self.activate()

    # ------------------------------------------------------------------ the report

    def _start_build(self) -> None:
        ckpt = self.checkpoint()
        self._dirty = False
        self.title.setText(f"<b>{escape(display_text(ckpt.id))}</b> — reading config…")
        self.status_changed.emit("Config: reading…")
        self.jobs.start("report", partial(config_report_job, ckpt.path, store=self._store), done=self._on_report, failed=self._on_failed)

    def _on_failed(self, message: str, _details: str) -> None:
        ckpt = self.checkpoint()
        self.title.setText(f"<b>{escape(display_text(ckpt.id if ckpt else ''))}</b>")
        self._show_banner([f"The config could not be read: {message}"], [])
        self.status_changed.emit(f"Config: {message}")

    def _on_report(self, report: ConfigReport) -> None:
        self._report = report
        self._render(report)
        self.status_changed.emit("")
        self.report_shown.emit(report)
        self._start_weights_check(report)

    def _render(self, report: ConfigReport) -> None:
        ckpt = self.checkpoint()
        bits = [f"<b>{escape(display_text(ckpt.id) if ckpt else report.path)}</b>"]
        if report.model_type:
            bits.append(f"model_type <code>{escape(report.model_type)}</code>")
        if report.config_class:
            bits.append(escape(report.config_class))
        if report.architectures:
            bits.append("saved as " + escape(", ".join(report.architectures)))
        if report.transformers_version:
            bits.append(f"transformers {escape(report.transformers_version)}")
        self.title.setText(" · ".join(bits))
        self._show_hint(report.load_hint)
        self._show_banner(report.problems, report.warnings)
        self.copy_python_button.setEnabled(bool(report.python))
        self.copy_json_button.setEnabled(report.config_text is not None)
        self.fields_page.show_report(report)
        self.facts_page.show_facts(report.derived)
        self.auto_classes_page.show_report(report)
        self.files_page.show_report(report)
        self.code_page.show_report(report)
        self.sections.setTabText(self.sections.indexOf(self.code_page), self.code_page.title())

    def _show_placeholder(self, text: str) -> None:
        self.title.setText(f"<i>{escape(text)}</i>")
        self.hint.hide()
        self.banner.hide()
        for page in (self.fields_page, self.facts_page, self.auto_classes_page, self.files_page, self.code_page):
            page.clear()
        self.sections.setTabText(self.sections.indexOf(self.code_page), self.code_page.title())
        self.copy_python_button.setEnabled(False)
        self.copy_json_button.setEnabled(False)

    def _show_hint(self, hint: str) -> None:
        self.hint.setText(hint)
        self.hint.setVisible(bool(hint))

    def _scheme_changed(self, _scheme: str) -> None:
        """Texts and brushes drawn in the other scheme's colours are drawn again."""
        if not self.banner.isHidden():
            self._show_banner(*self._notices)
        for page in (self.fields_page, self.auto_classes_page, self.files_page, self.code_page, self.compare_page):
            page.repaint_colours()

    def _show_banner(self, problems: list[str], warnings: list[str]) -> None:
        self._notices = (problems, warnings)
        if not problems and not warnings:
            self.banner.hide()
            return
        lines = [colored("error", "Problem:", bold=True) + f" {escape(p)}" for p in problems]
        lines += [colored("warning", "Warning:", bold=True) + f" {escape(w)}" for w in warnings]
        self.banner.setStyleSheet(
            f"QLabel#configProblems {{ background: {palette.color('warning_bg')}; border: 1px solid {palette.color('warning_border')}; "
            "border-radius: 4px; padding: 6px; }"
        )
        self.banner.setText("<br>".join(lines))
        self.banner.show()

    # ------------------------------------------------------------------ checking the weights

    def _start_weights_check(self, report: ConfigReport) -> None:
        """Replace the name-based guesses with what from_pretrained would really load, class by class."""
        autos = [row.auto_class for row in report.resolution if row.resolves_to]
        ckpt = self.checkpoint()
        if not autos or ckpt is None:
            return
        self.auto_classes_page.set_checking(True)  # the guesses now say that they are being checked
        self.jobs.start(
            "weights", partial(survey_heads, ckpt, autos),
            partial=self._on_head_checked, done=self._on_heads_checked, failed=self._on_weights_failed, ended=self._on_weights_ended,
        )

    def _on_head_checked(self, item) -> None:
        if isinstance(item, HeadCheck):
            self.auto_classes_page.add_check(item)

    def _on_heads_checked(self, checks: dict[str, HeadCheck]) -> None:
        if self._report is None:
            return
        self._report = apply_head_checks(self._report, checks)
        self.auto_classes_page.set_checks(checks)
        self.auto_classes_page.update_rows(self._report.resolution)
        self._show_hint(self._report.load_hint)
        self.weights_checked.emit(dict(checks))

    def _on_weights_failed(self, message: str, _details: str) -> None:
        self.auto_classes_page.set_checking(False, message)
        self.status_changed.emit(f"Config: weights not checked: {message}")

    def _on_weights_ended(self) -> None:
        if self.auto_classes_page.model.checking():
            self.auto_classes_page.set_checking(False)

    # ------------------------------------------------------------------ documentation of an Auto class

    def _read_doc(self, row: ResolutionRow) -> None:
        ckpt = self.checkpoint()
        if ckpt is None:
            return
        key = doc_key(row)
        self.jobs.start(
            "doc", partial(auto_class_doc_job, ckpt.path, *key),
            done=partial(self.auto_classes_page.show_doc, key),
            failed=partial(self._on_doc_failed, key),
            ended=partial(self.auto_classes_page.doc_ended, key),
        )

    def _on_doc_failed(self, key: DocKey, message: str, _details: str) -> None:
        self.auto_classes_page.show_doc(key, AutoClassDoc.failed(message))

    # ------------------------------------------------------------------ consent

    def request_grant(self) -> bool:
        report, ckpt = self._report, self.checkpoint()
        if report is None or ckpt is None:
            return False
        if not self.code_page.confirm_grant(display_text(ckpt.id), report.remote_code.files):
            return False
        try:
            self._store.grant(ckpt.path)
        except (OSError, ValueError) as exc:
            self.code_page.tell_not_recorded("Permission not recorded", f"The permission could not be saved: {exc}")
            return False
        self.consent_changed.emit(ckpt.path)
        self.refresh()
        return True

    def request_revoke(self) -> bool:
        ckpt = self.checkpoint()
        if ckpt is None or not self.code_page.confirm_revoke(display_text(ckpt.id)):
            return False
        try:
            self._store.revoke(ckpt.path)
        except OSError as exc:
            self.code_page.tell_not_recorded("Permission not changed", f"The record could not be saved: {exc}")
            return False
        self.consent_changed.emit(ckpt.path)
        self.refresh()
        return True

    # ------------------------------------------------------------------ copy

    def copy_python(self) -> None:
        if self._report is not None and self._report.python:
            QGuiApplication.clipboard().setText(self._report.python)
            self.status_changed.emit("Python code copied")

    def copy_json(self) -> None:
        if self._report is not None and self._report.config_text is not None:
            QGuiApplication.clipboard().setText(self._report.config_text)
            self.status_changed.emit("config.json copied")

    # ------------------------------------------------------------------ compare

    def start_compare(self) -> None:
        """Compare with the checkpoint picked on the Compare page."""
        self.compare_page.request()

    def _compare_with(self, other: Checkpoint) -> None:
        if self.checkpoint() is None:
            return
        self.compare_page.show_reading(other)
        self.jobs.start(
            "compare", partial(config_report_job, other.path, store=self._store),
            done=partial(self._on_compare_report, other), failed=self._on_compare_failed,
        )

    def _on_compare_failed(self, message: str, _details: str) -> None:
        self.compare_page.show_failure(message)

    def _on_compare_report(self, other: Checkpoint, report: ConfigReport) -> None:
        if self._report is None:
            self.compare_page.show_not_ready()
            return
        ckpt = self.checkpoint()
        this_name = display_text(ckpt.id) if ckpt else "This checkpoint"
        self.compare_page.show_comparison(this_name, self._report, other, report)
        self.compare_shown.emit()


__all__ = ["ConfigTab"]
