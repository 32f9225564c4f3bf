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
from PySide6.QtWidgets import QStackedLayout, QWidget

from explorer.core.checkpoint import Checkpoint
from explorer.ui.workers import JobSlots


class CheckpointTab(QWidget):
    """A tab that shows one checkpoint. Subclasses override what applies to them."""

    status_changed = Signal(str)
    """Emitted with a line for the window's status bar ("" clears it)."""
    select_requested = Signal(str)
    """Emitted with a checkpoint's key for the window to select it in the browser (an adapter's base)."""

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


def _create_tab(module: str, class_name: str) -> CheckpointTab:
    tab = getattr(importlib.import_module(module), class_name)()
    if not isinstance(tab, CheckpointTab):
        raise TypeError(f"{module}.{class_name} is not a CheckpointTab")
    return tab


class FormatSwitch(CheckpointTab):
    """One tab title, one page per checkpoint format: transformers checkpoints go to ``main``.

    A GGUF model or an adapter has its own page where its reading differs (its metadata is not a
    config.json, its tensors are quantised). A page is created when a checkpoint of its format is
    first shown; the page not shown is given no checkpoint, so its work stops.
    """

    def __init__(self, main: CheckpointTab, pages: dict[str, tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.main = main
        self._page_specs = dict(pages)
        self._pages: dict[str, CheckpointTab] = {}
        self._checkpoints: list[Checkpoint] = []
        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._adopt(main)

    def _adopt(self, page: CheckpointTab) -> None:
        self._stack.addWidget(page)
        page.status_changed.connect(self.status_changed)
        page.select_requested.connect(self.select_requested)

    def page_for(self, checkpoint_format: str | None) -> CheckpointTab:
        """The page that shows checkpoints of this format (created now if it was not yet)."""
        if checkpoint_format not in self._page_specs:
            return self.main
        page = self._pages.get(checkpoint_format)
        if page is None:
            page = self._pages[checkpoint_format] = _create_tab(*self._page_specs[checkpoint_format])
            self._adopt(page)
            if self._checkpoints:
                page.set_checkpoints(self._checkpoints)
        return page

    def current_page(self) -> CheckpointTab:
        return self._stack.currentWidget()  # type: ignore[return-value]

    def _all_pages(self) -> list[CheckpointTab]:
        return [self.main, *self._pages.values()]

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        super().set_checkpoint(checkpoint)
        shown = self.page_for(checkpoint.format if checkpoint is not None else None)
        for page in self._all_pages():
            if page is not shown and page.checkpoint() is not None:
                page.set_checkpoint(None)
        shown.set_checkpoint(checkpoint)
        self._stack.setCurrentWidget(shown)

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self._checkpoints = list(checkpoints)
        for page in self._all_pages():
            page.set_checkpoints(self._checkpoints)

    def activate(self) -> None:
        self.current_page().activate()

    def is_busy(self) -> bool:
        return any(page.is_busy() for page in self._all_pages())

    def shutdown(self, wait_seconds: float = 0.0) -> bool:
        pages = self._all_pages()
        for page in pages:
            page.jobs.cancel()
        return all([page.shutdown(wait_seconds) for page in pages])


@dataclass(frozen=True)
class TabEntry:
    title: str
    module: str
    class_name: str
    # Checkpoint formats this tab shows with a page of their own: (format, module, class name).
    format_pages: tuple[tuple[str, str, str], ...] = ()

    def create(self) -> CheckpointTab:
        tab = _create_tab(self.module, self.class_name)
        if not self.format_pages:
            return tab
        return FormatSwitch(tab, {fmt: (module, name) for fmt, module, name in self.format_pages})


# Created after the window is shown (their modules import more); Overview is built with the window.
TABS: tuple[TabEntry, ...] = (
    TabEntry("Config", "explorer.ui.config_tab", "ConfigTab", format_pages=(
        ("gguf", "explorer.ui.gguf_config_page", "GgufConfigPage"),
        ("adapter", "explorer.ui.adapter_config_page", "AdapterConfigPage"),
    )),
    TabEntry("Parameters", "explorer.ui.parameters_tab", "ParametersTab", format_pages=(
        ("gguf", "explorer.ui.gguf_parameters_page", "GgufParametersPage"),
        ("adapter", "explorer.ui.adapter_parameters_page", "AdapterParametersPage"),
    )),
    TabEntry("Demo", "explorer.ui.demo_tab", "DemoTab"),
)

__all__ = ["CheckpointTab", "FormatSwitch", "TABS", "TabEntry"]
