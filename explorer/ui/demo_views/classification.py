"""Text classification: every label's probability as bars, a table when there are several texts, the loss."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel

from explorer.tasks.text_classification import ClassificationResult, ClassifiedText
from explorer.ui.demo_views.common import BarChart, ResultView, make_table

LOSS_KINDS = {"single_label_classification": "cross-entropy", "multi_label_classification": "binary cross-entropy"}


class ClassificationView(ResultView):
    def show_result(self, result: ClassificationResult) -> None:
        super().show_result(result)
        rows = result.results
        kind = "sigmoid, each label on its own" if result.multi_label else "softmax"
        self.layout_.addWidget(QLabel(f"Probabilities ({kind})"))
        gold = result.gold_labels
        if result.loss is not None:
            loss_kind = LOSS_KINDS.get(result.loss_kind or "", result.loss_kind or "")
            self.loss_label = QLabel(
                f"<b>Loss</b> against the gold labels ({html.escape(', '.join(g.label for g in gold or []))}): "
                f"<b>{result.loss:.6f}</b> ({loss_kind}, what training lowers; outputs.loss)"
            )
            self.loss_label.setObjectName("classification_loss")
            self.loss_label.setWordWrap(True)
            self.layout_.addWidget(self.loss_label)
        if len(rows) > 1:
            headers = ["Text", "Label", "Score"] + (["Gold"] if gold else [])
            table_rows = [[r.text, r.label, r.score] + ([gold[i].label] if gold else []) for i, r in enumerate(rows)]
            table = make_table(headers, table_rows, stretch=0)
            table.setObjectName("classification_table")
            table.setMaximumHeight(36 + 30 * min(len(rows), 5))
            self.layout_.addWidget(table)
            table.currentCellChanged.connect(lambda row, *_: self._chart_for(rows[row]) if 0 <= row < len(rows) else None)
        self.chart_title = QLabel()
        self.chart_title.setWordWrap(True)
        self.layout_.addWidget(self.chart_title)
        self.chart = BarChart()
        self.layout_.addWidget(self.chart, 1)
        self.layout_.addStretch(0)
        self._chart_for(rows[0])
        if len(rows) > 1:
            table.selectRow(0)

    def _chart_for(self, row: ClassifiedText) -> None:
        self.chart_title.setText(f"<i>{html.escape(row.text)}</i>")
        self.chart.set_data([s.label for s in row.scores], [s.score for s in row.scores])


VIEW = ClassificationView
