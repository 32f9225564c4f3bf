"""Table model for tensors on disk (sortable through a proxy) and the totals text."""

from __future__ import annotations

import html

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from explorer.core.formatting import human_bytes, human_count, sortable
from explorer.core.safetensors_header import TensorInfo
from explorer.core.tensors_on_disk import DiskTensors
from explorer.ui.palette import qcolor

TENSOR_COLUMNS = ("Name", "Shape", "Dtype", "Parameters", "Bytes", "File")
SortRole = Qt.ItemDataRole.UserRole + 10


class TensorTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._tensors: list[TensorInfo] = []
        self._status: dict[str, str] = {}

    def set_tensors(self, tensors: list[TensorInfo]) -> None:
        self.beginResetModel()
        self._tensors = list(tensors)
        self._status = {}
        self.endResetModel()

    def set_unexpected(self, names: set[str]) -> None:
        """Mark checkpoint tensors the chosen model drops. transformers reports them under their renamed key
        (base-model prefix added or removed), so a stored name also matches by dotted suffix either way."""
        status = {}
        # The reverse suffix scan is quadratic; it only matters for a handful of dropped keys.
        scan_suffixes = len(names) <= 500
        for tensor in self._tensors:
            name = tensor.name
            if name in names or name.partition(".")[2] in names or (
                scan_suffixes and any(n.endswith("." + name) for n in names if len(n) > len(name))
            ):
                status[name] = "unexpected"
        self._status = status
        if self._tensors:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._tensors) - 1, len(TENSOR_COLUMNS) - 1))

    def tensor(self, row: int) -> TensorInfo | None:
        return self._tensors[row] if 0 <= row < len(self._tensors) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._tensors)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(TENSOR_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return TENSOR_COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        tensor = self._tensors[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                tensor.name,
                " × ".join(str(d) for d in tensor.shape) or "scalar",
                tensor.dtype,
                human_count(tensor.numel),
                human_bytes(tensor.nbytes),
                tensor.file,
            )[column]
        if role == SortRole:
            return (tensor.name, sortable(tensor.numel), tensor.dtype, sortable(tensor.numel), sortable(tensor.nbytes), tensor.file)[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            note = "\nthe chosen model has no place for this tensor: it would be dropped" if tensor.name in self._status else ""
            return f"{tensor.name}\n{tensor.numel:,} values in {tensor.file}{note}"
        if role == Qt.ItemDataRole.BackgroundRole and tensor.name in self._status:
            return QBrush(qcolor("weight_unexpected_bg"))
        if role == Qt.ItemDataRole.ForegroundRole and tensor.name in self._status:
            return QBrush(qcolor("text"))
        return None


def totals_html(disk: DiskTensors) -> str:
    """Per-dtype and per-file totals as a compact two-part table."""
    rows = []
    if not disk.tensors:
        return "<i>No tensors could be read.</i>"
    head = f"<b>{len(disk.tensors):,} tensors</b>, {human_count(disk.total_params)} values, {human_bytes(disk.total_bytes)} ({disk.format})"
    for dtype, totals in sorted(disk.by_dtype.items(), key=lambda kv: -kv[1].bytes):
        rows.append(f"<tr><td>{html.escape(dtype)}</td><td align=right>{totals.tensors:,}</td><td align=right>{human_count(totals.params)}</td><td align=right>{human_bytes(totals.bytes)}</td></tr>")
    files = []
    for name in disk.files:
        totals = disk.by_file.get(name)
        if totals:
            files.append(f"<tr><td>{html.escape(name)}</td><td align=right>{totals.tensors:,}</td><td align=right>{human_count(totals.params)}</td><td align=right>{human_bytes(totals.bytes)}</td></tr>")
    if len(files) > 4:
        # The table below lists every tensor with its file; here a few lines are enough to show the pattern.
        hidden = len(files) - 3
        files = files[:3] + [f"<tr><td colspan=4><i>… and {hidden} more files (sort the table by File)</i></td></tr>"]
    index = ""
    if disk.index_total_size is not None:
        agrees = disk.index_total_size == disk.total_bytes
        index = f"<br>Index total_size: {human_bytes(disk.index_total_size)} " + ("(matches the headers)" if agrees else "<b>(differs from the headers)</b>")
    header = "<tr><th align=left>{}</th><th align=right>tensors</th><th align=right>values</th><th align=right>bytes</th></tr>"
    return (
        f"{head}{index}<table cellspacing=0 cellpadding=2 width=100%>"
        f"<tr><td valign=top width=50%><table cellpadding=2>{header.format('dtype')}{''.join(rows)}</table></td>"
        f"<td valign=top><table cellpadding=2>{header.format('file')}{''.join(files)}</table></td></tr></table>"
    )
