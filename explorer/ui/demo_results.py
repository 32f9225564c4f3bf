"""One view per task result type: bar charts, inline highlights, tables, score plots, heatmaps.

Views only render the dicts the tasks return (and the partial results they stream); they
compute nothing but layout. pyqtgraph is imported when a chart is first drawn.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from explorer.tasks.base import (
    RESULT_ANSWER_SPANS,
    RESULT_CLASSIFICATION,
    RESULT_ENTITIES,
    RESULT_FEATURES,
    RESULT_FILL_MASK,
    RESULT_GENERATED_TEXT,
    RESULT_TEXT2TEXT,
    RESULT_TOKENS,
    RESULT_ZERO_SHOT,
    Partial,
)

# Distinct, light colours for highlighted spans; text stays black on them.
PALETTE = ["#ffd166", "#8ecae6", "#b5e48c", "#f4a3a8", "#cdb4db", "#ffb703", "#90e0ef", "#e9c46a", "#a8dadc", "#f28482"]
BAR_COLOUR = (80, 130, 200)
STOP_REASONS = {"eos": "end of text", "max_new_tokens": "max new tokens", "max_length": "max length"}
BEST_BAR_COLOUR = (230, 140, 40)


def colour_for(label: str, labels: list[str]) -> str:
    base = label[2:] if label.startswith(("B-", "I-")) else label
    types = []
    for name in labels:
        kind = name[2:] if name.startswith(("B-", "I-")) else name
        if kind not in types and kind != "O":
            types.append(kind)
    index = types.index(base) if base in types else abs(hash(base))
    return PALETTE[index % len(PALETTE)]


def highlighted_html(text: str, spans: list[tuple[int, int, str, str]], chips: bool = True) -> str:
    """Text with (start, end, colour, tooltip label) spans as coloured marks; spans may not overlap."""
    parts, position = [], 0
    for start, end, colour, label in sorted(spans):
        if start < position or end <= start:
            continue
        parts.append(html.escape(text[position:start]))
        chip = f"<sup style='font-size:small; color:#444;'>&nbsp;{html.escape(label)}</sup>" if label and chips else ""
        parts.append(
            f"<span style='background-color:{colour}; color:#000;' title='{html.escape(label)}'>"
            f"{html.escape(text[start:end])}{chip}</span>"
        )
        position = end
    parts.append(html.escape(text[position:]))
    return "<div style='font-size:12pt; line-height:160%; white-space:pre-wrap;'>" + "".join(parts) + "</div>"


def make_table(headers: list[str], rows: list[list[Any]], stretch: int | None = None) -> QTableWidget:
    """Read-only table; ``stretch`` is the column that takes the spare width (the text column)."""
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, float):
                item = QTableWidgetItem(f"{value:.4f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            elif isinstance(value, int) and not isinstance(value, bool):
                item = QTableWidgetItem(str(value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            else:
                item = QTableWidgetItem("" if value is None else str(value))
            table.setItem(r, c, item)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setDefaultSectionSize(24)
    return table


class BarChart(QWidget):
    """Horizontal bars, best on top, with the value printed at the end of each bar."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.getPlotItem().invertY(True)
        self.plot.setTitle(title, color="#333", size="10pt")
        self.plot.getAxis("bottom").setPen("#999")
        self.plot.getAxis("left").setPen("#999")
        self.plot.getAxis("left").setTextPen("#222")
        self.plot.getAxis("bottom").setTextPen("#444")
        self.plot.setMinimumHeight(120)
        layout.addWidget(self.plot)
        self.labels: list[str] = []
        self.values: list[float] = []

    def set_data(self, labels: list[str], values: list[float], maximum: float | None = 1.0, highlight: int | None = 0) -> None:
        import pyqtgraph as pg

        self.labels, self.values = list(labels), list(values)
        self.plot.clear()
        if not values:
            return
        positions = list(range(len(values)))
        brushes = [pg.mkBrush(*(BEST_BAR_COLOUR if i == highlight else BAR_COLOUR)) for i in positions]
        low = min(0.0, min(values))
        bars = pg.BarGraphItem(x0=[0.0 if v >= 0 else v for v in values], y=positions, height=0.65, width=[abs(v) for v in values], brushes=brushes, pen=None)
        self.plot.addItem(bars)
        top = max(values) if maximum is None else max(maximum, max(values))
        span = (top - low) or 1.0
        for i, value in enumerate(values):
            text = pg.TextItem(f"{value:.4g}", color="#222", anchor=(0, 0.5))
            text.setPos(max(value, 0.0) + span * 0.01, i)
            self.plot.addItem(text)
        shown = [label if len(label) <= 24 else label[:23] + "…" for label in labels]
        self.plot.getAxis("left").setTicks([[(i, shown[i]) for i in positions]])
        self.plot.setXRange(low, top + span * 0.18, padding=0)
        self.plot.setYRange(-0.6, len(values) - 0.4, padding=0)
        self.setMinimumHeight(min(300, 70 + 24 * len(values)))
        self.setMaximumHeight(max(160, 80 + 46 * len(values)))


class ResultView(QWidget):
    """Base: a view for one result type. ``show_partial`` for streamed pieces."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.result: dict | None = None

    def begin(self, values: dict) -> None:
        """A run starts (streaming views clear themselves)."""

    def show_partial(self, partial: Partial) -> None:
        """A piece of the result arrived."""

    def show_result(self, result: dict) -> None:
        self.result = result


def _text_browser(min_height: int = 80) -> QTextBrowser:
    browser = QTextBrowser()
    browser.setOpenLinks(False)
    browser.setMinimumHeight(min_height)
    return browser


class GenerationView(ResultView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextBrowser()
        self.text.setObjectName("generated_text")
        self.text.setMinimumHeight(120)
        self.stats = QLabel("")
        self.stats.setObjectName("generation_stats")
        self.step_label = QLabel("Next-token probabilities")
        self.step_slider = QSlider(Qt.Orientation.Horizontal)
        self.step_slider.setMinimum(1)
        self.step_slider.valueChanged.connect(self._show_step)
        self.chart = BarChart()
        splitter = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.text)
        top_layout.addWidget(self.stats)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.step_label)
        row.addWidget(self.step_slider, 1)
        bottom_layout.addLayout(row)
        bottom_layout.addWidget(self.chart)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([300, 250])
        self.layout_.addWidget(splitter)
        self._prompt_html = ""
        self._generated = ""
        self._steps: list[dict] = []
        self._chart_timer = QTimer(self)
        self._chart_timer.setSingleShot(True)
        self._chart_timer.setInterval(100)  # redraw the chart at most ten times a second while streaming
        self._chart_timer.timeout.connect(self._follow_last_step)

    def begin(self, values: dict) -> None:
        self._prompt_html = f"<span style='color:#777;'>{html.escape(values.get('text', ''))}</span>"
        self._generated = ""
        self._steps = []
        self.stats.setText("Generating…")
        self.chart.set_data([], [])
        self.step_slider.setMaximum(1)
        self._render_text()

    def _render_text(self) -> None:
        self.text.setHtml(
            "<div style='font-size:12pt; white-space:pre-wrap;'>" + self._prompt_html + "<b>" + html.escape(self._generated) + "</b></div>"
        )
        scroll = self.text.verticalScrollBar()
        scroll.setValue(scroll.maximum())

    def show_partial(self, partial: Partial) -> None:
        if partial.kind == "prompt":  # the prompt as the model sees it (chat template applied)
            self._prompt_html = f"<span style='color:#777;'>{html.escape(partial.data['text'])}</span>"
            self._render_text()
        elif partial.kind == "token":
            self._generated += partial.data["text"]
            if partial.data.get("top"):
                self._steps.append({"chosen": partial.data["token_id"], "top": partial.data["top"]})
            rate = partial.data.get("tokens_per_second")
            self.stats.setText(f"{partial.data['step']} tokens · {rate:.1f} tokens/s" if rate else f"{partial.data['step']} tokens")
            self._render_text()
            if self._steps and not self._chart_timer.isActive():
                self._chart_timer.start()
        elif partial.kind == "text":
            self._generated = partial.data["full_text"]
            self._render_text()

    def _follow_last_step(self) -> None:
        if self._steps:
            self.step_slider.setMaximum(len(self._steps))
            self.step_slider.setValue(len(self._steps))
            self._show_step(len(self._steps))

    def _show_step(self, step: int) -> None:
        if not 1 <= step <= len(self._steps):
            return
        entry = self._steps[step - 1]
        # A byte-level token that is part of a character decodes to U+FFFD; show its id instead.
        labels = [f"id {t['id']}" if "\ufffd" in t["token"] else (repr(t["token"])[1:-1] or "∅") for t in entry["top"]]
        chosen = next((i for i, t in enumerate(entry["top"]) if t["id"] == entry["chosen"]), None)
        chosen_text = f"chose id {entry['chosen']}" + ("" if chosen is not None else ", outside the top list")
        self.step_label.setText(f"Step {step} of {len(self._steps)}: most likely next tokens ({chosen_text}; orange: chosen)")
        self.chart.set_data(labels, [t["probability"] for t in entry["top"]], maximum=None, highlight=chosen)

    def show_result(self, result: dict) -> None:
        super().show_result(result)
        prompt = result["prompt_text"] if result.get("chat_template_used") else result["prompt"]
        self._prompt_html = f"<span style='color:#777;'>{html.escape(prompt)}</span>"
        self._generated = result["generated_text"]
        self._steps = list(result.get("steps") or [])
        self._render_text()
        template = " · chat template" if result.get("chat_template_used") else ""
        mode = "sampling" if result["settings"]["do_sample"] else "greedy"
        self.stats.setText(
            f"{result['new_tokens']} new tokens ({result['prompt_tokens']} in the prompt) · {result['tokens_per_second']} tokens/s · "
            f"{mode}{template} · stopped at {STOP_REASONS.get(result['stopped'], result['stopped'])}"
        )
        self.step_slider.setEnabled(bool(self._steps))
        self._follow_last_step()


class FillMaskView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        for index, mask in enumerate(result["masks"]):
            best = mask["predictions"][0]
            title = QLabel(
                f"<b>Mask {index + 1}</b> (token {mask['position']}): " f"{html.escape(best['sequence'])}"
                if len(result["masks"]) > 1
                else f"<b>Best:</b> {html.escape(best['sequence'])}"
            )
            title.setWordWrap(True)
            self.layout_.addWidget(title)
            chart = BarChart()
            chart.set_data([p["token"] for p in mask["predictions"]], [p["score"] for p in mask["predictions"]], maximum=None)
            self.layout_.addWidget(chart, 1)
        self.layout_.addStretch(0)


class ClassificationView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        rows = result["results"]
        kind = "sigmoid, each label on its own" if result["multi_label"] else "softmax"
        self.layout_.addWidget(QLabel(f"Probabilities ({kind})"))
        gold = result.get("gold_labels")
        if result.get("loss") is not None:
            loss_kind = {"single_label_classification": "cross-entropy", "multi_label_classification": "binary cross-entropy"}.get(
                result.get("loss_kind"), result.get("loss_kind") or ""
            )
            self.loss_label = QLabel(
                f"<b>Loss</b> against the gold labels ({html.escape(', '.join(g['label'] for g in gold))}): "
                f"<b>{result['loss']:.6f}</b> ({loss_kind}, what training lowers; outputs.loss)"
            )
            self.loss_label.setObjectName("classification_loss")
            self.loss_label.setWordWrap(True)
            self.layout_.addWidget(self.loss_label)
        if len(rows) > 1:
            headers = ["Text", "Label", "Score"] + (["Gold"] if gold else [])
            table_rows = [[r["text"], r["label"], r["score"]] + ([gold[i]["label"]] if gold else []) for i, r in enumerate(rows)]
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

    def _chart_for(self, row: dict) -> None:
        self.chart_title.setText(f"<i>{html.escape(row['text'])}</i>")
        self.chart.set_data([s["label"] for s in row["scores"]], [s["score"] for s in row["scores"]])


class ZeroShotView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        kind = "each label on its own (entailment vs contradiction)" if result["multi_label"] else "labels compete (softmax over entailment)"
        self.layout_.addWidget(QLabel(f"Scores: {kind}; entailment label: {html.escape(result['entailment_label'])}"))
        self.chart = BarChart()
        self.chart.set_data(result["labels"], result["scores"])
        self.layout_.addWidget(self.chart, 1)
        hypotheses = make_table(["Label", "Hypothesis", "Score"], [[r["label"], r["hypothesis"], r["score"]] for r in result["ranked"]], stretch=1)
        hypotheses.setMaximumHeight(36 + 30 * min(len(result["ranked"]), 6))
        self.layout_.addWidget(hypotheses)


class EntitiesView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        labels = result["labels"]
        text = result["text"]
        spans = []
        for entity in result["entities"]:
            label = entity.get("entity_group", entity.get("entity"))
            spans.append((entity["start"], entity["end"], colour_for(label, labels), label))
        self.text = _text_browser(90)
        self.text.setObjectName("entities_text")
        self.text.setHtml(highlighted_html(text, spans))
        self.layout_.addWidget(self.text, 1)
        legend = " ".join(
            f"<span style='background-color:{colour_for(kind, labels)}; color:#000;'>&nbsp;{html.escape(kind)}&nbsp;</span>"
            for kind in dict.fromkeys(l[2:] if l.startswith(("B-", "I-")) else l for l in labels)
            if kind != "O"
        )
        self.layout_.addWidget(QLabel(f"Labels: {legend} · aggregation: {html.escape(result['aggregation'])} · {len(result['entities'])} entities"))
        rows = [[e.get("entity_group", e.get("entity")), e["word"], e["score"], e["start"], e["end"]] for e in result["entities"]]
        self.table = make_table(["Label", "Text", "Score", "Start", "End"], rows, stretch=1)
        self.table.setObjectName("entities_table")
        self.layout_.addWidget(self.table, 1)
        tokens = make_table(["#", "Token", "Label", "Score", "Start", "End"], [[t["index"], t["word"], t["entity"], t["score"], t["start"], t["end"]] for t in result["tokens"]], stretch=1)
        tokens.setObjectName("tokens_table")
        self.layout_.addWidget(QLabel("Every token (argmax label)"))
        self.layout_.addWidget(tokens, 1)


class AnswerSpansView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        import pyqtgraph as pg

        answers = result["answers"]
        context = result["context"]
        self.text = _text_browser(70)
        self.text.setObjectName("answer_context")
        spans = [(answers[0]["start"], answers[0]["end"], PALETTE[0], f"{answers[0]['score']:.3f}")] if answers else []
        self.text.setHtml(highlighted_html(context, spans, chips=False))
        headline = (
            f"<b>Answer:</b> {html.escape(answers[0]['answer'])} &nbsp; (score {answers[0]['score']:.4f})" if answers else "<b>No answer span found in the context.</b>"
        )
        headline += f" &nbsp; · &nbsp; argmax of start and end separately: <i>{html.escape(result['argmax_answer']['answer']) or '∅'}</i>"
        label = QLabel(headline)
        label.setWordWrap(True)
        self.layout_.addWidget(label)
        self.layout_.addWidget(self.text, 1)
        self.table = make_table(["Answer", "Score", "Start", "End", "Window"], [[a["answer"], a["score"], a["start"], a["end"], a["window"]] for a in answers], stretch=0)
        self.table.setObjectName("answers_table")
        self.table.setMaximumHeight(36 + 30 * min(len(answers), 5))
        self.layout_.addWidget(self.table)
        window = result["windows"][answers[0]["window"] if answers else 0]
        plot = pg.PlotWidget(background="w")
        plot.setObjectName("qa_plot")
        plot.setMenuEnabled(False)
        plot.addLegend(offset=(10, 5))
        xs = list(range(len(window["tokens"])))
        plot.plot(xs, window["start_logits"], pen=pg.mkPen((40, 110, 200), width=2), symbol="o", symbolSize=5, symbolBrush=(40, 110, 200), name="start logit")
        plot.plot(xs, window["end_logits"], pen=pg.mkPen((220, 120, 30), width=2), symbol="o", symbolSize=5, symbolBrush=(220, 120, 30), name="end logit")
        context_positions = [i for i, m in enumerate(window["context_mask"]) if m]
        if context_positions:
            region = pg.LinearRegionItem((context_positions[0] - 0.5, context_positions[-1] + 0.5), movable=False, brush=(120, 200, 120, 30), pen=pg.mkPen(None))
            plot.addItem(region)
        if answers:
            best = pg.LinearRegionItem((answers[0]["token_start"] - 0.5, answers[0]["token_end"] + 0.5), movable=False, brush=(255, 200, 60, 90), pen=pg.mkPen(None))
            plot.addItem(best)
        every = max(1, len(xs) // 16)
        plot.getAxis("bottom").setTicks([[(i, window["tokens"][i]) for i in xs[::every]]])
        plot.setTitle("Start/end logits per token (green: context, yellow: best span)", color="#333", size="10pt")
        plot.setMinimumHeight(200)
        self.plot = plot
        self.layout_.addWidget(plot, 2)


class Text2TextView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        self.text = _text_browser(80)
        self.text.setObjectName("text2text_output")
        self.text.setHtml(f"<div style='font-size:13pt;'>{html.escape(result['generated_text']) or '<i>(empty output)</i>'}</div>")
        self.layout_.addWidget(QLabel("<b>Output</b>"))
        self.layout_.addWidget(self.text, 1)
        settings = result["settings"]
        mode = f"{settings['num_beams']} beams" if settings["num_beams"] > 1 else ("sampling" if settings["do_sample"] else "greedy")
        details = QLabel(
            f"Input: <i>{html.escape(result['input_text'])}</i><br>{len(result['token_ids'])} output tokens · {mode} · max length {settings['max_length']}"
        )
        details.setWordWrap(True)
        self.layout_.addWidget(details)
        self.layout_.addStretch(1)


class FeaturesView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        import pyqtgraph as pg

        sentences = result["sentences"]
        layer = "the last layer" if result.get("layer") is None else f"layer {result['layer']} (of {result.get('layers')})"
        if result.get("layer") == 0:
            layer = "layer 0 (the embedding output)"
        pooled = "the pooler output" if result["pooling"] == "pooler" else f"{result['pooling']} pooling of {layer}"
        lines = [
            f"last_hidden_state shape: <b>{list(result['last_hidden_state_shape'])}</b> · vector size <b>{result['vector_size']}</b> · {pooled}"
        ]
        if result.get("layer") is not None:
            lines.append(f"hidden_states[{result['layer']}] shape: <b>{list(result['hidden_state_shape'])}</b>")
        if result.get("attentions_shape"):
            lines.append(f"attentions (layers, batch, heads, tokens, tokens): <b>{list(result['attentions_shape'])}</b>")
        summary = QLabel("<br>".join(lines))
        summary.setObjectName("features_summary")
        summary.setWordWrap(True)
        self.summary = summary
        self.layout_.addWidget(summary)
        similarity = result["similarity"]
        plot = pg.PlotWidget(background="w")
        plot.setObjectName("similarity_heatmap")
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setAspectLocked(True)
        plot.getPlotItem().invertY(True)
        import numpy as np

        matrix = np.array(similarity, dtype=float)
        image = pg.ImageItem(matrix.T)
        image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        image.setLevels((-1.0, 1.0))
        plot.addItem(image)
        for i, row in enumerate(similarity):
            for j, value in enumerate(row):
                label = pg.TextItem(f"{value:.2f}", color="#fff" if value < 0.4 else "#000", anchor=(0.5, 0.5))
                label.setPos(j + 0.5, i + 0.5)
                plot.addItem(label)
        ticks = [(i + 0.5, f"S{i + 1}") for i in range(len(sentences))]
        plot.getAxis("bottom").setTicks([ticks])
        plot.getAxis("left").setTicks([ticks])
        plot.setTitle("Cosine similarity (−1 … 1)", color="#333", size="10pt")
        plot.setMinimumHeight(220)
        self.heatmap = plot
        self.layout_.addWidget(plot, 2)
        rows = [[f"S{i + 1}", s, result["token_counts"][i], result["norms"][i], ", ".join(f"{v:.3f}" for v in result["vectors"][i][:4]) + " …"] for i, s in enumerate(sentences)]
        table = make_table(["", "Sentence", "Tokens", "Norm", "First values"], rows, stretch=1)
        table.setMaximumHeight(36 + 30 * min(len(rows), 6))
        self.layout_.addWidget(table)


class TokensView(ResultView):
    def show_result(self, result: dict) -> None:
        super().show_result(result)
        if result.get("batch"):
            self._show_batch(result)
            return
        counts = result["counts"]
        self.layout_.addWidget(
            QLabel(
                f"<b>{counts['tokens']}</b> tokens ({counts['special_tokens']} special) for {counts['characters']} characters · "
                f"vocabulary {counts['vocabulary']} · {html.escape(result['tokenizer_class'])}"
            )
        )
        spans = []
        for token in result["tokens"]:
            if token["start"] is None or token["special"] or token["sequence"] not in (0, None) or token["end"] <= token["start"]:
                continue
            spans.append((token["start"], token["end"], PALETTE[token["index"] % 2 + 1], ""))
        self.text = _text_browser(60)
        self.text.setObjectName("token_offsets")
        self.text.setHtml(highlighted_html(result["text"], spans))
        self.layout_.addWidget(self.text, 1)
        rows = [[t["index"], t["token"], t["id"], t["start"], t["end"], "special" if t["special"] else ""] for t in result["tokens"]]
        self.table = make_table(["#", "Token", "Id", "Start", "End", ""], rows, stretch=1)
        self.table.setObjectName("tokens_table")
        for r, token in enumerate(result["tokens"]):
            if token["special"]:
                for c in range(self.table.columnCount()):
                    self.table.item(r, c).setForeground(QColor("#a03030"))
        self.layout_.addWidget(self.table, 2)
        decoded = QLabel(f"Decoded: <code>{html.escape(result['decoded'])}</code>")
        decoded.setWordWrap(True)
        decoded.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.addWidget(decoded)
        if result.get("decoded_ids"):
            given = result["decoded_ids"]
            back = QLabel(f"Ids {given['ids']} → <code>{html.escape(given['text'])}</code> &nbsp; tokens: {html.escape(' '.join(given['tokens']))}")
            back.setObjectName("decoded_ids")
            back.setWordWrap(True)
            back.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.layout_.addWidget(back)
        ids = QLabel(f"input_ids: <code>{result['input_ids']}</code>")
        ids.setWordWrap(True)
        ids.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont("monospace")
        ids.setFont(font)
        self.layout_.addWidget(ids)


    def _show_batch(self, result: dict) -> None:
        """The padded batch as the model gets it: one row per text, one column per position, padding greyed."""
        batch = result["batch"]
        rows, columns = batch["shape"]
        head = QLabel(
            f"<b>Padded batch</b>: input_ids and attention_mask shape <b>[{rows}, {columns}]</b> · padded on the "
            f"{html.escape(batch['padding_side'])} with id {batch['pad_token_id']} · truncation at {batch['max_length']} tokens · "
            f"{html.escape(result['tokenizer_class'])}"
        )
        head.setWordWrap(True)
        self.layout_.addWidget(head)
        # Three rows per text: the tokens (to read the ids), input_ids and attention_mask as the model gets them.
        self.table = QTableWidget(3 * rows, columns)
        self.table.setObjectName("batch_table")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setHorizontalHeaderLabels([str(i) for i in range(columns)])
        labels = []
        grey, pad_background = QColor("#9a9a9a"), QColor("#f0f0f0")
        for r, (ids, mask, tokens) in enumerate(zip(result["input_ids"], result["attention_mask"], batch["tokens"])):
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
            [[i + 1, text, length, "yes" if cut else ""] for i, (text, length, cut) in enumerate(zip(batch["texts"], batch["lengths"], batch["truncated"]))],
            stretch=1,
        )
        texts.setObjectName("batch_texts")
        texts.setMaximumHeight(36 + 26 * min(rows, 6))
        self.layout_.addWidget(texts)
        if result.get("decoded_ids"):
            given = result["decoded_ids"]
            back = QLabel(f"Ids {given['ids']} → <code>{html.escape(given['text'])}</code>")
            back.setObjectName("decoded_ids")
            self.layout_.addWidget(back)
        self.layout_.addStretch(1)


VIEWS: dict[str, type[ResultView]] = {
    RESULT_GENERATED_TEXT: GenerationView,
    RESULT_FILL_MASK: FillMaskView,
    RESULT_CLASSIFICATION: ClassificationView,
    RESULT_ZERO_SHOT: ZeroShotView,
    RESULT_ENTITIES: EntitiesView,
    RESULT_ANSWER_SPANS: AnswerSpansView,
    RESULT_TEXT2TEXT: Text2TextView,
    RESULT_FEATURES: FeaturesView,
    RESULT_TOKENS: TokensView,
}


def create_view(result_type: str) -> ResultView:
    return VIEWS.get(result_type, ResultView)()
