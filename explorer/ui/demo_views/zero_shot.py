"""Zero-shot classification: each candidate label's score as bars, and the hypothesis it was tested with."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel

from explorer.tasks.zero_shot import ZeroShotResult
from explorer.ui.demo_views.common import BarChart, ResultView, make_table


class ZeroShotView(ResultView):
    def show_result(self, result: ZeroShotResult) -> None:
        super().show_result(result)
        kind = "each label on its own (entailment vs contradiction)" if result.multi_label else "labels compete (softmax over entailment)"
        self.layout_.addWidget(QLabel(f"Scores: {kind}; entailment label: {html.escape(result.entailment_label)}"))
        self.chart = BarChart()
        self.chart.set_data(result.labels, result.scores)
        self.layout_.addWidget(self.chart, 1)
        hypotheses = make_table(["Label", "Hypothesis", "Score"], [[r.label, r.hypothesis, r.score] for r in result.ranked], stretch=1)
        hypotheses.setMaximumHeight(36 + 30 * min(len(result.ranked), 6))
        self.layout_.addWidget(hypotheses)


VIEW = ZeroShotView
