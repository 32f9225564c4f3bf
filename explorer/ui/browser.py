"""The checkpoint browser: source → repo → revision, filled as the scan streams results."""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QRegularExpression, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyledItemDelegate, QTreeView

from explorer.core.checkpoint import (
    FORMAT_GGUF,
    SOURCE_FOLDER,
    SOURCE_HUB_CACHE,
    SOURCE_LEGACY,
    SOURCE_LM_STUDIO,
    SOURCE_OLLAMA,
    Checkpoint,
    display_text,
)
from explorer.core.format_summary import type_label
from explorer.core.formatting import human_bytes, human_count, sortable
from explorer.ui.palette import notifier, qcolor

CHECKPOINT_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3
LOCATION_ROLE = Qt.ItemDataRole.UserRole + 4
HAS_PROBLEMS_ROLE = Qt.ItemDataRole.UserRole + 5  # the name is painted in the scheme's "error" colour

COLUMNS = ("Name", "Type", "Params", "Size")
SOURCE_TITLES = {
    SOURCE_HUB_CACHE: "Hugging Face cache",
    SOURCE_LEGACY: "Legacy transformers cache",
    SOURCE_FOLDER: "Folder",
    SOURCE_OLLAMA: "Ollama models",
    SOURCE_LM_STUDIO: "LM Studio models",
}


# Combined once: or-ing two Qt enum members is a Python-level enum operation, slow per row.
RIGHT_ALIGNED = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _item(text: str, sort_value=None) -> QStandardItem:
    # Not made read-only item by item: the view has no edit triggers at all. Numbers are aligned by
    # the view's delegate: one call per painted cell instead of one per item of a 10,000-repo list.
    item = QStandardItem(text)
    item.setData(sort_value if sort_value is not None else text.lower(), SORT_ROLE)
    return item


class RightAligned(QStyledItemDelegate):
    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        option.displayAlignment = RIGHT_ALIGNED


class CheckpointModel(QStandardItemModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self._locations: dict[str, QStandardItem] = {}
        self._repos: dict[tuple[str, str], QStandardItem] = {}
        self._checkpoints: dict[str, Checkpoint] = {}
        self._rows: dict[str, QStandardItem] = {}  # checkpoint key -> its own row (a revision's, or a folder's)
        self._shown: dict[str, tuple] = {}  # checkpoint key -> the facts its row shows
        notifier().changed.connect(self._recolour)

    def _recolour(self, _scheme: str = "") -> None:
        """Names of checkpoints with problems take the error colour of the scheme now in force."""
        brush = QBrush(qcolor("error"))
        pending = [self.invisibleRootItem()]
        while pending:
            parent = pending.pop()
            for row in range(parent.rowCount()):
                child = parent.child(row, 0)
                if child.data(HAS_PROBLEMS_ROLE):
                    child.setForeground(brush)
                if child.hasChildren():
                    pending.append(child)

    def clear_checkpoints(self) -> None:
        self.removeRows(0, self.rowCount())
        self._locations.clear()
        self._repos.clear()
        self._checkpoints.clear()
        self._rows.clear()
        self._shown.clear()

    def apply_scan(self, checkpoints: list[Checkpoint]) -> tuple[list[Checkpoint], list[Checkpoint], list[Checkpoint]]:
        """Bring the rows to a new scan's result in place: (added, removed, changed), other rows untouched.

        A rescan after a download changes a few rows of thousands; rebuilding all of them would lose
        the selection, the open folders and the scroll position, and make every tab start over.
        """
        new = {ckpt.key: ckpt for ckpt in checkpoints}
        removed = [ckpt for key, ckpt in self._checkpoints.items() if key not in new]
        # Compared by what the rows show, not by object: a rescan hands back the same objects with their refs renewed.
        changed = [ckpt for key, ckpt in new.items() if key in self._shown and self._shown[key] != _shown_facts(ckpt)]
        added = [ckpt for key, ckpt in new.items() if key not in self._checkpoints]
        for ckpt in removed + changed:
            self._remove(ckpt.key)
        for ckpt in changed + added:
            self.add_checkpoint(ckpt)
        # Unchanged entries take the new scan's objects (equal, so the tabs see no difference).
        for key, ckpt in new.items():
            self._checkpoints[key] = ckpt
        return added, removed, changed

    def _remove(self, key: str) -> None:
        self._checkpoints.pop(key, None)
        self._shown.pop(key, None)
        row = self._rows.pop(key, None)
        if row is None:
            return
        parent = row.parent() or self.invisibleRootItem()
        parent.removeRow(row.row())
        repo_key = next((k for k, item in self._repos.items() if item is parent), None)
        if repo_key is not None:
            if parent.rowCount() == 0:
                del self._repos[repo_key]
                location = parent.parent() or self.invisibleRootItem()
                location.removeRow(parent.row())
                parent = location
            elif parent.data(CHECKPOINT_ROLE) == key:
                # The repo row stood for the revision that went: let it stand for one still there.
                remaining = self._checkpoints.get(parent.child(0, 0).data(CHECKPOINT_ROLE))
                if remaining is not None:
                    parent.setData(remaining.key, CHECKPOINT_ROLE)
                    self._update_repo(parent, remaining, force=True)
        if parent is not self.invisibleRootItem() and parent.rowCount() == 0:
            origin = next((k for k, item in self._locations.items() if item is parent), None)
            if origin is not None:
                del self._locations[origin]
                self.invisibleRootItem().removeRow(parent.row())

    def checkpoints(self) -> list[Checkpoint]:
        return list(self._checkpoints.values())

    def checkpoint_count(self) -> int:
        return len(self._checkpoints)

    def checkpoint(self, key: str) -> Checkpoint | None:
        return self._checkpoints.get(key)

    def _location_item(self, ckpt: Checkpoint) -> QStandardItem:
        origin = ckpt.origin or ckpt.path
        item = self._locations.get(origin)
        if item is None:
            title = SOURCE_TITLES.get(ckpt.source, ckpt.source)
            if ckpt.source == SOURCE_FOLDER and ckpt.origin and _is_samples_dir(ckpt.origin):
                title = "Samples (random weights)"
            item = _item(f"{title} — {display_text(origin)}", sort_value=f"{ckpt.source}:{origin}")
            item.setData(origin, LOCATION_ROLE)
            item.setData(ckpt.source, CHECKPOINT_ROLE + 10)
            item.setToolTip(display_text(origin))
            font = item.font()
            font.setBold(True)
            item.setFont(font)
            row = [item] + [_item("") for _ in COLUMNS[1:]]
            self.appendRow(row)
            self._locations[origin] = item
        return item

    def add_checkpoint(self, ckpt: Checkpoint) -> None:
        self._checkpoints[ckpt.key] = ckpt
        self._shown[ckpt.key] = _shown_facts(ckpt)
        parent = self._location_item(ckpt)
        search = " ".join(
            [ckpt.id, ckpt.model_type or "", *ckpt.architectures, ckpt.revision or "", *ckpt.refs, ckpt.format, ckpt.base_model or ""]
        ).lower()
        if ckpt.source in (SOURCE_HUB_CACHE, SOURCE_LEGACY) and ckpt.revision:
            repo_id, file_label = ckpt.id, ""
            if ckpt.format == FORMAT_GGUF and ckpt.files and ckpt.id.endswith("/" + ckpt.files[0].name):
                # A GGUF repo holds one model per quantisation: rows under the repo, named by file.
                repo_id = ckpt.id[: -len(ckpt.files[0].name) - 1]
                file_label = ckpt.files[0].name + "  @ "
            repo_key = (ckpt.origin or "", repo_id)
            repo = self._repos.get(repo_key)
            if repo is None:
                repo = self._row(parent, display_text(repo_id), ckpt, size=ckpt.repo_size_bytes or ckpt.size_bytes)
                self._repos[repo_key] = repo
            else:
                self._update_repo(repo, ckpt)
            label = display_text(file_label) + (ckpt.revision[:10] if len(ckpt.revision) > 20 else ckpt.revision)
            label += f"  ({', '.join(ckpt.refs)})" if ckpt.refs else ""
            revision_item = self._row(repo, label, ckpt)
            revision_item.setData(search, SEARCH_ROLE)
            self._rows[ckpt.key] = revision_item
            repo.setData(f"{repo.data(SEARCH_ROLE) or ''} {search}", SEARCH_ROLE)
        else:
            name = ckpt.id
            if ckpt.origin and ckpt.path != ckpt.origin and ckpt.source != SOURCE_OLLAMA:  # Ollama's path is a manifest
                name = os.path.relpath(ckpt.path, ckpt.origin)
            item = self._row(parent, display_text(name), ckpt)
            item.setData(search, SEARCH_ROLE)
            self._rows[ckpt.key] = item

    def _row(self, parent: QStandardItem, name: str, ckpt: Checkpoint, size: int | None = None) -> QStandardItem:
        size = ckpt.size_bytes if size is None else size
        name_item = _item(name)
        name_item.setData(ckpt.key, CHECKPOINT_ROLE)
        if ckpt.problems:
            name_item.setToolTip("Problems:\n" + "\n".join(f"• {display_text(p)}" for p in ckpt.problems))
            name_item.setData(True, HAS_PROBLEMS_ROLE)
            # Stored in the item (sorting and filtering stay in C++); _recolour follows a scheme change.
            name_item.setForeground(qcolor("error"))
        row = [
            name_item,
            _item(type_label(ckpt)),
            _item(human_count(ckpt.num_parameters), sortable(ckpt.num_parameters)),
            _item(human_bytes(size), sortable(size)),
        ]
        parent.appendRow(row)
        return name_item

    def _update_repo(self, repo: QStandardItem, ckpt: Checkpoint, force: bool = False) -> None:
        # The repo row shows the revision main points to, or the newest one.
        if force or "main" in ckpt.refs:
            parent = repo.parent() or self.invisibleRootItem()
            r = repo.row()
            repo.setData(ckpt.key, CHECKPOINT_ROLE)
            parent.child(r, 1).setText(type_label(ckpt))
            count = parent.child(r, 2)
            count.setText(human_count(ckpt.num_parameters))
            count.setData(sortable(ckpt.num_parameters), SORT_ROLE)


def _shown_facts(ckpt: Checkpoint) -> tuple:
    """What a checkpoint's row and tabs show of it: a change here means the row is made again."""
    return (
        tuple(ckpt.refs), ckpt.model_type, ckpt.num_parameters, ckpt.size_bytes, ckpt.repo_size_bytes, tuple(ckpt.problems),
        ckpt.format, ckpt.last_modified, len(ckpt.files),
    )


def _is_samples_dir(path: str) -> bool:
    from explorer.core.paths import samples_dir

    try:
        return os.path.realpath(path) == os.path.realpath(samples_dir())
    except OSError:
        return False


class CheckpointFilter(QSortFilterProxyModel):
    """Matches every filter word against a row's name, model type, architectures, refs, format and base.

    All in Qt's C++: a regular expression of one look-ahead per word over the row's search text, so
    typing in a list of 10,000 repos never calls Python once per row.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setAutoAcceptChildRows(True)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(SEARCH_ROLE)

    def set_filter_text(self, text: str) -> None:
        words = text.lower().split()
        # Anchored: unanchored, the engine would try every look-ahead at every position of every row.
        pattern = "\\A" + "".join(f"(?=.*{QRegularExpression.escape(word)})" for word in words) if words else ""
        self.setFilterRegularExpression(QRegularExpression(pattern, QRegularExpression.PatternOption.DotMatchesEverythingOption))


class CheckpointBrowser(QTreeView):
    checkpoint_selected = Signal(object)
    """Emitted with the Checkpoint (or None) whenever the selection changes."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.source_model = CheckpointModel(self)
        self.proxy = CheckpointFilter(self)
        self.proxy.setSourceModel(self.source_model)
        self.setModel(self.proxy)
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
        self._numbers = RightAligned(self)
        for column in (2, 3):
            self.setItemDelegateForColumn(column, self._numbers)
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        self._filling = False

    def begin_filling(self) -> None:
        """A scan starts streaming rows: keep them in arrival order (the scan's, by name) until it ends."""
        self._filling = True
        self.proxy.setDynamicSortFilter(False)

    def end_filling(self) -> None:
        """Sort once, now that every row is there (one sort, not one per batch of rows)."""
        self._filling = False
        self.proxy.setDynamicSortFilter(True)

    def add_checkpoints(self, found: list[Checkpoint]) -> None:
        """Rows for a batch of scan results, sorted into place once rather than once per row."""
        if self._filling:
            for ckpt in found:
                self.source_model.add_checkpoint(ckpt)
            return
        self.proxy.setDynamicSortFilter(False)
        try:
            for ckpt in found:
                self.source_model.add_checkpoint(ckpt)
        finally:
            self.proxy.setDynamicSortFilter(True)

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
        return index.data(CHECKPOINT_ROLE + 10), index.data(LOCATION_ROLE)

    def select_key(self, key: str) -> bool:
        return self._select(lambda item: item.data(CHECKPOINT_ROLE) == key)

    def select_match(self, text: str) -> bool:
        """Select by repo id, checkpoint name, path or revision (the --select option)."""
        wanted = os.path.realpath(text) if os.path.exists(text) else None

        def matches(item: QStandardItem) -> bool:
            key = item.data(CHECKPOINT_ROLE)
            if not isinstance(key, str):
                return False
            ckpt = self.source_model.checkpoint(key)
            if ckpt is None:
                return False
            if wanted and os.path.realpath(ckpt.path) == wanted:
                return True
            return text in (ckpt.id, ckpt.path, ckpt.revision) or item.text() == text

        return self._select(matches)

    def _select(self, predicate) -> bool:
        stack = [self.source_model.invisibleRootItem()]
        while stack:
            parent = stack.pop()
            for row in range(parent.rowCount()):
                child = parent.child(row, 0)
                if predicate(child):
                    proxy_index = self.proxy.mapFromSource(child.index())
                    if proxy_index.isValid():
                        self.setCurrentIndex(proxy_index)
                        self.scrollTo(proxy_index)
                        return True
                stack.append(child)
        return False

    def expand_locations(self) -> None:
        for row in range(self.proxy.rowCount()):
            # A location's title (source and path) is long: let it use the whole row.
            self.setFirstColumnSpanned(row, QModelIndex(), True)
            self.expand(self.proxy.index(row, 0))
