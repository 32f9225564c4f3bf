"""The checkpoint browser: source → repo → revision, filled as the scan streams results.

The rows live in ``browser_model.CheckpointTreeModel``, which sorts and filters itself (no proxy model):
a list of 10,000 repos keeps up with typing in the filter and with sorting by a column.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView

from explorer.core.checkpoint import Checkpoint
from explorer.ui.browser_model import (
    CHECKPOINT_ROLE, COLUMNS, LOCATION_ROLE, SOURCE_ROLE, SOURCE_TITLES, CheckpointTreeModel, Node,
)


# A filter that leaves this many repos or fewer shows their revisions too.
FILTER_EXPANDS_UP_TO = 200
# Lists up to this long are filtered at each keystroke; longer ones once typing pauses this long.
FILTER_AT_ONCE_UP_TO = 2000
FILTER_PAUSE_MS = 150


class CheckpointBrowser(QTreeView):
    checkpoint_selected = Signal(object)
    """Emitted with the Checkpoint (or None) whenever the selection changes."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # One model: it is the list and its sorted, filtered view at once (``proxy`` is the name callers know).
        self.source_model = self.proxy = CheckpointTreeModel(self)
        self.setModel(self.source_model)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Fixed, content-sized widths for the facts; the name gets the rest (it is what people read).
        metrics = self.fontMetrics()
        for column, sample_text in ((1, "distilbert (GGUF)"), (2, "999.9M"), (3, "999.9 GiB")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, max(metrics.horizontalAdvance(sample_text), metrics.horizontalAdvance(COLUMNS[column])) + 28)
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        # A long list is filtered once typing pauses: laying out thousands of rows at each keystroke stalls typing.
        self._filter_text = ""
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_PAUSE_MS)
        self._filter_timer.timeout.connect(lambda: self.apply_filter(self._filter_text))

    def filter_typed(self, text: str) -> None:
        self._filter_text = text
        if self.source_model.checkpoint_count() > FILTER_AT_ONCE_UP_TO:
            self._filter_timer.start()
        else:
            self.apply_filter(text)

    def apply_filter(self, text: str) -> None:
        self._filter_timer.stop()
        self.source_model.set_filter_text(text)
        # Matching revisions in view, when there are few: opening thousands of repos would stall every keystroke.
        if text and self.source_model.shown_below_places() <= FILTER_EXPANDS_UP_TO:
            self.expandAll()

    def begin_filling(self) -> None:
        """A scan starts streaming rows: keep them in arrival order (the scan's, by name) until it ends."""
        self.source_model.set_sorting(False)

    def end_filling(self) -> None:
        """Sort once, now that every row is there (one sort, not one per batch of rows)."""
        self.source_model.set_sorting(True)

    def add_checkpoints(self, found: list[Checkpoint]) -> None:
        """Rows for a batch of scan results, placed in one layout change."""
        self.source_model.add_checkpoints(found)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.checkpoint_selected.emit(self.checkpoint_at(current))

    def checkpoint_at(self, index: QModelIndex) -> Checkpoint | None:
        if not index.isValid():
            return None
        key = index.siblingAtColumn(0).data(CHECKPOINT_ROLE)
        return self.source_model.checkpoint(key) if isinstance(key, str) else None

    def current_checkpoint(self) -> Checkpoint | None:
        return self.checkpoint_at(self.currentIndex())

    def location_at(self, index: QModelIndex) -> tuple[str, str] | None:
        """(source kind, path) of the top-level location row under index."""
        while index.isValid() and index.parent().isValid():
            index = index.parent()
        if not index.isValid():
            return None
        return index.data(SOURCE_ROLE), index.data(LOCATION_ROLE)

    def select_key(self, key: str) -> bool:
        return self._select(lambda node: node.key == key)

    def select_match(self, text: str) -> bool:
        """Select by repo id, checkpoint name, path or revision (the --select option)."""
        wanted = os.path.realpath(text) if os.path.exists(text) else None

        def matches(node: Node) -> bool:
            ckpt = node.ckpt
            if ckpt is None:
                return False
            if wanted and os.path.realpath(ckpt.path) == wanted:
                return True
            return text in (ckpt.id, ckpt.path, ckpt.revision) or node.texts[0] == text

        return self._select(matches)

    def _select(self, predicate) -> bool:
        index = self.source_model.find(predicate)
        if not index.isValid():
            return False
        self.setCurrentIndex(index)
        self.scrollTo(index)
        return True

    def expand_locations(self) -> None:
        for row in range(self.source_model.rowCount()):
            # A location's title (source and path) is long: let it use the whole row.
            self.setFirstColumnSpanned(row, QModelIndex(), True)
            self.expand(self.source_model.index(row, 0))


__all__ = ["CheckpointBrowser", "SOURCE_TITLES"]
