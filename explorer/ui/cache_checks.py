"""Results of the cache view's checks: offline verification (corrupt files first) and duplicate contents."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from explorer.core.formatting import human_bytes
from explorer.ui.palette import color, qcolor


def _uses_text(uses) -> str:
    shown = []
    for use in uses[:3]:
        revision = f"@{use.revision[:10]}" if use.revision else ""
        shown.append(f"{use.repo}{revision}/{use.file}")
    more = f" and {len(uses) - 3} more" if len(uses) > 3 else ""
    return ", ".join(shown) + more if shown else "no revision links to it"


class VerifyResults(QWidget):
    """Each file's verdict as it is known; corrupt, missing and unreadable files on top, in the error colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("Verify re-hashes each blob and compares it with its name (sha256 for large files, git's sha1 for small ones).")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Verdict", "File", "Size", "How"])
        self.tree.setColumnWidth(0, 110)
        self.tree.setColumnWidth(1, 420)
        self.tree.setSortingEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        self.verdicts = []

    def clear(self, text: str = "") -> None:
        self.tree.clear()
        self.verdicts = []
        if text:
            self.summary.setText(escape(text))

    def add(self, verdict) -> None:
        from explorer.core.verify import Verdict

        self.verdicts.append(verdict)
        bad = verdict.verdict in (Verdict.CORRUPT, Verdict.MISSING, Verdict.UNREADABLE)
        how = "remembered" if verdict.remembered else (verdict.algorithm or verdict.detail or "")
        item = QTreeWidgetItem([verdict.verdict.value.replace("_", " "), _uses_text(verdict.uses), human_bytes(verdict.size) if verdict.size else "", how])
        item.setToolTip(1, f"{verdict.path}\nexpected {verdict.expected}\nfound {verdict.actual}\n{verdict.detail}".strip())
        if bad:
            for column in range(4):
                item.setForeground(column, qcolor("error"))
            self.tree.insertTopLevelItem(0, item)
        else:
            self.tree.addTopLevelItem(item)

    def show_report(self, report) -> None:
        counts = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in report.counts.items() if count)
        speed = f" at {human_bytes(int(report.bytes_per_second))}/s" if report.bytes_hashed else ""
        remembered = f"; {human_bytes(report.bytes_remembered)} unchanged since an earlier check, not read again" if report.bytes_remembered else ""
        verdict = "Everything checked is intact." if report.intact else f'<span style="color:{color("error")}">Some files are damaged or missing.</span>'
        notes = "".join(f"<br>{escape(note)}" for note in report.notes)
        self.summary.setText(f"{verdict} {escape(counts)}: {human_bytes(report.bytes_hashed)} read{speed}{escape(remembered)}.{notes}")


class DuplicateResults(QWidget):
    """Groups of identical files (by sha256, checked only where sizes match), most space wasted first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("Finds the same content in several repos, revisions or folders (files of 1 MiB and more).")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Content", "Size", "Wasted"])
        self.tree.setColumnWidth(0, 520)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        self.groups = []

    def clear(self, text: str = "") -> None:
        self.tree.clear()
        self.groups = []
        if text:
            self.summary.setText(escape(text))

    def add(self, group) -> None:
        self.groups.append(group)
        item = QTreeWidgetItem([f"sha256 {group.sha256[:16]}…  ({len(group.copies)} copies)", human_bytes(group.size), human_bytes(group.wasted_bytes)])
        for copy in group.copies:
            QTreeWidgetItem(item, [", ".join(copy.uses[:2]) or copy.paths[0], "", ""]).setToolTip(0, "\n".join(copy.paths))
        self.tree.addTopLevelItem(item)

    def show_report(self, report) -> None:
        if not report.groups:
            self.summary.setText(f"No duplicates among {report.files_considered} files of 1 MiB or more.")
            return
        self.summary.setText(
            f"{len(report.groups)} contents stored more than once: {human_bytes(report.wasted_bytes)} could be saved "
            f"(hard links and shared blobs count once). {human_bytes(report.bytes_hashed)} read to be sure."
        )


__all__ = ["DuplicateResults", "VerifyResults"]
