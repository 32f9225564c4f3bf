"""Item model for the Config tab's fields tree: one row per config.json field, nested values as children."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QFont, QStandardItem, QStandardItemModel

from explorer.core.config.field_docs import type_label
from explorer.core.config.model import FieldRecord
from explorer.ui import palette

FIELD_ROLE = Qt.ItemDataRole.UserRole + 1  # path of the field record for field rows; "" for nested values
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2  # statuses of the field the row belongs to, space-separated
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3
PATH_ROLE = Qt.ItemDataRole.UserRole + 4

COLUMNS = ("Field", "Value", "Type", "Default", "Status")
MAX_CHILDREN = 300  # id2label of a 20k-class head would swamp the tree

FILTER_ALL = "all"
FILTER_CHANGED = "changed"
FILTER_UNKNOWN = "unknown"
FILTER_PROBLEMS = "problems"
FILTER_TITLES = {
    FILTER_ALL: "Any status",
    FILTER_CHANGED: "Changed from default",
    FILTER_UNKNOWN: "Unknown to transformers",
    FILTER_PROBLEMS: "Wrong type",
}
# Which fields at all: those config.json sets, or also the class's fields it leaves at their defaults.
SCOPE_FILE = "file"
SCOPE_ALL = "all"
SCOPE_TITLES = {
    SCOPE_FILE: "Set in config.json",
    SCOPE_ALL: "All fields incl. defaults",
}
NOT_IN_FILE = "not-in-file"  # status of a field the config class has but config.json does not set
DEFAULT_ROW_TEXT = "default (not in config.json)"

def value_text(value: Any, limit: int = 160) -> str:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {value_text(v, 40)}" for k, v in list(value.items())[:6]) + (", …}" if len(value) > 6 else "}")
    elif isinstance(value, list):
        text = "[" + ", ".join(value_text(v, 40) for v in value[:8]) + (", …]" if len(value) > 8 else "]")
    else:
        text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_statuses(field: FieldRecord) -> set[str]:
    statuses = set()
    if field.changed:
        statuses.add(FILTER_CHANGED)
    if not field.known:
        statuses.add(FILTER_UNKNOWN)
    if field.type_problem:
        statuses.add(FILTER_PROBLEMS)
    if not field.in_file:
        statuses.add(NOT_IN_FILE)
    return statuses


def status_text(field: FieldRecord) -> str:
    if not field.in_file:
        return DEFAULT_ROW_TEXT
    if field.type_problem:
        return "wrong type"
    if not field.known:
        return "unknown"
    if field.changed:
        return "changed"
    if field.has_default:
        return "default"
    return ""


def field_tooltip(field: FieldRecord) -> str:
    parts = [f"<b>{_escape(field.path)}</b>"]
    if field.doc_type:
        parts[0] += f" <i>({_escape(field.doc_type)})</i>"
    if field.doc:
        parts.append(_escape(field.doc))
    elif not field.known:
        parts.append("The installed transformers does not know this field: it is kept on the config but no code reads it.")
    if not field.in_file:
        parts.append("Not in config.json: the config object has it at the class default shown.")
    elif field.has_default:
        parts.append(f"Default: <code>{_escape(value_text(field.default))}</code>")
    if field.type_problem:
        parts.append(f"<span style='color:{palette.color('error')}'>{_escape(field.type_problem)}</span>")
    return "<p>" + "</p><p>".join(parts) + "</p>"


def _paint(row: list[QStandardItem], status_set: set[str]) -> None:
    """Background by status (unknown or wrong type over changed), muted text for defaults and fields not in the file."""
    background = None
    if FILTER_UNKNOWN in status_set or FILTER_PROBLEMS in status_set:
        background = QBrush(palette.qcolor("mismatch_bg"))
    elif FILTER_CHANGED in status_set:
        background = QBrush(palette.qcolor("changed_bg"))
    muted = QBrush(palette.qcolor("muted"))
    for item in row:
        if background is not None:
            item.setBackground(background)
        if NOT_IN_FILE in status_set:
            item.setForeground(muted)
    if not status_set:
        row[-1].setForeground(muted)


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _item(text: str) -> QStandardItem:
    item = QStandardItem(text)
    item.setEditable(False)
    return item


class ConfigFieldsModel(QStandardItemModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        # Records stay Python-side; rows carry their path (FIELD_ROLE) to find them.
        self._fields: dict[str, FieldRecord] = {}

    def field(self, path: str | None) -> FieldRecord | None:
        return self._fields.get(path or "")

    def set_fields(self, fields: list[FieldRecord]) -> None:
        self.removeRows(0, self.rowCount())
        self._fields.clear()
        root = self.invisibleRootItem()
        for field in fields:
            root.appendRow(self._field_row(field))

    def _field_row(self, field: FieldRecord) -> list[QStandardItem]:
        status_set = field_statuses(field)
        statuses = " ".join(sorted(status_set))
        self._fields[field.path] = field
        name = _item(field.name)
        value = _item(value_text(field.value) if not field.children else f"{field.sub_config or 'sub-config'} ({len(field.children)} fields)")
        type_item = _item(field.type)
        default = _item(value_text(field.default) if field.has_default and not field.children else "")
        status = _item(status_text(field))
        row = [name, value, type_item, default, status]
        tooltip = field_tooltip(field)
        search = " ".join([field.path, value_text(field.value, 400), field.doc or ""]).lower()
        for item in row:
            item.setToolTip(tooltip)
            item.setData(field.path, FIELD_ROLE)
            item.setData(statuses, STATUS_ROLE)
            item.setData(search, SEARCH_ROLE)
            item.setData(field.path, PATH_ROLE)
        _paint(row, status_set)
        if NOT_IN_FILE in status_set:
            # Not from the file: greyed and italic so the file's own settings stand out in the full view.
            font = QFont()
            font.setItalic(True)
            for item in row:
                item.setFont(font)
        if FILTER_CHANGED in status_set:
            font = QFont()
            font.setBold(True)
            value.setFont(font)
        if field.children:
            for child in field.children:
                name.appendRow(self._field_row(child))
        elif isinstance(field.value, (dict, list)):
            self._append_values(name, field.value, statuses, field.path)
        return row

    def repaint_colours(self, parent: QStandardItem | None = None) -> None:
        """Colours of the other scheme replaced by this one's (the brushes are set once per row)."""
        parent = parent or self.invisibleRootItem()
        for position in range(parent.rowCount()):
            row = [parent.child(position, column) for column in range(len(COLUMNS))]
            field = self.field(row[0].data(FIELD_ROLE))
            if field is not None:
                _paint(row, field_statuses(field))
                tooltip = field_tooltip(field)
                for item in row:
                    item.setToolTip(tooltip)
                self.repaint_colours(row[0])

    def _append_values(self, parent: QStandardItem, value: Any, statuses: str, path: str) -> None:
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        for key, child in items[:MAX_CHILDREN]:
            child_path = f"{path}.{key}"
            row = [_item(str(key)), _item(value_text(child)), _item(type_label(child)), _item(""), _item("")]
            for item in row:
                item.setData("", FIELD_ROLE)
                item.setData(statuses, STATUS_ROLE)
                item.setData(f"{child_path} {value_text(child, 200)}".lower(), SEARCH_ROLE)
                item.setData(child_path, PATH_ROLE)
                item.setToolTip(f"{child_path} = {value_text(child, 400)}")
            if isinstance(child, (dict, list)) and child:
                self._append_values(row[0], child, statuses, child_path)
            parent.appendRow(row)
        if len(items) > MAX_CHILDREN:
            more = [_item(f"… {len(items) - MAX_CHILDREN} more (see Copy JSON)"), _item(""), _item(""), _item(""), _item("")]
            for item in more:
                item.setData(statuses, STATUS_ROLE)
                item.setData("", SEARCH_ROLE)
            parent.appendRow(more)


class ConfigFieldsFilter(QSortFilterProxyModel):
    """Search text over name, value and docs; filter mode over the field's statuses."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._text = ""
        self._mode = FILTER_ALL
        self._scope = SCOPE_FILE
        self.setRecursiveFilteringEnabled(True)

    def set_text(self, text: str) -> None:
        self._change_filter(lambda: setattr(self, "_text", text.strip().lower()))

    def set_mode(self, mode: str) -> None:
        self._change_filter(lambda: setattr(self, "_mode", mode))

    def set_scope(self, scope: str) -> None:
        self._change_filter(lambda: setattr(self, "_scope", scope))

    def scope(self) -> str:
        return self._scope

    def _change_filter(self, apply) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9 replaces invalidateFilter()
            self.beginFilterChange()
            apply()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            apply()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 (Qt override)
        index = self.sourceModel().index(source_row, 0, source_parent)
        statuses = (index.data(STATUS_ROLE) or "").split()
        if self._scope == SCOPE_FILE and NOT_IN_FILE in statuses:
            return False
        if self._mode != FILTER_ALL:
            if self._mode not in statuses:
                return False
        if self._text:
            return self._text in (index.data(SEARCH_ROLE) or "")
        return True
