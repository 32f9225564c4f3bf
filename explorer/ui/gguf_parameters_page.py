"""The Parameters tab for a GGUF model: its tensors (type, shape, bytes), bytes per quantisation type,
and the memory plan from those real bytes.

A GGUF model's module tree is llama.cpp's graph, not a transformers class, so this page lists the
tensors as the file holds them, grouped by block (``blk.N``), with their quantisation types. The
memory plan compares the bytes as stored (what llama.cpp, Ollama and LM Studio map) with the model
dequantised as transformers loads a GGUF, against this machine's free memory.
"""

from __future__ import annotations

import re
from functools import partial
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTabWidget, QTreeWidget, QTreeWidgetItem,
    QVBoxLayout, QWidget,
)

from explorer.core.checkpoint import display_text
from explorer.core.formatting import human_bytes, human_count, sortable
from explorer.core.gguf_facts import GgufFacts, GgufMemoryPlan, block_of, plan_gguf_memory
from explorer.core.gguf_file import GgufTensor
from explorer.core.jobs import Progress
from explorer.ui import palette
from explorer.ui.config_common import cell, colored, selectable_label, table
from explorer.ui.gguf_config_page import show_problem
from explorer.ui.param_panels import MemoryPanel
from explorer.ui.gguf_page import GgufPage

TENSOR_COLUMNS = ("Name", "Type", "Shape", "Parameters", "Bytes", "File")
TYPE_COLUMNS = ("Type", "Tensors", "Parameters", "Share of parameters", "Bytes", "Share of bytes", "Bits per weight")
SortRole = Qt.ItemDataRole.UserRole + 10
TensorRole = Qt.ItemDataRole.UserRole + 11
OUTSIDE_BLOCKS = "(outside the blocks)"
# The context the plan starts with: runtimes rarely allocate a 128k-token cache unless asked.
DEFAULT_PLAN_CONTEXT = 4096
_NUMBER = re.compile(r"\d+")


def _natural(name: str) -> str:
    """blk.2 before blk.10."""
    return _NUMBER.sub(lambda m: m.group().zfill(12), name)


class _SortedItem(QTreeWidgetItem):
    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        mine, theirs = self.data(column, SortRole), other.data(column, SortRole)
        if mine is None or theirs is None or type(mine) is not type(theirs):
            return super().__lt__(other)
        return mine < theirs


def _tensor_item(tensor: GgufTensor, multi_file: bool) -> QTreeWidgetItem:
    shape = " × ".join(str(d) for d in tensor.shape) or "scalar"
    file = tensor.file.rsplit("/", 1)[-1] if multi_file else ""
    item = _SortedItem([tensor.name, tensor.type_name, shape, human_count(tensor.numel),
                        human_bytes(tensor.nbytes) if tensor.nbytes is not None else "unknown", file])
    for column, key in enumerate((_natural(tensor.name), tensor.type_name, sortable(tensor.numel), sortable(tensor.numel),
                                  sortable(tensor.nbytes), file)):
        item.setData(column, SortRole, key)
    item.setData(0, TensorRole, tensor)
    item.setToolTip(0, f"{tensor.name}\n{tensor.numel:,} values, {tensor.type_name}, shape {list(tensor.shape)}")
    for column in (3, 4):
        item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _group_item(name: str, tensors: list[GgufTensor]) -> QTreeWidgetItem:
    params = sum(t.numel for t in tensors)
    known = sum(t.nbytes for t in tensors if t.nbytes is not None)
    unknown = any(t.nbytes is None for t in tensors)
    types: dict[str, int] = {}
    for tensor in tensors:
        types[tensor.type_name] = types.get(tensor.type_name, 0) + 1
    type_text = ", ".join(f"{name} ×{count}" for name, count in types.items())
    bytes_text = human_bytes(known) + (" + unknown" if unknown else "")
    item = _SortedItem([f"{name} ({len(tensors)} tensors)", type_text, "", human_count(params), bytes_text, ""])
    # The blocks in order, the tensors outside them first (the embedding) as the file has them.
    for column, key in enumerate(("" if name == OUTSIDE_BLOCKS else _natural(name), type_text, 0.0, float(params), float(known), "")):
        item.setData(column, SortRole, key)
    item.setToolTip(1, type_text)
    for column in (3, 4):
        item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class GgufTensorTree(QWidget):
    """Every tensor of the model, sortable, filtered by name, optionally grouped by block."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter tensors by name (e.g. attn_q, blk.3., ffn)")
        self.filter_edit.setClearButtonEnabled(True)
        self.group_box = QCheckBox("Group by block")
        self.group_box.setChecked(True)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.group_box)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(TENSOR_COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # No sort column until the user picks one: the tensors stay in the file's order.
        self.tree.header().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.tree.setSortingEnabled(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(TENSOR_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        self._tensors: list[GgufTensor] = []
        self._multi_file = False
        self.filter_edit.textChanged.connect(self._filter)
        self.group_box.toggled.connect(lambda _on: self._fill())

    def show_tensors(self, tensors: list[GgufTensor], multi_file: bool) -> None:
        self._tensors, self._multi_file = list(tensors), multi_file
        self._fill()

    def clear(self) -> None:
        self.show_tensors([], False)

    def _fill(self) -> None:
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        self.tree.setColumnHidden(5, not self._multi_file)
        if self.group_box.isChecked():
            groups: dict[str, list[GgufTensor]] = {}
            for tensor in self._tensors:
                groups.setdefault(block_of(tensor.name) or OUTSIDE_BLOCKS, []).append(tensor)
            bold = QFont(self.tree.font())
            bold.setBold(True)
            for name, members in groups.items():
                group = _group_item(name, members)
                group.setFont(0, bold)
                group.addChildren([_tensor_item(t, self._multi_file) for t in members])
                self.tree.addTopLevelItem(group)
        else:
            self.tree.addTopLevelItems([_tensor_item(t, self._multi_file) for t in self._tensors])
        self.tree.setSortingEnabled(True)
        self._filter(self.filter_edit.text())
        # A few dozen tensors open at once are readable; hundreds of blocks open are not.
        if len(self._tensors) <= 40 or self.filter_edit.text().strip():
            self.tree.expandAll()

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for top in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(top)
            if item.childCount() == 0:
                item.setHidden(bool(needle) and needle not in item.text(0).lower())
                continue
            shown = 0
            for index in range(item.childCount()):
                child = item.child(index)
                child.setHidden(bool(needle) and needle not in child.text(0).lower())
                shown += not child.isHidden()
            item.setHidden(shown == 0 and bool(self._tensors))
            if needle and shown:
                item.setExpanded(True)

    def visible_tensor_names(self) -> list[str]:
        """The tensors the filter leaves shown, in the order shown (tests)."""
        names = []

        def visit(item: QTreeWidgetItem) -> None:
            if item.isHidden():
                return
            tensor = item.data(0, TensorRole)
            if tensor is not None:
                names.append(tensor.name)
            for index in range(item.childCount()):
                visit(item.child(index))

        for top in range(self.tree.topLevelItemCount()):
            visit(self.tree.topLevelItem(top))
        return names


def fill_type_table(widget, facts: GgufFacts) -> None:
    """Bytes and parameters per quantisation type, most bytes first, with the total last."""
    widget.setRowCount(0)
    params_total = facts.num_parameters or 1
    bytes_total = facts.known_bytes or 1
    rows = []
    for total in facts.by_type:
        known = total.nbytes is not None
        rows.append([
            cell(total.type_name, role=None if known else "warning"),
            cell(f"{total.tensors:,}"),
            cell(human_count(total.parameters), f"{total.parameters:,}"),
            cell(f"{100 * total.parameters / params_total:.1f}%"),
            cell(human_bytes(total.nbytes) if known else "unknown", f"{total.nbytes:,} bytes" if known else
                 "The installed gguf package does not know this type: its block size, so its bytes, are unknown"),
            cell(f"{100 * total.nbytes / bytes_total:.1f}%" if known else ""),
            cell(f"{total.bits_per_weight:.2f}" if total.bits_per_weight is not None else "unknown"),
        ])
    stored = human_bytes(facts.stored_bytes) if facts.stored_bytes is not None else f"{human_bytes(facts.known_bytes)} + unknown"
    bits = facts.stored_bytes * 8 / facts.num_parameters if facts.stored_bytes is not None and facts.num_parameters else None
    rows.append([
        cell("Total", bold=True), cell(f"{len(facts.tensors):,}", bold=True),
        cell(human_count(facts.num_parameters), f"{facts.num_parameters:,}", bold=True), cell(""),
        cell(stored, bold=True), cell(""), cell(f"{bits:.2f}" if bits is not None else "", bold=True),
    ])
    widget.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, item in enumerate(cells):
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            widget.setItem(row, column, item)


def _plan_job(facts: GgufFacts, context: int, batch: int, cancel):
    yield Progress(0, 1, "checking free memory")
    return plan_gguf_memory(facts, context, batch)


class GgufParametersPage(GgufPage):
    """The Parameters tab's page for checkpoints of format gguf."""

    TAB_NAME = "Parameters"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plan: GgufMemoryPlan | None = None
        self.summary = selectable_label(rich=True)
        self.banner = selectable_label(rich=True)
        self.banner.hide()
        self.tensors = GgufTensorTree()
        self.type_table = table(list(TYPE_COLUMNS))
        self.type_table.verticalHeader().setDefaultSectionSize(24)
        self.type_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.type_table.horizontalHeader().setStretchLastSection(False)
        self.type_note = selectable_label(
            "<p>Bits per weight: the bytes a type takes × 8 ÷ its parameters. Quantised types store blocks of values with "
            "their scales, so Q8_0 takes 8.5 bits (32 values in 8 bits each plus one 16-bit scale) and Q4_K about 4.5.</p>",
            rich=True,
        )
        types_page = QWidget()
        types_layout = QVBoxLayout(types_page)
        types_layout.setContentsMargins(0, 6, 0, 0)
        types_layout.addWidget(self.type_table)
        types_layout.addWidget(self.type_note)
        types_layout.addStretch(1)
        self.plan_note = selectable_label(rich=True)
        self.memory = MemoryPanel()
        self.memory.plan_requested.connect(self._plan_memory)
        memory_page = QWidget()
        memory_layout = QVBoxLayout(memory_page)
        memory_layout.setContentsMargins(0, 6, 0, 0)
        memory_layout.addWidget(self.plan_note)
        memory_layout.addWidget(self.memory, 1)
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.addTab(self.tensors, "Tensors")
        self.sections.addTab(types_page, "Bytes per type")
        self.sections.addTab(memory_page, "Memory plan")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.banner)
        layout.addWidget(self.sections, 1)
        palette.notifier().changed.connect(self._scheme_changed)
        self._reset("Select a checkpoint.")

    def heading(self) -> QLabel:
        return self.summary

    def _clear(self, text: str) -> None:
        self._reset(text)

    def memory_plan(self) -> GgufMemoryPlan | None:
        return self._plan

    # ------------------------------------------------------------------ what it shows

    def _reset(self, text: str) -> None:
        self._facts, self._plan, self._error = None, None, None
        self.summary.setText(f"<i>{escape(text)}</i>" if text else "")
        self.banner.hide()
        self.tensors.clear()
        self.type_table.setRowCount(0)
        self.plan_note.clear()
        self.memory.show_message("The plan appears when the model's tensors are known.")

    def _on_failed(self, message: str, _details: str) -> None:
        self._error = message
        self._show_error()
        self.memory.show_message("Nothing to plan for: the GGUF header could not be read.")
        self.status_changed.emit(f"Parameters: {message}")

    def _show_error(self) -> None:
        checkpoint = self.checkpoint()
        self.summary.setText(f"<b>{escape(display_text(checkpoint.id)) if checkpoint else ''}</b>")
        show_problem(self.banner, self._error)

    def _on_facts(self, facts: GgufFacts) -> None:
        self._facts = facts
        self.status_changed.emit("")
        self._render(facts)
        context = min(facts.context_length or DEFAULT_PLAN_CONTEXT, DEFAULT_PLAN_CONTEXT)
        self.memory.context.blockSignals(True)
        self.memory.context.setValue(context)
        self.memory.context.blockSignals(False)
        self.memory.request()

    def _render(self, facts: GgufFacts) -> None:
        self._render_texts(facts)
        self.tensors.show_tensors(facts.tensors, len(facts.files) > 1)
        fill_type_table(self.type_table, facts)
        table_widget = self.type_table
        rows = sum(table_widget.rowHeight(r) for r in range(table_widget.rowCount()))
        frame = 2 * table_widget.frameWidth() + 2
        table_widget.setFixedHeight(table_widget.horizontalHeader().sizeHint().height() + rows + frame)
        table_widget.resizeColumnsToContents()
        table_widget.setFixedWidth(sum(table_widget.columnWidth(c) for c in range(table_widget.columnCount())) + frame)

    def _render_texts(self, facts: GgufFacts) -> None:
        """The parts drawn with the scheme's colours (the summary, the plan's note)."""
        checkpoint = self.checkpoint()
        types = " · ".join(
            f"{escape(t.type_name)} {human_bytes(t.nbytes) if t.nbytes is not None else colored('warning', 'unknown size')}"
            for t in facts.by_type
        )
        stored = human_bytes(facts.stored_bytes) if facts.stored_bytes is not None else f"at least {human_bytes(facts.known_bytes)}"
        self.summary.setText(
            f"<b>{escape(display_text(checkpoint.id if checkpoint else facts.name or ''))}</b> · "
            f"{human_count(facts.num_parameters)} parameters in {len(facts.tensors):,} tensors · {stored} as stored ({types})"
        )
        self._plan_note(facts)

    def _plan_note(self, facts: GgufFacts) -> None:
        lines = [
            "<b>As stored</b>: the quantised bytes that llama.cpp, Ollama and LM Studio map, with their default 16-bit KV cache. "
            "<b>Dequantised</b>: what transformers holds after <code>from_pretrained(..., gguf_file=...)</code> converts the weights: "
            "float32 by default for a quantised file (a file of F16 or BF16 tensors loads in that type; <code>dtype=</code> chooses), "
            "with the cache in the same dtype. Where transformers keeps the blocks packed (a few architectures, with the "
            "<code>kernels</code> package), it needs about the stored size."
        ]
        shape = facts.attention
        if shape is not None:
            grouped = " (grouped-query attention)" if shape.grouped else ""
            per_token = 2 * shape.layers * shape.kv_heads * shape.head_dim
            lines.append(
                f"KV cache per token: keys and values × {shape.layers} layers × {shape.kv_heads} KV heads{grouped} × head dim "
                f"{shape.head_dim} = {per_token:,} values, {human_bytes(per_token * 2)} at 16 bits, {human_bytes(per_token * 4)} in float32."
            )
        if facts.context_length:
            lines.append(f"The model was trained for {facts.context_length:,} tokens of context.")
        if facts.unknown_parameters:
            lines.append(colored(
                "warning",
                f"{human_count(facts.unknown_parameters)} parameters have a type the installed gguf package does not know: "
                "their stored size, so the size as stored, is unknown.",
            ))
        self.plan_note.setText("".join(f"<p style='margin-top:0; margin-bottom:4px'>{line}</p>" for line in lines))

    def _plan_memory(self, context: int, batch: int) -> None:
        facts = self._facts
        if facts is None:
            return
        self.jobs.start(
            "memory", partial(_plan_job, facts, context, batch), done=self._on_plan,
            failed=lambda message, _details: self.memory.show_message(message),
        )

    def _on_plan(self, plan: GgufMemoryPlan) -> None:
        self._plan = plan
        self.memory.show_plans(plan.plans)

    def _scheme_changed(self, _scheme: str) -> None:
        # The tensor tree has no scheme colours: it keeps what the user opened, sorted and filtered.
        if self._facts is not None:
            self._render_texts(self._facts)
            fill_type_table(self.type_table, self._facts)
        elif self._error is not None:
            self._show_error()


__all__ = ["GgufParametersPage", "GgufTensorTree", "fill_type_table"]
