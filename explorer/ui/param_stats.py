"""Statistics panel: numbers, histogram, heatmap and per-layer norms for one stored tensor (pyqtgraph)."""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from explorer.core.formatting import human_count
from explorer.core.tensor_stats import LayerNorms, TensorStats
from explorer.ui.palette import color, notifier, qcolor


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _plot(title: str) -> pg.PlotWidget:
    widget = pg.PlotWidget(background=None)
    widget.setProperty("plot_title", title)  # coloured by StatsPanel._paint_plots
    widget.setMinimumSize(200, 150)
    widget.showGrid(x=True, y=True, alpha=0.2)
    widget.setMenuEnabled(False)
    return widget


class StatsPanel(QWidget):
    layer_norms_requested = Signal(str)
    """Emitted with the tensor name when the user asks for its norms along the depth."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._name: str | None = None
        layout = QVBoxLayout(self)
        self.title = QLabel("Select a parameter or a tensor to see its statistics. Only that tensor is read.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title)

        numbers = QWidget()
        grid = QGridLayout(numbers)
        grid.setContentsMargins(0, 0, 0, 0)
        self._values: dict[str, QLabel] = {}
        self._value_names: list[QLabel] = []
        labels = ("mean", "std", "min", "max", "abs max", "norm", "zeros", "NaN / Inf")
        for position, label in enumerate(labels):
            name = QLabel(label + ":")
            self._value_names.append(name)
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(name, position // 4, (position % 4) * 2, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(value, position // 4, (position % 4) * 2 + 1)
            self._values[label] = value
        grid.setColumnStretch(8, 1)
        layout.addWidget(numbers)

        self.histogram = _plot("Value histogram")
        self.histogram.setLabel("left", "count")
        self._bars = pg.PlotDataItem(stepMode="center", fillLevel=0)
        self.histogram.addItem(self._bars)
        # Plots share the height in a splitter so the user can give room to the one that matters.
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.setChildrenCollapsible(False)
        plots.addWidget(self.histogram)

        self.heatmap = _plot("|value| heatmap (averaged per cell)")
        self.heatmap.invertY(True)
        self.heatmap.setAspectLocked(False)
        self._image = pg.ImageItem()
        colormap = pg.colormap.get("viridis")
        self._image.setColorMap(colormap)
        self.heatmap.addItem(self._image)
        self._colorbar = pg.ColorBarItem(colorMap=colormap, interactive=False, width=12)
        self._colorbar.setImageItem(self._image, insert_in=self.heatmap.getPlotItem())
        plots.addWidget(self.heatmap)

        norms_row = QHBoxLayout()
        self.norms_button = QPushButton("Norms across layers")
        self.norms_button.setToolTip("Read this parameter in every repeated block and plot its L2 norm along the depth")
        self.norms_button.setEnabled(False)
        self.norms_button.clicked.connect(self._request_norms)
        norms_row.addWidget(self.norms_button)
        self.norms_note = QLabel("")
        self.norms_note.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        norms_row.addWidget(self.norms_note)
        self.norms = _plot("L2 norm per layer")
        self.norms.setLabel("bottom", "layer")
        self._norm_curve = self.norms.plot([], [], symbol="o", symbolSize=5)
        plots.addWidget(self.norms)
        plots.setStretchFactor(0, 1)
        plots.setStretchFactor(1, 1)
        plots.setStretchFactor(2, 1)
        layout.addWidget(plots, 1)
        layout.addLayout(norms_row)
        self._nan_inf_bad = False
        self._paint_plots()
        notifier().changed.connect(self._paint_plots)
        self.clear()

    def _paint_plots(self, _scheme: str | None = None) -> None:
        """Titles, axes, bars and curve in the scheme's colours (pyqtgraph's defaults suit neither scheme)."""
        axis_colour = qcolor("muted")
        for plot in (self.histogram, self.heatmap, self.norms):
            plot.setTitle(plot.property("plot_title"), size="9pt", color=color("text"))
            for name in ("left", "bottom"):
                plot.getAxis(name).setPen(axis_colour)
                plot.getAxis(name).setTextPen(axis_colour)
        for name in ("left", "right", "top", "bottom"):
            self._colorbar.getAxis(name).setPen(axis_colour)
            self._colorbar.getAxis(name).setTextPen(axis_colour)
        bar_fill = qcolor("plot_line")
        bar_fill.setAlpha(160)
        self._bars.setBrush(bar_fill)
        self._bars.setPen(pg.mkPen(qcolor("plot_line")))
        curve = qcolor("plot_line_2")
        self._norm_curve.setPen(pg.mkPen(curve, width=2))
        self._norm_curve.setSymbolBrush(curve)
        self._norm_curve.setSymbolPen(curve)
        for label in self._value_names:
            label.setStyleSheet(f"color: {color('muted')};")
        self._paint_nan_inf()

    def _paint_nan_inf(self) -> None:
        self._values["NaN / Inf"].setStyleSheet(f"color: {color('error')}; font-weight: bold;" if self._nan_inf_bad else "")

    def clear(self, message: str | None = None) -> None:
        self._name = None
        self.title.setText(message or "Select a parameter or a tensor to see its statistics. Only that tensor is read.")
        for value in self._values.values():
            value.setText("–")
        self._nan_inf_bad = False
        self._paint_nan_inf()
        self._bars.setData([], [])
        self.histogram.setVisible(False)
        self._image.clear()
        self.heatmap.setVisible(False)
        self._norm_curve.setData([], [])
        self.norms.setVisible(False)
        self.norms_button.setEnabled(False)
        self.norms_note.setText("")

    def show_loading(self, name: str) -> None:
        # Tensor names come from the checkpoint's files: never let them act as markup.
        self.clear(f"Reading <b>{html.escape(name)}</b>…")

    def show_stats(self, stats: TensorStats, repeated: bool) -> None:
        self._name = stats.name
        shape = " × ".join(str(d) for d in stats.shape) or "scalar"
        sample = f" — statistics from a sample of {human_count(stats.sampled)} values" if stats.is_sample else ""
        self.title.setText(
            f"<b>{html.escape(stats.name)}</b><br>{shape}, {html.escape(stats.dtype)}, {human_count(stats.numel)} values{sample}"
        )
        values = self._values
        values["mean"].setText(_fmt(stats.mean))
        values["std"].setText(_fmt(stats.std))
        values["min"].setText(_fmt(stats.min))
        values["max"].setText(_fmt(stats.max))
        values["abs max"].setText(_fmt(stats.absmax))
        values["norm"].setText(_fmt(stats.norm) + (" (est.)" if stats.is_sample else ""))
        values["zeros"].setText(f"{stats.zeros_share * 100:.2f}%")
        bad = stats.nan_count + stats.inf_count
        values["NaN / Inf"].setText(f"{stats.nan_count:,} / {stats.inf_count:,}")
        self._nan_inf_bad = bool(bad)
        self._paint_nan_inf()
        if stats.histogram_counts:
            self._bars.setData(np.asarray(stats.histogram_edges), np.asarray(stats.histogram_counts, dtype=float))
            self.histogram.setVisible(True)
            self.histogram.enableAutoRange()
        if stats.heatmap:
            matrix = np.asarray(stats.heatmap, dtype=np.float32)
            # ImageItem's first axis is x; transpose so rows run down like the tensor's rows.
            self._image.setImage(matrix.T, autoLevels=True)
            low, high = float(matrix.min()), float(matrix.max())
            self._colorbar.setLevels((low, high if high > low else low + 1e-12))
            rows, cols = stats.heatmap_rows or matrix.shape
            self._image.setRect(0, 0, cols, rows)
            self.heatmap.setLabel("bottom", f"columns (0–{cols - 1})")
            if stats.is_sample and len(stats.shape) == 2 and rows < stats.shape[0]:
                self.heatmap.setLabel("left", f"{rows} of {stats.shape[0]} rows")
            else:
                self.heatmap.setLabel("left", f"rows (0–{rows - 1})")
            self.heatmap.setVisible(True)
            self.heatmap.autoRange()
        else:
            self.heatmap.setVisible(False)
        self.norms_button.setEnabled(repeated)
        self.norms_note.setText("" if repeated else "not part of a repeated block")

    def show_norms_progress(self, text: str) -> None:
        self.norms_note.setText(text)

    def show_norms(self, norms: LayerNorms) -> None:
        self._norm_curve.setData(norms.layers, norms.norms)
        self.norms.setVisible(True)
        # Layers are whole numbers: about eight integer ticks, never 0.5.
        step = max(1, math.ceil(len(norms.layers) / 8))
        self.norms.getAxis("bottom").setTickSpacing(major=step, minor=step)
        # The pattern goes in the note: a long plot title would force the plot wider than the panel.
        self.norms.enableAutoRange()
        note = f"{norms.pattern}: {len(norms.layers)} layers"
        if norms.estimated:
            note += " (large tensors estimated from samples)"
        self.norms_note.setText(note)

    def _request_norms(self) -> None:
        if self._name:
            self.layer_norms_requested.emit(self._name)
