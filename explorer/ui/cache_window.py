"""The cache view: what each repo of a hub cache holds, sorted and charted; delete and prune with an exact preview;
verify offline; find duplicates; download when asked. Every long action is a job with progress and cancel."""

from __future__ import annotations

from functools import partial
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QSplitter,
    QTableView, QTabWidget, QVBoxLayout, QWidget,
)

from explorer.core.cache_manage import Selected
from explorer.core.cache_usage import CacheUsage, RepoUsage
from explorer.core.formatting import human_bytes
from explorer.core.jobs import Progress
from explorer.ui.cache_checks import DuplicateResults, VerifyResults
from explorer.ui.cache_dialogs import DeletePreviewDialog, DownloadDialog
from explorer.ui.cache_models import RepoUsageModel, RevisionModel, UsageChart
from explorer.ui.palette import color
from explorer.ui.workers import JobSlots


def _table(model) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class CacheWindow(QWidget):
    cache_changed = Signal()
    """Emitted after something was deleted or downloaded (the browser rescans; its watcher would too)."""
    usage_shown = Signal()
    """Emitted once a cache's repos are listed (tests and screenshots wait for it)."""

    def __init__(self, hub_caches: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Hub cache")
        self.resize(1200, 760)
        self.jobs = JobSlots(self)
        self.usage: CacheUsage | None = None
        self._memory = None  # remembered digests, loaded once in the first check's worker

        self.cache_combo = QComboBox()
        self.cache_combo.addItems(hub_caches)
        self.cache_combo.currentTextChanged.connect(lambda _text: self.refresh())
        self.totals = QLabel()
        self.totals.setWordWrap(True)
        self.download_button = QPushButton("Download…")
        self.prune_button = QPushButton("Prune…")
        self.prune_button.setToolTip("Revisions no ref points to, and leftovers of interrupted downloads")
        self.verify_all_button = QPushButton("Verify all")
        self.duplicates_button = QPushButton("Find duplicates")
        self.refresh_button = QPushButton("Refresh")
        top = QHBoxLayout()
        top.addWidget(QLabel("Cache:"))
        top.addWidget(self.cache_combo, 1)
        for button in (self.refresh_button, self.download_button, self.prune_button, self.verify_all_button, self.duplicates_button):
            top.addWidget(button)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter repos by name")
        self.repo_model = RepoUsageModel(self)
        self.repo_view = _table(self.repo_model)
        self.repo_view.setSortingEnabled(True)
        self.repo_view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        for column, width in enumerate((250, 80, 90, 135, 135)):
            self.repo_view.setColumnWidth(column, width)
        self.repo_view.selectionModel().currentRowChanged.connect(self._repo_changed)
        self.revision_model = RevisionModel(self)
        self.revision_view = _table(self.revision_model)
        for column, width in enumerate((110, 170, 50, 80, 90, 135)):
            self.revision_view.setColumnWidth(column, width)
        self.delete_repos_button = QPushButton("Delete selected repos…")
        self.delete_revisions_button = QPushButton("Delete selected revisions…")
        self.verify_button = QPushButton("Verify selected repos")
        repo_buttons = QHBoxLayout()
        for button in (self.delete_repos_button, self.delete_revisions_button, self.verify_button):
            repo_buttons.addWidget(button)
        repo_buttons.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.filter_edit)
        left_layout.addWidget(self.repo_view, 3)
        self.revisions_label = QLabel("Revisions of the selected repo")
        left_layout.addWidget(self.revisions_label)
        left_layout.addWidget(self.revision_view, 1)
        left_layout.addLayout(repo_buttons)

        self.chart = UsageChart()
        self.access_note = QLabel()
        self.access_note.setWordWrap(True)
        self.verify_results = VerifyResults()
        self.duplicate_results = DuplicateResults()
        self.results = QTabWidget()
        self.results.addTab(self.verify_results, "Verify")
        self.results.addTab(self.duplicate_results, "Duplicates")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.chart, 2)
        right_layout.addWidget(self.access_note)
        right_layout.addWidget(self.results, 3)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([680, 520])

        self.progress = QProgressBar()
        self.progress.hide()
        self.stop_button = QPushButton("Stop")
        self.stop_button.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.totals)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.filter_edit.textChanged.connect(self.repo_model.set_filter)
        self.refresh_button.clicked.connect(self.refresh)
        self.download_button.clicked.connect(self.open_download)
        self.prune_button.clicked.connect(self.plan_prune)
        self.delete_repos_button.clicked.connect(self.plan_delete_repos)
        self.delete_revisions_button.clicked.connect(self.plan_delete_revisions)
        self.verify_button.clicked.connect(self.verify_selected)
        self.verify_all_button.clicked.connect(self.verify_all)
        self.duplicates_button.clicked.connect(self.find_duplicates)
        self.stop_button.clicked.connect(self.stop_checks)
        self.dialog: QWidget | None = None
        self.refresh()

    # ------------------------------------------------------------------ what is there

    def cache_root(self) -> str:
        return self.cache_combo.currentText()

    def refresh(self) -> None:
        from explorer.core.cache_usage import cache_usage_job

        root = self.cache_root()
        self.totals.setText(f"Reading {escape(root)}…")
        self.jobs.start("usage", partial(cache_usage_job, root), done=self._usage_read, failed=self._usage_failed)

    def _usage_read(self, usage: CacheUsage) -> None:
        self.usage = usage
        self.repo_model.set_repos(usage.repos)
        self.chart.show_repos(usage.repos)
        incomplete = f" · {human_bytes(usage.incomplete_bytes)} in interrupted downloads" if usage.incomplete_bytes else ""
        self.totals.setText(
            f"<b>{len(usage.repos)} repos, {usage.revisions} revisions, {human_bytes(usage.size_bytes)}</b>{incomplete}"
            + "".join(f'<br><span style="color:{color("warning")}">{escape(p)}</span>' for p in usage.problems[:5])
        )
        note = usage.access_times.note
        self.access_note.setText(f'<span style="color:{color("muted")}">Last accessed: {escape(note)}</span>' if note else "")
        self.revision_model.set_revisions([])
        self.usage_shown.emit()

    def _usage_failed(self, message: str, _details: str) -> None:
        self.totals.setText(f'<span style="color:{color("error")}">{escape(message)}</span>')

    def _repo_changed(self, current, _previous=None) -> None:
        from explorer.core.cache_usage import repo_revisions

        repo = self.repo_model.repo_at(current.row())
        self.revision_model.set_revisions([])
        if repo is None:
            return
        self.revisions_label.setText(f"Revisions of {escape(repo.id)} (newest first; 'frees alone' is what deleting only it frees)")

        def job(_cancel):
            yield Progress(0, 1, f"reading the revisions of {repo.id}")
            return repo_revisions(repo.path)

        self.jobs.start("revisions", job, done=self.revision_model.set_revisions)

    def selected_repos(self) -> list[RepoUsage]:
        rows = sorted({index.row() for index in self.repo_view.selectionModel().selectedRows()})
        return [repo for repo in map(self.repo_model.repo_at, rows) if repo is not None]

    def selected_revisions(self) -> list[Selected]:
        repo = self.repo_model.repo_at(self.repo_view.currentIndex().row())
        if repo is None:
            return []
        rows = sorted({index.row() for index in self.revision_view.selectionModel().selectedRows()})
        revisions = [r for r in map(self.revision_model.revision_at, rows) if r is not None]
        return [Selected.from_repo_folder(repo.path, r.commit) for r in revisions]

    # ------------------------------------------------------------------ delete and prune

    def plan_delete_repos(self) -> None:
        selection = [Selected.from_repo_folder(repo.path) for repo in self.selected_repos()]
        self._plan("Delete", selection)

    def plan_delete_revisions(self) -> None:
        self._plan("Delete", self.selected_revisions())

    def plan_prune(self) -> None:
        self._plan("Prune", None)

    def _plan(self, action: str, selection: list[Selected] | None) -> None:
        from explorer.core.cache_manage import plan_delete_job, plan_prune_job

        if selection is not None and not selection:
            self.totals.setText("Select the repos (or one repo's revisions) to delete first.")
            return
        root = self.cache_root()
        factory = partial(plan_prune_job, root) if selection is None else partial(plan_delete_job, root, selection)
        self.jobs.start("plan", lambda _token: factory(), done=lambda plan: self._show_plan(plan, action), failed=self._usage_failed)

    def _show_plan(self, plan, action: str) -> None:
        dialog = DeletePreviewDialog(plan, action, self)
        dialog.deleted.connect(lambda _result: (self.refresh(), self.cache_changed.emit()))
        self.dialog = dialog
        dialog.open()

    # ------------------------------------------------------------------ checks

    def _memory_now(self):
        from explorer.core.hash_memory import HashMemory

        if self._memory is None:
            self._memory = HashMemory.load()
        return self._memory

    def _start_check(self, name: str, factory, view) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.stop_button.show()
        self.results.setCurrentWidget(view)
        self.jobs.start(
            name, factory, partial=view.add, progress=self._check_progress, done=view.show_report,
            failed=lambda message, _details: view.clear(message), ended=self._check_ended,
        )

    def verify_selected(self) -> None:
        from explorer.core.verify import verify_job
        from explorer.core.verify_targets import repo_targets

        repos = self.selected_repos()
        if not repos:
            self.totals.setText("Select the repos to verify first (or Verify all).")
            return
        self.verify_results.clear(f"Verifying {len(repos)} repo{'s' if len(repos) != 1 else ''}…")
        memory = self._memory_now()

        def targets():
            return [target for repo in repos for target in repo_targets(repo.path)]

        self._start_check("verify", lambda token: verify_job(targets, token, memory), self.verify_results)

    def verify_all(self) -> None:
        from explorer.core.verify import verify_job
        from explorer.core.verify_targets import cache_targets

        root = self.cache_root()
        self.verify_results.clear(f"Verifying every blob of {root}…")
        memory = self._memory_now()
        self._start_check("verify", lambda token: verify_job(lambda: cache_targets(root), token, memory), self.verify_results)

    def find_duplicates(self) -> None:
        from explorer.core.duplicates import duplicates_job
        from explorer.core.verify_targets import cache_targets

        root = self.cache_root()
        self.duplicate_results.clear(f"Looking for the same content twice in {root}…")
        memory = self._memory_now()
        self._start_check("duplicates", lambda token: duplicates_job(lambda: cache_targets(root), token, memory), self.duplicate_results)

    def _check_progress(self, progress) -> None:
        if progress.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * progress.done / progress.total))
        self.progress.setFormat(progress.message or "%p%")

    def _check_ended(self) -> None:
        if not (self.jobs.busy("verify") or self.jobs.busy("duplicates")):
            self.progress.hide()
            self.stop_button.hide()

    def stop_checks(self) -> None:
        self.jobs.cancel("verify")
        self.jobs.cancel("duplicates")

    # ------------------------------------------------------------------ download

    def open_download(self, repo_id: str = "") -> None:
        dialog = DownloadDialog(self.cache_root() or None, repo_id if isinstance(repo_id, str) else "", self)
        dialog.downloaded.connect(lambda _result: (self.refresh(), self.cache_changed.emit()))
        self.dialog = dialog
        dialog.open()

    def is_busy(self) -> bool:
        return self.jobs.busy()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.jobs.cancel()
        super().closeEvent(event)


__all__ = ["CacheWindow"]
