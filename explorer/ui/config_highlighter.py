"""Read-only Python highlighting for the custom-code viewer (a checkpoint's own .py files)."""

from __future__ import annotations

import keyword
import re

from PySide6.QtGui import QFont, QSyntaxHighlighter, QTextCharFormat

from explorer.ui import palette

_BUILTINS = (
    "print", "len", "range", "super", "isinstance", "getattr", "setattr", "hasattr", "open", "exec", "eval",
    "__import__", "compile", "dict", "list", "tuple", "set", "int", "float", "str", "bool", "type", "object",
)
# exec/eval/import-time side effects are what a reviewer looks for first; make them stand out.
_RISKY = (
    "exec", "eval", "__import__", "compile", "os.system", "subprocess", "socket", "urllib", "requests", "open",
    "write_text", "write_bytes", "unlink", "rmtree", "remove", "pickle", "marshal", "ctypes",
)

_STATE_NONE = 0
_STATE_TRIPLE_DOUBLE = 1
_STATE_TRIPLE_SINGLE = 2


def _format(role: str, bold: bool = False, italic: bool = False, background: str | None = None) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(palette.qcolor(role))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if italic:
        fmt.setFontItalic(True)
    if background:
        fmt.setBackground(palette.qcolor(background))
    return fmt


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, strings (triple-quoted across lines), comments, numbers, decorators, risky calls."""

    def __init__(self, document) -> None:
        super().__init__(document)
        self.formats: dict[str, QTextCharFormat] = {}
        self._set_formats()
        self._rules: list[tuple[re.Pattern[str], str, int]] = [
            (re.compile(r"\b(" + "|".join(keyword.kwlist) + r")\b"), "keyword", 0),
            (re.compile(r"\b(" + "|".join(_BUILTINS) + r")\b(?=\s*\()"), "builtin", 0),
            (re.compile(r"\b(?:def|class)\s+(\w+)"), "definition", 1),
            (re.compile(r"\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b"), "number", 0),
            (re.compile(r"^\s*@[\w.]+"), "decorator", 0),
            (re.compile(r"\b(" + "|".join(re.escape(r) for r in _RISKY) + r")\b"), "risky", 0),
        ]
        self._string = re.compile(r"[rbfuRBFU]{0,2}('''|\"\"\"|'|\")")

    def _set_formats(self) -> None:
        # Palette roles rather than an editor theme: readable on the light and the dark scheme alike.
        self.formats = {
            "keyword": _format("accent", bold=True),
            "builtin": _format("link", italic=True),
            "definition": _format("text", bold=True),
            "string": _format("ok"),
            "comment": _format("muted", italic=True),
            "number": _format("accent"),
            "decorator": _format("warning"),
            "risky": _format("error", bold=True, background="error_bg"),
        }

    def repaint_colours(self) -> None:
        """The formats of the current colour scheme, applied to the whole text again."""
        self._set_formats()
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt override)
        for pattern, name, group in self._rules:
            for match in pattern.finditer(text):
                start, end = match.span(group)
                self.setFormat(start, end - start, self.formats[name])
        self._strings_and_comments(text)

    def _strings_and_comments(self, text: str) -> None:
        """Strings and comments last, so keywords inside them are not highlighted."""
        self.setCurrentBlockState(_STATE_NONE)
        position = 0
        state = self.previousBlockState()
        if state in (_STATE_TRIPLE_DOUBLE, _STATE_TRIPLE_SINGLE):
            delimiter = '"""' if state == _STATE_TRIPLE_DOUBLE else "'''"
            end = text.find(delimiter)
            if end < 0:
                self.setFormat(0, len(text), self.formats["string"])
                self.setCurrentBlockState(state)
                return
            self.setFormat(0, end + 3, self.formats["string"])
            position = end + 3
        while position < len(text):
            hash_at = text.find("#", position)
            match = self._string.search(text, position)
            if hash_at >= 0 and (match is None or hash_at < match.start()):
                self.setFormat(hash_at, len(text) - hash_at, self.formats["comment"])
                return
            if match is None:
                return
            delimiter = match.group(1)
            start = match.start()
            search_from = match.end()
            while True:
                end = text.find(delimiter, search_from)
                if end < 0 or len(delimiter) == 3 or not _escaped(text, end):
                    break
                search_from = end + 1
            if end < 0:
                self.setFormat(start, len(text) - start, self.formats["string"])
                if len(delimiter) == 3:
                    self.setCurrentBlockState(_STATE_TRIPLE_DOUBLE if delimiter == '"""' else _STATE_TRIPLE_SINGLE)
                return
            self.setFormat(start, end + len(delimiter) - start, self.formats["string"])
            position = end + len(delimiter)


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    index -= 1
    while index >= 0 and text[index] == "\\":
        backslashes += 1
        index -= 1
    return backslashes % 2 == 1
