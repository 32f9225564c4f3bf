"""Overview of the selected checkpoint: identity, facts, problems, files and the model card.

Everything shown here comes from the disk. Labels wrap even an unbroken 3,000-character name,
so no text can widen the window. The model card never loads anything (no image, style sheet
or link target, local or remote): its document is built in a worker from a bounded part of the
card (``card_display``), its images become link-like placeholders, and it answers every
resource request with nothing.
"""

from __future__ import annotations

import datetime as dt
import re

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QFont, QImage, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument, QTextFormat
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

from explorer.core.checkpoint import FORMAT_ADAPTER, FORMAT_GGUF, FORMAT_TRANSFORMERS, Checkpoint, display_text
from explorer.core.format_summary import SummaryLine, format_summary, format_title
from explorer.core.formatting import human_bytes, human_count
from explorer.core.jobs import Progress
from explorer.core.modelcard import SHOWN_FIELDS, CardDisplay, ModelCard, card_display, read_model_card
from explorer.core.safe_io import one_line
from explorer.ui.browser import SOURCE_TITLES
from explorer.ui.palette import ROLES, color, notifier, qcolor
from explorer.ui.tab import CheckpointTab

ZERO_WIDTH_SPACE = "\u200b"


def _runs(characters: str, shortest: int) -> re.Pattern:
    # The lookbehind makes a match start only where a run starts: without it, each shorter run
    # is scanned again from each of its characters (quadratic in its length).
    return re.compile(rf"(?<![{characters}])[{characters}]{{{shortest},}}")


# A label wraps only where a line may break; a run longer than this gets invisible break points.
_LABEL_RUN = 40
_UNBREAKABLE_LABEL_RUN = _runs(rf"^\s/\-{ZERO_WIDTH_SPACE}", _LABEL_RUN + 1)
# Qt's wrap-anywhere fallback costs time quadratic in a run's length (16 s for one 1 MB word):
# runs this long in the card get a break point every _CARD_RUN_STEP characters.
_CARD_RUN = 1000
_CARD_RUN_STEP = 100
# Frame and object markers (tables, images) are document structure, never a place to insert text.
_UNBREAKABLE_CARD_RUN = _runs(rf"^\s{ZERO_WIDTH_SPACE}\ufdd0-\ufdd2\ufffc", _CARD_RUN)

# Lines longer than this (a 4,000-character path) keep their start and end around an ellipsis.
LABEL_LINE_LIMIT = 600


def wrappable(text: str) -> str:
    """``text`` with a zero-width space every few dozen characters of a run a line cannot break in,
    and each line past LABEL_LINE_LIMIT characters shortened in its middle."""

    half = LABEL_LINE_LIMIT // 2
    lines = [line if len(line) <= LABEL_LINE_LIMIT else f"{line[:half]} … {line[-half:]}" for line in text.split("\n")]
    return _with_break_points("\n".join(lines), _UNBREAKABLE_LABEL_RUN, _LABEL_RUN)


def _with_break_points(text: str, runs: re.Pattern, step: int) -> str:
    def split(match: re.Match) -> str:
        run = match.group(0)
        return ZERO_WIDTH_SPACE.join(run[i : i + step] for i in range(0, len(run), step))

    return runs.sub(split, text)


class _WrappingLabel(QLabel):
    """A plain-text label whose text always wraps, even a name with no space in it."""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(wrappable(text))


def _value_label() -> QLabel:
    label = _WrappingLabel()
    # Paths, ids and problems come from the disk; a folder named "<b>…" must show as typed.
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


def _no_resource(kind: int):
    # An image answered with nothing would be read by Qt's image handler straight from the path
    # (relative to the working directory): a transparent pixel stops it.
    if kind == QTextDocument.ResourceType.ImageResource.value:
        image = QImage(1, 1, QImage.Format.Format_ARGB32)
        image.fill(0)
        return image
    return None


class CardDocument(QTextDocument):
    """A document that loads no resource: no image, style sheet or background, local or remote."""

    def loadResource(self, kind: int, name: QUrl):  # noqa: N802 (Qt's name)
        return _no_resource(kind)


class CardBrowser(QTextBrowser):
    """Shows a CardDocument; follows no link and loads nothing, whatever document it holds."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(False)  # offline by default: links are shown, not followed
        self.setOpenLinks(False)
        self._shown: CardDocument | None = None
        self.show_document(CardDocument())

    def loadResource(self, kind: int, name: QUrl):  # noqa: N802 (Qt's name)
        return _no_resource(kind)

    def show_document(self, document: CardDocument) -> None:
        """Show ``document`` (built in a worker and moved to this thread) and own it."""
        # The first document, the browser's own, is deleted by Qt when replaced; ours are not.
        old, self._shown = self._shown, document
        document.setParent(self)
        self.setDocument(document)
        if old is not None and old is not document:
            old.deleteLater()


def build_card_document(display: CardDisplay, font: QFont, link_color: QColor, note_color: QColor | None = None) -> CardDocument:
    """The card as a document, built off the GUI thread: Markdown, then the plain rest after its note.

    Colours come in from the GUI thread (the scheme in force is asked there).

    The caller hands its content to the GUI thread as HTML. Layout happens there, bounded by
    ``card_display``'s budget and by the break points put into giant words.
    """
    document = CardDocument()
    document.setUndoRedoEnabled(False)
    document.setDefaultFont(font)
    if display.markdown:
        document.setMarkdown(display.markdown)
    _images_as_links(document, link_color)
    _break_giant_words(document)
    if display.plain:
        cursor = QTextCursor(document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        note_format = QTextCharFormat()
        note_format.setFontItalic(True)
        note_format.setForeground(note_color if note_color is not None else QColor(ROLES["error"][0]))
        if display.markdown:
            cursor.insertBlock(QTextBlockFormat(), note_format)
        else:
            cursor.setBlockFormat(QTextBlockFormat())
            cursor.setCharFormat(note_format)
        cursor.insertText(display.note or "")
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        # Megabytes of text take thousands of break points: cheap in the string, not one cursor insert each.
        cursor.insertText(_with_break_points(display.plain, _UNBREAKABLE_CARD_RUN, _CARD_RUN_STEP))
    return document


def document_from_html(html: str, font: QFont) -> CardDocument:
    """The card's document in the GUI thread, from the HTML of the one the worker built (Markdown parsed,
    images made links, giant words broken there)."""
    document = CardDocument()
    document.setUndoRedoEnabled(False)
    document.setDefaultFont(font)
    document.setHtml(html)
    return document


def _images_as_links(document: QTextDocument, link_color: QColor) -> None:
    """Every image becomes '[image: alt]' in link style, its target in the tooltip: nothing to load or paint."""
    images: list[tuple[int, str, str]] = []
    block = document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            char_format = fragment.charFormat()
            if char_format.isImageFormat():
                image = char_format.toImageFormat()
                alt = str(image.property(QTextFormat.Property.ImageAltText) or "")
                for offset in range(fragment.length()):
                    images.append((fragment.position() + offset, image.name(), alt))
            fragments += 1
        block = block.next()
    cursor = QTextCursor(document)
    for position, target, alt in reversed(images):
        placeholder = QTextCharFormat()
        placeholder.setAnchor(True)
        placeholder.setAnchorHref(target)
        placeholder.setForeground(link_color)  # as Qt's Markdown links: coloured, not underlined
        placeholder.setToolTip(one_line(f"Image not loaded: {target}", 200))
        cursor.setPosition(position)
        cursor.setPosition(position + 1, QTextCursor.MoveMode.KeepAnchor)
        name = alt or target.rsplit("/", 1)[-1]
        cursor.insertText(f"[image: {one_line(name, 80) or 'no name'}]", placeholder)


def _break_giant_words(document: QTextDocument) -> None:
    """Break points in the words of the Markdown part (at most its budget long), where the text is visible."""
    text = document.toRawText()  # one character per document position
    positions = [
        position
        for match in _UNBREAKABLE_CARD_RUN.finditer(text)
        for position in range(match.start() + _CARD_RUN_STEP, match.end(), _CARD_RUN_STEP)
    ]
    cursor = QTextCursor(document)
    cursor.beginEditBlock()  # one layout update for all of them, not one per insert
    for position in reversed(positions):
        cursor.setPosition(position)
        cursor.insertText(ZERO_WIDTH_SPACE)
    cursor.endEditBlock()


def _card_job(path: str | None, font: QFont, link_color: QColor, note_color: QColor):
    """Read, split and build the card in a worker; return (card, html): the document's content, for the GUI thread."""

    def job(cancel):
        yield Progress(0, 2, "reading README.md")
        card = read_model_card(path)
        if card is None:
            return None, None
        yield Progress(1, 2, "laying out the model card")
        document = build_card_document(card_display(card.body), font, link_color, note_color)
        if cancel.cancelled:
            return None, None  # the document is dropped in the thread it belongs to
        # The content goes to the GUI thread as HTML text, no Qt object: moving the document there
        # (moveToThread) could deadlock, holding the interpreter lock while it waits for a Qt lock that
        # the GUI thread holds while it waits for the interpreter (a disconnect asking Python).
        return card, document.toHtml()

    return job


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


class OverviewPane(CheckpointTab):
    copy_path_requested = Signal()
    open_folder_requested = Signal()
    card_shown = Signal()
    """Emitted once the selected checkpoint's model card (or its absence or problem) is on screen."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.title = _WrappingLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
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
            ("format", "Format"),
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

        # An adapter's type, rank and base, a GGUF's quantisation and context: read in a worker.
        self.format_facts = QLabel()
        self.format_facts.setObjectName("overviewFormatFacts")
        self.format_facts.setTextFormat(Qt.TextFormat.RichText)
        self.format_facts.setWordWrap(True)
        self.format_facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._checkpoints: list[Checkpoint] = []

        self.problems = _WrappingLabel()
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
        facts_layout.addWidget(self.format_facts)
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
        self.card = CardBrowser()
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
        notifier().changed.connect(self._scheme_changed)

    def _scheme_changed(self, _scheme: str) -> None:
        # Badges, the card's notes and its image links hold the old scheme's colours: show it all again.
        if self._checkpoint is not None:
            self.set_checkpoint(self._checkpoint)

    def set_checkpoint(self, ckpt: Checkpoint | None) -> None:
        self._checkpoint = ckpt
        self.jobs.cancel("card")
        self.jobs.cancel("format")
        self.format_facts.clear()
        self.format_facts.setVisible(ckpt is not None and ckpt.format != FORMAT_TRANSFORMERS)
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
        elif ckpt.format == FORMAT_GGUF:
            f["revision"].setText("— (a file)")
        else:
            f["revision"].setText("— (a plain folder)")
        f["format"].setText(format_title(ckpt))
        if ckpt.format == FORMAT_ADAPTER:
            f["model_type"].setText("the base model's (see below)")
            f["architectures"].setText("the base model's")
        elif ckpt.format == FORMAT_GGUF:
            f["model_type"].setText(f"{ckpt.model_type} (general.architecture)" if ckpt.model_type else "unknown")
            f["architectures"].setText("none: a GGUF file names no transformers class")
        else:
            f["model_type"].setText(ckpt.model_type or "unknown")
            f["architectures"].setText(", ".join(ckpt.architectures) or "none listed")
        if ckpt.num_parameters is None:
            f["parameters"].setText("unknown (no readable header)" if ckpt.format != FORMAT_TRANSFORMERS else "unknown (no safetensors headers)")
        else:
            by_dtype = ", ".join(f"{human_count(n)} {dtype}" for dtype, n in sorted(ckpt.dtypes.items(), key=lambda kv: -kv[1]))
            f["parameters"].setText(f"{human_count(ckpt.num_parameters)} ({ckpt.num_parameters:,})  —  {by_dtype}")
        size = human_bytes(ckpt.size_bytes)
        if ckpt.repo_size_bytes is not None and ckpt.repo_size_bytes != ckpt.size_bytes:
            size += f"  (whole repo, all revisions: {human_bytes(ckpt.repo_size_bytes)})"
        f["size"].setText(size)
        if ckpt.format == FORMAT_GGUF:
            f["tokenizer"].setText("in the GGUF metadata" if ckpt.has_tokenizer else "none in the GGUF metadata")
        elif ckpt.format == FORMAT_ADAPTER and not ckpt.has_tokenizer:
            f["tokenizer"].setText("none in the adapter folder: the base model's is used")
        else:
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
        # The scan says why a file has no size: a FIFO or device is there but unreadable, a broken link is missing.
        unreadable = {p.partition(": not a regular file")[0] for p in ckpt.problems if ": not a regular file" in p}
        for row, entry in enumerate(ckpt.files):
            self.files.setItem(row, 0, QTableWidgetItem(display_text(entry.name)))
            absent = "not a file" if entry.name in unreadable else "missing"
            size_item = QTableWidgetItem(human_bytes(entry.size) if entry.size is not None else absent)
            size_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.files.setItem(row, 1, size_item)
        self._read_card(ckpt)
        self._read_format_facts(ckpt)

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self._checkpoints = list(checkpoints)
        # An adapter's base may have been found since it was shown.
        if self._checkpoint is not None and self._checkpoint.format == FORMAT_ADAPTER:
            self._read_format_facts(self._checkpoint)

    def _read_format_facts(self, ckpt: Checkpoint) -> None:
        if ckpt.format == FORMAT_TRANSFORMERS:
            return
        checkpoints = list(self._checkpoints)

        def job(_cancel):
            yield Progress(0, 1, "reading the format's facts")
            return format_summary(ckpt, checkpoints)

        self.jobs.start("format", job, done=self._show_format_facts, failed=self._format_facts_failed)

    def _show_format_facts(self, lines: list[SummaryLine]) -> None:
        error = color("error")
        rows = []
        for line in lines:
            text = _escape(wrappable(line.text))
            if line.problem:
                text = f'<span style="color:{error}">{text}</span>'
            rows.append(f"<tr><td align='right' style='padding-right:8px'><b>{_escape(line.label)}:</b></td><td>{text}</td></tr>")
        self.format_facts.setText(f"<table cellspacing='2'>{''.join(rows)}</table>")

    def _format_facts_failed(self, message: str, _details: str) -> None:
        self.format_facts.setText(f'<span style="color:{color("error")}">{_escape(one_line(message))}</span>')

    def _show_badges(self, ckpt: Checkpoint, card: ModelCard | None) -> None:
        badges = []
        tags = card.front_matter.get("tags") if card is not None else None
        if isinstance(tags, list) and "random-weights" in tags:
            badges.append(("badge_random", "random weights"))
        if ckpt.has_tokenizer:
            badges.append(("badge_tokenizer", "tokenizer"))
        if ckpt.needs_remote_code:
            badges.append(("badge_code", "custom code"))
        if ckpt.problems:
            badges.append(("badge_problem", f"{len(ckpt.problems)} problem" + ("s" if len(ckpt.problems) > 1 else "")))
        text = color("badge_text")
        self.badges.setText(
            " ".join(
                f'<span style="background:{color(role)};color:{text};padding:2px 6px;border-radius:3px">&nbsp;{words}&nbsp;</span>'
                for role, words in badges
            )
        )

    def _read_card(self, ckpt: Checkpoint) -> None:
        """README.md (up to 2 MiB, plus YAML parsing) is read in a worker: a slow disk must not freeze selection."""
        self.card_fields.setText("")
        self.card.setMarkdown("*Reading the model card…*")
        self.jobs.start(
            "card", _card_job(ckpt.file_path("README.md"), QFont(self.card.font()), qcolor("link"), qcolor("error")),
            done=self._card_read, failed=self._card_failed,
        )

    def _card_read(self, result: tuple[ModelCard | None, CardDocument | None]) -> None:
        card, html = result
        if self._checkpoint is not None:
            self._show_badges(self._checkpoint, card)
        self._show_card(card, None if html is None else document_from_html(html, self.card.font()))

    def _card_failed(self, message: str, _details: str) -> None:
        self._show_card(ModelCard(problem=f"README.md cannot be read ({message})"))

    def _show_card(self, card: ModelCard | None, document: CardDocument | None = None) -> None:
        if card is None:
            self.card_fields.setText("")
            self.card.setMarkdown("*This checkpoint has no model card (README.md).*")
        else:
            rows = [f"<b>{name}</b>: {_escape(wrappable(card.field_text(name)))}" for name in SHOWN_FIELDS if card.field_text(name)]
            if card.problem:
                rows.append(f'<span style="color:{color("error")}">{_escape(wrappable(card.problem))}</span>')
            self.card_fields.setText(" &nbsp;·&nbsp; ".join(rows))
            if document is not None:
                self.card.show_document(document)
            else:
                self.card.setPlainText("")
        self.card_shown.emit()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
