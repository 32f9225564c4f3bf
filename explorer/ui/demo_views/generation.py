"""Generated text as it streams, with each step's most likely next tokens as a bar chart."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from explorer.tasks.base import Partial
from explorer.tasks.generation_settings import decoding_mode, describe_sources
from explorer.tasks.text_generation import GenerationResult, GenerationStep
from explorer.ui.demo_views.common import BarChart, ResultView
from explorer.ui.palette import color

STOP_REASONS = {"eos": "end of text", "stop_string": "a stop string", "max_new_tokens": "max new tokens", "max_length": "max length"}


class GenerationView(ResultView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextBrowser()
        self.text.setObjectName("generated_text")
        self.text.setMinimumHeight(120)
        self.stats = QLabel("")
        self.stats.setObjectName("generation_stats")
        self.stats.setWordWrap(True)
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
        self._prompt = ""
        self._generated = ""
        self._steps: list[GenerationStep] = []
        self._chart_timer = QTimer(self)
        self._chart_timer.setSingleShot(True)
        self._chart_timer.setInterval(100)  # redraw the chart at most ten times a second while streaming
        self._chart_timer.timeout.connect(self._follow_last_step)

    def begin(self, values: dict) -> None:
        self._prompt = values.get("text", "")
        self._generated = ""
        self._steps = []
        self.stats.setText("Generating…")
        self.chart.set_data([], [])
        self.step_slider.setMaximum(1)
        self._render_text()

    def _render_text(self) -> None:
        prompt = f"<span style='color:{color('muted')};'>{html.escape(self._prompt)}</span>"
        self.text.setHtml("<div style='font-size:12pt; white-space:pre-wrap;'>" + prompt + "<b>" + html.escape(self._generated) + "</b></div>")
        scroll = self.text.verticalScrollBar()
        scroll.setValue(scroll.maximum())

    def show_partial(self, partial: Partial) -> None:
        if partial.kind == "prompt":  # the prompt as the model sees it (chat template applied)
            self._prompt = partial.data["text"]
            self._render_text()
        elif partial.kind == "token":
            self._generated += partial.data["text"]
            if partial.data.get("top"):
                self._steps.append(GenerationStep(partial.data["token_id"], partial.data["top"]))
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
        labels = [f"id {t.id}" if "\ufffd" in t.token else (repr(t.token)[1:-1] or "∅") for t in entry.top]
        chosen = next((i for i, t in enumerate(entry.top) if t.id == entry.chosen), None)
        chosen_text = f"chose id {entry.chosen}" + ("" if chosen is not None else ", outside the top list")
        self.step_label.setText(f"Step {step} of {len(self._steps)}: most likely next tokens ({chosen_text}; orange: chosen)")
        self.chart.set_data(labels, [t.probability for t in entry.top], maximum=None, highlight=chosen)

    def show_result(self, result: GenerationResult) -> None:
        super().show_result(result)
        self._prompt = result.prompt_text if result.chat_template_used else result.prompt
        self._generated = result.generated_text
        self._steps = list(result.steps)
        self._render_text()
        template = " · chat template" if result.chat_template_used else ""
        self.stats.setText(
            f"{result.new_tokens} new tokens ({result.prompt_tokens} in the prompt) · {result.tokens_per_second} tokens/s · "
            f"{decoding_mode(result.settings)}{template} · stopped at {STOP_REASONS.get(result.stopped, result.stopped)}\n"
            f"{describe_sources(result.generation_settings)}"
        )
        self.step_slider.setEnabled(bool(self._steps))
        self._follow_last_step()


VIEW = GenerationView
