"""Feature extraction: the shapes, the sentences' cosine similarity as a heatmap, each vector's first values."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel

from explorer.tasks.feature_extraction import FeaturesResult, settings_line
from explorer.ui.demo_views.common import ResultView, make_table, plot_widget

COLOUR_MAP = "viridis"


class FeaturesView(ResultView):
    def show_result(self, result: FeaturesResult) -> None:
        super().show_result(result)
        sentences = result.sentences
        layer = "the last layer" if result.layer is None else f"layer {result.layer} (of {result.layers})"
        if result.layer == 0:
            layer = "layer 0 (the embedding output)"
        pooled = "the pooler output" if result.pooling == "pooler" else f"{result.pooling} pooling of {layer}"
        lines = [
            f"last_hidden_state shape: <b>{list(result.last_hidden_state_shape)}</b> · vector size <b>{result.vector_size}</b> · {pooled}"
        ]
        # Where the pooling, normalisation and truncation came from (a sentence-transformers folder's files or the app).
        lines.append(f"{html.escape(settings_line(result))} · {_norms(result.norms)}")
        if result.layer is not None:
            lines.append(f"hidden_states[{result.layer}] shape: <b>{list(result.hidden_state_shape)}</b>")
        if result.attentions_shape:
            lines.append(f"attentions (layers, batch, heads, tokens, tokens): <b>{list(result.attentions_shape)}</b>")
        self.summary = QLabel("<br>".join(lines))
        self.summary.setObjectName("features_summary")
        self.summary.setWordWrap(True)
        self.layout_.addWidget(self.summary)
        self.heatmap = self._heatmap(result.similarity, len(sentences))
        self.layout_.addWidget(self.heatmap, 2)
        rows = [
            [f"S{i + 1}", s, result.token_counts[i], result.norms[i], ", ".join(f"{v:.3f}" for v in result.vectors[i][:4]) + " …"]
            for i, s in enumerate(sentences)
        ]
        table = make_table(["", "Sentence", "Tokens", "Norm", "First values"], rows, stretch=1)
        table.setMaximumHeight(36 + 30 * min(len(rows), 6))
        self.layout_.addWidget(table)

    @staticmethod
    def _heatmap(similarity: list[list[float]], count: int):
        import numpy as np
        import pyqtgraph as pg

        plot = plot_widget("Cosine similarity (−1 … 1)")
        plot.setObjectName("similarity_heatmap")
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setAspectLocked(True)
        plot.getPlotItem().invertY(True)
        colours = pg.colormap.get(COLOUR_MAP)
        image = pg.ImageItem(np.array(similarity, dtype=float).T)
        image.setLookupTable(colours.getLookupTable(nPts=256))
        image.setLevels((-1.0, 1.0))
        plot.addItem(image)
        # Numbers in the map's lightest colour on its dark half and in its darkest on its light half.
        dark_end, light_end = colours.map(0.0, mode="qcolor"), colours.map(1.0, mode="qcolor")
        for i, row in enumerate(similarity):
            for j, value in enumerate(row):
                label = pg.TextItem(f"{value:.2f}", color=light_end if value < 0.4 else dark_end, anchor=(0.5, 0.5))
                label.setPos(j + 0.5, i + 0.5)
                plot.addItem(label)
        ticks = [(i + 0.5, f"S{i + 1}") for i in range(count)]
        plot.getAxis("bottom").setTicks([ticks])
        plot.getAxis("left").setTicks([ticks])
        plot.setMinimumHeight(220)
        return plot


def _norms(norms: list[float]) -> str:
    if not norms:
        return "no vectors"
    low, high = min(norms), max(norms)
    return f"vector norm <b>{low:.4f}</b>" if high - low < 5e-5 else f"vector norms <b>{low:.4f} … {high:.4f}</b>"


VIEW = FeaturesView
