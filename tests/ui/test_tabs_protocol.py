"""Every tab, built and driven only through the CheckpointTab protocol the window uses."""

from __future__ import annotations

import pytest

from explorer.core.checkpoint import SOURCE_FOLDER
from explorer.core.discovery import ScanLocation, scan_all
from explorer.ui.overview import OverviewPane
from explorer.ui.tab import TABS, CheckpointTab

ENTRIES = [("Overview", lambda: OverviewPane())] + [(entry.title, entry.create) for entry in TABS]


@pytest.mark.slow
@pytest.mark.parametrize("title, create", ENTRIES, ids=[title for title, _ in ENTRIES])
def test_each_tab_follows_the_protocol(qtbot, samples_root, title, create):
    checkpoints, _ = scan_all([ScanLocation(SOURCE_FOLDER, str(samples_root))])
    chosen = next(c for c in checkpoints if c.id == "tiny-bert-mlm")
    tab = create()
    assert isinstance(tab, CheckpointTab)
    qtbot.addWidget(tab)
    statuses = []
    tab.status_changed.connect(statuses.append)
    tab.set_checkpoints(checkpoints)
    tab.resize(1100, 750)
    tab.show()
    tab.set_checkpoint(chosen)
    tab.activate()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=60_000)
    assert tab.checkpoint() is chosen
    tab.set_checkpoint(None)
    tab.activate()
    assert tab.shutdown(wait_seconds=30)
