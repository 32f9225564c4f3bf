"""What the GGUF pages of the Config and Parameters tabs share: the header is read once the page is shown.

A page is handed checkpoints as the user moves through the browser; reading a header for each would
waste work on pages nobody looks at, so the read starts when the page is visible (``activate``).
"""

from __future__ import annotations

from functools import partial
from html import escape

from PySide6.QtWidgets import QLabel, QWidget

from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.gguf_facts import GgufFacts, facts_job
from explorer.ui.tab import CheckpointTab


class GgufPage(CheckpointTab):
    """A page that shows a GGUF model's facts; subclasses lay out the views and fill them."""

    TAB_NAME = ""  # for the status bar: "Config: reading the GGUF header…"
    PLACEHOLDER = "Select a checkpoint."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._facts: GgufFacts | None = None
        self._dirty = False
        self._error: str | None = None

    def heading(self) -> QLabel:
        """The label above the page's views: the model's name, then its summary."""
        raise NotImplementedError

    def _clear(self, text: str) -> None:
        """Empty every view and show ``text`` (a placeholder, or nothing) in the heading."""
        raise NotImplementedError

    def _on_facts(self, facts: GgufFacts) -> None:
        raise NotImplementedError

    def _on_failed(self, message: str, _details: str) -> None:
        raise NotImplementedError

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        current = self.checkpoint()
        if checkpoint is not None and current is not None and checkpoint.key == current.key and (self._facts or self._dirty):
            return
        super().set_checkpoint(checkpoint)
        self.jobs.cancel()
        self._facts = None
        self._error = None
        self._dirty = checkpoint is not None
        self._clear("" if checkpoint is not None else self.PLACEHOLDER)
        if checkpoint is not None:
            self.heading().setText(f"<b>{escape(display_text(checkpoint.id))}</b>")
            if self.isVisible():
                self.activate()

    def activate(self) -> None:
        checkpoint = self.checkpoint()
        if self._dirty and checkpoint is not None:
            self._dirty = False
            self.heading().setText(f"<b>{escape(display_text(checkpoint.id))}</b> — reading the GGUF header…")
            self.status_changed.emit(f"{self.TAB_NAME}: reading the GGUF header…")
            self.jobs.start("facts", partial(facts_job, checkpoint), done=self._on_facts, failed=self._on_failed)

    def is_busy(self) -> bool:
        return self.jobs.busy() or (self._dirty and self.checkpoint() is not None and self.isVisible())

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.activate()

    def facts(self) -> GgufFacts | None:
        return self._facts


__all__ = ["GgufPage"]
