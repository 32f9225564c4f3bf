"""A lazy item model over the plain module tree (explorer.core.skeleton), and the share-bar delegate.

Rows of a node are computed only when a view asks for them (a node is expanded), so a tree with
tens of thousands of nodes costs nothing until it is looked at. A node's rows are its parameters
first, then its child modules. Search narrows the rows to matches and their ancestors.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTreeView

from explorer.core.formatting import human_bytes, human_count
from explorer.core.skeleton import ModuleNode, ParamInfo, Skeleton
from explorer.ui.palette import qcolor

COLUMNS = ("Name", "Class", "Parameters", "Share", "Shape", "Dtype", "Bytes", "Status")
COL_NAME, COL_CLASS, COL_PARAMS, COL_SHARE, COL_SHAPE, COL_DTYPE, COL_BYTES, COL_STATUS = range(len(COLUMNS))

ShareRole = Qt.ItemDataRole.UserRole + 1
ItemRole = Qt.ItemDataRole.UserRole + 2

# Palette roles, looked up when painted: a change of colour scheme repaints them right.
STATUS_ROLES = {
    "missing": "weight_missing_bg",  # newly initialised: orange
    "mismatched": "weight_mismatch_bg",  # shape differs: red
    "contains missing": "weight_missing_within_bg",
    "contains mismatched": "weight_mismatch_within_bg",
}
STATUS_TEXT = {
    "missing": "missing: newly initialised",
    "mismatched": "shape mismatch",
    "contains missing": "has missing weights",
    "contains mismatched": "has shape mismatches",
}


class ModuleTreeModel(QAbstractItemModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._skeleton: Skeleton | None = None
        self._rows: dict[int, list] = {}
        self._parent_of: dict[int, ModuleNode | None] = {}
        self._row_of: dict[int, int] = {}
        self._status: dict[str, str] = {}
        self._visible: set[int] | None = None  # ids of items kept by the search, None = everything
        self._owner_of: dict[int, ModuleNode] | None = None  # id(parameter) -> its module, built on first need
        self._total = 1

    # --- public -------------------------------------------------------------------------------------

    def set_skeleton(self, skeleton: Skeleton | None) -> None:
        self.beginResetModel()
        self._skeleton = skeleton
        self._owner_of = None
        self._total = max(1, skeleton.total_params) if skeleton else 1
        self._status = {}
        self._visible = None
        self._clear_cache()
        self.endResetModel()

    def set_status(self, status: dict[str, str]) -> None:
        """Parameter path -> 'missing' | 'mismatched'; modules containing them get a lighter mark."""
        marked: dict[str, str] = {}
        for key, value in status.items():
            parts = key.split(".")
            for end in range(len(parts)):
                prefix = ".".join(parts[:end])
                # A shape mismatch is the more serious mark; it wins over "contains missing".
                if marked.get(prefix) != "contains mismatched":
                    marked[prefix] = f"contains {value}"
        marked.update(status)
        self._status = marked
        if self._skeleton is not None:
            # Views repaint the rows they show (the tab updates its viewport); no reset, so expansion is kept.
            self.dataChanged.emit(self.index(0, 0), self.index(0, len(COLUMNS) - 1))

    def set_filter(self, text: str) -> list[object]:
        """Keep only items whose path contains text (and their ancestors); returns the matches."""
        text = text.strip().lower()
        self.beginResetModel()
        self._clear_cache()
        matches: list[object] = []
        if not text or self._skeleton is None:
            self._visible = None
        else:
            visible: set[int] = set()
            root = self._skeleton.root

            def visit(node: ModuleNode, ancestors: list[ModuleNode]) -> None:
                chain = ancestors + [node]
                hit = text in node.path.lower() or text in node.class_name.lower()
                if hit:
                    matches.append(node)
                    visible.update(id(a) for a in chain)
                for param in node.params:
                    if text in param.path.lower():
                        matches.append(param)
                        visible.add(id(param))
                        visible.update(id(a) for a in chain)
                for child in node.children:
                    visit(child, chain)

            visit(root, [])
            self._visible = visible
        self.endResetModel()
        return matches

    def index_of(self, item) -> QModelIndex:
        """Index of a node or parameter, computing the rows of its ancestors on the way."""
        chain = []
        current = item
        while current is not None and current is not self._root():
            chain.append(current)
            current = self._find_parent(current)
        parent_index = self.index(0, 0)
        for entry in reversed(chain):
            rows = self._rows_of(self._item(parent_index))
            try:
                row = next(i for i, candidate in enumerate(rows) if candidate is entry)
            except StopIteration:
                return QModelIndex()
            parent_index = self.index(row, 0, parent_index)
        return parent_index

    def item(self, index: QModelIndex):
        return self._item(index) if index.isValid() else None

    # --- Qt model -----------------------------------------------------------------------------------

    def _root(self):
        return self._skeleton.root if self._skeleton else None

    def _clear_cache(self) -> None:
        self._rows.clear()
        self._parent_of.clear()
        self._row_of.clear()

    def _rows_of(self, node) -> list:
        if not isinstance(node, ModuleNode):
            return []
        rows = self._rows.get(id(node))
        if rows is None:
            rows = [*node.params, *node.children]
            if self._visible is not None:
                rows = [r for r in rows if id(r) in self._visible]
            for row, child in enumerate(rows):
                self._parent_of[id(child)] = node
                self._row_of[id(child)] = row
            self._rows[id(node)] = rows
        return rows

    def _find_parent(self, item):
        parent = self._parent_of.get(id(item))
        if parent is not None:
            return parent
        if isinstance(item, ModuleNode):
            return item.parent
        if self._owner_of is None:
            # One walk, not one per lookup: search results in a model with tens of thousands of modules.
            self._owner_of = {id(param): node for node in self._skeleton.root.walk() for param in node.params}
        return self._owner_of.get(id(item))

    def _item(self, index: QModelIndex):
        return index.internalPointer()

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        if self._skeleton is None or row < 0 or column < 0 or column >= len(COLUMNS):
            return QModelIndex()
        if not parent.isValid():
            if row != 0:
                return QModelIndex()
            return self.createIndex(0, column, self._skeleton.root)
        rows = self._rows_of(self._item(parent))
        if row >= len(rows):
            return QModelIndex()
        return self.createIndex(row, column, rows[row])

    def parent(self, index=QModelIndex()):  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        item = self._item(index)
        if item is self._root():
            return QModelIndex()
        parent = self._parent_of.get(id(item))
        if parent is None:
            return QModelIndex()
        if parent is self._root():
            return self.createIndex(0, 0, parent)
        return self.createIndex(self._row_of.get(id(parent), 0), 0, parent)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if self._skeleton is None:
            return 0
        if not parent.isValid():
            return 1
        if parent.column() != 0:
            return 0
        return len(self._rows_of(self._item(parent)))

    def hasChildren(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        if not parent.isValid():
            return self._skeleton is not None
        item = self._item(parent)
        if not isinstance(item, ModuleNode):
            return False
        if self._visible is not None:
            return bool(self._rows_of(item))
        return bool(item.params or item.children)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self._item(index)
        column = index.column()
        if role == ItemRole:
            return item
        if isinstance(item, ModuleNode):
            return self._node_data(item, column, role)
        return self._param_data(item, column, role)

    def _node_data(self, node: ModuleNode, column: int, role: int):
        status = self._status.get(node.path)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_NAME:
                return node.name or node.class_name
            if column == COL_CLASS:
                return f"{node.repeat} × {node.class_name}" if node.repeat > 1 else node.class_name
            if column == COL_PARAMS:
                return human_count(node.total_params)
            if column == COL_BYTES:
                return human_bytes(node.total_bytes)
            if column == COL_STATUS and status:
                return STATUS_TEXT.get(status, status)
            return None
        if role == ShareRole and column == COL_SHARE:
            return node.total_params / self._total
        if role == Qt.ItemDataRole.BackgroundRole and status in STATUS_ROLES:
            return QBrush(qcolor(STATUS_ROLES[status]))
        if role == Qt.ItemDataRole.ForegroundRole and status in STATUS_ROLES:
            return QBrush(qcolor("text"))
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [node.path or node.class_name, f"{node.total_params:,} parameters ({node.own_params:,} own)"]
            if node.repeat > 1:
                lines.append(f"{node.repeat} identical {node.class_name} blocks")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.FontRole and node.repeat > 1:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_PARAMS, COL_BYTES):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _param_data(self, param: ParamInfo, column: int, role: int):
        status = self._status.get(param.path)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_NAME:
                return param.name
            if column == COL_CLASS:
                return f"tied → {param.tied_to}" if param.tied_to else "parameter"
            if column == COL_PARAMS:
                return human_count(param.numel)
            if column == COL_SHAPE:
                return " × ".join(str(d) for d in param.shape) or "scalar"
            if column == COL_DTYPE:
                return param.dtype
            if column == COL_BYTES:
                return "shared" if param.tied_to else human_bytes(param.nbytes)
            if column == COL_STATUS:
                return STATUS_TEXT.get(status, "") if status else ("tied" if param.tied_to else None)
            return None
        if role == ShareRole and column == COL_SHARE:
            return 0.0 if param.tied_to else param.numel / self._total
        if role == Qt.ItemDataRole.BackgroundRole and status in STATUS_ROLES:
            return QBrush(qcolor(STATUS_ROLES[status]))
        if role == Qt.ItemDataRole.ForegroundRole:
            if status in STATUS_ROLES:
                return QBrush(qcolor("text"))
            if param.tied_to:
                return QBrush(qcolor("muted"))
        if role == Qt.ItemDataRole.FontRole and column in (COL_NAME, COL_SHAPE):
            font = QFont()
            font.setItalic(column == COL_NAME)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            text = f"{param.path}\n{param.numel:,} values, {param.dtype}"
            if param.tied_to:
                text += f"\ntied to {param.tied_to}: stored once, counted there"
            if status:
                text += f"\n{STATUS_TEXT.get(status, status)}"
            return text
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_PARAMS, COL_BYTES):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ShareBarDelegate(QStyledItemDelegate):
    """Paints a node's share of all parameters as a bar with the percentage."""

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        share = index.data(ShareRole)
        if share is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        cell = option.rect.adjusted(3, 0, -3, 0)
        text_width = option.fontMetrics.horizontalAdvance("100.0%") + 6
        bar_height = max(4, int(cell.height() * 0.5))
        bar = QRect(cell.left(), cell.top() + (cell.height() - bar_height) // 2, max(10, cell.width() - text_width), bar_height)
        painter.save()
        palette = option.palette
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(qcolor("plot_grid"))
        painter.drawRect(bar)
        width = int(bar.width() * max(0.0, min(1.0, share)))
        if width:
            # A role of its own: the palette's Highlight is often too pale to read as a bar.
            painter.setBrush(qcolor("plot_line"))
            painter.drawRect(QRect(bar.left(), bar.top(), width, bar.height()))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        text = f"{share * 100:.1f}%" if share >= 0.001 else ("<0.1%" if share > 0 else "")
        text_rect = QRect(bar.right() + 2, cell.top(), cell.right() - bar.right() - 2, cell.height())
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight), text)
        painter.restore()


def module_tree_view(model: ModuleTreeModel, column_widths: tuple[int, ...]) -> QTreeView:
    """A view of a module tree as the Parameters tab shows one: shares as bars, whole rows selected."""
    view = QTreeView()
    view.setModel(model)
    view.setUniformRowHeights(True)
    view.setAlternatingRowColors(True)
    view.setItemDelegateForColumn(COL_SHARE, ShareBarDelegate(view))
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    header = view.header()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    for column, width in enumerate(column_widths):
        header.resizeSection(column, width)
    return view
