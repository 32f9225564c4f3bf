"""The browser's tree (source → repo → revision) as one item model that sorts and filters itself.

A cache of 10,000 repos is 22,000 rows. Qt's QStandardItemModel behind a QSortFilterProxyModel made one
Python object per cell and asked each row again for every sort comparison and every filter keystroke;
here each row is one small node, sorting is one Python ``sort`` per folder of rows with precomputed
keys, and filtering one pass over precomputed search texts. Both end in a single ``layoutChanged`` with
the view's persistent indexes moved along, so the selection, the open repos and the scroll position
survive a keystroke.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt
from PySide6.QtGui import QFont

from explorer.core.checkpoint import (
    FORMAT_GGUF, SOURCE_FOLDER, SOURCE_HUB_CACHE, SOURCE_LEGACY, SOURCE_LM_STUDIO, SOURCE_OLLAMA, Checkpoint, display_text,
)
from explorer.core.format_summary import type_label
from explorer.core.formatting import human_bytes, human_count, sortable
from explorer.ui.palette import qcolor

CHECKPOINT_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3
LOCATION_ROLE = Qt.ItemDataRole.UserRole + 4
HAS_PROBLEMS_ROLE = Qt.ItemDataRole.UserRole + 5
SOURCE_ROLE = Qt.ItemDataRole.UserRole + 11

COLUMNS = ("Name", "Type", "Params", "Size")
SOURCE_TITLES = {
    SOURCE_HUB_CACHE: "Hugging Face cache",
    SOURCE_LEGACY: "Legacy transformers cache",
    SOURCE_FOLDER: "Folder",
    SOURCE_OLLAMA: "Ollama models",
    SOURCE_LM_STUDIO: "LM Studio models",
}
LOCATION, REPO, ENTRY = range(3)
PLACE_SIZE_MARK = "  ·  "
RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class Node:
    """One row: a place, a repo (standing for its main revision), or one checkpoint."""

    __slots__ = (
        "kind", "parent", "children", "shown", "generation", "row", "texts", "sort_keys", "search", "key", "ckpt", "origin", "source",
        "tooltip",
    )

    def __init__(self, kind: int, parent: Node | None) -> None:
        self.kind = kind
        self.parent = parent
        self.children: list[Node] = []
        self.shown: list[Node] = []  # the children that pass the filter, in the sort order
        self.generation = -1  # the model's arrangement ``shown`` was made for
        self.row = 0  # its place in its parent's ``shown``
        self.texts: tuple[str, str, str, str] = ("", "", "", "")
        self.sort_keys: tuple = ("", "", -1.0, -1.0)
        self.search = ""
        self.key: str | None = None
        self.ckpt: Checkpoint | None = None
        self.origin: str | None = None
        self.source: str | None = None
        self.tooltip: str | None = None

    def show(self, ckpt: Checkpoint, name: str, size: int) -> None:
        self.key, self.ckpt = ckpt.key, ckpt
        self.texts = (name, type_label(ckpt), human_count(ckpt.num_parameters), human_bytes(size))
        self.sort_keys = (name.lower(), self.texts[1].lower(), sortable(ckpt.num_parameters), sortable(size))
        self.tooltip = "Problems:\n" + "\n".join(f"• {display_text(p)}" for p in ckpt.problems) if ckpt.problems else None


def _search_text(ckpt: Checkpoint) -> str:
    parts = [ckpt.id, ckpt.model_type or "", *ckpt.architectures, ckpt.revision or "", *ckpt.refs, ckpt.format, ckpt.base_model or ""]
    return " ".join(parts).lower()


def shown_facts(ckpt: Checkpoint) -> tuple:
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


class CheckpointTreeModel(QAbstractItemModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._root = Node(LOCATION, None)
        self._locations: dict[str, Node] = {}
        self._repos: dict[tuple[str, str], Node] = {}
        self._entries: dict[str, Node] = {}  # checkpoint key -> its own row
        self._checkpoints: dict[str, Checkpoint] = {}
        self._shown_facts: dict[str, tuple] = {}
        self._words: list[str] = []
        self._matches = _matcher([])
        self._generation = 0
        self._sort: tuple[int, Qt.SortOrder] = (0, Qt.SortOrder.AscendingOrder)
        self._sorting = True  # False while a scan streams rows in: they are sorted once at its end
        # Rows taken out stay referenced until the next reset: a view may still hold a persistent index
        # on one (the selection, an open repo), and Qt reads the node behind it when the layout changes.
        self._removed: list[Node] = []
        self._bold = QFont()
        self._bold.setBold(True)

    # ------------------------------------------------------------------ Qt's item model

    def _node(self, index: QModelIndex) -> Node:
        return index.internalPointer() if index.isValid() else self._root

    # index, parent, rowCount and hasChildren are what a view calls for every row it lays out (10,000
    # rows after a keystroke): kept to the fewest Python calls.
    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        if parent.isValid():
            if parent.column():
                return QModelIndex()
            node = parent.internalPointer()
        else:
            node = self._root
        shown = node.shown if node.generation == self._generation else self._shown(node)
        if 0 <= row < len(shown) and 0 <= column < 4:
            return self.createIndex(row, column, shown[row])
        return QModelIndex()

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        parent = index.internalPointer().parent
        if parent is None or parent is self._root or parent.parent is None:
            return QModelIndex()
        self._shown(parent.parent)  # its row is the one of the current arrangement
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        if parent.isValid():
            if parent.column():
                return 0
            node = parent.internalPointer()
        else:
            node = self._root
        return len(node.shown if node.generation == self._generation else self._shown(node))

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: N802 (Qt's name)
        # A shown repo always has a revision shown (its search text is theirs): no need to arrange it to know.
        if not parent.isValid():
            return bool(self._root.children)
        return not parent.column() and parent.internalPointer().kind != ENTRY

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return node.texts[column]
        if column == 0:
            if role == CHECKPOINT_ROLE:
                return node.key
            if role == Qt.ItemDataRole.ForegroundRole:
                # Asked when a row is painted: the colour of the scheme in force, with no stored brushes to renew.
                return qcolor("error") if node.ckpt is not None and node.ckpt.problems else None
            if role == Qt.ItemDataRole.ToolTipRole:
                return node.tooltip
            if role == Qt.ItemDataRole.FontRole and node.kind == LOCATION:
                return self._bold
            if role == SEARCH_ROLE:
                return node.search
            if role == LOCATION_ROLE:
                return node.origin
            if role == SOURCE_ROLE:
                return node.source
            if role == HAS_PROBLEMS_ROLE:
                return bool(node.ckpt is not None and node.ckpt.problems)
        if role == SORT_ROLE:
            return node.sort_keys[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return RIGHT_ALIGNED
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        if self._sorting:
            self._relayout()

    # ------------------------------------------------------------------ arranging rows

    def _shown(self, node: Node) -> list[Node]:
        """The children of ``node`` that pass the filter, in the sort order; arranged when first asked for.

        Only what the view asks for is arranged: a sort or a keystroke touches the places and their repos,
        not the revisions of 10,000 closed repos.
        """
        if node.generation == self._generation:
            return node.shown
        children = list(node.children)  # a list of its own: rows are added to ``children`` and announced in ``shown``
        words = self._words
        # A repo's search text holds its revisions': a repo shown is shown with all its revisions.
        if words and node.kind != REPO:
            matches = self._matches
            children = [c for c in children if _passes(c, matches)]
        # Places keep the order they were scanned in (the hub cache first); what is in them is sorted.
        if self._sorting and len(children) > 1 and node is not self._root:
            column, order = self._sort
            children = sorted(children, key=_SORT_KEYS[column], reverse=order == Qt.SortOrder.DescendingOrder)
        for row, child in enumerate(children):
            child.row = row
        node.shown = children
        node.generation = self._generation
        return children

    def _relayout(self) -> None:
        """Arrange every row again, keeping the view's selection and open rows on the same nodes."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        nodes = [(index.internalPointer(), index.column()) for index in old]
        self._generation += 1
        new = [self._index_of(node, column) for node, column in nodes]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _index_of(self, node: Node, column: int) -> QModelIndex:
        """Where a node is shown now; invalid when it (or a row above it) is filtered out or gone."""
        if node.parent is None:  # taken out of the tree
            return QModelIndex()
        walk = node
        while walk.parent is not None:
            shown = self._shown(walk.parent)
            if walk.row >= len(shown) or shown[walk.row] is not walk:
                return QModelIndex()
            walk = walk.parent
        return self.createIndex(node.row, column, node)

    def set_filter_text(self, text: str) -> None:
        words = text.lower().split()
        if words == self._words:
            return
        self._words = words
        self._matches = _matcher(words)
        self._relayout()

    def set_sorting(self, enabled: bool) -> None:
        """Off while a scan streams rows (they come in name order); on again sorts once."""
        self._sorting = enabled
        if enabled:
            self._relayout()

    # ------------------------------------------------------------------ checkpoints in, out

    def checkpoints(self) -> list[Checkpoint]:
        return list(self._checkpoints.values())

    def checkpoint_count(self) -> int:
        return len(self._checkpoints)

    def checkpoint(self, key: str) -> Checkpoint | None:
        return self._checkpoints.get(key)

    def clear_checkpoints(self) -> None:
        self.beginResetModel()
        self._removed.clear()
        self._generation += 1
        self._root = Node(LOCATION, None)
        self._locations.clear()
        self._repos.clear()
        self._entries.clear()
        self._checkpoints.clear()
        self._shown_facts.clear()
        self.endResetModel()

    def add_checkpoints(self, found: list[Checkpoint]) -> None:
        """Rows for a batch of scan results: one layout change for the batch, not one per row.

        While a scan streams rows in (sorting off), new rows are appended where the view already looks, as
        row insertions: a layout change would make the view lay out every row found so far, at each batch.
        """
        if not found:
            return
        if not self._sorting:
            self._append(found)
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        nodes = [(index.internalPointer(), index.column()) for index in old]
        for ckpt in found:
            self._add(ckpt)
        self._generation += 1
        self.changePersistentIndexList(old, [self._index_of(node, column) for node, column in nodes])
        self.layoutChanged.emit()

    def add_checkpoint(self, ckpt: Checkpoint) -> None:
        self.add_checkpoints([ckpt])

    def _append(self, found: list[Checkpoint]) -> None:
        groups: dict[int, tuple[Node, list[Node]]] = {}
        for ckpt in found:
            for node in self._add(ckpt):
                parent = node.parent
                # A parent the view has not asked about in this arrangement learns its rows when it asks.
                if parent.generation == self._generation:
                    groups.setdefault(id(parent), (parent, []))[1].append(node)
        for parent, nodes in groups.values():
            if self._words:
                nodes = [node for node in nodes if _passes(node, self._matches)]
            if not nodes:
                continue
            shown = parent.shown
            first = len(shown)
            where = QModelIndex() if parent is self._root else self._index_of(parent, 0)
            if parent is not self._root and not where.isValid():
                continue
            self.beginInsertRows(where, first, first + len(nodes) - 1)
            for row, node in enumerate(nodes, first):
                node.row = row
            shown.extend(nodes)
            self.endInsertRows()

    def _location(self, ckpt: Checkpoint, created: list[Node]) -> Node:
        origin = ckpt.origin or ckpt.path
        node = self._locations.get(origin)
        if node is None:
            title = SOURCE_TITLES.get(ckpt.source, ckpt.source)
            if ckpt.source == SOURCE_FOLDER and ckpt.origin and _is_samples_dir(ckpt.origin):
                title = "Samples (random weights)"
            node = Node(LOCATION, self._root)
            node.texts = (f"{title} — {display_text(origin)}", "", "", "")
            node.sort_keys = (f"{ckpt.source}:{origin}", "", -1.0, -1.0)
            node.origin, node.source, node.tooltip = origin, ckpt.source, display_text(origin)
            self._root.children.append(node)
            self._locations[origin] = node
            created.append(node)
        return node

    def _add(self, ckpt: Checkpoint) -> list[Node]:
        """The rows for one checkpoint; returns the nodes made (a place, a repo, the checkpoint's own row)."""
        created: list[Node] = []
        self._checkpoints[ckpt.key] = ckpt
        self._shown_facts[ckpt.key] = shown_facts(ckpt)
        location = self._location(ckpt, created)
        search = _search_text(ckpt)
        if ckpt.source in (SOURCE_HUB_CACHE, SOURCE_LEGACY) and ckpt.revision:
            repo_id, file_label = ckpt.id, ""
            if ckpt.format == FORMAT_GGUF and ckpt.files and ckpt.id.endswith("/" + ckpt.files[0].name):
                # A GGUF repo holds one model per quantisation: rows under the repo, named by file.
                repo_id = ckpt.id[: -len(ckpt.files[0].name) - 1]
                file_label = ckpt.files[0].name + "  @ "
            repo_key = (ckpt.origin or "", repo_id)
            repo = self._repos.get(repo_key)
            if repo is None:
                repo = self._repos[repo_key] = Node(REPO, location)
                location.children.append(repo)
                created.append(repo)
                _count_in(location, ckpt.repo_size_bytes or ckpt.size_bytes)
                repo.show(ckpt, display_text(repo_id), ckpt.repo_size_bytes or ckpt.size_bytes)
            elif "main" in ckpt.refs:  # the repo row shows the revision main points to, or the first one found
                repo.show(ckpt, repo.texts[0], ckpt.repo_size_bytes or ckpt.size_bytes)
            label = display_text(file_label) + (ckpt.revision[:10] if len(ckpt.revision) > 20 else ckpt.revision)
            label += f"  ({', '.join(ckpt.refs)})" if ckpt.refs else ""
            entry = Node(ENTRY, repo)
            entry.show(ckpt, label, ckpt.size_bytes)
            entry.search = search
            repo.children.append(entry)
            repo.search = f"{repo.search} {search}"
            created.append(entry)
        else:
            name = ckpt.id
            if ckpt.origin and ckpt.path != ckpt.origin and ckpt.source != SOURCE_OLLAMA:  # Ollama's path is a manifest
                name = os.path.relpath(ckpt.path, ckpt.origin)
            entry = Node(ENTRY, location)
            entry.show(ckpt, display_text(name), ckpt.size_bytes)
            entry.search = search
            location.children.append(entry)
            _count_in(location, ckpt.size_bytes)
            created.append(entry)
        self._entries[ckpt.key] = entry
        return created

    def apply_scan(self, checkpoints: list[Checkpoint]) -> tuple[list[Checkpoint], list[Checkpoint], list[Checkpoint]]:
        """Bring the rows to a new scan's result in place: (added, removed, changed), other rows untouched.

        A rescan after a download changes a few rows of thousands; rebuilding all of them would lose
        the selection, the open folders and the scroll position, and make every tab start over.
        """
        new = {ckpt.key: ckpt for ckpt in checkpoints}
        removed = [ckpt for key, ckpt in self._checkpoints.items() if key not in new]
        # Compared by what the rows show, not by object: a rescan hands back the same objects with their refs renewed.
        changed = [ckpt for key, ckpt in new.items() if key in self._shown_facts and self._shown_facts[key] != shown_facts(ckpt)]
        added = [ckpt for key, ckpt in new.items() if key not in self._checkpoints]
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        nodes = [(index.internalPointer(), index.column()) for index in old]
        for ckpt in removed + changed:
            self._remove(ckpt.key)
        for ckpt in changed + added:
            self._add(ckpt)
        for key, ckpt in new.items():  # unchanged entries take the new scan's (equal) objects
            self._checkpoints[key] = ckpt
        self._generation += 1
        self.changePersistentIndexList(old, [self._index_of(node, column) for node, column in nodes])
        self.layoutChanged.emit()
        return added, removed, changed

    def _remove(self, key: str) -> None:
        self._checkpoints.pop(key, None)
        self._shown_facts.pop(key, None)
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        parent = entry.parent
        if parent.kind == LOCATION:
            _count_in(parent, -entry.ckpt.size_bytes)
        elif len(parent.children) == 1:  # the repo goes with its last revision
            _count_in(parent.parent, -(entry.ckpt.repo_size_bytes or entry.ckpt.size_bytes))
        parent.children.remove(entry)
        entry.parent = None  # a persistent index still on it is now one nowhere shown
        self._removed.append(entry)
        if parent.kind == REPO:
            if not parent.children:
                self._repos = {k: v for k, v in self._repos.items() if v is not parent}
                repo, parent = parent, parent.parent
                parent.children.remove(repo)
                repo.parent = None
                self._removed.append(repo)
            else:
                if parent.key == key:  # the repo row stood for the revision that went
                    first = parent.children[0]
                    parent.show(first.ckpt, parent.texts[0], first.ckpt.repo_size_bytes or first.ckpt.size_bytes)
                parent.search = " ".join(child.search for child in parent.children)
        if parent.kind == LOCATION and parent is not self._root and not parent.children:
            self._locations = {k: v for k, v in self._locations.items() if v is not parent}
            self._root.children.remove(parent)
            parent.parent = None
            self._removed.append(parent)

    # ------------------------------------------------------------------ finding rows

    def shown_below_places(self) -> int:
        """How many repos and checkpoints the filter leaves under the places (rows one level down)."""
        return sum(len(self._shown(place)) for place in self._shown(self._root))

    def index_of_key(self, key: str) -> QModelIndex:
        entry = self._entries.get(key)
        return self._index_of(entry, 0) if entry is not None and entry.parent is not None else QModelIndex()

    def find(self, predicate) -> QModelIndex:
        """The first shown row (depth first, in the shown order) whose node satisfies ``predicate(node)``."""
        pending = list(reversed(self._shown(self._root)))
        while pending:
            node = pending.pop()
            if predicate(node):
                return self._index_of(node, 0)
            pending.extend(reversed(self._shown(node)))
        return QModelIndex()


_SORT_KEYS = tuple((lambda column: (lambda node: node.sort_keys[column]))(column) for column in range(len(COLUMNS)))


def _count_in(place: Node, size: int) -> None:
    """What a place's repos and checkpoints take (a repo's blobs once, as the status bar counts), after its title:
    a place's row spans all columns, so its Size column would never be seen."""
    total = max(0, int(max(place.sort_keys[3], 0.0)) + size)
    title = place.texts[0].split(PLACE_SIZE_MARK)[0]
    place.sort_keys = (place.sort_keys[0], "", -1.0, float(total))
    place.texts = (f"{title}{PLACE_SIZE_MARK}{human_bytes(total)}", "", "", human_bytes(total))


def _matcher(words: list[str]):
    """Whether a search text holds every word: one ``in`` for the usual single word."""
    if len(words) == 1:
        word = words[0]
        return lambda text: word in text
    return lambda text: all(word in text for word in words)


def _passes(node: Node, matches) -> bool:
    """A row stays when it matches every word, or when a row below it does."""
    if node.search and matches(node.search):
        return True
    return any(_passes(child, matches) for child in node.children)


__all__ = [
    "CHECKPOINT_ROLE", "COLUMNS", "CheckpointTreeModel", "HAS_PROBLEMS_ROLE", "LOCATION_ROLE", "SEARCH_ROLE", "SORT_ROLE",
    "SOURCE_ROLE", "SOURCE_TITLES", "shown_facts",
]
