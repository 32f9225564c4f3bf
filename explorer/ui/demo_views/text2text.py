"""Text to text: the output, and how it was decoded."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel

from explorer.tasks.generation_settings import decoding_mode, describe_sources
from explorer.tasks.text2text import Text2TextResult
from explorer.ui.demo_views.common import ResultView, text_browser


class Text2TextView(ResultView):
    def show_result(self, result: Text2TextResult) -> None:
        super().show_result(result)
        self.text = text_browser(80)
        self.text.setObjectName("text2text_output")
        self.text.setHtml(f"<div style='font-size:13pt;'>{html.escape(result.generated_text) or '<i>(empty output)</i>'}</div>")
        self.layout_.addWidget(QLabel("<b>Output</b>"))
        self.layout_.addWidget(self.text, 1)
        details = QLabel(
            f"Input: <i>{html.escape(result.input_text)}</i><br>{len(result.token_ids)} output tokens · "
            f"{decoding_mode(result.settings)}<br>{html.escape(describe_sources(result.generation_settings))}"
        )
        details.setWordWrap(True)
        self.layout_.addWidget(details)
        self.layout_.addStretch(1)


VIEW = Text2TextView
