"""Facts page of the Config tab: numbers worked out from config.json and the weight headers, with how."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer.core.config.model import Fact
from explorer.ui.config_common import cell, table


class FactsPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facts_table = table(["Fact", "Value", "How it is worked out"])
        note = QLabel("Worked out from config.json and the safetensors headers; no weights are loaded.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(note)
        layout.addWidget(self.facts_table, 1)

    def clear(self) -> None:
        self.facts_table.setRowCount(0)

    def show_facts(self, facts: dict[str, Fact]) -> None:
        self.facts_table.setRowCount(0)
        for fact in facts.values():
            row = self.facts_table.rowCount()
            self.facts_table.insertRow(row)
            self.facts_table.setItem(row, 0, cell(fact.label, bold=True))
            self.facts_table.setItem(row, 1, cell(fact.text))
            self.facts_table.setItem(row, 2, cell(fact.how))
        if not facts:
            self.facts_table.insertRow(0)
            self.facts_table.setItem(0, 0, cell("No facts"))
            self.facts_table.setItem(0, 2, cell("config.json is missing or unreadable, and there are no safetensors weights"))


__all__ = ["FactsPage"]
