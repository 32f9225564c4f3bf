"""Tokenizer playground: tokens over the text, the token table, ids and decoding; or the padded batch."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem

from explorer.tasks.tokenize import TokenizeResult
from explorer.ui.demo_views.common import ResultView, highlight, highlighted_html, make_table, text_browser
from explorer.ui.palette import qcolor


def _selectable(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class TokensView(ResultView):
    def show_result(self, result: TokenizeResult) -> None:
        super().show_result(result)
        if result.batch:
            self._show_batch(result)
            return
        counts = result.counts
        self.layout_.addWidget(
            QLabel(
                f"<b>{counts.tokens}</b> tokens ({counts.special_tokens} special) for {counts.characters} characters · "
                f"vocabulary {counts.vocabulary} · {html.escape(result.tokenizer_class)}"
            )
        )
        spans = []
        for token in result.tokens:
            if token.start is None or token.end is None or token.special or token.sequence not in (0, None) or token.end <= token.start:
                continue
            spans.append((token.start, token.end, highlight(token.index % 2 + 1), ""))  # neighbours differ
        self.text = text_browser(60)
        self.text.setObjectName("token_offsets")
        self.text.setHtml(highlighted_html(result.text, spans))
        self.layout_.addWidget(self.text, 1)
        rows = [[t.index, t.token, t.id, t.start, t.end, "special" if t.special else ""] for t in result.tokens]
        self.table = make_table(["#", "Token", "Id", "Start", "End", ""], rows, stretch=1)
        self.table.setObjectName("tokens_table")
        special = qcolor("error")
        for r, token in enumerate(result.tokens):
            if token.special:
                for c in range(self.table.columnCount()):
                    self.table.item(r, c).setForeground(special)
        self.layout_.addWidget(self.table, 2)
        self.layout_.addWidget(_selectable(f"Decoded: <code>{html.escape(result.decoded or '')}</code>"))
        given = result.decoded_ids
        if given:
            self.layout_.addWidget(
                _selectable(
                    f"Ids {given.ids} → <code>{html.escape(given.text)}</code> &nbsp; tokens: {html.escape(' '.join(given.tokens))}",
                    "decoded_ids",
                )
            )
        ids = _selectable(f"input_ids: <code>{result.input_ids}</code>")
        ids.setFont(QFont("monospace"))
        self.layout_.addWidget(ids)

    def _show_batch(self, result: TokenizeResult) -> None:
        """The padded batch as the model gets it: one row per text, one column per position, padding greyed."""
        batch = result.batch
        assert batch is not None
        rows, columns = batch.shape
        head = QLabel(
            f"<b>Padded batch</b>: input_ids and attention_mask shape <b>[{rows}, {columns}]</b> · padded on the "
            f"{html.escape(batch.padding_side)} with id {batch.pad_token_id} · truncation at {batch.max_length} tokens · "
            f"{html.escape(result.tokenizer_class)}"
        )
        head.setWordWrap(True)
        self.layout_.addWidget(head)
        # Three rows per text: the tokens (to read the ids), input_ids and attention_mask as the model gets them.
        self.table = QTableWidget(3 * rows, columns)
        self.table.setObjectName("batch_table")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setHorizontalHeaderLabels([str(i) for i in range(columns)])
        labels = []
        grey, pad_background = qcolor("muted"), qcolor("surface_alt")
        for r, (ids, mask, tokens) in enumerate(zip(result.input_ids, result.attention_mask, batch.tokens)):
            labels += [f"text {r + 1} tokens", "input_ids", "attention_mask"]
            for c, (token_id, on, token) in enumerate(zip(ids, mask, tokens)):
                cells = (QTableWidgetItem(token), QTableWidgetItem(str(token_id)), QTableWidgetItem(str(on)))
                for row_offset, item in enumerate(cells):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    if not on:
                        item.setForeground(grey)
                        item.setBackground(pad_background)
                    self.table.setItem(3 * r + row_offset, c, item)
                bold = cells[0].font()
                bold.setBold(True)
                cells[0].setFont(bold)
        self.table.setVerticalHeaderLabels(labels)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(22)
        # As tall as its rows (plus header and scroll bar), so the texts below stay close.
        self.table.setMaximumHeight(30 + 22 * 3 * rows + 22)
        self.layout_.addWidget(self.table, 1)
        texts = make_table(
            ["#", "Text", "Tokens", "Truncated"],
            [[i + 1, text, length, "yes" if cut else ""] for i, (text, length, cut) in enumerate(zip(batch.texts, batch.lengths, batch.truncated))],
            stretch=1,
        )
        texts.setObjectName("batch_texts")
        texts.setMaximumHeight(36 + 26 * min(rows, 6))
        self.layout_.addWidget(texts)
        given = result.decoded_ids
        if given:
            back = QLabel(f"Ids {given.ids} → <code>{html.escape(given.text)}</code>")
            back.setObjectName("decoded_ids")
            self.layout_.addWidget(back)
        self.layout_.addStretch(1)


VIEW = TokensView
