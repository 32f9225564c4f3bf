"""Chat template inspector: the template's source and text (Jinja highlighted), and the prompt it renders
with and without the generation prompt, special tokens marked, with token counts."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from explorer.tasks.chat_template import ChatTemplateResult, Rendering, TemplateFound
from explorer.ui.config_common import monospace
from explorer.ui.demo_load import notice_style
from explorer.ui.demo_views.common import ResultView
from explorer.ui.palette import color, qcolor

# Jinja's delimiters; the open ones may carry whitespace control ("{%-", "{{+").
OPENERS = {"{%": "%}", "{{": "}}", "{#": "#}"}
_STATE_TEXT, _STATE_STATEMENT, _STATE_EXPRESSION, _STATE_COMMENT = -1, 1, 2, 3
_STATE_OF = {"{%": _STATE_STATEMENT, "{{": _STATE_EXPRESSION, "{#": _STATE_COMMENT}
_CLOSER_OF = {_STATE_STATEMENT: "%}", _STATE_EXPRESSION: "}}", _STATE_COMMENT: "#}"}
_OPENER = re.compile(r"\{[%{#][-+]?")
KEYWORDS = (
    "for", "in", "endfor", "if", "elif", "else", "endif", "set", "endset", "macro", "endmacro", "call", "endcall",
    "filter", "endfilter", "raw", "endraw", "generation", "endgeneration", "with", "endwith", "not", "and", "or",
    "is", "recursive", "true", "false", "none", "True", "False", "None", "import", "include", "from", "as",
)
_KEYWORD = re.compile(r"\b(?:" + "|".join(KEYWORDS) + r")\b")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_FILTER = re.compile(r"\|\s*(\w+)")


def _format(role: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(qcolor(role))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if italic:
        fmt.setFontItalic(True)
    return fmt


class JinjaHighlighter(QSyntaxHighlighter):
    """{% statements %} and their keywords, {{ expressions }}, filters, strings, numbers and {# comments #},
    across lines; the literal text the template writes stays plain."""

    def __init__(self, document) -> None:
        super().__init__(document)
        self.formats = {
            "statement": _format("code_keyword", bold=True),
            "keyword": _format("code_keyword"),
            "expression": _format("code_definition", bold=True),
            "variable": _format("code_definition"),
            "filter": _format("code_builtin", italic=True),
            "string": _format("code_string"),
            "number": _format("code_number"),
            "comment": _format("code_comment", italic=True),
        }

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt override)
        state = self.previousBlockState()
        position = 0
        while position < len(text):
            if state in (_STATE_TEXT, 0):
                match = _OPENER.search(text, position)
                if match is None:
                    break
                state = _STATE_OF[match.group(0)[:2]]
                self.setFormat(match.start(), len(match.group(0)), self._delimiter(state))
                position = match.end()
                continue
            end, close_end = self._closing(text, position, state)
            self._inside(text, position, end, state)
            if close_end is None:  # the tag goes on to the next line
                position = len(text)
                break
            self.setFormat(end, close_end - end, self._delimiter(state))
            position, state = close_end, _STATE_TEXT
        self.setCurrentBlockState(state if state != 0 else _STATE_TEXT)

    def _delimiter(self, state: int) -> QTextCharFormat:
        if state == _STATE_COMMENT:
            return self.formats["comment"]
        return self.formats["statement" if state == _STATE_STATEMENT else "expression"]

    def _closing(self, text: str, position: int, state: int) -> tuple[int, int | None]:
        """Where the tag's content ends and its closing delimiter ends (None: not on this line).

        Quotes are skipped in statements and expressions, as Jinja's lexer skips them."""
        closer = _CLOSER_OF[state]
        index = position
        while index < len(text):
            char = text[index]
            if state != _STATE_COMMENT and char in "'\"":
                index = self._string_end(text, index)
                continue
            if text.startswith(closer, index):
                start = index - 1 if index > position and text[index - 1] in "-+" else index
                return start, index + len(closer)
            index += 1
        return len(text), None

    @staticmethod
    def _string_end(text: str, start: int) -> int:
        quote, index = text[start], start + 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text[index] == quote:
                return index + 1
            index += 1
        return len(text)

    def _inside(self, text: str, start: int, end: int, state: int) -> None:
        if end <= start:
            return
        if state == _STATE_COMMENT:
            self.setFormat(start, end - start, self.formats["comment"])
            return
        if state == _STATE_EXPRESSION:
            self.setFormat(start, end - start, self.formats["variable"])
        content = text[start:end]
        for pattern, name, group in ((_KEYWORD, "keyword", 0), (_NUMBER, "number", 0), (_FILTER, "filter", 1)):
            for match in pattern.finditer(content):
                self.setFormat(start + match.start(group), match.end(group) - match.start(group), self.formats[name])
        index = start
        while index < end:  # strings last: keywords inside them are text
            if text[index] in "'\"":
                stop = min(self._string_end(text, index), end)
                self.setFormat(index, stop - index, self.formats["string"])
                index = stop
            else:
                index += 1


def _label(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def _template_caption(template: TemplateFound) -> str:
    return f"{template.name} — {template.file} ({'read by the ' + template.reader if template.used else 'not used'})"


NEWLINE_MARK = "↵"  # where the template writes a line break: it matters in a prompt, and a last one is invisible
# Between the characters of a special token: Qt's line breaking would cut "<|im_end|>" after its "|".
WORD_JOINER = "\u2060"
_SHOWN_ONLY = str.maketrans("", "", NEWLINE_MARK + WORD_JOINER)


def _visible(text: str) -> str:
    return html.escape(text).replace("\n", f"<span style='color:{color('muted')};'>{NEWLINE_MARK}</span>\n")


def _unbroken(token: str) -> str:
    return WORD_JOINER.join(html.escape(char) for char in token)


class PromptBrowser(QTextBrowser):
    """A rendered prompt: copying it gives the prompt's own text, without the marks drawn in it."""

    def __init__(self) -> None:
        super().__init__()
        self.setOpenLinks(False)
        self.setMinimumHeight(60)
        self.setFont(monospace())  # where a space or a line break goes matters in a prompt

    def prompt_text(self) -> str:
        return self.toPlainText().translate(_SHOWN_ONLY)

    def createMimeDataFromSelection(self) -> QMimeData:  # noqa: N802 (Qt override)
        data = QMimeData()
        data.setText(self.textCursor().selection().toPlainText().translate(_SHOWN_ONLY))
        return data


def rendering_html(rendering: Rendering) -> str:
    """The rendered prompt with its special tokens (and added ones) on the highlight colours, line breaks marked."""
    colours = {"special": color("highlight_1"), "added": color("highlight_2")}
    text, ink = rendering.text, color("text")
    parts, position = [], 0
    for span in sorted(rendering.special_tokens, key=lambda item: item.start):
        if span.start < position:
            continue
        tip = html.escape(f"{span.token} · id {span.id} · {span.kind} token", quote=True)
        parts.append(_visible(text[position:span.start]))
        parts.append(f"<span style='background-color:{colours.get(span.kind, colours['special'])}; color:{ink};' title='{tip}'>"
                     f"{_unbroken(text[span.start:span.end])}</span>")
        position = span.end
    parts.append(_visible(text[position:]))
    return "<div style='font-size:11pt; line-height:150%; white-space:pre-wrap;'>" + "".join(parts) + "</div>"


class ChatTemplateView(ResultView):
    def show_result(self, result: ChatTemplateResult) -> None:
        super().show_result(result)
        self.templates = list(result.templates)
        if result.no_template_message:
            self.message = _label(result.no_template_message, "no_template_message")
            self.message.setStyleSheet(notice_style("warning"))
            self.layout_.addWidget(self.message)
        else:
            source = html.escape(result.template_file or "set by the tokenizer's class, not a file")
            tools = "reads <code>tools</code>" if result.reads_tools else "does not read <code>tools</code>"
            self.layout_.addWidget(_label(
                f"Template <b>{html.escape(result.template_name or '')}</b> from <b>{source}</b> · "
                f"{html.escape(result.picked_because)} · {tools} · {html.escape(result.tokenizer_class)}",
                "template_source",
            ))
        if result.no_template_message and not self.templates:
            checked = _label(
                "Looked where AutoTokenizer looks: chat_template.jinja, additional_chat_templates/*.jinja, and "
                "tokenizer_config.json's chat_template; and for a processor's chat_template.json.",
                "no_template_checked",
            )
            checked.setStyleSheet(f"color: {color('muted')};")
            self.layout_.addWidget(checked)
            return
        # The prompts on top, side by side to compare; the template below them.
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("chat_template_splitter")
        if not result.no_template_message:
            splitter.addWidget(self._rendering_panel(result))
        splitter.addWidget(self._template_panel(result))
        if not result.no_template_message:
            splitter.setSizes([330, 270])
        self.layout_.addWidget(splitter, 1)

    def _template_panel(self, result: ChatTemplateResult) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        self.template_choice = QComboBox()
        self.template_choice.setObjectName("template_choice")
        self.template_choice.setToolTip("Every chat template in the checkpoint's files, in the order transformers reads them")
        self.template_note = _label("", "template_note")
        self.template_note.setStyleSheet(f"color: {color('muted')};")
        self.template_text = QPlainTextEdit()
        self.template_text.setObjectName("template_text")
        self.template_text.setReadOnly(True)
        self.template_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.template_text.setFont(monospace())
        self.highlighter = JinjaHighlighter(self.template_text.document())
        if self.templates:
            layout.addWidget(QLabel(f"<b>Templates in the checkpoint</b> ({len(self.templates)})"))
            self.template_choice.addItems([_template_caption(t) for t in self.templates])
            layout.addWidget(self.template_choice)
            layout.addWidget(self.template_note)
        elif result.template_text is not None:
            layout.addWidget(QLabel("<b>Template</b> (set by the tokenizer's class)"))
        layout.addWidget(self.template_text, 1)
        self.template_choice.currentIndexChanged.connect(self._show_template)
        rendered = next((i for i, t in enumerate(self.templates) if t.used and t.reader == "tokenizer" and t.name == result.template_name
                         and t.text == result.template_text), None)
        if rendered is not None:
            self.template_choice.setCurrentIndex(rendered)
            self._show_template(rendered)
        elif self.templates:
            self._show_template(0)
        else:
            self.template_text.setPlainText(result.template_text or "")
        return panel

    def _show_template(self, index: int) -> None:
        if not 0 <= index < len(self.templates):
            return
        template = self.templates[index]
        result = self.result
        rendered = isinstance(result, ChatTemplateResult) and template.text == result.template_text and template.used and template.reader == "tokenizer"
        notes = ["rendered above" if rendered else "not rendered"]
        if template.note:
            notes.append(template.note)
        notes.append(f"{len(template.text):,} characters")
        notes.append("reads tools" if template.mentions_tools else "does not read tools")
        self.template_note.setText(" · ".join(notes))
        self.template_text.setPlainText(template.text)

    def _rendering_panel(self, result: ChatTemplateResult) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        legend = (
            f"<span style='background-color:{color('highlight_1')}; color:{color('text')};'>&nbsp;special token&nbsp;</span> "
            f"<span style='background-color:{color('highlight_2')}; color:{color('text')};'>&nbsp;added token&nbsp;</span> "
            f"<span style='color:{color('muted')};'>{NEWLINE_MARK} line break</span>"
        )
        layout.addWidget(_label(legend, "rendering_legend"))
        self.renderings: dict[bool, PromptBrowser] = {}
        columns = QHBoxLayout()
        layout.addLayout(columns, 1)
        for rendering, add_prompt in ((result.without_generation_prompt, False), (result.with_generation_prompt, True)):
            which = "With" if add_prompt else "Without"
            chosen = " (the summary's)" if add_prompt == result.add_generation_prompt else ""
            column = QVBoxLayout()
            columns.addLayout(column, 1)
            if rendering is None:
                column.addWidget(_label(f"<b>{which} the generation prompt</b>: the template failed (see the notices)"))
                column.addStretch(1)
                continue
            special = sum(1 for span in rendering.special_tokens if span.kind == "special")
            heading = _label(
                f"<b>{which} the generation prompt</b>{chosen}: <b>{rendering.tokens}</b> tokens ({special} special), "
                f"{len(rendering.text):,} characters",
                f"rendering_heading_{'with' if add_prompt else 'without'}",
            )
            column.addWidget(heading)
            browser = PromptBrowser()
            browser.setObjectName(f"rendering_{'with' if add_prompt else 'without'}")
            browser.setHtml(rendering_html(rendering))
            column.addWidget(browser, 1)
            self.renderings[add_prompt] = browser
        if result.generation_prompt is not None:
            prompt = html.escape(repr(result.generation_prompt))
            layout.addWidget(_label(f"The generation prompt adds <code>{prompt}</code>", "generation_prompt"))
        return panel


VIEW = ChatTemplateView
