"""Overview of the selected checkpoint: identity, facts, problems, files and the model card."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from explorer.core.checkpoint import Checkpoint, display_text
from explorer.core.formatting import human_bytes, human_count
from explorer.core.jobs import Progress
from explorer.core.modelcard import SHOWN_FIELDS, ModelCard, read_model_card
from explorer.ui.browser import SOURCE_TITLES
from explorer.ui.workers import JobRunner


def _value_label() -> QLabel:
    label = QLabel()
    # Paths, ids and problems come from the disk; a folder named "<b>…" must show as typed.
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


def _section(heading: str, *widgets: QWidget) -> QWidget:
    """A headed column; the last widget takes the spare height."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    title = QLabel(heading)
    title.setObjectName("sectionHeading")
    layout.addWidget(title)
    for widget in widgets[:-1]:
        layout.addWidget(widget)
    layout.addWidget(widgets[-1], 1)
    return box


class OverviewPane(QWidget):
    copy_path_requested = Signal()
    open_folder_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._checkpoint: Checkpoint | None = None
        self._card_runner: JobRunner | None = None

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setObjectName("overviewTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        title_font = self.title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.5)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.badges = QLabel()
        self.badges.setObjectName("overviewBadges")
        self.badges.setTextFormat(Qt.TextFormat.RichText)
        self.copy_button = copy_button = QPushButton("Copy path")
        copy_button.clicked.connect(self.copy_path_requested)
        self.open_button = open_button = QPushButton("Open folder")
        open_button.clicked.connect(self.open_folder_requested)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(copy_button)
        head.addWidget(open_button)

        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key, label in (
            ("path", "Path"),
            ("source", "Source"),
            ("revision", "Revision"),
            ("model_type", "Model type"),
            ("architectures", "Architectures"),
            ("parameters", "Parameters"),
            ("size", "Size on disk"),
            ("tokenizer", "Tokenizer"),
            ("custom_code", "Custom code"),
            ("modified", "Last modified"),
        ):
            self.fields[key] = _value_label()
            form.addRow(label + ":", self.fields[key])

        self.problems = QLabel()
        self.problems.setTextFormat(Qt.TextFormat.PlainText)
        self.problems.setObjectName("overviewProblems")
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.files = QTableWidget(0, 2)
        self.files.setHorizontalHeaderLabels(["File", "Size"])
        self.files.verticalHeader().hide()
        self.files.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.files.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.files.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.files.setAlternatingRowColors(True)
        self.files.verticalHeader().setDefaultSectionSize(self.files.fontMetrics().height() + 6)

        facts = QWidget()
        facts_layout = QVBoxLayout(facts)
        facts_layout.setContentsMargins(0, 0, 0, 0)
        facts_layout.addLayout(head)
        facts_layout.addWidget(self.badges)
        facts_layout.addLayout(form)
        facts_layout.addWidget(self.problems)
        facts_layout.addStretch(1)
        facts_scroll = QScrollArea()
        facts_scroll.setWidgetResizable(True)
        facts_scroll.setFrameShape(QFrame.Shape.NoFrame)
        facts_scroll.setWidget(facts)

        self.card_fields = QLabel()
        self.card_fields.setObjectName("cardFields")
        self.card_fields.setWordWrap(True)
        self.card_fields.setTextFormat(Qt.TextFormat.RichText)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)  # offline by default: links are shown, not followed
        self.card.setOpenLinks(False)
        card_box = _section("Model card (README.md)", self.card_fields, self.card)
        files_box = _section("Files", self.files)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(facts_scroll)
        top.addWidget(files_box)
        top.setSizes([520, 320])
        outer = QSplitter(Qt.Orientation.Vertical)
        outer.addWidget(top)
        outer.addWidget(card_box)
        outer.setSizes([380, 320])
        layout = QVBoxLayout(self)
        layout.addWidget(outer)
        self.set_checkpoint(None)

    def checkpoint(self) -> Checkpoint | None:
        return self._checkpoint

    def set_checkpoint(self, ckpt: Checkpoint | None) -> None:
        self._checkpoint = ckpt
        self._stop_card_runner()
        for button in (self.copy_button, self.open_button):
            button.setEnabled(ckpt is not None)
        if ckpt is None:
            self.title.setText("Select a checkpoint")
            self.badges.clear()
            for label in self.fields.values():
                label.clear()
            self.problems.clear()
            self.problems.hide()
            self.files.setRowCount(0)
            self.card_fields.clear()
            self.card.setPlainText("")
            return
        self.title.setText(display_text(ckpt.id))
        self._show_badges(ckpt, None)
        f = self.fields
        f["path"].setText(display_text(ckpt.path))
        f["source"].setText(f"{SOURCE_TITLES.get(ckpt.source, ckpt.source)} ({display_text(ckpt.origin or '')})")
        if ckpt.revision:
            refs = f"  —  refs: {', '.join(ckpt.refs)}" if ckpt.refs else "  —  no ref points here (older revision)"
            f["revision"].setText(ckpt.revision + refs)
        else:
            f["revision"].setText("— (a plain folder)")
        f["model_type"].setText(ckpt.model_type or "unknown")
        f["architectures"].setText(", ".join(ckpt.architectures) or "none listed")
        if ckpt.num_parameters is None:
            f["parameters"].setText("unknown (no safetensors headers)")
        else:
            by_dtype = ", ".join(f"{human_count(n)} {dtype}" for dtype, n in sorted(ckpt.dtypes.items(), key=lambda kv: -kv[1]))
            f["parameters"].setText(f"{human_count(ckpt.num_parameters)} ({ckpt.num_parameters:,})  —  {by_dtype}")
        size = human_bytes(ckpt.size_bytes)
        if ckpt.repo_size_bytes is not None and ckpt.repo_size_bytes != ckpt.size_bytes:
            size += f"  (whole repo, all revisions: {human_bytes(ckpt.repo_size_bytes)})"
        f["size"].setText(size)
        f["tokenizer"].setText("present" if ckpt.has_tokenizer else "none in this checkpoint")
        if ckpt.needs_remote_code:
            code = ", ".join(ckpt.remote_code_files) or "auto_map in config.json"
            f["custom_code"].setText(f"yes: {code} (never runs without your consent; see the Config tab)")
        else:
            f["custom_code"].setText("no")
        f["modified"].setText(
            dt.datetime.fromtimestamp(ckpt.last_modified).strftime("%Y-%m-%d %H:%M") if ckpt.last_modified else "unknown"
        )
        self.problems.setText("Problems:\n" + "\n".join(f"• {display_text(p)}" for p in ckpt.problems))
        self.problems.setVisible(bool(ckpt.problems))
        self.files.setRowCount(len(ckpt.files))
        for row, entry in enumerate(ckpt.files):
            self.files.setItem(row, 0, QTableWidgetItem(display_text(entry.name)))
            size_item = QTableWidgetItem(human_bytes(entry.size) if entry.size is not None else "missing")
            size_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.files.setItem(row, 1, size_item)
        self._read_card(ckpt)

    def _show_badges(self, ckpt: Checkpoint, card: ModelCard | None) -> None:
        badges = []
        tags = card.front_matter.get("tags") if card is not None else None
        if isinstance(tags, list) and "random-weights" in tags:
            badges.append(("#5c2d91", "random weights"))
        if ckpt.has_tokenizer:
            badges.append(("#1f6f43", "tokenizer"))
        if ckpt.needs_remote_code:
            badges.append(("#8a4b00", "custom code"))
        if ckpt.problems:
            badges.append(("#a4262c", f"{len(ckpt.problems)} problem" + ("s" if len(ckpt.problems) > 1 else "")))
        self.badges.setText(
            " ".join(f'<span style="background:{c};color:white;padding:2px 6px;border-radius:3px">&nbsp;{t}&nbsp;</span>' for c, t in badges)
        )

    def _read_card(self, ckpt: Checkpoint) -> None:
        """README.md (up to 2 MiB, plus YAML parsing) is read in a worker: a slow disk must not freeze selection."""
        self._stop_card_runner()
        self.card_fields.setText("")
        self.card.setMarkdown("*Reading the model card…*")

        def job(cancel):
            yield Progress(0, 1, "reading README.md")
            return read_model_card(ckpt.file_path("README.md"))

        runner = JobRunner(job, self)
        # Bound methods, not lambdas: Qt drops the connection if this pane is deleted first.
        runner.finished.connect(self._card_read)
        runner.failed.connect(self._card_failed)
        self._card_runner = runner
        runner.start()

    def _stop_card_runner(self) -> None:
        runner, self._card_runner = self._card_runner, None
        if runner is not None:
            runner.cancel()
            runner.finished.disconnect(self._card_read)
            runner.failed.disconnect(self._card_failed)

    def _card_read(self, card: ModelCard | None) -> None:
        if self._checkpoint is not None:
            self._show_badges(self._checkpoint, card)
        self._show_card(card)

    def _card_failed(self, message: str, _details: str) -> None:
        self._show_card(ModelCard(problem=f"README.md cannot be read ({message})"))

    def is_busy(self) -> bool:
        return self._card_runner is not None and self._card_runner.is_running()

    def _show_card(self, card) -> None:
        if card is None:
            self.card_fields.setText("")
            self.card.setMarkdown("*This checkpoint has no model card (README.md).*")
            return
        rows = [f"<b>{name}</b>: {_escape(card.field_text(name))}" for name in SHOWN_FIELDS if card.field_text(name)]
        if card.problem:
            rows.append(f'<span style="color:#a4262c">{_escape(card.problem)}</span>')
        self.card_fields.setText(" &nbsp;·&nbsp; ".join(rows))
        self.card.setMarkdown(card.body)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
