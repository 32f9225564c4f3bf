"""The main window: checkpoint browser on the left, the selected checkpoint's tabs on the right."""

from __future__ import annotations

import base64
import os
import sys
import threading

from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import explorer
from explorer.core.checkpoint import SOURCE_FOLDER, Checkpoint, display_text
from explorer.core.discovery import ScanLocation, Scanner
from explorer.core.formatting import human_bytes, human_seconds
from explorer.core.jobs import Progress, batched
from explorer.core.locations import ScanPlaces
from explorer.core.paths import samples_dir
from explorer.core.settings import LoadedSettings, save_settings
from explorer.ui.browser import CheckpointBrowser
from explorer.ui.cache_watch import CacheWatcher
from explorer.ui.window_parts import EmptyState, about_text, dropped_folders, one_per_repo
from explorer.ui.overview import OverviewPane
from explorer.ui.tab import TABS, CheckpointTab
from explorer.ui.workers import JobSlots, set_failure_handler

# Scan results reach the list at most this long after they are found, grouped.
SCAN_BATCH_SECONDS = 0.05


class MainWindow(QMainWindow):
    scan_finished = Signal(object)
    """Emitted with ScanStats when a scan (or rescan) completed."""
    changes_applied = Signal(object)
    """Emitted with (added, removed, changed) checkpoints after a watched place changed and was rescanned."""
    samples_created = Signal(list)
    """Emitted with the sample folders after Create sample checkpoints finished."""
    tabs_ready = Signal()
    """Emitted once the Config/Parameters/Demo tabs have been created."""

    def __init__(
        self, loaded: LoadedSettings, locations: list[ScanLocation] | None = None, persist_settings: bool = True, scan_index=None
    ) -> None:
        super().__init__()
        self.settings = loaded.settings
        # Command-line places (``locations``) are a one-off look: scanned alone, nothing remembered.
        self.places = ScanPlaces(locations, remember=persist_settings)
        self._persist = self.places.remembers
        # ``scan_index``: start from this saved scan (a benchmark's "previous session"); else the places' own.
        index_path = scan_index if scan_index is not None else self.places.index_path()
        self._scanner = Scanner(folder_depth=self.settings.folder_depth, index_path=index_path)
        self.jobs = JobSlots(self)
        self._view_for: Checkpoint | None = None
        self._rescan_pending = False
        self._changes_pending = False
        self._warm_up_started = False
        self._tab_pages: list[CheckpointTab] = []  # every tab, Overview first
        self._extras_created = False
        self._pending_selection = self.settings.last_selection
        self.last_stats = None
        # Downloads that land in a scanned place show without Refresh (rows updated in place).
        self.watcher = CacheWatcher(self)
        self.watcher.changed.connect(self.refresh_changes)
        self.cache_window = None

        self.setWindowTitle(explorer.APP_NAME)
        self.setAcceptDrops(True)
        self._build_actions()
        self._build_ui()
        self._restore_geometry()
        # Failures of jobs whose caller did not handle them: one place, the status bar.
        set_failure_handler(lambda _owner, message, _details: self.statusBar().showMessage(message, 10000))
        if loaded.notice:
            QTimer.singleShot(0, lambda: self._notify(loaded.notice))

    # ------------------------------------------------------------------ construction

    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip or text)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.add_folder_action = action("Add folder…", self.add_folder_dialog, QKeySequence.StandardKey.Open, "Add a folder to search for checkpoints")
        self.remove_folder_action = action("Remove folder", self.remove_selected_folder, None, "Stop searching the selected folder")
        self.refresh_action = action("Refresh", self.start_scan, QKeySequence(Qt.Key.Key_F5), "Scan again (only changed checkpoints are re-read)")
        self.filter_action = action("Filter", self.focus_filter, QKeySequence.StandardKey.Find, "Filter by name, model type or architecture")
        self.copy_path_action = action("Copy path", self.copy_path, QKeySequence("Ctrl+Shift+C"), "Copy the checkpoint's path")
        self.open_folder_action = action("Open in file manager", self.open_in_file_manager, None)
        self.samples_action = action("Create sample checkpoints", self.create_samples, None, "Tiny random-weight checkpoints to try every tab")
        self.cache_action = action(
            "Hub cache…", self.show_cache_window, QKeySequence("Ctrl+Shift+H"),
            "Sizes, last use, delete and prune with a preview, verify, duplicates, download",
        )
        self.about_action = action("About Model Explorer", self.show_about)
        self.quit_action = action("Quit", self.close, QKeySequence.StandardKey.Quit)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for act in (
            self.add_folder_action, self.remove_folder_action, self.samples_action, None, self.cache_action, self.refresh_action, None,
            self.quit_action,
        ):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        edit_menu = menu.addMenu("&Edit")
        for act in (self.filter_action, self.copy_path_action, self.open_folder_action):
            edit_menu.addAction(act)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_ui(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction(self.add_folder_action)
        toolbar.addAction(self.refresh_action)
        toolbar.addAction(self.cache_action)
        self.addToolBar(toolbar)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: name, model type, architecture  (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.browser = CheckpointBrowser()
        self.browser.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.browser.customContextMenuRequested.connect(self._browser_menu)
        self.filter_edit.textChanged.connect(self.browser.filter_typed)
        self.browser.checkpoint_selected.connect(self._on_checkpoint_selected)

        self.empty_state = EmptyState()
        self.empty_state.add_button.clicked.connect(self.add_folder_dialog)
        self.empty_state.samples_button.clicked.connect(self.create_samples)
        self.scanning_label = QLabel("Scanning…")
        self.scanning_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.left_stack = QStackedWidget()
        self.left_stack.addWidget(self.browser)
        self.left_stack.addWidget(self.empty_state)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(self.filter_edit)
        left_layout.addWidget(self.left_stack)

        self.overview = OverviewPane()
        self.overview.copy_path_requested.connect(self.copy_path)
        self.overview.open_folder_requested.connect(self.open_in_file_manager)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._add_tab(self.overview, "Overview")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([420, 860])
        self.setCentralWidget(self.splitter)

        self.status_count = QLabel()
        self.status_progress = QProgressBar()
        self.status_progress.setMaximumWidth(160)
        self.status_progress.setTextVisible(False)
        self.status_progress.hide()
        self.status_model = QLabel()
        self.statusBar().addPermanentWidget(self.status_model)
        self.statusBar().addPermanentWidget(self.status_progress)
        self.statusBar().addPermanentWidget(self.status_count)

    def _restore_geometry(self) -> None:
        if self.settings.window_geometry:
            try:
                self.restoreGeometry(QByteArray(base64.b64decode(self.settings.window_geometry)))
            except (ValueError, TypeError):
                pass
        else:
            self.resize(1280, 800)
        if len(self.settings.splitter_sizes) == 2 and all(isinstance(s, int) and s > 0 for s in self.settings.splitter_sizes):
            self.splitter.setSizes(self.settings.splitter_sizes)

    # ------------------------------------------------------------------ start-up work

    def start_background_work(self) -> None:
        """Called once the window is on screen: scan, then create the heavier tabs."""
        self.start_scan()
        QTimer.singleShot(0, self._create_extra_tabs)

    def _add_tab(self, tab: CheckpointTab, title: str) -> None:
        self._tab_pages.append(tab)
        self.tabs.addTab(tab, title)
        tab.status_changed.connect(self._show_tab_status)
        tab.select_requested.connect(self.browser.select_key)

    def _create_extra_tabs(self) -> None:
        if self._extras_created:
            return
        self._extras_created = True
        for entry in TABS:
            try:
                tab = entry.create()
            except Exception as exc:  # a broken tab must not take the browser down with it
                self.statusBar().showMessage(f"The {entry.title} tab could not be created: {exc}", 10000)
                print(f"model-explorer: {entry.title} tab unavailable: {exc!r}", file=sys.stderr)
                continue
            self._add_tab(tab, entry.title)
        self._give_tabs(self.browser.current_checkpoint())
        self._share_checkpoint_list()
        self.tabs_ready.emit()

    def _show_tab_status(self, text: str) -> None:
        self.status_model.setText(text)

    def tab_pages(self) -> list[CheckpointTab]:
        """Every tab, in order: the window talks to them only through CheckpointTab."""
        return list(self._tab_pages)

    # ------------------------------------------------------------------ scanning

    def locations(self) -> list[ScanLocation]:
        return self.places.locations(self.settings.folders)

    def start_scan(self) -> None:
        if self.jobs.busy("scan"):
            self._rescan_pending = True  # let the running scan end; start again afterwards
            self.jobs.cancel("scan")
            return
        remembered = self.browser.current_checkpoint()
        if remembered is not None:
            self._pending_selection = remembered.key
        self.browser.source_model.clear_checkpoints()
        self.browser.begin_filling()
        self.left_stack.setCurrentWidget(self.browser)
        self.status_progress.setRange(0, 0)
        self.status_progress.show()
        self.status_count.setText("Scanning…")
        locations = self.locations()
        # In lists, a few a second: one event and one re-sort per checkpoint made a scan of a
        # thousand-repo cache spend most of its time filling the list.
        self.jobs.start(
            "scan",
            lambda token: batched(self._scanner.scan(locations, token), SCAN_BATCH_SECONDS),
            partial=self._on_checkpoints_found,
            progress=lambda p: self.statusBar().showMessage(p.message, 2000),
            done=self._on_scan_finished,
            failed=lambda msg, details: self._notify(f"Scan failed: {msg}", details),
            ended=self._on_scan_stopped,
        )

    def _on_checkpoints_found(self, found: list[Checkpoint]) -> None:
        model = self.browser.source_model
        first_ones = model.checkpoint_count() == 0
        self.browser.add_checkpoints(found)
        self.status_count.setText(f"Scanning… {model.checkpoint_count()} found")
        if first_ones:
            self.browser.expand_locations()
        pending = self._pending_selection
        if pending and any(ckpt.key == pending for ckpt in found):
            self.browser.select_key(pending)

    def _on_scan_finished(self, result) -> None:
        checkpoints, stats = result
        self.last_stats = stats
        self.browser.end_filling()
        self.browser.expand_locations()
        total = sum(c.repo_size_bytes if c.repo_size_bytes is not None else c.size_bytes for c in one_per_repo(checkpoints))
        summary = f"{len(checkpoints)} checkpoint{'s' if len(checkpoints) != 1 else ''} · {human_bytes(total)} · scanned in {human_seconds(stats.seconds)}"
        # Troubles of the scan itself (a place that cannot be listed, an index that cannot be saved):
        # counted in the status bar, spelled out in its tooltip, never a dialog on every refresh.
        notes = [display_text(p) for p in stats.problems]
        if notes:
            summary += f" · {len(notes)} scan note{'s' if len(notes) != 1 else ''}"
            self.statusBar().showMessage(notes[0], 10000)
        self.status_count.setText(summary)
        self.status_count.setToolTip("\n".join(notes))
        if not checkpoints:
            self.empty_state.set_locations(stats.locations, stats.missing_locations)
            self.left_stack.setCurrentWidget(self.empty_state)
        elif self.browser.current_checkpoint() is None:
            if not (self._pending_selection and self.browser.select_key(self._pending_selection)):
                first = self.browser.proxy.index(0, 0)
                child = self.browser.proxy.index(0, 0, first)
                self.browser.setCurrentIndex(child if child.isValid() else first)
        self._share_checkpoint_list()
        self._watch(checkpoints)
        self._start_warm_up()
        self.scan_finished.emit(stats)

    def _watch(self, checkpoints: list[Checkpoint]) -> None:
        """Watch what this scan found; the plan (a stat per place, a path per repo) is made in a worker."""
        from explorer.core.watch_paths import watch_plan

        locations = self.locations()

        def job(_cancel):
            yield Progress(0, 1, "choosing the folders to watch")
            return watch_plan(locations, checkpoints)

        self.jobs.start("watch", job, done=self.watcher.watch)

    def refresh_changes(self) -> None:
        """A watched place changed: rescan (only what changed is re-read) and update the rows in place."""
        if self.jobs.busy("scan"):
            self._changes_pending = True  # after the running scan, which may not have seen the change
            return
        locations = self.locations()
        self.jobs.start(
            "scan",
            lambda token: self._scanner.scan(locations, token),
            done=self._apply_changes,
            failed=lambda msg, details: self._notify(f"Scan failed: {msg}", details),
            ended=self._on_scan_stopped,
        )

    def _apply_changes(self, result) -> None:
        checkpoints, stats = result
        self.last_stats = stats
        selected = self.browser.current_checkpoint()
        added, removed, changed = self.browser.source_model.apply_scan(checkpoints)
        if selected is not None and self.browser.current_checkpoint() is None:
            self.browser.select_key(selected.key)  # its row was made again, or it is gone (then nothing is selected)
        if added or removed or changed:
            words = [f"{len(group)} {label}" for group, label in ((added, "new"), (removed, "gone"), (changed, "changed")) if group]
            names = ", ".join(display_text(c.id) for c in (added + changed)[:3])
            self.statusBar().showMessage(f"On disk: {', '.join(words)}" + (f" ({names})" if names else ""), 10000)
            self.browser.expand_locations()
            self._share_checkpoint_list()
        self._watch(checkpoints)
        self.changes_applied.emit((added, removed, changed))

    def _start_warm_up(self) -> None:
        """After the first scan, import torch/transformers in the background: the next tab to need them opens at once.

        A daemon thread rather than a QThread: an import cannot be cancelled, and quitting during
        it must neither wait for it nor abort on a still-running QThread.
        """
        if self._warm_up_started or os.environ.get("MODEL_EXPLORER_WARM_UP") == "0":
            return
        self._warm_up_started = True
        from explorer.core.jobs import run_to_end
        from explorer.core.torch_import import warm_up

        def work() -> None:
            try:
                run_to_end(warm_up())
            except Exception:  # the tab that needs the stack will report the error with details
                pass

        threading.Thread(target=work, name="warm-up-imports", daemon=True).start()

    def _on_scan_stopped(self) -> None:
        self.status_progress.hide()
        self.browser.end_filling()
        if self._rescan_pending:
            self._rescan_pending = False
            # Not from inside the slot's own "ended": the cancelled scan's thread may still be winding down.
            QTimer.singleShot(0, self.start_scan)
        elif self._changes_pending:
            self._changes_pending = False
            QTimer.singleShot(0, self.refresh_changes)

    def _share_checkpoint_list(self) -> None:
        checkpoints = self.browser.source_model.checkpoints()
        for tab in self._tab_pages:
            tab.set_checkpoints(checkpoints)

    # ------------------------------------------------------------------ selection and tabs

    def _on_checkpoint_selected(self, ckpt: Checkpoint | None) -> None:
        self._give_tabs(ckpt)
        if ckpt is not None:
            self.settings.last_selection = ckpt.key
            self.setWindowTitle(f"{display_text(ckpt.id)} — {explorer.APP_NAME}")

    def _give_tabs(self, ckpt: Checkpoint | None) -> None:
        """Tabs load files by name; flat legacy caches first get a named view in the app's cache.

        Making that view writes links, so it runs in a worker; the tabs wait with no checkpoint.
        """
        from explorer.core.locate import needs_named_view

        self.jobs.cancel("view")
        # The Overview reads only the listing and the model card: it never needs the named view.
        self.overview.set_checkpoint(ckpt)
        if ckpt is None or not needs_named_view(ckpt):
            self._set_tabs_checkpoint(ckpt)
            return
        self._set_tabs_checkpoint(None)
        self._view_for = ckpt

        def job(cancel):
            from explorer.core.locate import loadable_checkpoint

            yield Progress(0, 1, "preparing named links for a legacy cache")
            return loadable_checkpoint(ckpt)

        self.jobs.start("view", job, done=self._set_tabs_checkpoint, failed=self._view_failed)

    def is_busy(self) -> bool:
        """True while the selected checkpoint is still being prepared for the tabs."""
        return self.jobs.busy("view")

    def _view_failed(self, message: str, _details: str) -> None:
        ckpt = self._view_for
        if ckpt is not None:
            self.statusBar().showMessage(f"Could not prepare {display_text(ckpt.id)} for loading: {message}", 10000)
        self._set_tabs_checkpoint(ckpt)

    def _set_tabs_checkpoint(self, ckpt: Checkpoint | None) -> None:
        for tab in self._tab_pages:
            if tab is not self.overview:
                tab.set_checkpoint(ckpt)
        self._on_tab_changed(self.tabs.currentIndex())

    def _on_tab_changed(self, index: int) -> None:
        if 0 <= index < len(self._tab_pages):
            self._tab_pages[index].activate()

    def focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def copy_path(self) -> None:
        ckpt = self.browser.current_checkpoint()
        if ckpt is not None:
            QGuiApplication.clipboard().setText(display_text(ckpt.path))
            self.statusBar().showMessage("Path copied", 2000)

    def open_in_file_manager(self) -> None:
        ckpt = self.browser.current_checkpoint()
        if ckpt is not None:
            # A GGUF model (or an Ollama manifest) is a file: show the folder that holds it.
            folder = ckpt.path if os.path.isdir(ckpt.path) else os.path.dirname(ckpt.path)
            QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def _browser_menu(self, pos) -> None:
        index = self.browser.indexAt(pos)
        menu = QMenu(self)
        if self.browser.checkpoint_at(index) is not None:
            menu.addAction(self.copy_path_action)
            menu.addAction(self.open_folder_action)
        location = self.browser.location_at(index)
        if location and location[0] == SOURCE_FOLDER and location[1] in self.settings.folders:
            menu.addAction(self.remove_folder_action)
        menu.addAction(self.refresh_action)
        menu.exec(self.browser.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------------ folders

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder that holds checkpoints")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        folder = os.path.abspath(os.path.expanduser(folder))
        if not os.path.isdir(folder):
            self._notify(f"{folder} is not a folder.")
            return
        if folder not in self.settings.folders:
            self.settings.folders.append(folder)
            self._save_settings()
        self.places.folder_added(folder)
        self.start_scan()

    def remove_selected_folder(self) -> None:
        location = self.browser.location_at(self.browser.currentIndex())
        if not location or location[1] not in self.settings.folders:
            self._notify("Select a checkpoint inside a folder you added to remove that folder.")
            return
        self.remove_folder(location[1])

    def remove_folder(self, folder: str) -> None:
        if folder in self.settings.folders:
            self.settings.folders.remove(folder)
            self._save_settings()
            self.places.folder_removed(folder)
            self.start_scan()

    def dragEnterEvent(self, event) -> None:
        if dropped_folders(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folders = dropped_folders(event.mimeData())
        for folder in folders:
            if folder not in self.settings.folders:
                self.settings.folders.append(folder)
        if folders:
            self._save_settings()
            event.acceptProposedAction()
            self.start_scan()

    # ------------------------------------------------------------------ samples

    def create_samples(self) -> None:
        if self.jobs.busy("samples"):
            return
        from explorer.core.samples import create_samples

        destination = samples_dir()
        self.empty_state.samples_button.setEnabled(False)
        self.samples_action.setEnabled(False)
        self.status_progress.show()

        def progressed(p) -> None:
            self.status_progress.setRange(0, p.total or 0)
            self.status_progress.setValue(p.done)
            self.statusBar().showMessage(p.message)

        def finished(folders) -> None:
            self.statusBar().showMessage(f"Created {len(folders)} sample checkpoints in {destination}", 5000)
            self.start_scan()
            self.samples_created.emit([str(f) for f in folders])

        def stopped() -> None:
            self.empty_state.samples_button.setEnabled(True)
            self.samples_action.setEnabled(True)

        self.jobs.start(
            "samples",
            lambda token: create_samples(destination, cancel=token),
            progress=progressed,
            done=finished,
            failed=lambda msg, details: self._notify(f"Could not create the samples: {msg}", details),
            ended=stopped,
        )

    # ------------------------------------------------------------------ misc

    def show_cache_window(self) -> None:
        """The hub caches this window scans, in a window of their own (created once, brought back after)."""
        from explorer.core.checkpoint import SOURCE_HUB_CACHE
        from explorer.ui.cache_window import CacheWindow

        if self.cache_window is None:
            caches = [loc.path for loc in self.locations() if loc.kind == SOURCE_HUB_CACHE]
            self.cache_window = CacheWindow(caches, self)
            self.cache_window.cache_changed.connect(self.refresh_changes)
        self.cache_window.show()
        self.cache_window.raise_()
        self.cache_window.activateWindow()

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {explorer.APP_NAME}", about_text())

    def _notify(self, message: str, details: str | None = None) -> None:
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, explorer.APP_NAME, message, parent=self)
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        box.show()
        self._last_notice = box

    def _save_settings(self) -> None:
        if not self._persist:
            return
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.statusBar().showMessage(f"Settings could not be saved: {exc}", 10000)

    def closeEvent(self, event) -> None:
        self.watcher.stop()
        if self.cache_window is not None:
            self.cache_window.close()
        self.settings.window_geometry = base64.b64encode(bytes(self.saveGeometry())).decode("ascii")
        self.settings.splitter_sizes = list(self.splitter.sizes())
        self._save_settings()
        # Cancel only: the one wait for every job is the application's, on its way out
        # (app._exit_after_jobs); waits here would add up past the 2 s a close may take.
        for tab in self._tab_pages:
            tab.shutdown(wait_seconds=0)
        self.jobs.cancel()
        super().closeEvent(event)
