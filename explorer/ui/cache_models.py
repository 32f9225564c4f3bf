"""Item models and the chart of the cache view: repos (sorted and filtered in Python, once per change, not per
comparison), one repo's revisions, and the largest repos as bars."""

from __future__ import annotations

import datetime as dt

import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from explorer.core.cache_usage import RepoUsage, RevisionUsage, filter_usage, sort_usage
from explorer.core.formatting import human_bytes
from explorer.ui.palette import color, notifier, qcolor

RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def when(timestamp: float | None) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "—"


class _RowsModel(QAbstractTableModel):
    """A flat table whose rows are a list of records and whose header is COLUMNS."""

    COLUMNS: tuple[str, ...] = ()

    def _rows(self) -> list:
        raise NotImplementedError

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self._rows())

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None


class RepoUsageModel(_RowsModel):
    COLUMNS = ("Repo", "Size", "Revisions", "Last accessed", "Last modified")
    SORT_KEYS = ("name", "size", "revisions", "accessed", "modified")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._all: list[RepoUsage] = []
        self._shown: list[RepoUsage] = []
        self._filter = ""
        self._sort = ("size", Qt.SortOrder.DescendingOrder)

    def set_repos(self, repos: list[RepoUsage]) -> None:
        self.beginResetModel()
        self._all = list(repos)
        self._shown = self._arranged()
        self.endResetModel()

    def set_filter(self, text: str) -> None:
        self._filter = text
        self.beginResetModel()
        self._shown = self._arranged()
        self.endResetModel()

    def _arranged(self) -> list[RepoUsage]:
        key, order = self._sort
        repos = filter_usage(self._all, self._filter) if self._filter.strip() else self._all
        return sort_usage(repos, key, descending=order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:  # noqa: D401 (Qt's)
        self._sort = (self.SORT_KEYS[column], order)
        self.layoutAboutToBeChanged.emit()
        self._shown = self._arranged()
        self.layoutChanged.emit()

    def repos(self) -> list[RepoUsage]:
        return list(self._all)

    def shown(self) -> list[RepoUsage]:
        return list(self._shown)

    def repo_at(self, row: int) -> RepoUsage | None:
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def _rows(self) -> list:
        return self._shown

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        repo = self.repo_at(index.row())
        if repo is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (repo.id, human_bytes(repo.size_bytes), str(repo.revisions), when(repo.last_accessed), when(repo.last_modified))[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, 2):
            return RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [repo.path, f"{repo.size_bytes:,} bytes in {repo.blobs} blobs", f"refs: {', '.join(repo.refs) or 'none'}"]
            if repo.incomplete_bytes:
                lines.append(f"{human_bytes(repo.incomplete_bytes)} in interrupted downloads (.incomplete)")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.ForegroundRole and column == 0 and repo.incomplete_bytes:
            return qcolor("warning")
        return None


class RevisionModel(_RowsModel):
    COLUMNS = ("Revision", "Refs", "Files", "Size", "Frees alone", "Modified")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._revisions: list[RevisionUsage] = []

    def set_revisions(self, revisions: list[RevisionUsage]) -> None:
        self.beginResetModel()
        self._revisions = list(revisions)
        self.endResetModel()

    def revision_at(self, row: int) -> RevisionUsage | None:
        return self._revisions[row] if 0 <= row < len(self._revisions) else None

    def _rows(self) -> list:
        return self._revisions

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        revision = self.revision_at(index.row())
        if revision is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            refs = ", ".join(revision.refs) or "detached (no ref)"
            return (revision.commit[:12], refs, str(revision.files), human_bytes(revision.size_bytes),
                    human_bytes(revision.own_bytes), when(revision.last_modified))[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3, 4):
            return RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{revision.commit}\n{revision.snapshot_path}"
        if role == Qt.ItemDataRole.ForegroundRole and column == 1 and not revision.refs:
            return qcolor("muted")
        return None


class UsageChart(pg.PlotWidget):
    """The largest repos as horizontal bars, biggest at the top, in the scheme's colours."""

    SHOWN = 12

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=None)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(160)
        self._bars: pg.BarGraphItem | None = None
        self._labels: list[pg.TextItem] = []
        self._repos: list[RepoUsage] = []
        notifier().changed.connect(self._paint)

    def show_repos(self, repos: list[RepoUsage]) -> None:
        self._repos = sort_usage(repos, "size")[: self.SHOWN]
        self._paint()

    def bar_values(self) -> list[tuple[str, int]]:
        return [(repo.id, repo.size_bytes) for repo in self._repos]

    def _paint(self, _scheme: str | None = None) -> None:
        plot = self.getPlotItem()
        # Old bars and labels are deleted here, on the GUI thread: left to Python's garbage collector, a
        # graphics item in a reference cycle could be destroyed from whatever thread happens to collect.
        for item in [self._bars, *self._labels]:
            if item is not None:
                plot.removeItem(item)
                item.deleteLater()
        self._bars = None
        self._labels = []
        axis_colour = qcolor("muted")
        for name in ("left", "bottom"):
            plot.getAxis(name).setPen(axis_colour)
            plot.getAxis(name).setTextPen(axis_colour)
        largest = max((repo.size_bytes for repo in self._repos), default=0)
        unit, scale = next(((u, f) for u, f in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)) if largest >= f), ("bytes", 1))
        plot.setTitle(f"Largest repos ({unit})", size="9pt", color=color("text"))
        plot.getAxis("left").setTicks([[]])
        if not self._repos:
            return
        count = len(self._repos)
        sizes = [repo.size_bytes / scale for repo in self._repos]
        fill = qcolor("plot_line")
        fill.setAlpha(150)
        self._bars = pg.BarGraphItem(
            x0=0, y=[count - i for i in range(count)], height=0.7, width=sizes, brush=fill, pen=pg.mkPen(qcolor("plot_line"))
        )
        plot.addItem(self._bars)
        for i, repo in enumerate(self._repos):
            label = pg.TextItem(f"{repo.id}  {human_bytes(repo.size_bytes)}", color=color("text"), anchor=(0, 0.5))
            label.setPos(0, count - i)
            plot.addItem(label)
            self._labels.append(label)
        plot.setYRange(0.4, count + 0.6, padding=0)
        plot.setXRange(0, max(sizes) * 1.05 or 1, padding=0)


__all__ = ["RepoUsageModel", "RevisionModel", "UsageChart", "when"]
