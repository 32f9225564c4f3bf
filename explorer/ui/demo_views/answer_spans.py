"""Question answering: the best span highlighted in the context, the answer table, start/end logits per token."""

from __future__ import annotations

import html

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from explorer.ui.demo_views.common import ResultView, highlight, highlighted_html, make_table, plot_widget, text_browser
from explorer.ui.palette import qcolor


def _tinted(colour: QColor, alpha: int) -> QColor:
    colour.setAlpha(alpha)
    return colour


class AnswerSpansView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        answers = result["answers"]
        self.text = text_browser(70)
        self.text.setObjectName("answer_context")
        spans = [(answers[0]["start"], answers[0]["end"], highlight(0), f"{answers[0]['score']:.3f}")] if answers else []
        self.text.setHtml(highlighted_html(result["context"], spans, chips=False))
        headline = (
            f"<b>Answer:</b> {html.escape(answers[0]['answer'])} &nbsp; (score {answers[0]['score']:.4f})"
            if answers
            else "<b>No answer span found in the context.</b>"
        )
        headline += f" &nbsp; · &nbsp; argmax of start and end separately: <i>{html.escape(result['argmax_answer']['answer']) or '∅'}</i>"
        label = QLabel(headline)
        label.setWordWrap(True)
        self.layout_.addWidget(label)
        self.layout_.addWidget(self.text, 1)
        self.table = make_table(
            ["Answer", "Score", "Start", "End", "Window"], [[a["answer"], a["score"], a["start"], a["end"], a["window"]] for a in answers], stretch=0
        )
        self.table.setObjectName("answers_table")
        self.table.setMaximumHeight(36 + 30 * min(len(answers), 5))
        self.layout_.addWidget(self.table)
        self.plot = self._logits_plot(result["windows"][answers[0]["window"] if answers else 0], answers[0] if answers else None)
        self.layout_.addWidget(self.plot, 2)

    @staticmethod
    def _logits_plot(window: dict, best: dict | None):
        import pyqtgraph as pg

        plot = plot_widget("Start/end logits per token (green: context, yellow: best span)")
        plot.setObjectName("qa_plot")
        plot.addLegend(offset=(10, 5))
        xs = list(range(len(window["tokens"])))
        for key, role, name in (("start_logits", "plot_line", "start logit"), ("end_logits", "plot_line_2", "end logit")):
            line = qcolor(role)
            plot.plot(xs, window[key], pen=pg.mkPen(line, width=2), symbol="o", symbolSize=5, symbolBrush=line, name=name)
        context_positions = [i for i, m in enumerate(window["context_mask"]) if m]
        if context_positions:
            region = (context_positions[0] - 0.5, context_positions[-1] + 0.5)
            plot.addItem(pg.LinearRegionItem(region, movable=False, brush=_tinted(qcolor("ok"), 30), pen=pg.mkPen(None)))
        if best is not None:
            region = (best["token_start"] - 0.5, best["token_end"] + 0.5)
            plot.addItem(pg.LinearRegionItem(region, movable=False, brush=_tinted(QColor(highlight(0)), 110), pen=pg.mkPen(None)))
        every = max(1, len(xs) // 16)
        plot.getAxis("bottom").setTicks([[(i, window["tokens"][i]) for i in xs[::every]]])
        plot.setMinimumHeight(200)
        return plot


VIEW = AnswerSpansView
