"""Watch the scanned places and say, once things settle, that something changed there.

A download writes a file's blob in many small steps and then renames it; one rescan per event would
scan all the time. Events restart a short timer, and ``changed`` fires when it runs out.
"""

from __future__ import annotations

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from explorer.core.watch_paths import WatchPlan

DEBOUNCE_MS = 800


class CacheWatcher(QObject):
    changed = Signal()
    """Emitted once the watched folders have been quiet for DEBOUNCE_MS after a change."""

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self.changed)
        self._watcher.directoryChanged.connect(self._timer.start)
        self._watcher.fileChanged.connect(self._timer.start)
        self.unwatched = 0  # paths the plan wanted that the system would not watch (or the limit left out)

    def watch(self, plan: WatchPlan) -> None:
        """Watch exactly the plan's folders (the ones already watched stay watched)."""
        current = set(self._watcher.directories())
        wanted = set(plan.paths)
        gone = sorted(current - wanted)
        if gone:
            self._watcher.removePaths(gone)
        new = [path for path in plan.paths if path not in current]
        refused = self._watcher.addPaths(new) if new else []
        self.unwatched = len(refused) + (plan.wanted - len(plan.paths))

    def watched(self) -> list[str]:
        return self._watcher.directories()

    def stop(self) -> None:
        self._timer.stop()
        paths = self._watcher.directories() + self._watcher.files()
        if paths:
            self._watcher.removePaths(paths)


__all__ = ["CacheWatcher", "DEBOUNCE_MS"]
