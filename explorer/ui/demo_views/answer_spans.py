"""Question answering: the best span highlighted in the context, the answer table, start/end logits per token."""

from __future__ import annotations

import html

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from explorer.tasks.question_answering import Answer, AnswerResult, LogitsWindow
from explorer.ui.demo_views.common import ResultView, highlight, highlighted_html, make_table, plot_widget, text_browser
from explorer.ui.palette import qcolor


def _tinted(colour: QColor, alpha: int) -> QColor:
    colour.setAlpha(alpha)
    return colour


class AnswerSpansView(ResultView):
    def show_result(self, result: AnswerResult) -> None:
        super().show_result(result)
        answers = result.answers
        best = answers[0] if answers else None
        self.text = text_browser(70)
        self.text.setObjectName("answer_context")
        spans = [(best.start, best.end, highlight(0), f"{best.score:.3f}")] if best else []
        self.text.setHtml(highlighted_html(result.context, spans, chips=False))
        headline = (
            f"<b>Answer:</b> {html.escape(best.answer)} &nbsp; (score {best.score:.4f})"
            if best
            else "<b>No answer span found in the context.</b>"
        )
        headline += f" &nbsp; · &nbsp; argmax of start and end separately: <i>{html.escape(result.argmax_answer.answer) or '∅'}</i>"
        label = QLabel(headline)
        label.setWordWrap(True)
        self.layout_.addWidget(label)
        self.layout_.addWidget(self.text, 1)
        self.table = make_table(
            ["Answer", "Score", "Start", "End", "Window"], [[a.answer, a.score, a.start, a.end, a.window] for a in answers], stretch=0
        )
        self.table.setObjectName("answers_table")
        self.table.setMaximumHeight(36 + 30 * min(len(answers), 5))
        self.layout_.addWidget(self.table)
        self.plot = self._logits_plot(result.windows[best.window if best else 0], best)
        self.layout_.addWidget(self.plot, 2)

    @staticmethod
    def _logits_plot(window: LogitsWindow, best: Answer | None):
        import pyqtgraph as pg

        plot = plot_widget("Start/end logits per token (green: context, yellow: best span)")
        plot.setObjectName("qa_plot")
        plot.addLegend(offset=(10, 5))
        xs = list(range(len(window.tokens)))
        for logits, role, name in ((window.start_logits, "plot_line", "start logit"), (window.end_logits, "plot_line_2", "end logit")):
            line = qcolor(role)
            plot.plot(xs, logits, pen=pg.mkPen(line, width=2), symbol="o", symbolSize=5, symbolBrush=line, name=name)
        context_positions = [i for i, m in enumerate(window.context_mask) if m]
        if context_positions:
            region = (context_positions[0] - 0.5, context_positions[-1] + 0.5)
            plot.addItem(pg.LinearRegionItem(region, movable=False, brush=_tinted(qcolor("ok"), 30), pen=pg.mkPen(None)))
        if best is not None:
            region = (best.token_start - 0.5, best.token_end + 0.5)
            plot.addItem(pg.LinearRegionItem(region, movable=False, brush=_tinted(QColor(highlight(0)), 110), pen=pg.mkPen(None)))
        every = max(1, len(xs) // 16)
        plot.getAxis("bottom").setTicks([[(i, window.tokens[i]) for i in xs[::every]]])
        plot.setMinimumHeight(200)
        return plot


VIEW = AnswerSpansView
