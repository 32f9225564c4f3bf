"""An editor of chat turns: a list of turns, each a role and its text, added, removed and moved.

The value is what ``KIND_CONVERSATION`` fields take and ``apply_chat_template`` reads:
``[{"role": ..., "content": ...}, ...]``. The "tool" role is offered only while the template
reads tools (``set_tools_supported``); a turn that already has a role the list does not offer
keeps it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.tasks.base import CHAT_ROLES

TOOL_ROLE = "tool"
NO_TOOLS_NOTE = "This chat template does not read tools, so a tool turn may be dropped or refused by it"


def _next_role(previous: str | None) -> str:
    """A new turn answers the last one: the assistant after the user, the user after anyone else."""
    return "assistant" if previous == "user" else "user"


class TurnRow(QFrame):
    """One turn: its role, its text, and buttons to move it up or down or remove it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.role = QComboBox()
        self.role.setObjectName("turn_role")
        self.role.setToolTip("Who speaks: system (instructions), user, assistant, or tool (a tool's answer)")
        self.text = QPlainTextEdit()
        self.text.setObjectName("turn_text")
        self.text.setTabChangesFocus(True)
        lines = self.text.fontMetrics().lineSpacing()
        self.text.setMinimumHeight(2 * lines + 12)  # a short turn takes little room; a long one scrolls
        self.text.setMaximumHeight(4 * lines + 12)
        buttons = QVBoxLayout()
        buttons.setSpacing(0)
        self.up = self._button("↑", "Move this turn up", "turn_up")
        self.down = self._button("↓", "Move this turn down", "turn_down")
        self.remove = self._button("✕", "Remove this turn", "turn_remove")
        for button in (self.up, self.down, self.remove):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addWidget(self.role, 0)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)

    @staticmethod
    def _button(caption: str, tip: str, name: str) -> QToolButton:
        button = QToolButton()
        button.setText(caption)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setObjectName(name)
        button.setAutoRaise(True)
        return button

    def set_roles(self, roles: list[str], current: str) -> None:
        """The roles offered, keeping the turn's own role even when it is not one of them."""
        self.role.blockSignals(True)
        self.role.clear()
        self.role.addItems(roles if current in roles else [*roles, current])
        self.role.setCurrentText(current)
        self.role.blockSignals(False)
        unsupported = current == TOOL_ROLE and TOOL_ROLE not in roles
        self.role.setToolTip(NO_TOOLS_NOTE if unsupported else "Who speaks: system (instructions), user, assistant, or tool (a tool's answer)")

    def turn(self) -> dict[str, str]:
        return {"role": self.role.currentText(), "content": self.text.toPlainText()}


class ConversationEditor(QWidget):
    """Chat turns for a form: ``value()`` -> [{"role", "content"}], ``set_value(turns)``, ``changed``."""

    changed = Signal()
    """Emitted when a turn's role or text changes, and when turns are added, removed or moved."""

    def __init__(self, turns: list[dict[str, Any]] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[TurnRow] = []
        self._tools_supported = True
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._turns_layout = QVBoxLayout()
        self._turns_layout.setSpacing(4)
        layout.addLayout(self._turns_layout)
        footer = QHBoxLayout()
        self.add_button = QPushButton("Add turn")
        self.add_button.setObjectName("add_turn")
        self.add_button.setToolTip("Add a turn at the end (the assistant after a user turn, else the user)")
        self.add_button.clicked.connect(lambda: self.add_turn())
        footer.addWidget(self.add_button)
        footer.addStretch(1)
        layout.addLayout(footer)
        self.set_value(turns or [])

    # ------------------------------------------------------------------ the value

    def value(self) -> list[dict[str, str]]:
        return [row.turn() for row in self.rows]

    def set_value(self, turns: list[dict[str, Any]]) -> None:
        """Replace every turn (each a dict with "role" and "content"); emits ``changed`` once."""
        wanted = [{"role": str(turn.get("role", "user")), "content": str(turn.get("content", "") or "")} for turn in turns or []]
        while len(self.rows) > len(wanted):
            self._drop_row(len(self.rows) - 1)
        while len(self.rows) < len(wanted):
            self._append_row()
        for row, turn in zip(self.rows, wanted):
            self._fill(row, turn)
        self._update_buttons()
        self.changed.emit()

    def set_tools_supported(self, supported: bool) -> None:
        """Offer the "tool" role only when the template reads tools."""
        self._tools_supported = bool(supported)
        for row in self.rows:
            row.set_roles(self._roles(), row.role.currentText())

    def tools_supported(self) -> bool:
        return self._tools_supported

    # ------------------------------------------------------------------ editing

    def add_turn(self, role: str | None = None, content: str = "") -> int:
        """Append a turn; returns its index. Without a role, it answers the last turn."""
        previous = self.rows[-1].role.currentText() if self.rows else None
        row = self._append_row()
        self._fill(row, {"role": role or _next_role(previous), "content": content})
        self._update_buttons()
        row.text.setFocus()
        self.changed.emit()
        return len(self.rows) - 1

    def remove_turn(self, index: int) -> None:
        if 0 <= index < len(self.rows):
            self._drop_row(index)
            self._update_buttons()
            self.changed.emit()

    def move_turn(self, index: int, offset: int) -> None:
        """Swap a turn with its neighbour ``offset`` (-1 up, +1 down) places away."""
        other = index + offset
        if not (0 <= index < len(self.rows) and 0 <= other < len(self.rows)) or other == index:
            return
        first, second = self.rows[index].turn(), self.rows[other].turn()
        self._fill(self.rows[index], second)
        self._fill(self.rows[other], first)
        self.rows[other].text.setFocus()
        self.changed.emit()

    # ------------------------------------------------------------------ rows

    def _roles(self) -> list[str]:
        return [role for role in CHAT_ROLES if self._tools_supported or role != TOOL_ROLE]

    def _append_row(self) -> TurnRow:
        row = TurnRow(self)
        row.role.currentTextChanged.connect(self._role_changed)
        row.text.textChanged.connect(self.changed)
        row.up.clicked.connect(lambda: self.move_turn(self.rows.index(row), -1))
        row.down.clicked.connect(lambda: self.move_turn(self.rows.index(row), 1))
        row.remove.clicked.connect(lambda: self.remove_turn(self.rows.index(row)))
        self.rows.append(row)
        self._turns_layout.addWidget(row)
        return row

    def _drop_row(self, index: int) -> None:
        row = self.rows.pop(index)
        self._turns_layout.removeWidget(row)
        row.hide()
        row.deleteLater()

    def _fill(self, row: TurnRow, turn: dict[str, str]) -> None:
        """Set a row's role and text without a ``changed`` per keystroke of it (the caller emits once)."""
        row.set_roles(self._roles(), turn["role"])
        row.text.blockSignals(True)
        row.text.setPlainText(turn["content"])
        row.text.blockSignals(False)
        row.text.setPlaceholderText(f"What the {turn['role']} says")

    def _role_changed(self, _role: str) -> None:
        for row in self.rows:
            row.text.setPlaceholderText(f"What the {row.role.currentText()} says")
        self.changed.emit()

    def _update_buttons(self) -> None:
        for index, row in enumerate(self.rows):
            row.up.setEnabled(index > 0)
            row.down.setEnabled(index < len(self.rows) - 1)
            row.remove.setEnabled(len(self.rows) > 1)  # a conversation keeps one turn to render


__all__ = ["ConversationEditor", "TurnRow"]
