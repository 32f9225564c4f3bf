"""An adapter's two outputs on the same input: the task's own view twice, with the adapter on and off.

``CompareView`` is a ``ResultView`` whose result is a ``format_loading.Comparison``. The run streams
the adapter-on pieces first; a ``Partial("adapter")`` says when the adapter-off run begins, and the
pieces after it go to the second view. The two sit side by side when the pane is wide, one above
the other when it is narrow.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from explorer.tasks.base import Partial, TaskSpec
from explorer.ui.demo_views import create_view
from explorer.ui.demo_views.common import ResultView
from explorer.ui.palette import color

ON_TITLE = "Adapter on"
OFF_TITLE = "Adapter off (the base model alone)"
SIDE_BY_SIDE_WIDTH = 720


class CompareView(ResultView):
    def __init__(self, spec: TaskSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_view, self.off_view = create_view(spec), create_view(spec)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.titles: list[QLabel] = []
        for title, view in ((ON_TITLE, self.on_view), (OFF_TITLE, self.off_view)):
            pane = QWidget()
            layout = QVBoxLayout(pane)
            layout.setContentsMargins(0, 0, 4, 0)
            label = QLabel(title)
            label.setObjectName("compare_title")
            self.titles.append(label)
            layout.addWidget(label)
            layout.addWidget(view, 1)
            self.splitter.addWidget(pane)
        self.layout_.addWidget(self.splitter, 1)
        self._receiving = self.on_view
        self.repaint_colours()

    def repaint_colours(self) -> None:
        for label in self.titles:
            label.setStyleSheet(f"font-weight: bold; color: {color('accent')}; padding: 2px 0;")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        wide = event.size().width() >= SIDE_BY_SIDE_WIDTH
        self.splitter.setOrientation(Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical)

    def begin(self, values: dict) -> None:
        self.on_view.begin(values)
        self.off_view.begin(values)
        self._receiving = self.on_view

    def show_partial(self, partial: Partial) -> None:
        if partial.kind == "adapter":
            self._receiving = self.on_view if partial.data.get("enabled") else self.off_view
            return
        self._receiving.show_partial(partial)

    def show_result(self, result) -> None:
        """``result`` is a Comparison: each view draws its own run."""
        self.result = result
        self.on_view.show_result(result.adapter_on)
        self.off_view.show_result(result.adapter_off)


__all__ = ["CompareView", "OFF_TITLE", "ON_TITLE"]
