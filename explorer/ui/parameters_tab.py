"""The Parameters tab: module tree, tensors on disk, head matching, tensor statistics, memory plan, source.

Thin: every computation is a core job (explorer.core.parameters_report, tensor_stats,
memory_plan) run in the tab's job slots, one slot per kind of work; this module only renders
results. Nothing starts until the tab is shown (``showEvent`` / ``activate``); a newer request
replaces the older one in its slot, and nothing of the older one arrives after that.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar, QSplitter, QTabWidget,
    QTableView, QTextBrowser, QVBoxLayout, QWidget,
)

from explorer.core.checkpoint import Checkpoint
from explorer.core.formatting import human_bytes, human_count
from explorer.core.head_matching import HeadMatch, stored_name_for
from explorer.core.jobs import Progress
from explorer.core.parameters_report import ParametersResult, parameters_job
from explorer.core.skeleton import ModuleNode, ParamInfo, Skeleton, module_source
from explorer.core.tensors_on_disk import DiskTensors
from explorer.ui.param_panels import MemoryPanel, SourceView, match_summary_html, pickle_imports_html
from explorer.ui.param_stats import StatsPanel
from explorer.ui.param_tables import SortRole, TensorTableModel, totals_html
from explorer.ui.palette import color, notifier
from explorer.ui.param_tree_model import COL_STATUS, ModuleTreeModel, module_tree_view
from explorer.ui.tab import CheckpointTab

DEFAULT_HEAD_LABEL = "as declared (architectures)"
MAX_EXPANDED_MATCHES = 200
# Name, Class, Parameters, Share, Shape, Dtype, Bytes, Status: they fit the tab at the window's
# default 1280 px, so the repeated-block line ("80 × LlamaDecoderLayer") and the headers read whole.
TREE_COLUMN_WIDTHS = (195, 175, 95, 90, 105, 70, 70, 170)


class ParametersTab(CheckpointTab):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pending = False
        self._result: ParametersResult | None = None
        self._disk: DiskTensors | None = None
        self._skeleton: Skeleton | None = None
        self._match: HeadMatch | None = None
        self._stored_cache: tuple[DiskTensors, set[str]] | None = None
        self._filling_heads = False
        self._build_ui()
        notifier().changed.connect(self._scheme_changed)

    # --- layout -------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Load as:"))
        self.head_combo = QComboBox()
        self.head_combo.setMinimumContentsLength(28)
        self.head_combo.setToolTip("The Auto class to build the model with; its weights are compared with the checkpoint's")
        self.head_combo.currentIndexChanged.connect(self._head_changed)
        bar.addWidget(self.head_combo)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search modules and parameters by name (e.g. q_proj, layers.3, LayerNorm)")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(self._search_timer.start)
        bar.addWidget(self.search, 1)
        layout.addLayout(bar)

        status_row = QHBoxLayout()
        self.summary = QLabel("Select a checkpoint.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        status_row.addWidget(self.summary, 1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        status_row.addWidget(self.progress)
        layout.addLayout(status_row)

        # Tree above, details below: the tree needs the width for its columns, the plots sit side by side.
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_tabs = QTabWidget()
        self.tree_model = ModuleTreeModel(self)
        self.tree = module_tree_view(self.tree_model, TREE_COLUMN_WIDTHS)
        # Shown only when the head match marks something: otherwise it is an empty column past the edge.
        self.tree.setColumnHidden(COL_STATUS, True)
        self.tree.selectionModel().currentChanged.connect(self._tree_selected)
        self.left_tabs.addTab(self.tree, "Modules")

        disk_page = QWidget()
        disk_layout = QVBoxLayout(disk_page)
        disk_layout.setContentsMargins(0, 0, 0, 0)
        self.totals = QLabel()
        self.totals.setTextFormat(Qt.TextFormat.RichText)
        self.totals.setWordWrap(True)
        disk_layout.addWidget(self.totals)
        self.tensor_model = TensorTableModel(self)
        self.tensor_proxy = QSortFilterProxyModel(self)
        self.tensor_proxy.setSourceModel(self.tensor_model)
        self.tensor_proxy.setSortRole(SortRole)
        self.tensor_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.tensor_proxy.setFilterKeyColumn(0)
        self.tensor_table = QTableView()
        self.tensor_table.setModel(self.tensor_proxy)
        self.tensor_table.setSortingEnabled(True)
        self.tensor_table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.tensor_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tensor_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tensor_table.verticalHeader().setVisible(False)
        self.tensor_table.verticalHeader().setDefaultSectionSize(22)
        self.tensor_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tensor_table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.ResizeToContents)
        self.tensor_table.selectionModel().currentRowChanged.connect(self._tensor_selected)
        disk_layout.addWidget(self.tensor_table, 1)
        self.left_tabs.addTab(disk_page, "Tensors on disk")

        self.match_view = QTextBrowser()
        self.left_tabs.addTab(self.match_view, "Head matching")
        self.memory = MemoryPanel()
        self.memory.plan_requested.connect(self._plan_memory)
        self.left_tabs.addTab(self.memory, "Memory plan")
        splitter.addWidget(self.left_tabs)

        self.right_tabs = QTabWidget()
        self.stats = StatsPanel()
        self.stats.layer_norms_requested.connect(self._layer_norms)
        self.right_tabs.addTab(self.stats, "Statistics")
        self.source = SourceView()
        self.right_tabs.addTab(self.source, "Source")
        splitter.addWidget(self.right_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([480, 320])
        layout.addWidget(splitter, 1)

    # --- public -------------------------------------------------------------------------------------

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Remember the selection; the work starts when the tab is visible."""
        self._checkpoint = checkpoint
        self._cancel_all()
        self._reset_views()
        self._fill_heads([], None)
        if checkpoint is None:
            self.summary.setText("Select a checkpoint.")
            self._pending = False
            return
        self.summary.setText(f"<b>{html.escape(checkpoint.id)}</b>")
        self._pending = True
        if self.isVisible():
            self.activate()

    def activate(self) -> None:
        """Start reading the selected checkpoint if that has not happened yet (the window calls it on show)."""
        if self._pending and self._checkpoint is not None:
            self._pending = False
            self._load(None)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.activate()

    def result(self) -> ParametersResult | None:
        return self._result

    # --- running jobs -------------------------------------------------------------------------------

    def _start(self, kind: str, factory, on_finished, on_yield=None, on_failed=None) -> None:
        """Run a job in the slot of its kind (parameters, stats, norms, source, memory)."""
        self.jobs.start(
            kind, factory, done=on_finished, partial=on_yield,
            progress=lambda p: self._show_progress(kind, p),
            failed=lambda message, _details: (on_failed or self._job_failed)(kind, message),
            ended=(lambda: self.progress.setVisible(False)) if kind == "parameters" else None,
        )

    def _cancel_all(self) -> None:
        self.jobs.cancel()
        self.progress.setVisible(False)

    def _load(self, head: str | None) -> None:
        checkpoint = self._checkpoint
        if checkpoint is None:
            return
        self._cancel_all()
        self._reset_views()
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self._start(
            "parameters",
            lambda cancel: parameters_job(checkpoint, head, cancel),
            self._parameters_finished,
            on_yield=self._parameters_partial,
        )

    def _show_progress(self, kind: str, progress: Progress) -> None:
        if kind == "parameters":
            self.summary.setText(f"<b>{html.escape(self._checkpoint.id if self._checkpoint else '')}</b> — {html.escape(progress.message)}…")
        elif kind == "norms":
            self.stats.show_norms_progress(progress.message)

    def _job_failed(self, kind: str, message: str) -> None:
        if kind == "parameters":
            self.progress.setVisible(False)
            self.summary.setText(f"<span style='color:{color('error')}'>Could not inspect: {html.escape(message)}</span>")
        elif kind == "stats":
            self.stats.clear(f"<span style='color:{color('error')}'>{html.escape(message)}</span>")
        elif kind == "norms":
            self.stats.show_norms_progress(message)
        elif kind == "memory":
            self.memory.show_message(message)

    # --- results ------------------------------------------------------------------------------------

    def _reset_views(self) -> None:
        self._result = None
        self._disk = None
        self._skeleton = None
        self._match = None
        self.tree_model.set_skeleton(None)
        self.tree.setColumnHidden(COL_STATUS, True)
        self.tensor_model.set_tensors([])
        self.totals.setText("")
        self.match_view.setHtml("")
        self.stats.clear()
        self.source.show_message("Select a module to read the source of its class.")
        self.memory.show_message("The plan appears when the checkpoint's tensors are known.")

    def _parameters_partial(self, value) -> None:
        if isinstance(value, DiskTensors):
            self._disk = value
            self.tensor_model.set_tensors(value.tensors)
            self.tensor_table.resizeColumnToContents(1)
            self._show_totals(value)
            if value.tensors:
                self.memory.request()
        elif isinstance(value, Skeleton):
            self._skeleton = value
            self.tree_model.set_skeleton(value)
            root = self.tree_model.index(0, 0)
            self.tree.expand(root)
            # The first level under a task model is the base model: open it too, it is what people look for.
            for row in range(min(3, self.tree_model.rowCount(root))):
                child = self.tree_model.index(row, 0, root)
                if isinstance(self.tree_model.item(child), ModuleNode):
                    self.tree.expand(child)
        elif isinstance(value, HeadMatch):
            self._show_match(value)

    def _parameters_finished(self, result: ParametersResult) -> None:
        self._result = result
        self.progress.setVisible(False)
        if result.heads:
            self._fill_heads(result.heads, result.head)
        if result.match is None:
            self.match_view.setHtml(match_summary_html(None, result.head, result.problems))
        if not result.disk.tensors:
            if result.skeleton is not None:
                self.memory.request()
            else:
                self.memory.show_message("No weights could be read and the model could not be built: nothing to plan for.")
        self.summary.setText(self._summary_html(result))
        if result.skeleton is None and result.disk.tensors and self.left_tabs.currentWidget() is self.tree:
            # An empty module tree says nothing; what could be read is the list of stored tensors.
            self.left_tabs.setCurrentWidget(self.tensor_table.parentWidget())
        if self.search.text().strip():
            self._apply_search()

    def _show_totals(self, disk: DiskTensors) -> None:
        problems = "".join(f"<br><span style='color:{color('error')}'>{html.escape(p)}</span>" for p in disk.problems)
        self.totals.setText(totals_html(disk) + problems + pickle_imports_html(disk.pickle_imports))

    def _scheme_changed(self, _scheme: str) -> None:
        """Texts shown with the other scheme's colours are written again (models and plots repaint themselves)."""
        if self._disk is not None:
            self._show_totals(self._disk)
        if self._result is not None:
            self.summary.setText(self._summary_html(self._result))
        if self._match is not None:
            self.match_view.setHtml(self._match_html(self._match))
        elif self._result is not None:
            self.match_view.setHtml(match_summary_html(None, self._result.head, self._result.problems))

    def _show_match(self, match: HeadMatch) -> None:
        self._match = match
        self.tree_model.set_status(match.status_of())
        self.tree.setColumnHidden(COL_STATUS, not (match.missing or match.mismatched))
        self.tree.viewport().update()
        self.tensor_model.set_unexpected(set(match.unexpected))
        self.match_view.setHtml(self._match_html(match))

    def _match_html(self, match: HeadMatch) -> str:
        problems = self._result.problems if self._result else (self._disk.problems if self._disk else [])
        return match_summary_html(match, self._current_head(), problems)

    def _summary_html(self, result: ParametersResult) -> str:
        name = html.escape(self._checkpoint.id if self._checkpoint else "")
        parts = [f"<b>{name}</b>"]
        skeleton = result.skeleton
        if skeleton is not None:
            tied = f", {len(skeleton.tied)} tied (counted once)" if skeleton.tied else ""
            parts.append(
                f"{html.escape(skeleton.model_class)}: <b>{human_count(skeleton.total_params)}</b> parameters "
                f"({human_bytes(skeleton.total_bytes)} in {html.escape(skeleton.dtype)}){tied}"
            )
        if result.disk.tensors:
            parts.append(f"on disk: {len(result.disk.tensors):,} tensors, {human_bytes(result.disk.total_bytes)}")
        match = result.match
        if match is not None:
            if match.clean:
                parts.append(f"<span style='color:{color('ok')}'>all weights present</span>")
            else:
                parts.append(
                    f"<span style='color:{color('warning')}'><b>{len(match.missing)} missing</b>, {len(match.unexpected)} unexpected, "
                    f"{len(match.mismatched)} mismatched</span> (see Head matching)"
                )
        text = " · ".join(parts)
        if result.problems:
            first = html.escape(result.problems[0])
            more = f" (+{len(result.problems) - 1} more, see Head matching)" if len(result.problems) > 1 else ""
            text += f"<br><span style='color:{color('error')}'>{first}{more}</span>"
        return text

    # --- head chooser -------------------------------------------------------------------------------

    def _fill_heads(self, heads: list[str], current: str | None) -> None:
        self._filling_heads = True
        self.head_combo.clear()
        if not heads:
            self.head_combo.addItem(DEFAULT_HEAD_LABEL, None)
        for head in heads if current in heads or current is None else [current, *heads]:
            self.head_combo.addItem(head, head)
        if current is not None:
            self.head_combo.setCurrentIndex(max(0, self.head_combo.findData(current)))
        self.head_combo.setEnabled(bool(heads))
        self._filling_heads = False

    def _current_head(self) -> str | None:
        return self.head_combo.currentData()

    def _head_changed(self) -> None:
        if self._filling_heads or self._result is None:
            return
        head = self._current_head()
        if head and head != self._result.head:
            self._load(head)

    # --- search -------------------------------------------------------------------------------------

    def _apply_search(self) -> None:
        text = self.search.text()
        matches = self.tree_model.set_filter(text)
        self.tensor_proxy.setFilterFixedString(text.strip())
        root = self.tree_model.index(0, 0)
        if not text.strip():
            self.tree.expand(root)
            return
        self.tree.expand(root)
        first = None
        for item in matches[:MAX_EXPANDED_MATCHES]:
            index = self.tree_model.index_of(item)
            first = first or index
            parent = index.parent()
            while parent.isValid():
                self.tree.expand(parent)
                parent = parent.parent()
        # The model was reset: without this the view keeps its old scroll offset, mid-way down the matches.
        # From the top, so the first match shows with the modules that lead to it.
        self.tree.scrollToTop()
        if first is not None and first.isValid():
            self.tree.scrollTo(first, QAbstractItemView.ScrollHint.EnsureVisible)

    # --- selection: stats and source ----------------------------------------------------------------

    def _tree_selected(self, current, _previous=None) -> None:
        item = self.tree_model.item(current)
        if isinstance(item, ParamInfo):
            names = self._stored_names()
            stored = stored_name_for(item.path, names)
            if stored is None and item.tied_to:
                # A tied parameter is the same tensor as its target: show that one's values.
                stored = stored_name_for(item.tied_to, names)
            if stored is None:
                reason = "is tied to " + item.tied_to if item.tied_to else "is not stored under this name (built by a conversion at load time, or missing)"
                self.stats.clear(f"<b>{html.escape(item.path)}</b> {html.escape(reason)}.")
            else:
                self._read_stats(stored)
            owner = self.tree_model.item(current.parent())
            if isinstance(owner, ModuleNode):
                self._show_source(owner)
        elif isinstance(item, ModuleNode):
            self._show_source(item)

    def _tensor_selected(self, current, _previous=None) -> None:
        if not current.isValid():
            return
        tensor = self.tensor_model.tensor(self.tensor_proxy.mapToSource(current).row())
        if tensor is not None:
            self._read_stats(tensor.name)

    def _stored_names(self) -> set[str]:
        if self._disk is None:
            return set()
        names = self._stored_cache
        if names is None or names[0] is not self._disk:
            names = (self._disk, {t.name for t in self._disk.tensors})
            self._stored_cache = names
        return names[1]

    def _read_stats(self, name: str) -> None:
        disk = self._disk
        if disk is None:
            return
        from explorer.core.tensor_stats import same_parameter_across_layers, tensor_stats_job

        self.right_tabs.setCurrentWidget(self.stats)
        self.stats.show_loading(name)
        repeated = len(same_parameter_across_layers(disk, name)) > 1
        self._start(
            "stats",
            lambda cancel: tensor_stats_job(disk, name, cancel),
            lambda stats: self.stats.show_stats(stats, repeated),
        )

    def _layer_norms(self, name: str) -> None:
        disk = self._disk
        if disk is None:
            return
        from explorer.core.tensor_stats import layer_norms_job

        self._start("norms", lambda cancel: layer_norms_job(disk, name, cancel), self.stats.show_norms)

    def _show_source(self, node: ModuleNode) -> None:
        skeleton = self._skeleton
        if skeleton is None:
            return
        class_name = node.class_name
        module = skeleton.class_modules.get(class_name, "")
        self.source.show_message(f"Reading the source of <b>{html.escape(class_name)}</b>…")

        def job(cancel):
            # getsource reads the module's file (and may import it): never on the GUI thread.
            yield Progress(0, 1, f"reading the source of {class_name}")
            return module_source(skeleton, class_name)

        self._start(
            "source",
            job,
            lambda source: self.source.show_source(class_name, module, source),
            on_failed=lambda _kind, message: self.source.show_message(html.escape(message)),
        )

    # --- memory -------------------------------------------------------------------------------------

    def _plan_memory(self, context: int, batch: int) -> None:
        disk, result, skeleton = self._disk, self._result, self._skeleton
        if disk is not None and disk.tensors:
            params, stored = disk.total_params, disk.total_bytes
        elif skeleton is not None:
            # No weights on disk (a config-only folder): plan from the model structure, which is
            # what the weights will be once downloaded.
            params, stored = skeleton.total_params, None
        else:
            return
        known_config = result.config_json if result is not None else None
        checkpoint = self._checkpoint

        def job(cancel):
            from explorer.core.memory_plan import plan_every_precision

            yield Progress(0, 1, "checking free memory")
            config = known_config if known_config is not None else _read_config_json(checkpoint)
            return plan_every_precision(params, stored, config, context, batch)

        self._start("memory", job, self.memory.show_plans)


def _read_config_json(checkpoint: Checkpoint | None) -> dict:
    import os

    from explorer.core.discovery import ConfigUnreadable, read_config_file

    if checkpoint is None:
        return {}
    # Legacy caches store config.json under a content hash; the record knows where it is.
    config_file = checkpoint.file_path("config.json") or os.path.join(checkpoint.path, "config.json")
    try:
        return read_config_file(config_file)
    except (OSError, ConfigUnreadable):
        return {}
