"""The cache view's two dialogs that change the disk: a delete (or prune) preview that then deletes exactly what
it showed, and a download. Both run their work as jobs, with progress and cancel, and say what happened."""

from __future__ import annotations

import os
from functools import partial
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QTreeWidget,
    QTreeWidgetItem, QVBoxLayout, QWidget,
)

from explorer.core.cache_delete import DeleteResult, delete_job
from explorer.core.cache_manage import DeletePlan
from explorer.core.formatting import human_bytes
from explorer.ui.palette import color
from explorer.ui.workers import JobSlots

GROUPS = (
    ("repos", "Repos removed whole"),
    ("snapshots", "Revision folders (snapshots)"),
    ("refs", "Refs that name a removed revision"),
    ("blobs", "Blobs no remaining revision uses"),
    ("incomplete", "Interrupted downloads (.incomplete)"),
    ("unreferenced", "Blobs no revision uses"),
    ("shared", "Files of the shared blob store no repo uses"),
)


def plan_summary(plan: DeletePlan, action: str) -> str:
    revisions = len(plan.revisions)
    what = f"{revisions} revision{'s' if revisions != 1 else ''}" if revisions else "leftovers"
    return f"{action} {what}: {len(plan.paths)} paths, frees {human_bytes(plan.freed_bytes)} ({plan.freed_bytes:,} bytes)"


class DeletePreviewDialog(QDialog):
    """Exactly what goes, grouped, with the bytes freed; the button names the total; then it deletes."""

    deleted = Signal(object)
    """Emitted with the DeleteResult once the deletion ended (completed, failed halfway or cancelled)."""

    def __init__(self, plan: DeletePlan, action: str = "Delete", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        self.result: DeleteResult | None = None
        self.jobs = JobSlots(self)
        self.setWindowTitle(f"{action}: preview")
        self.resize(820, 560)
        self.heading = QLabel(f"<b>{escape(plan_summary(plan, action))}</b>")
        self.heading.setWordWrap(True)
        note = QLabel(
            f"Only these paths inside <code>{escape(plan.cache_root)}</code> are removed; links are removed as links, never "
            "followed. Refs moved by a download since this preview are left as they are."
        )
        note.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Path", "Size"])
        self.tree.setColumnWidth(0, 640)
        self._fill_tree()
        self.progress = QProgressBar()
        self.progress.hide()
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.hide()
        self.buttons = QDialogButtonBox()
        self.delete_button = self.buttons.addButton(
            f"{action} {len(plan.paths)} paths, free {human_bytes(plan.freed_bytes)}", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.delete_button.setEnabled(not plan.is_empty)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.delete_button.clicked.connect(self.start_delete)
        self.close_button.clicked.connect(self._close_or_cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(note)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.outcome)
        layout.addWidget(self.buttons)

    def _fill_tree(self) -> None:
        sizes = {step.path: step.size_bytes for step in self.plan.steps}
        for field_name, title in GROUPS:
            paths = getattr(self.plan, field_name)
            if not paths:
                continue
            group = QTreeWidgetItem([f"{title} ({len(paths)})", human_bytes(sum(sizes.get(p, 0) for p in paths))])
            for path in paths:
                # Inside the cache, named from its root (models--org--name/...): the full path in the tooltip.
                row = QTreeWidgetItem(group, [os.path.relpath(path, self.plan.cache_root), human_bytes(sizes[path]) if sizes.get(path) else ""])
                row.setToolTip(0, path)
            self.tree.addTopLevelItem(group)
            group.setExpanded(len(paths) <= 20)
        if self.plan.kept:
            group = QTreeWidgetItem([f"Kept, and why ({len(self.plan.kept)})", ""])
            for kept in self.plan.kept:
                QTreeWidgetItem(group, [f"{kept.path} — {kept.reason}", human_bytes(kept.size_bytes) if kept.size_bytes else ""])
            self.tree.addTopLevelItem(group)
        for warning in self.plan.warnings:
            item = QTreeWidgetItem([warning, ""])
            item.setForeground(0, self.palette().placeholderText())
            self.tree.addTopLevelItem(item)
        if self.plan.is_empty:
            self.tree.addTopLevelItem(QTreeWidgetItem(["Nothing to remove.", ""]))

    def start_delete(self) -> None:
        self.delete_button.setEnabled(False)
        self.close_button.setText("Stop")
        self.progress.setRange(0, max(1, len(self.plan.steps)))
        self.progress.show()
        self.jobs.start(
            "delete", partial(delete_job, self.plan), done=self._deleted, progress=self._progressed, failed=self._failed,
        )

    def _progressed(self, progress) -> None:
        self.progress.setValue(progress.done)
        self.progress.setFormat(progress.message or "%p%")

    def _deleted(self, result: DeleteResult) -> None:
        self.result = result
        self.close_button.setText("Close")
        self.progress.setValue(self.progress.maximum())
        lines = [f"Removed {len(result.removed)} paths, freed {human_bytes(result.freed_bytes)}."]
        if result.cancelled:
            lines.append("Stopped before the end: what was removed is gone, the cache is consistent, the rest is still there.")
        for path, why in result.failed[:20]:
            lines.append(f'<span style="color:{color("error")}">Not removed: {escape(path)} ({escape(why)})</span>')
        for path, why in result.skipped[:20]:
            lines.append(f"Left: {escape(path)} ({escape(why)})")
        self.outcome.setText("<br>".join(lines))
        self.outcome.show()
        self.deleted.emit(result)

    def _failed(self, message: str, _details: str) -> None:
        self.close_button.setText("Close")
        self.outcome.setText(f'<span style="color:{color("error")}">{escape(message)}</span>')
        self.outcome.show()

    def _close_or_cancel(self) -> None:
        if self.jobs.busy("delete"):
            self.jobs.cancel("delete")  # between two removals: the cache stays consistent
            self.close_button.setText("Close")
            self.outcome.setText("Stopped: the removals done so far stay done; the cache is consistent.")
            self.outcome.show()
            return
        self.reject()

    def done(self, code: int) -> None:  # noqa: D401 (Qt's name)
        self.jobs.cancel()
        super().done(code)


class DownloadDialog(QDialog):
    """A repo (revision, file patterns) fetched through huggingface_hub into the hub cache, when the user asks."""

    downloaded = Signal(object)
    """Emitted with the DownloadResult when a download completed."""

    def __init__(self, cache_dir: str | None = None, repo_id: str = "", parent: QWidget | None = None, endpoint: str | None = None) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.endpoint = endpoint  # None: huggingface_hub's (HF_ENDPOINT)
        self.jobs = JobSlots(self)
        self.result = None
        self.setWindowTitle("Download from the Hugging Face Hub")
        self.resize(720, 520)
        intro = QLabel(
            "The app is offline until you start a download here. It goes through huggingface_hub "
            "(HF_ENDPOINT and HF_TOKEN apply) into the hub cache; an interrupted download resumes from where it stopped."
        )
        intro.setWordWrap(True)
        self.repo_edit = QLineEdit(repo_id)
        self.repo_edit.setPlaceholderText("org/name")
        self.revision_edit = QLineEdit()
        self.revision_edit.setPlaceholderText("main")
        self.include_edit = QLineEdit()
        self.include_edit.setPlaceholderText("e.g. *.json *.safetensors (all files when empty)")
        self.exclude_edit = QLineEdit()
        self.exclude_edit.setPlaceholderText("e.g. *.bin *.h5 *.msgpack")
        form = QFormLayout()
        form.addRow("Repo:", self.repo_edit)
        form.addRow("Revision:", self.revision_edit)
        form.addRow("Include:", self.include_edit)
        form.addRow("Exclude:", self.exclude_edit)
        if cache_dir:
            form.addRow("Into:", QLabel(escape(cache_dir)))
        self.files = QTreeWidget()
        self.files.setHeaderLabels(["File", "Size", "Done"])
        self.files.setColumnWidth(0, 420)
        self.total = QProgressBar()
        self.total.setFormat("%p%")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.start_button = QPushButton("Download")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.stop_button, self.close_button):
            buttons.addWidget(button)
        self.start_button.clicked.connect(self.start_download)
        self.stop_button.clicked.connect(self.stop_download)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.files, 1)
        layout.addWidget(self.total)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._rows: dict[str, QTreeWidgetItem] = {}

    def start_download(self) -> None:
        from explorer.core.download import download_job

        repo_id = self.repo_edit.text().strip()
        if not repo_id:
            self._say("Name a repo (org/name).", error=True)
            return
        revision = self.revision_edit.text().strip() or None
        include = tuple(self.include_edit.text().split())
        exclude = tuple(self.exclude_edit.text().split())
        self.files.clear()
        self._rows.clear()
        self.total.setValue(0)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._say(f"Asking the Hub about {repo_id}…")
        self.jobs.start(
            "download",
            lambda token: download_job(repo_id, revision, include, exclude, cache_dir=self.cache_dir, cancel=token, endpoint=self.endpoint),
            partial=self._partial, progress=self._progress, done=self._done, failed=self._failed, ended=self._ended,
        )

    def stop_download(self) -> None:
        self.jobs.cancel("download")
        self._say("Stopped: what arrived is kept, and the next download of this repo resumes from there.")

    def _partial(self, value) -> None:
        from explorer.core.download import DownloadPlan, FileProgress

        if isinstance(value, DownloadPlan):
            for remote in value.files:
                row = QTreeWidgetItem([remote.name, human_bytes(remote.size), "already here" if remote.present else "0%"])
                self.files.addTopLevelItem(row)
                self._rows[remote.name] = row
        elif isinstance(value, FileProgress):
            row = self._rows.get(value.name)
            if row is not None:
                share = value.done / value.size if value.size else 1.0
                row.setText(2, "done" if value.finished else f"{share:.0%}")

    def _progress(self, progress) -> None:
        if progress.total:
            self.total.setRange(0, 1000)
            self.total.setValue(int(1000 * progress.done / progress.total))
        else:
            self.total.setRange(0, 0)
        if progress.message:
            self._say(progress.message)

    def _done(self, result) -> None:
        self.result = result
        self.total.setRange(0, 1000)
        self.total.setValue(1000)
        resumed = f", {human_bytes(result.resumed_bytes)} of it resumed" if result.resumed_bytes else ""
        self._say(f"Downloaded {len(result.files)} files ({human_bytes(result.bytes)}; fetched {human_bytes(result.fetched_bytes)}{resumed}) to {result.path}")
        self.downloaded.emit(result)

    def _failed(self, message: str, _details: str) -> None:
        self._say(message, error=True)

    def _ended(self) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _say(self, text: str, error: bool = False) -> None:
        shown = escape(text)
        self.status.setText(f'<span style="color:{color("error")}">{shown}</span>' if error else shown)
        self.status.setTextFormat(Qt.TextFormat.RichText)

    def done(self, code: int) -> None:  # noqa: D401 (Qt's name)
        self.jobs.cancel()
        super().done(code)


def default_download_cache(hub_caches: list[str]) -> str | None:
    """Where a download goes: the cache the view shows when it is one, else huggingface_hub's default."""
    return hub_caches[0] if hub_caches and os.path.isdir(hub_caches[0]) else None


__all__ = ["DeletePreviewDialog", "DownloadDialog", "default_download_cache", "plan_summary"]
