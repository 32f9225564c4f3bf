from __future__ import annotations

import pytest

from explorer.core.discovery import ScanLocation
from explorer.core.settings import LoadedSettings, Settings


@pytest.fixture
def make_window(qtbot):
    """Build a MainWindow that scans only the given places, and wait for its first scan."""
    from explorer.ui.main_window import MainWindow

    def make(folders=(), hub_caches=(), settings: Settings | None = None, notice: str | None = None, wait: bool = True):
        """folders are remembered like the user's own; hub_caches are fixed places (like --hub-cache)."""
        settings = settings or Settings(folders=[str(p) for p in folders])
        locations = [ScanLocation("hub-cache", str(p)) for p in hub_caches] if hub_caches else None
        window = MainWindow(LoadedSettings(settings, notice), locations=locations, persist_settings=True)
        qtbot.addWidget(window)
        window.show()
        if wait:
            with qtbot.waitSignal(window.scan_finished, timeout=30_000):
                window.start_scan()
        return window

    return make


@pytest.fixture(autouse=True)
def no_job_outlives_its_test(qapp):
    """A test that leaves a worker running would bleed into the next one; stop it and process its signals."""
    yield
    from explorer.ui.workers import stop_all_jobs

    assert stop_all_jobs(10_000), "a background job did not stop within 10 s of being cancelled"
    qapp.processEvents()
