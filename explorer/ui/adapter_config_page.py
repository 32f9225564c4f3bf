"""The Config tab for a PEFT adapter: what adapter_config.json says, field by field, and where its base model is.

An adapter has no config.json of its own: its adapter_config.json names the method (LoRA, IA3,
...), its sizes (rank, alpha), the modules it changes and the base model it must be loaded on.
The page shows those first, every other field with what peft documents for it, and whether the
base is on this machine (``find_base_checkpoint`` over the scanned checkpoints). The files are
read in a job; the base is looked up again when the list of checkpoints changes.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from explorer.core.adapter_fields import AdapterField, adapter_fields, lora_scale, targets_text
from explorer.core.adapter_weights import PART_SAVED, AdapterWeights, read_adapter_weights
from explorer.core.adapters import AdapterConfig, find_base_checkpoint
from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.formatting import human_bytes, human_count
from explorer.core.jobs import Progress
from explorer.ui import palette
from explorer.ui.config_common import colored, selectable_label, with_detail_below
from explorer.ui.tab import CheckpointTab

PLACEHOLDER = "Select a checkpoint to see its configuration."
FIELD_COLUMNS = ("Field", "Value", "Meaning")
FieldRole = Qt.ItemDataRole.UserRole + 1
SELECT_BASE = "select-base"


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def title_html(checkpoint: Checkpoint | None, weights: AdapterWeights) -> str:
    config = weights.config
    bits = [f"<b>{escape(display_text(checkpoint.id)) if checkpoint else ''}</b>"]
    if config is not None:
        bits.append(f"{escape(config.kind)} adapter")
        if config.r is not None:
            bits.append(f"rank {config.r}")
        if config.lora_alpha is not None:
            scale = lora_scale(config)
            rs = "√r" if config.fields.get("use_rslora") is True else "r"
            bits.append(f"alpha {_number(config.lora_alpha)}" + (f" (scale alpha/{rs} = {scale:.4g})" if scale is not None else ""))
        if config.task_type:
            bits.append(escape(config.task_type))
    if weights.tensors:
        bits.append(f"{human_count(weights.total_params)} parameters in {len(weights.tensors):,} tensors ({human_bytes(weights.total_bytes)})")
    return " · ".join(bits)


def base_html(config: AdapterConfig | None, checkpoint: Checkpoint | None, base: Checkpoint | None) -> str:
    """Where the base model is, or what to do to get it."""
    named = (config.base_model if config is not None else None) or (checkpoint.base_model if checkpoint else None)
    if not named:
        return colored("warning", "adapter_config.json names no base model (base_model_name_or_path): the adapter cannot be loaded on its own.")
    shown = escape(display_text(named))
    if base is not None:
        revision = f", revision {escape(base.revision[:12])}" if base.revision else ""
        where = f"{escape(display_text(base.id))} ({escape(base.source)}{revision})"
        return (
            f"Base model <code>{shown}</code>: {colored('ok', 'found on this machine')}: <b>{where}</b> "
            f"<a href='{SELECT_BASE}'>select it</a><br>"
            f"<span style='color:{palette.color('muted')}'>{escape(display_text(base.path))}</span>"
        )
    if named.startswith(("/", ".", "~")) or "\\" in named:
        advice = "the folder is missing or not in a scanned place: add its folder"
    else:
        advice = f"download it (<code>hf download {shown}</code>) or add its folder"
    return colored("warning", f"base model <code>{shown}</code> is not on this machine: ") + advice


def field_detail_html(entry: AdapterField) -> str:
    parts = [f"<h3 style='margin:0'><code>{escape(entry.key)}</code></h3>"]
    if entry.explanation:
        parts.append(f"<p>{escape(entry.explanation)}</p>")
    else:
        parts.append(f"<p style='color:{palette.color('muted')}'>peft documents no meaning for this field that this app knows of.</p>")
    parts.append(f"<p>Value: <code>{escape(entry.shown)}</code></p>")
    return "".join(parts)


def facts_rows(config: AdapterConfig, weights: AdapterWeights) -> list[tuple[str, str, str]]:
    """(label, value, meaning) of the facts a user reads first, derived from the fields."""
    rows = [("Adapter type", config.kind, "The adapter method (peft_type).")]
    if config.r is not None:
        rows.append(("Rank", str(config.r), "r: the inner size of LoRA's two matrices."))
    if config.lora_alpha is not None:
        rows.append(("Alpha", _number(config.lora_alpha), "lora_alpha: the scaling numerator."))
    scale = lora_scale(config)
    if scale is not None:
        rs = "√r" if config.fields.get("use_rslora") is True else "r"
        rows.append(("Scale", f"{scale:.4g}", f"alpha / {rs}: what the low-rank update is multiplied by."))
    if config.dropout is not None:
        rows.append(("Dropout", _number(config.dropout), "Applied while training only."))
    rows.append(("Target modules", targets_text(config), "Module names the adapter wraps (see the Parameters tab for the matches)."))
    saved = ", ".join(config.modules_to_save) or "none"
    stored = sum(m.params for m in weights.modules.values() if m.kind == PART_SAVED)
    rows.append(("Modules to save", saved + (f" ({human_count(stored)} parameters stored whole)" if stored else ""),
                 "Trained in full and saved with the adapter; they replace the base's."))
    rows.append(("Task type", config.task_type or "—", "The head the base is loaded with."))
    return rows


class AdapterConfigPage(CheckpointTab):
    """The Config tab's page for checkpoints of format adapter."""

    report_shown = Signal(object)
    """Emitted with the AdapterWeights once they are shown (tests, screenshots)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._checkpoints: list[Checkpoint] = []
        self._weights: AdapterWeights | None = None
        self._base: Checkpoint | None = None
        self._dirty = False
        self._list_changed = False
        self.title = selectable_label(rich=True)
        self.title.setObjectName("adapterConfigTitle")
        self.base_label = selectable_label(rich=True)
        self.base_label.setObjectName("adapterBase")
        self.base_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.base_label.linkActivated.connect(self._link)
        self.banner = selectable_label(rich=True)
        self.banner.setObjectName("adapterConfigProblem")
        self.banner.hide()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(FIELD_COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 230)
        header.resizeSection(1, 260)
        self.tree.currentItemChanged.connect(self._selected)
        splitter, self.detail = with_detail_below(self.tree, 4)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.base_label)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        palette.notifier().changed.connect(self._scheme_changed)
        self._clear(PLACEHOLDER)

    # --- CheckpointTab ----------------------------------------------------------------------------------

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        self._checkpoint = checkpoint
        self.jobs.cancel()
        if checkpoint is None:
            self._dirty = False
            self._clear(PLACEHOLDER)
            return
        self._clear(f"<b>{escape(display_text(checkpoint.id))}</b> — reading adapter_config.json…")
        self._dirty = True
        if self.isVisible():
            self.activate()

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self._checkpoints = list(checkpoints)
        if self._weights is not None and self._checkpoint is not None:
            self._find_base()
        else:
            # A job reading the adapter looks the base up in the list it was given: look again when it ends.
            self._list_changed = True

    def activate(self) -> None:
        if self._dirty and self._checkpoint is not None:
            self._dirty = False
            self._load(self._checkpoint)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.activate()

    def weights(self) -> AdapterWeights | None:
        return self._weights

    def base(self) -> Checkpoint | None:
        return self._base

    # --- jobs -------------------------------------------------------------------------------------------

    def _load(self, checkpoint: Checkpoint) -> None:
        checkpoints = list(self._checkpoints)
        self._list_changed = False

        def job(cancel):
            yield Progress(0, 2, "reading adapter_config.json and the adapter's header")
            weights = read_adapter_weights(checkpoint)
            cancel.raise_if_cancelled()
            yield Progress(1, 2, "looking for the base model")
            config = weights.config
            named = config.base_model if config is not None else checkpoint.base_model
            return weights, find_base_checkpoint(named, checkpoints, config.revision if config is not None else None)

        self.jobs.start("adapter", job, done=self._loaded, failed=lambda message, _details: self._failed(message))

    def _find_base(self) -> None:
        weights, checkpoints = self._weights, list(self._checkpoints)
        config = weights.config if weights is not None else None
        named = config.base_model if config is not None else (self._checkpoint.base_model if self._checkpoint else None)

        def job(cancel):
            yield Progress(0, 1, "looking for the base model")
            return find_base_checkpoint(named, checkpoints, config.revision if config is not None else None)

        self.jobs.start("base", job, done=self._base_found)

    def _loaded(self, result) -> None:
        weights, base = result
        self._weights = weights
        self._base = base
        self._render()
        self.report_shown.emit(weights)
        if base is None and self._list_changed:
            self._list_changed = False
            self._find_base()

    def _base_found(self, base: Checkpoint | None) -> None:
        self._base = base
        if self._weights is not None:
            self.base_label.setText(base_html(self._weights.config, self._checkpoint, base))

    def _failed(self, message: str) -> None:
        self._clear(f"<b>{escape(display_text(self._checkpoint.id)) if self._checkpoint else ''}</b>")
        self._show_banner([message])

    # --- rendering ----------------------------------------------------------------------------------------

    def _clear(self, title: str) -> None:
        self._weights = None
        self._base = None
        self.title.setText(title)
        self.base_label.clear()
        self.base_label.hide()
        self.banner.hide()
        self.tree.clear()
        self.detail.clear()

    def _show_banner(self, problems: list[str]) -> None:
        if not problems:
            self.banner.hide()
            return
        lines = "<br>".join(escape(display_text(p)) for p in problems)
        self.banner.setText(colored("error", lines))
        self.banner.show()

    def _render(self) -> None:
        weights = self._weights
        if weights is None:
            return
        self.title.setText(title_html(self._checkpoint, weights))
        self.base_label.setText(base_html(weights.config, self._checkpoint, self._base))
        self.base_label.show()
        self._show_banner(weights.problems)
        self.tree.clear()
        self.detail.clear()
        config = weights.config
        if config is None:
            return
        bold = QFont(self.tree.font())
        bold.setBold(True)
        facts = QTreeWidgetItem(self.tree, ["Adapter"])
        facts.setFont(0, bold)
        facts.setFirstColumnSpanned(True)
        for label, value, meaning in facts_rows(config, weights):
            item = QTreeWidgetItem(facts, [label, value, meaning])
            item.setToolTip(1, value)
            item.setToolTip(2, meaning)
        fields = adapter_fields(config)
        groups = (("Main fields", [f for f in fields if f.main]), ("Other fields", [f for f in fields if not f.main]))
        muted = palette.qcolor("muted")
        for title, members in groups:
            if not members:
                continue
            group = QTreeWidgetItem(self.tree, [f"{title} ({len(members)})"])
            group.setFont(0, bold)
            group.setFirstColumnSpanned(True)
            for entry in members:
                item = QTreeWidgetItem(group, [entry.key, entry.shown, entry.explanation])
                item.setData(0, FieldRole, entry)
                item.setToolTip(1, entry.shown)
                item.setToolTip(2, entry.explanation or "peft documents no meaning for this field that this app knows of")
                if entry.value is None:
                    item.setForeground(1, muted)
        facts.setExpanded(True)
        for index in range(1, self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(index)
            # Other fields are mostly peft's defaults: folded, one click away.
            top.setExpanded(top.text(0).startswith("Main"))

    def _scheme_changed(self, _scheme: str) -> None:
        if self._weights is not None:
            self._render()

    def _selected(self, current: QTreeWidgetItem | None, _previous) -> None:
        entry = current.data(0, FieldRole) if current is not None else None
        if isinstance(entry, AdapterField):
            self.detail.setHtml(field_detail_html(entry))
        elif current is not None and current.parent() is not None:
            self.detail.setHtml(f"<h3 style='margin:0'>{escape(current.text(0))}: {escape(current.text(1))}</h3><p>{escape(current.text(2))}</p>")

    def _link(self, link: str) -> None:
        if link == SELECT_BASE and self._base is not None:
            self.select_requested.emit(self._base.key)


__all__ = ["AdapterConfigPage", "base_html", "title_html"]
