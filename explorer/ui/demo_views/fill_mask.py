"""Fill-mask: for each mask, the best sentence and the most likely tokens as bars."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel

from explorer.tasks.fill_mask import FillMaskResult
from explorer.ui.demo_views.common import BarChart, ResultView


class FillMaskView(ResultView):
    def show_result(self, result: FillMaskResult) -> None:
        super().show_result(result)
        for index, mask in enumerate(result.masks):
            best = mask.predictions[0]
            title = QLabel(
                f"<b>Mask {index + 1}</b> (token {mask.position}): {html.escape(best.sequence)}"
                if len(result.masks) > 1
                else f"<b>Best:</b> {html.escape(best.sequence)}"
            )
            title.setWordWrap(True)
            self.layout_.addWidget(title)
            chart = BarChart()
            chart.set_data([p.token for p in mask.predictions], [p.score for p in mask.predictions], maximum=None)
            self.layout_.addWidget(chart, 1)
        self.layout_.addStretch(0)


VIEW = FillMaskView
