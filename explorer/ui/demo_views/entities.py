"""Token classification: entities highlighted in the text, the entity table and every token's label."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel

from explorer.tasks.token_classification import EntitiesResult
from explorer.ui.demo_views.common import ResultView, colour_for, highlighted_html, make_table, text_browser
from explorer.ui.palette import color


class EntitiesView(ResultView):
    def show_result(self, result: EntitiesResult) -> None:
        super().show_result(result)
        labels = result.labels
        spans = [(entity.start, entity.end, colour_for(entity.label, labels), entity.label) for entity in result.entities]
        self.text = text_browser(90)
        self.text.setObjectName("entities_text")
        self.text.setHtml(highlighted_html(result.text, spans))
        self.layout_.addWidget(self.text, 1)
        ink = color("text")
        legend = " ".join(
            f"<span style='background-color:{colour_for(kind, labels)}; color:{ink};'>&nbsp;{html.escape(kind)}&nbsp;</span>"
            for kind in dict.fromkeys(l[2:] if l.startswith(("B-", "I-")) else l for l in labels)
            if kind != "O"
        )
        self.layout_.addWidget(QLabel(f"Labels: {legend} · aggregation: {html.escape(result.aggregation)} · {len(result.entities)} entities"))
        rows = [[e.label, e.word, e.score, e.start, e.end] for e in result.entities]
        self.table = make_table(["Label", "Text", "Score", "Start", "End"], rows, stretch=1)
        self.table.setObjectName("entities_table")
        self.layout_.addWidget(self.table, 1)
        tokens = make_table(
            ["#", "Token", "Label", "Score", "Start", "End"],
            [[t.index, t.word, t.entity, t.score, t.start, t.end] for t in result.tokens],
            stretch=1,
        )
        tokens.setObjectName("tokens_table")
        self.layout_.addWidget(QLabel("Every token (argmax label)"))
        self.layout_.addWidget(tokens, 1)


VIEW = EntitiesView
