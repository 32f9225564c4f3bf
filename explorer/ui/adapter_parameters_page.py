"""The Parameters tab for a PEFT adapter: the base model's module tree with the modules the adapter changes marked.

The tree is the Parameters tab's own (``ModuleTreeModel`` over the base's skeleton, built on the
meta device); its last column counts the adapter's parameters in each module, and a module the
adapter wraps (LoRA, IA3, ...) or stores whole (modules_to_save) is coloured, its ancestors
lightly. Below, the adapter's tensors in the selected module, and which target_modules entry
matched which modules. Without the base on this machine the adapter's own tensors are listed,
grouped by module, under a message naming the base. The work is one core job
(``adapter_weights.adapter_report_job``): the adapter's header first, then the base's tree.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QProgressBar, QSplitter, QStackedWidget, QTabWidget, QTextBrowser, QTreeWidget, QTreeWidgetItem,
    QVBoxLayout, QWidget,
)

from explorer.core.adapter_weights import PART_SAVED, AdapterModule, AdapterReport, AdapterTensor, AdapterWeights, adapter_report_job
from explorer.core.adapters import find_base_checkpoint
from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.formatting import human_bytes, human_count
from explorer.core.jobs import Progress
from explorer.core.skeleton import ModuleNode, ParamInfo, Skeleton
from explorer.ui import palette
from explorer.ui.adapter_config_page import SELECT_BASE, base_html
from explorer.ui.config_common import cell, colored, table
from explorer.ui.param_tree_model import COL_PARAMS, COL_STATUS, ModuleTreeModel, module_tree_view
from explorer.ui.tab import CheckpointTab

PLACEHOLDER = "Select a checkpoint."
# Name, Class, Parameters, Share, Shape, Dtype, Bytes, Adapter (shown after Parameters)
TREE_COLUMN_WIDTHS = (210, 150, 100, 90, 90, 65, 75, 200)
TENSOR_COLUMNS = ["Part", "Shape", "Dtype", "Parameters", "Tensor (as stored)"]
MAX_EXPANDED_MODULES = 64
# Rows built on the GUI thread; a real adapter (LoRA on every linear layer of an 80-layer model) has about 1,100 tensors.
MAX_TABLE_ROWS = 5_000
MAX_TREE_ROWS = 10_000
# Palette roles: a wrapped module, a module stored whole, a module that contains either.
ADAPTER_ROLES = {"adapter": "highlight_3", PART_SAVED: "highlight_2", "within": "ok_bg"}


def _shape(shape: tuple[int, ...]) -> str:
    return " × ".join(str(d) for d in shape) or "scalar"


def _parts(module: AdapterModule) -> str:
    if module.kind == PART_SAVED:
        return "stored whole (modules_to_save)"
    return ", ".join(dict.fromkeys(t.part for t in module.tensors))


class AdapterTreeModel(ModuleTreeModel):
    """The base's module tree; the last column is the adapter's parameters in each module."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._adapter: dict[str, AdapterModule] = {}
        self._counts: dict[int, int] = {}  # id(node) -> adapter parameters in it and below

    def set_adapter(self, modules: dict[str, AdapterModule]) -> None:
        self._adapter = dict(modules)
        self._recount()
        if self._skeleton is not None:
            self.dataChanged.emit(self.index(0, 0), self.index(0, COL_STATUS))

    def set_skeleton(self, skeleton: Skeleton | None) -> None:
        super().set_skeleton(skeleton)
        self._recount()

    def adapter_module(self, node: ModuleNode) -> AdapterModule | None:
        """The adapter's entry for this module; None for a display group of blocks (its blocks have their own)."""
        if node.parent is not None and node.parent.path == node.path:
            return None
        return self._adapter.get(node.path)

    def count(self, node: ModuleNode) -> int:
        return self._counts.get(id(node), 0)

    def tensors_under(self, node: ModuleNode) -> list[AdapterTensor]:
        found: list[AdapterTensor] = []
        for each in node.walk():
            module = self.adapter_module(each)
            if module is not None:
                found.extend(module.tensors)
        return found

    def touched_nodes(self) -> list[ModuleNode]:
        if self._skeleton is None:
            return []
        return [node for node in self._skeleton.root.walk() if node.path and self.adapter_module(node) is not None]

    def _recount(self) -> None:
        self._counts = {}
        if self._skeleton is None or not self._adapter:
            return

        def visit(node: ModuleNode) -> int:
            own = self.adapter_module(node)
            total = own.params if own is not None else 0
            for child in node.children:
                total += visit(child)
            if total:
                self._counts[id(node)] = total
            return total

        visit(self._skeleton.root)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if section == COL_STATUS and orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return "Adapter"
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        item = index.internalPointer() if index.isValid() else None
        if not isinstance(item, ModuleNode):
            if index.isValid() and index.column() == COL_STATUS and role == Qt.ItemDataRole.DisplayRole:
                return None
            return super().data(index, role)
        module = self.adapter_module(item)
        count = self.count(item)
        mark = None
        if count:
            mark = "within" if module is None else (PART_SAVED if module.kind == PART_SAVED else "adapter")
        if index.column() == COL_STATUS:
            if role == Qt.ItemDataRole.DisplayRole and count:
                return f"{human_count(count)} · {_parts(module)}" if module is not None else human_count(count)
            if role == Qt.ItemDataRole.ToolTipRole and count:
                where = "in this module" if module is not None else "in the modules below"
                return f"{count:,} adapter parameters {where}"
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if mark is not None and role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(palette.qcolor(ADAPTER_ROLES[mark]))
        if mark is not None and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(palette.qcolor("text"))
        if module is not None and role == Qt.ItemDataRole.FontRole and index.column() == 0:
            font = QFont()
            font.setBold(True)
            return font
        return super().data(index, role)


def summary_html(checkpoint: Checkpoint | None, report: AdapterReport | None, weights: AdapterWeights | None) -> str:
    bits = [f"<b>{escape(display_text(checkpoint.id)) if checkpoint else ''}</b>"]
    weights = report.weights if report is not None else weights
    if weights is None:
        return bits[0]
    config = weights.config
    kind = escape(f"{config.kind} adapter" if config is not None else "adapter")
    if report is not None and report.base is not None:
        kind += f" on <b>{escape(display_text(report.base.id))}</b>"
    bits.append(kind)
    if weights.tensors:
        text = f"<b>{human_count(weights.total_params)}</b> adapter parameters ({len(weights.tensors):,} tensors, {human_bytes(weights.total_bytes)})"
        share = report.share_of_base if report is not None else None
        if share is not None:
            text += f" = <b>{share * 100:.3g}%</b> of the base's {human_count(report.base_params)}"
        bits.append(text)
        wrapped = len(weights.wrapped())
        saved = sum(1 for m in weights.modules.values() if m.kind == PART_SAVED)
        touched = f"wraps {wrapped} module{'s' if wrapped != 1 else ''}"
        bits.append(touched + (f", stores {saved} whole" if saved else ""))
    return " · ".join(bits)


class AdapterParametersPage(CheckpointTab):
    """The Parameters tab's page for checkpoints of format adapter."""

    report_shown = Signal(object)
    """Emitted with the AdapterReport once everything is shown (tests, screenshots)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._checkpoints: list[Checkpoint] = []
        self._weights: AdapterWeights | None = None
        self._report: AdapterReport | None = None
        self._pending = False
        self._list_changed = False
        self._build_ui()
        palette.notifier().changed.connect(self._scheme_changed)

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        status_row = QHBoxLayout()
        self.summary = QLabel(PLACEHOLDER)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        status_row.addWidget(self.summary, 1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 0)
        self.progress.hide()
        status_row.addWidget(self.progress)
        layout.addLayout(status_row)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.RichText)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.notice.linkActivated.connect(self._link)
        self.notice.hide()
        layout.addWidget(self.notice)

        self.tree_model = AdapterTreeModel(self)
        self.tree = module_tree_view(self.tree_model, TREE_COLUMN_WIDTHS)
        header = self.tree.header()
        # The adapter's count next to the base's: the tab is narrower than the tree, and this column is why it is here.
        header.moveSection(header.visualIndex(COL_STATUS), COL_PARAMS + 1)
        self.tree.selectionModel().currentChanged.connect(self._tree_selected)
        # Without the base: the adapter's own tensors, grouped by the module they change.
        self.own_tree = QTreeWidget()
        self.own_tree.setHeaderLabels(["Module / tensor", "Part", "Shape", "Dtype", "Parameters"])
        self.own_tree.setUniformRowHeights(True)
        self.own_tree.setAlternatingRowColors(True)
        self.own_tree.header().resizeSection(0, 420)
        self.own_tree.header().resizeSection(1, 210)
        self.own_tree.currentItemChanged.connect(self._own_selected)
        self.trees = QStackedWidget()
        self.trees.addWidget(self.tree)
        self.trees.addWidget(self.own_tree)

        details = QTabWidget()
        details.setDocumentMode(True)
        tensors_page = QWidget()
        tensors_layout = QVBoxLayout(tensors_page)
        tensors_layout.setContentsMargins(0, 4, 0, 0)
        self.selection_label = QLabel()
        self.selection_label.setWordWrap(True)
        self.selection_label.setTextFormat(Qt.TextFormat.RichText)
        tensors_layout.addWidget(self.selection_label)
        self.tensor_table = table(TENSOR_COLUMNS)
        tensors_layout.addWidget(self.tensor_table, 1)
        details.addTab(tensors_page, "Adapter tensors")
        self.targets_view = QTextBrowser()
        details.addTab(self.targets_view, "Target modules")
        self.details = details

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.trees)
        splitter.addWidget(details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([460, 300])
        layout.addWidget(splitter, 1)

    # --- CheckpointTab ----------------------------------------------------------------------------------

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        self._checkpoint = checkpoint
        self.jobs.cancel()
        self._reset()
        if checkpoint is None:
            self._pending = False
            self.summary.setText(PLACEHOLDER)
            return
        self.summary.setText(f"<b>{escape(display_text(checkpoint.id))}</b>")
        self._pending = True
        if self.isVisible():
            self.activate()

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self._checkpoints = list(checkpoints)
        if self._report is None:
            # A job reading the adapter looks the base up in the list it was given: look again when it ends.
            self._list_changed = True
            return
        self._look_for_base()

    def _look_for_base(self) -> None:
        """The scan may have found the base since the report was made: look again, off this thread; reload if it is there now."""
        report, checkpoint = self._report, self._checkpoint
        if report is None or report.base is not None or checkpoint is None:
            return
        config = report.weights.config
        named = config.base_model if config is not None else checkpoint.base_model
        revision = config.revision if config is not None else None
        listed = list(self._checkpoints)

        def job(cancel):
            yield Progress(0, 1, "looking for the base model")
            return find_base_checkpoint(named, listed, revision)

        self.jobs.start("base", job, done=lambda base: self._load(checkpoint) if base is not None and checkpoint is self._checkpoint else None)

    def activate(self) -> None:
        if self._pending and self._checkpoint is not None:
            self._pending = False
            self._load(self._checkpoint)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.activate()

    def report(self) -> AdapterReport | None:
        return self._report

    # --- job --------------------------------------------------------------------------------------------

    def _load(self, checkpoint: Checkpoint) -> None:
        checkpoints = list(self._checkpoints)
        self._list_changed = False
        self.progress.show()
        self.jobs.start(
            "adapter",
            lambda cancel: adapter_report_job(checkpoint, None, cancel, checkpoints=checkpoints),
            done=self._finished,
            partial=self._partial,
            progress=self._progress,
            failed=lambda message, _details: self._failed(message),
            ended=self.progress.hide,
        )

    def _progress(self, progress: Progress) -> None:
        name = escape(display_text(self._checkpoint.id)) if self._checkpoint else ""
        self.summary.setText(f"<b>{name}</b> — {escape(progress.message)}…")

    def _failed(self, message: str) -> None:
        self.progress.hide()
        self.notice.setText(colored("error", escape(message)))
        self.notice.show()

    def _partial(self, value) -> None:
        if isinstance(value, AdapterWeights):
            self._weights = value
            self.tree_model.set_adapter(value.modules)
            self._fill_own_tree(value)
            self._show_tensors(value.tensors, "All of the adapter's tensors")
        elif isinstance(value, Skeleton):
            self.tree_model.set_skeleton(value)
            self.trees.setCurrentWidget(self.tree)
            self._expand_touched()

    def _finished(self, report: AdapterReport) -> None:
        self._report = report
        self.progress.hide()
        if report.skeleton is None:
            self.trees.setCurrentWidget(self.own_tree)
        self._render_report()
        self.report_shown.emit(report)
        if report.base is None and self._list_changed:
            self._list_changed = False
            self._look_for_base()

    # --- rendering ----------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._weights = None
        self._report = None
        self.tree_model.set_adapter({})
        self.tree_model.set_skeleton(None)
        self.own_tree.clear()
        self.tensor_table.setRowCount(0)
        self.selection_label.clear()
        self.targets_view.clear()
        self.notice.hide()
        self.progress.hide()
        self.trees.setCurrentWidget(self.own_tree)

    def _render_report(self) -> None:
        report = self._report
        if report is None:
            return
        self.summary.setText(summary_html(self._checkpoint, report, None))
        lines = []
        if report.base is None:
            config = report.weights.config
            lines.append(base_html(config, self._checkpoint, None) + " — the adapter's own tensors are listed, grouped by module.")
        lines.extend(colored("warning", escape(display_text(w))) for w in report.warnings)
        lines.extend(colored("error", escape(display_text(p))) for p in report.problems)
        self.notice.setText("<br>".join(lines))
        self.notice.setVisible(bool(lines))
        self.targets_view.setHtml(self._targets_html(report))

    def _targets_html(self, report: AdapterReport) -> str:
        config = report.weights.config
        if config is None:
            return colored("muted", "adapter_config.json could not be read: the targets are unknown.")
        if report.skeleton is None:
            return colored("muted", "The targets are matched against the base model's modules once the base is on this machine.")
        if not report.targets:
            return colored("muted", "adapter_config.json names no target_modules.")
        rows = []
        for match in report.targets:
            if match.modules:
                shown = ", ".join(f"<code>{escape(m)}</code>" for m in match.modules[:40])
                more = f" and {len(match.modules) - 40} more" if len(match.modules) > 40 else ""
                found = f"{len(match.modules)} module{'s' if len(match.modules) != 1 else ''}: {shown}{more}"
            else:
                found = colored("warning", "matches no module of the base" + (f" ({escape(match.note)})" if match.note else ""))
            rows.append(f"<tr><td valign=top><b><code>{escape(match.target)}</code></b></td><td>{found}</td></tr>")
        saved = [m.path for m in report.weights.modules.values() if m.kind == PART_SAVED]
        if saved:
            shown = ", ".join(f"<code>{escape(p)}</code>" for p in saved[:40])
            rows.append(f"<tr><td valign=top><b>modules_to_save</b></td><td>stored whole, replacing the base's: {shown}</td></tr>")
        return "<table cellpadding=4 cellspacing=0>" + "".join(rows) + "</table>"

    def _scheme_changed(self, _scheme: str) -> None:
        if self._report is not None:
            self._render_report()
        self.tree.viewport().update()

    def _fill_own_tree(self, weights: AdapterWeights) -> None:
        self.own_tree.clear()
        bold = QFont(self.own_tree.font())
        bold.setBold(True)
        rows = 0
        for path, module in weights.modules.items():
            top = QTreeWidgetItem(self.own_tree, [path or "(not a module of the base)", _parts(module), "", "", human_count(module.params)])
            top.setFont(0, bold)
            top.setData(0, Qt.ItemDataRole.UserRole, path)
            # Items are built on this thread: a file of a hundred thousand tiny tensors must not freeze the window.
            if rows < MAX_TABLE_ROWS:
                for tensor in module.tensors:
                    QTreeWidgetItem(top, [tensor.name, tensor.part, _shape(tensor.shape), tensor.dtype, f"{tensor.numel:,}"])
                rows += len(module.tensors)
            rows += 1
            if rows >= MAX_TREE_ROWS:
                more = len(weights.modules) - self.own_tree.topLevelItemCount()
                if more:
                    QTreeWidgetItem(self.own_tree, [f"… and {more:,} more modules", "", "", "", ""])
                break
        if self.own_tree.topLevelItemCount() <= MAX_EXPANDED_MODULES:
            self.own_tree.expandAll()

    def _expand_touched(self) -> None:
        model = self.tree_model
        root = model.index(0, 0)
        self.tree.expand(root)
        for node in model.touched_nodes()[:MAX_EXPANDED_MODULES]:
            parent = model.index_of(node).parent()
            while parent.isValid():
                self.tree.expand(parent)
                parent = parent.parent()

    def _show_tensors(self, tensors: list[AdapterTensor], caption: str) -> None:
        if len(tensors) > MAX_TABLE_ROWS:
            caption += f" — the first {MAX_TABLE_ROWS:,} of {len(tensors):,} (select a module to see its own)"
            tensors = tensors[:MAX_TABLE_ROWS]
        self.selection_label.setText(caption)
        self.tensor_table.setSortingEnabled(False)
        self.tensor_table.setRowCount(len(tensors))
        for row, tensor in enumerate(tensors):
            count = cell(f"{tensor.numel:,}")
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, item in enumerate((cell(tensor.part), cell(_shape(tensor.shape)), cell(tensor.dtype), count, cell(tensor.name))):
                self.tensor_table.setItem(row, column, item)

    def _tree_selected(self, current: QModelIndex, _previous=None) -> None:
        item = self.tree_model.item(current)
        if isinstance(item, ParamInfo):
            item = self.tree_model.item(current.parent())
        if not isinstance(item, ModuleNode):
            return
        tensors = self.tree_model.tensors_under(item)
        name = escape(item.path or item.name)
        module = self.tree_model.adapter_module(item)
        if module is not None:
            base = f" on a module of {module.base_params:,} parameters" if module.base_params is not None else ""
            caption = f"<b>{name}</b>: {human_count(module.params)} adapter parameters ({escape(_parts(module))}){base}"
        elif tensors:
            modules = len({t.module for t in tensors})
            caption = f"<b>{name}</b>: {human_count(sum(t.numel for t in tensors))} adapter parameters in {modules} module{'s' if modules != 1 else ''} below"
        else:
            caption = f"<b>{name}</b> " + colored("muted", "is not changed by the adapter")
        self._show_tensors(tensors, caption)

    def _own_selected(self, current: QTreeWidgetItem | None, _previous) -> None:
        weights = self._weights
        if current is None or weights is None:
            return
        top = current if current.parent() is None else current.parent()
        module = weights.modules.get(top.data(0, Qt.ItemDataRole.UserRole))
        if module is not None:
            caption = f"<b>{escape(module.path or '(not a module of the base)')}</b>: {human_count(module.params)} adapter parameters ({escape(_parts(module))})"
            self._show_tensors(module.tensors, caption)

    def _link(self, link: str) -> None:
        report = self._report
        if link == SELECT_BASE and report is not None and report.base is not None:
            self.select_requested.emit(report.base.key)


__all__ = ["AdapterParametersPage", "AdapterTreeModel"]
