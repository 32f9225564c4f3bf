"""Compare page of the Config tab: this checkpoint's config and facts beside another one's.

The page lists the other checkpoints and asks for a comparison with ``compare_requested``; the
tab reads the other report and hands both back with ``show_comparison``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.config.compare import compare_configs, compare_derived
from explorer.core.config.model import DIFFERS, ONLY_A, ONLY_B, SAME, CompareRow, ConfigReport
from explorer.ui import palette
from explorer.ui.config_fields_model import value_text

PROMPT = "Pick another checkpoint to see both configs side by side."
# Row backgrounds by status: a value that differs, a value only one side has.
STATUS_BACKGROUNDS = {DIFFERS: "changed_bg", ONLY_A: "dropped_bg", ONLY_B: "dropped_bg"}


def _item(row: CompareRow, plain: bool) -> QTreeWidgetItem:
    def shown(value, present: bool) -> str:
        if not present:
            return "—"
        return str(value) if plain else value_text(value)

    name = row.label if row.label is not None else row.name
    item = QTreeWidgetItem([name, shown(row.a, row.status != ONLY_B), shown(row.b, row.status != ONLY_A)])
    background = STATUS_BACKGROUNDS.get(row.status)
    for column in range(3):
        item.setToolTip(column, item.text(column))
        if background is not None:
            item.setBackground(column, QBrush(palette.qcolor(background)))
    return item


class ComparePage(QWidget):
    compare_requested = Signal(object)
    """Emitted with the Checkpoint to compare with."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._checkpoints: list[Checkpoint] = []
        self._shown: tuple[str, ConfigReport, Checkpoint, ConfigReport] | None = None  # this name, this report, other, its report

        self.compare_combo = QComboBox()
        self.compare_combo.setMinimumContentsLength(30)
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_button = QPushButton("Compare")
        self.only_differences = QCheckBox("Only differences")
        self.only_differences.setChecked(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Compare with:"))
        bar.addWidget(self.compare_combo, 1)
        bar.addWidget(self.compare_button)
        bar.addWidget(self.only_differences)
        self.compare_status = QLabel(PROMPT)
        self.compare_tree = QTreeWidget()
        self.compare_tree.setColumnCount(3)
        self.compare_tree.setHeaderLabels(["Field", "This checkpoint", "Other"])
        self.compare_tree.setAlternatingRowColors(True)
        header = self.compare_tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 300)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.compare_status)
        layout.addWidget(self.compare_tree, 1)

        self.compare_button.clicked.connect(self.request)
        self.only_differences.toggled.connect(self._on_only_differences)

    def set_choices(self, checkpoints: list[Checkpoint], current: Checkpoint | None) -> None:
        """Every checkpoint but the current one, by name; the previous pick stays picked."""
        self._checkpoints = list(checkpoints)
        previous = self.compare_combo.currentData()
        self.compare_combo.blockSignals(True)
        self.compare_combo.clear()
        for ckpt in sorted(checkpoints, key=lambda c: display_text(c.id).lower()):
            if current is not None and ckpt.key == current.key:
                continue
            label = display_text(ckpt.id) + (f" @ {ckpt.revision[:8]}" if ckpt.revision else "")
            self.compare_combo.addItem(label, ckpt.key)
            self.compare_combo.setItemData(self.compare_combo.count() - 1, display_text(ckpt.path), Qt.ItemDataRole.ToolTipRole)
        if previous is not None:
            index = self.compare_combo.findData(previous)
            if index >= 0:
                self.compare_combo.setCurrentIndex(index)
        self.compare_combo.blockSignals(False)
        self.compare_button.setEnabled(self.compare_combo.count() > 0 and current is not None)

    def reset(self) -> None:
        self._shown = None
        self.compare_tree.clear()
        self.compare_status.setText(PROMPT)

    def request(self) -> None:
        key = self.compare_combo.currentData()
        other = next((c for c in self._checkpoints if c.key == key), None)
        if other is not None:
            self.compare_requested.emit(other)

    def show_reading(self, other: Checkpoint) -> None:
        self.compare_status.setText(f"Reading {display_text(other.id)}…")

    def show_failure(self, message: str) -> None:
        self.compare_status.setText(f"Could not read the other config: {message}")

    def show_not_ready(self) -> None:
        self.compare_status.setText("This checkpoint's config is not read yet; open the Fields page first.")

    def show_comparison(self, this_name: str, this: ConfigReport, other: Checkpoint, other_report: ConfigReport) -> None:
        self._shown = (this_name, this, other, other_report)
        self._fill()

    def repaint_colours(self) -> None:
        self._fill()

    def _on_only_differences(self, _checked: bool) -> None:
        self._fill()

    def _fill(self) -> None:
        self.compare_tree.clear()
        if self._shown is None:
            return
        this_name, this, other, other_report = self._shown
        self.compare_tree.setHeaderLabels(["Field", this_name, display_text(other.id)])
        only_diff = self.only_differences.isChecked()
        field_rows = compare_configs(this.config, other_report.config)
        fact_rows = compare_derived(this, other_report)
        differing = sum(1 for r in field_rows if r.status != SAME)
        self.compare_status.setText(
            f"{differing} of {len(field_rows)} config values differ."
            + ("" if other_report.config is not None else " The other checkpoint's config.json could not be read.")
        )
        facts_root = QTreeWidgetItem(["Facts", "", ""])
        fields_root = QTreeWidgetItem(["config.json", "", ""])
        for root in (facts_root, fields_root):
            font = root.font(0)
            font.setBold(True)
            root.setFont(0, font)
        facts_root.addChildren([_item(row, plain=True) for row in fact_rows if not (only_diff and row.status == SAME)])
        fields_root.addChildren([_item(row, plain=False) for row in field_rows if not (only_diff and row.status == SAME)])
        self.compare_tree.addTopLevelItem(facts_root)
        self.compare_tree.addTopLevelItem(fields_root)
        facts_root.setExpanded(True)
        fields_root.setExpanded(True)


__all__ = ["ComparePage"]
