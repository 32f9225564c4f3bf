"""Item model of the Auto classes table: one row per resolution row, the weights check as it arrives.

Every index knows its ``ResolutionRow`` (``ROW_ROLE``, ``row_at``): views and pages never find a
record by the text a cell shows. Until an Auto class is checked against the weights, its Weights
cell shows the guess from class names, in italics.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QFont

from explorer.core.config.model import (
    RELATION_DIFFERENT_HEAD,
    RELATION_DROPS_HEAD,
    RELATION_LOADS_ALL,
    RELATION_MISMATCH,
    RELATION_NEW_HEAD,
    RELATION_SAME,
    RELATION_UNKNOWN,
    ResolutionRow,
)
from explorer.core.config.weights import exact_note
from explorer.core.head_survey import STATUS_LOADS, STATUS_MISMATCH, STATUS_PARTIAL, STATUS_UNCHECKED, HeadCheck
from explorer.ui import palette

AUTO_COLUMN, BUILDS_COLUMN, WEIGHTS_COLUMN, WHY_COLUMN = range(4)
HEADERS = ("Auto class", "Builds", "Weights", "Why")
ROW_ROLE = Qt.ItemDataRole.UserRole + 1

RELATION_TEXT = {
    RELATION_SAME: "same class as saved",
    RELATION_DROPS_HEAD: "drops the saved head",
    RELATION_DIFFERENT_HEAD: "replaces the saved head",
    RELATION_NEW_HEAD: "adds an untrained head",
    RELATION_LOADS_ALL: "loads every saved weight",
    RELATION_MISMATCH: "shapes differ",
    RELATION_UNKNOWN: "not known until checked",
}
RELATION_ROLES = {
    RELATION_SAME: "ok",
    RELATION_DROPS_HEAD: "warning",
    RELATION_DIFFERENT_HEAD: "warning",
    RELATION_NEW_HEAD: "warning",
}
WEIGHTS_ROLES = {STATUS_LOADS: "ok", STATUS_PARTIAL: "warning", STATUS_MISMATCH: "error", STATUS_UNCHECKED: "muted"}


def _shown_by_default(row: ResolutionRow) -> bool:
    """Rows worth a line without asking: they build something, could with consent or a model_type, or miss their code."""
    return bool(row.resolves_to or row.needs_consent or row.would_build or "missing" in row.reason)


class _Cell:
    """What one cell shows: text, tooltip, colour role and font."""

    __slots__ = ("text", "tooltip", "role", "bold", "italic")

    def __init__(self, text: str, tooltip: str = "", role: str | None = None, bold: bool = False, italic: bool = False) -> None:
        self.text, self.tooltip, self.role, self.bold, self.italic = text, tooltip or text, role, bold, italic


class ResolutionModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[ResolutionRow] = []
        self._shown: list[ResolutionRow] = []
        self._architectures: list[str] = []
        self._show_unsupported = False
        self._checks: dict[str, HeadCheck] = {}
        self._checking = False
        self._check_problem: str | None = None

    # ------------------------------------------------------------------ contents

    def set_rows(self, rows: list[ResolutionRow], architectures: list[str]) -> None:
        """A new report's rows: no weights checked yet."""
        self.beginResetModel()
        self._rows = list(rows)
        self._architectures = list(architectures)
        self._checks = {}
        self._checking = False
        self._check_problem = None
        self._shown = self._filter()
        self.endResetModel()

    def update_rows(self, rows: list[ResolutionRow]) -> None:
        """The same Auto classes with new records (exact notes once the weights are checked); the selection stays."""
        by_class = {row.auto_class: row for row in rows}
        self._rows = [by_class.get(row.auto_class, row) for row in self._rows]
        self._shown = [by_class.get(row.auto_class, row) for row in self._shown]
        self._changed()

    def set_show_unsupported(self, shown: bool) -> None:
        self.beginResetModel()
        self._show_unsupported = shown
        self._shown = self._filter()
        self.endResetModel()

    def hidden_count(self) -> int:
        return len(self._rows) - len(self._shown)

    def _filter(self) -> list[ResolutionRow]:
        return [row for row in self._rows if self._show_unsupported or _shown_by_default(row)]

    def row_at(self, index: QModelIndex) -> ResolutionRow | None:
        if not index.isValid() or not 0 <= index.row() < len(self._shown):
            return None
        return self._shown[index.row()]

    def index_of(self, auto_class: str) -> QModelIndex:
        for position, row in enumerate(self._shown):
            if row.auto_class == auto_class:
                return self.index(position, AUTO_COLUMN)
        return QModelIndex()

    # ------------------------------------------------------------------ the weights check

    def add_check(self, check: HeadCheck) -> None:
        self._checks[check.auto_class] = check
        index = self.index_of(check.auto_class)
        if index.isValid():
            self.dataChanged.emit(self.index(index.row(), WEIGHTS_COLUMN), self.index(index.row(), WHY_COLUMN))

    def set_checks(self, checks: dict[str, HeadCheck]) -> None:
        self._checks = dict(checks)
        self._changed()

    def forget_checks(self) -> None:
        self._checks = {}
        self._changed()

    def set_checking(self, running: bool, problem: str | None = None) -> None:
        """Whether the weights are being checked, and why they could not be (tooltips of the guesses say so)."""
        self._checking, self._check_problem = running, problem
        self._changed()

    def checking(self) -> bool:
        return self._checking

    def checks(self) -> dict[str, HeadCheck]:
        return dict(self._checks)

    def check_for(self, row: ResolutionRow) -> HeadCheck | None:
        return self._checks.get(row.auto_class) if row.resolves_to else None

    def repaint(self) -> None:
        """Colours come from the palette when asked for: views ask again."""
        self._changed()

    def _changed(self) -> None:
        if self._shown:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._shown) - 1, len(HEADERS) - 1))

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(HEADERS):
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row = self.row_at(index)
        if row is None:
            return None
        if role == ROW_ROLE:
            return row
        cell = self._cell(row, index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tooltip
        if role == Qt.ItemDataRole.ForegroundRole and cell.role:
            return QBrush(palette.qcolor(cell.role))
        if role == Qt.ItemDataRole.FontRole and (cell.bold or cell.italic):
            font = QFont()
            font.setBold(cell.bold)
            font.setItalic(cell.italic)
            return font
        return None

    def _cell(self, row: ResolutionRow, column: int) -> _Cell:
        if column == AUTO_COLUMN:
            return _Cell(row.auto_class, row.head, bold=True)
        if column == BUILDS_COLUMN:
            if row.would_build and not row.resolves_to:
                return _Cell("nothing: no model_type", role="muted")
            text = row.resolves_to or ("needs consent" if row.needs_consent else "not supported")
            return _Cell(text, role=None if row.resolves_to else ("warning" if row.needs_consent else "muted"))
        check = self.check_for(row)
        if check is not None and check.status != STATUS_UNCHECKED:
            if column == WEIGHTS_COLUMN:
                return _Cell(check.summary, check.verdict, WEIGHTS_ROLES[check.status], bold=check.status == STATUS_LOADS)
            note = exact_note(row, check, self._architectures)
            return _Cell(note, f"{note}\n\nWhy {check.model_class}: {row.reason}")
        if column == WHY_COLUMN:
            return _Cell(row.note or row.reason)
        return _Cell(
            RELATION_TEXT.get(row.relation, ""), self._guess_tooltip(row, check), RELATION_ROLES.get(row.relation),
            italic=bool(row.relation and row.resolves_to),
        )

    def _guess_tooltip(self, row: ResolutionRow, check: HeadCheck | None) -> str:
        if check is not None:
            return f"{check.verdict}; guessed from class names: {row.note}"
        if not row.resolves_to:
            return ""
        if self._checking:
            return "Guessed from class names; checking the weights…"
        if self._check_problem:
            return f"Guessed from class names; the weights could not be checked: {self._check_problem}"
        return "Guessed from class names"


__all__ = ["AUTO_COLUMN", "BUILDS_COLUMN", "HEADERS", "ROW_ROLE", "ResolutionModel", "WEIGHTS_COLUMN", "WHY_COLUMN"]
