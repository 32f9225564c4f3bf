"""What every result view shares: the base class, bar charts, read-only tables, highlighted text.

Views only render the results the tasks return (each task module's ``TaskResult`` dataclass)
and the partial results they stream; they compute nothing but layout. Colours come from the palette's roles, read when a view draws:
the results page draws a finished result again when the colour scheme changes. pyqtgraph is
imported when a chart is first drawn.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from explorer.tasks.base import Partial, TaskResult
from explorer.ui.palette import color, qcolor

# Span highlights, in the order labels take them; "text" reads on each in both schemes.
HIGHLIGHTS = tuple(f"highlight_{i}" for i in range(1, 9))


def highlight(index: int) -> str:
    return color(HIGHLIGHTS[index % len(HIGHLIGHTS)])


def colour_for(label: str, labels: list[str]) -> str:
    """The highlight of an entity type (B-/I- prefixes share their type's colour), stable across runs."""
    base = label[2:] if label.startswith(("B-", "I-")) else label
    types = []
    for name in labels:
        kind = name[2:] if name.startswith(("B-", "I-")) else name
        if kind not in types and kind != "O":
            types.append(kind)
    return highlight(types.index(base) if base in types else abs(hash(base)))


def highlighted_html(text: str, spans: list[tuple[int, int, str, str]], chips: bool = True) -> str:
    """Text with (start, end, colour, tooltip label) spans as coloured marks; spans may not overlap."""
    ink = color("text")
    parts, position = [], 0
    for start, end, colour, label in sorted(spans):
        if start < position or end <= start:
            continue
        parts.append(html.escape(text[position:start]))
        chip = f"<sup style='font-size:small; color:{ink};'>&nbsp;{html.escape(label)}</sup>" if label and chips else ""
        parts.append(
            f"<span style='background-color:{colour}; color:{ink};' title='{html.escape(label)}'>"
            f"{html.escape(text[start:end])}{chip}</span>"
        )
        position = end
    parts.append(html.escape(text[position:]))
    return "<div style='font-size:12pt; line-height:160%; white-space:pre-wrap;'>" + "".join(parts) + "</div>"


def make_table(headers: list[str], rows: list[list[Any]], stretch: int | None = None) -> QTableWidget:
    """Read-only table; ``stretch`` is the column that takes the spare width (the text column)."""
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, float):
                item = QTableWidgetItem(f"{value:.4f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            elif isinstance(value, int) and not isinstance(value, bool):
                item = QTableWidgetItem(str(value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            else:
                item = QTableWidgetItem("" if value is None else str(value))
            table.setItem(r, c, item)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setDefaultSectionSize(24)
    return table


def text_browser(min_height: int = 80) -> QTextBrowser:
    browser = QTextBrowser()
    browser.setOpenLinks(False)
    browser.setMinimumHeight(min_height)
    return browser


def plot_widget(title: str = ""):
    """A pyqtgraph plot on the window's own background, axes and title in the scheme's colours."""
    import pyqtgraph as pg

    plot = pg.PlotWidget(background=None)
    plot.setMenuEnabled(False)
    if title:
        plot.setTitle(title, color=color("text"), size="10pt")
    for name in ("left", "bottom"):
        plot.getAxis(name).setPen(qcolor("muted"))
        plot.getAxis(name).setTextPen(qcolor("text"))
    return plot


class BarChart(QWidget):
    """Horizontal bars, best on top, with the value printed at the end of each bar."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = plot_widget(title)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.getPlotItem().invertY(True)
        self.plot.setMinimumHeight(120)
        layout.addWidget(self.plot)
        self.labels: list[str] = []
        self.values: list[float] = []

    def set_data(self, labels: list[str], values: list[float], maximum: float | None = 1.0, highlight: int | None = 0) -> None:
        import pyqtgraph as pg

        self.labels, self.values = list(labels), list(values)
        self.plot.clear()
        if not values:
            return
        positions = list(range(len(values)))
        bar, chosen = qcolor("plot_line"), qcolor("plot_line_2")
        brushes = [pg.mkBrush(chosen if i == highlight else bar) for i in positions]
        low = min(0.0, min(values))
        bars = pg.BarGraphItem(x0=[0.0 if v >= 0 else v for v in values], y=positions, height=0.65, width=[abs(v) for v in values], brushes=brushes, pen=None)
        self.plot.addItem(bars)
        top = max(values) if maximum is None else max(maximum, max(values))
        span = (top - low) or 1.0
        for i, value in enumerate(values):
            text = pg.TextItem(f"{value:.4g}", color=color("text"), anchor=(0, 0.5))
            text.setPos(max(value, 0.0) + span * 0.01, i)
            self.plot.addItem(text)
        shown = [label if len(label) <= 24 else label[:23] + "…" for label in labels]
        self.plot.getAxis("left").setTicks([[(i, shown[i]) for i in positions]])
        self.plot.setXRange(low, top + span * 0.18, padding=0)
        self.plot.setYRange(-0.6, len(values) - 0.4, padding=0)
        self.setMinimumHeight(min(300, 70 + 24 * len(values)))
        self.setMaximumHeight(max(160, 80 + 46 * len(values)))


class ResultView(QWidget):
    """A view of one task's result. ``begin`` when a run starts, ``show_partial`` for streamed pieces."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.result: TaskResult | None = None

    def begin(self, values: dict) -> None:
        """A run starts (streaming views clear themselves)."""

    def show_partial(self, partial: Partial) -> None:
        """A piece of the result arrived."""

    def show_result(self, result: TaskResult) -> None:
        """Draw the finished result; each view's own result type (a subclass) is what it receives."""
        self.result = result


__all__ = ["BarChart", "ResultView", "colour_for", "highlight", "highlighted_html", "make_table", "plot_widget", "text_browser"]
