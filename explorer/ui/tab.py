"""What the window asks of a tab: the one protocol every tab implements, and the list of tabs.

The window talks to its tabs only through ``CheckpointTab``: it hands them the selected
checkpoint (and the list of all, for comparisons), tells the visible one to start its work,
asks whether any is busy, and shuts them down. Each tab runs its background work in its own
``JobSlots``. The heavier tabs are imported after the window is on screen, from ``TABS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from explorer.core.checkpoint import Checkpoint
from explorer.ui.workers import JobSlots


class CheckpointTab(QWidget):
    """A tab that shows one checkpoint. Subclasses override what applies to them."""

    status_changed = Signal(str)
    """Emitted with a line for the window's status bar ("" clears it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobSlots(self)
        self._checkpoint: Checkpoint | None = None

    def checkpoint(self) -> Checkpoint | None:
        return self._checkpoint

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Show this checkpoint (None: nothing selected). Work may wait until ``activate``."""
        self._checkpoint = checkpoint

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        """Every checkpoint the scan found (for tabs that compare or pick a second one)."""

    def activate(self) -> None:
        """The tab became visible: start what ``set_checkpoint`` left for later."""

    def is_busy(self) -> bool:
        """Whether the tab still works on what it shows (tests and screenshots wait for this)."""
        return self.jobs.busy()

    def shutdown(self, wait_seconds: float = 0.0) -> bool:
        """Cancel every job; wait up to ``wait_seconds`` for their threads. True when all ended."""
        self.jobs.cancel()
        return self.jobs.wait(int(wait_seconds * 1000))


@dataclass(frozen=True)
class TabEntry:
    title: str
    module: str
    class_name: str

    def create(self) -> CheckpointTab:
        tab = getattr(importlib.import_module(self.module), self.class_name)()
        if not isinstance(tab, CheckpointTab):
            raise TypeError(f"{self.module}.{self.class_name} is not a CheckpointTab")
        return tab


# Created after the window is shown (their modules import more); Overview is built with the window.
TABS: tuple[TabEntry, ...] = (
    TabEntry("Config", "explorer.ui.config_tab", "ConfigTab"),
    TabEntry("Parameters", "explorer.ui.parameters_tab", "ParametersTab"),
    TabEntry("Demo", "explorer.ui.demo_tab", "DemoTab"),
)

__all__ = ["CheckpointTab", "TABS", "TabEntry"]
