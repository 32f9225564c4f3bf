"""Smaller panels of the Parameters tab: memory plan, head-matching summary, pickle imports, module source viewer."""

from __future__ import annotations

import html
import keyword
import re

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QFormLayout, QLabel, QPlainTextEdit, QSpinBox, QTextBrowser, QVBoxLayout, QWidget,
)

from explorer.core.formatting import human_bytes
from explorer.core.head_matching import HeadMatch
from explorer.core.memory_plan import DOES_NOT_FIT, FITS, MemoryPlan
from explorer.core.pickle_scan import PickleImports
from explorer.ui.palette import color, notifier, qcolor

# Anything else (fits with offload) is a warning.
VERDICT_ROLES = {FITS: "ok", DOES_NOT_FIT: "error"}


class MemoryPanel(QWidget):
    plan_requested = Signal(int, int)
    """Emitted with (context length, batch size) when the user changes the inputs."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.context = QSpinBox()
        self.context.setRange(1, 10_000_000)
        self.context.setSingleStep(1024)
        self.context.setValue(4096)
        self.context.setSuffix(" tokens")
        self.context.setToolTip("Tokens kept in the KV cache (prompt plus generated text)")
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        # One width for both, so the two inputs line up.
        width = max(160, self.context.sizeHint().width(), self.batch.sizeHint().width())
        for field_widget in (self.context, self.batch):
            field_widget.setMinimumWidth(width)
        form.addRow("Context length", self.context)
        form.addRow("Batch size", self.batch)
        layout.addLayout(form)
        self.result = QTextBrowser()
        self.result.setOpenLinks(False)
        layout.addWidget(self.result, 1)
        self.context.valueChanged.connect(self._changed)
        self.batch.valueChanged.connect(self._changed)
        self.result.setHtml("<i>The plan appears when the checkpoint's tensors are known.</i>")
        self._plans: list[MemoryPlan] | None = None
        notifier().changed.connect(self._scheme_changed)

    def _scheme_changed(self, _scheme: str) -> None:
        if self._plans:
            self.show_plans(self._plans)

    def _changed(self) -> None:
        self.plan_requested.emit(self.context.value(), self.batch.value())

    def request(self) -> None:
        self._changed()

    def show_plans(self, plans: list[MemoryPlan]) -> None:
        self._plans = plans
        if not plans:
            self.show_message("No weights to plan for.")
            return
        devices = [v.device for v in plans[0].verdicts]
        device_heads = "".join(f"<th align=left>{html.escape(d.id)}</th>" for d in devices)
        rows = []
        for plan in plans:
            label = "as stored" if plan.precision == "stored" else plan.precision
            cells = "".join(
                f"<td title='{html.escape(v.reason)}'><b style='color:{color(VERDICT_ROLES.get(v.verdict, 'warning'))}'>{v.verdict}</b></td>"
                for v in plan.verdicts
            )
            rows.append(
                f"<tr><td>{html.escape(label)}</td><td align=right>{human_bytes(plan.weight_bytes)}</td>"
                f"<td align=right>{human_bytes(plan.needed)}</td>{cells}</tr>"
            )
        first = plans[0]
        # Context and batch only size the KV cache; without one, changing them would change nothing.
        for field_widget in (self.context, self.batch):
            field_widget.setEnabled(first.kv_cache_bytes is not None)
        kv = (
            f"KV cache for {self.context.value():,} tokens × batch {self.batch.value()}: <b>{human_bytes(first.kv_cache_bytes)}</b> "
            "(in the compute dtype; included in <i>needed</i>)."
            if first.kv_cache_bytes is not None
            else "No KV cache: not a decoder, or its config does not give the attention sizes."
        )
        free = "; ".join(
            f"{html.escape(d.id)} ({html.escape(d.name)}): {human_bytes(d.free)} free of {human_bytes(d.total)}" for d in devices
        )
        self.result.setHtml(
            f"<p>{kv}<br><i>needed</i> = weights + KV cache + 10% working margin. Offload spills the rest to system RAM "
            f"(GPU) or disk (CPU), which works but is slow.</p>"
            f"<table cellpadding=4 cellspacing=0 border=0><tr><th align=left>weights</th><th align=right>size</th>"
            f"<th align=right>needed</th>{device_heads}</tr>{''.join(rows)}</table>"
            f"<p style='color:{color('muted')}'>{free}</p>"
        )

    def show_message(self, text: str) -> None:
        self._plans = None
        for field_widget in (self.context, self.batch):
            field_widget.setEnabled(True)
        self.result.setHtml(f"<i>{html.escape(text)}</i>")


def match_summary_html(match: HeadMatch | None, head: str | None, problems: list[str]) -> str:
    parts = []
    if problems:
        items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
        parts.append(f"<p><b style='color:{color('error')}'>Problems</b></p><ul>{items}</ul>")
    if match is None:
        parts.append("<p><i>Head matching needs both the model structure and the tensors on disk.</i></p>")
        return "".join(parts)
    if match.clean:
        parts.append(
            f"<p><b style='color:{color('ok')}'>Every weight of {html.escape(match.model_class)} is in the checkpoint</b> "
            f"(loaded with {html.escape(head or match.head)}). Nothing will be newly initialised or dropped.</p>"
        )
    else:
        parts.append(
            f"<p>Loading with <b>{html.escape(head or match.head)}</b> ({html.escape(match.model_class)}): "
            f"<b>{len(match.missing)}</b> missing (newly initialised, random until trained), "
            f"<b>{len(match.unexpected)}</b> unexpected (dropped), <b>{len(match.mismatched)}</b> shape mismatches.</p>"
        )

    def listing(title: str, background: str, lines: list[str]) -> None:
        if not lines:
            return
        shown = lines[:200]
        more = f"<li><i>… and {len(lines) - len(shown)} more</i></li>" if len(lines) > len(shown) else ""
        items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in shown)
        # The same colours as the rows of the module tree and the tensor table.
        parts.append(
            f"<p><b style='background:{color(background)}; color:{color('text')}'>&nbsp;{title}&nbsp;</b></p><ul>{items}{more}</ul>"
        )

    listing("Missing: newly initialised", "weight_missing_bg", match.missing)
    listing("Unexpected: dropped", "weight_unexpected_bg", match.unexpected)
    listing(
        "Shape mismatch",
        "weight_mismatch_bg",
        [f"{key}: checkpoint {list(ckpt)} vs model {list(model)}" for key, ckpt, model in match.mismatched],
    )
    if match.load_fails:
        parts.append(
            f"<p><b style='color:{color('error')}'>from_pretrained will raise an error</b> for the shape mismatches unless you pass "
            "<code>ignore_mismatched_sizes=True</code>; then those weights are newly initialised too.</p>"
        )
    if match.load_report:
        parts.append(
            "<p><b>What transformers prints when loading this way</b></p>"
            f"<pre style='background:{color('surface_alt')}; color:{color('text')}; padding:6px'>{html.escape(match.load_report)}</pre>"
        )
    if match.conversions:
        items = "".join(f"<li><code>{html.escape(c)}</code></li>" for c in match.conversions)
        parts.append(f"<p><b>Conversions transformers applies when loading</b></p><ul>{items}</ul>")
    return "".join(parts)


def _shown_name(name: str, limit: int = 80) -> str:
    return html.escape(name if len(name) <= limit else name[: limit - 1] + "…")


def pickle_imports_html(entries: list[PickleImports], most: int = 12) -> str:
    """What each pickle file would import and call, read from its opcodes: dangerous names in red."""
    if not entries:
        return ""
    rows = []
    for entry in entries:
        dangerous = entry.dangerous
        safe = len(entry.imports) - len(dangerous)
        if dangerous:
            names = ", ".join(
                f"<b style='color:{color('error')}'>{_shown_name(item.qualified_name)}</b>" + (f" (called {item.calls:,}×)" if item.calls else "")
                for item in dangerous[:most]
            )
            more = f" and {len(dangerous) - most:,} more" if len(dangerous) > most else ""
            verdict = f"<b style='color:{color('error')}'>dangerous:</b> {names}{more}" + (f"; {safe} safe" if safe else "")
        elif entry.imports:
            verdict = f"<span style='color:{color('ok')}'>only torch's tensor rebuilding</span> ({safe} names)"
        else:
            verdict = "<i>no imports</i>"
        if entry.problem:
            verdict += f"<br><i>{html.escape(entry.problem)}</i>"
        rows.append(f"<tr><td valign=top>{_shown_name(entry.file, 60)}</td><td>{verdict}</td></tr>")
    return (
        "<p><b>What the pickle files would import and call</b> (read from their opcodes; nothing was run)</p>"
        f"<table cellpadding=2>{''.join(rows)}</table>"
    )


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, strings, comments, decorators and numbers; enough to read a module's source comfortably."""

    def __init__(self, document) -> None:
        super().__init__(document)
        words = "|".join(re.escape(k) for k in keyword.kwlist + ["self"])
        self._patterns = [
            (QRegularExpression(rf"\b({words})\b"), "code_keyword", True, False),
            (QRegularExpression(r"\b[0-9]+(\.[0-9]+)?\b"), "code_number", False, False),
            (QRegularExpression(r"^\s*@[\w.]+"), "code_decorator", False, False),
            (QRegularExpression(r"\bdef\s+(\w+)|\bclass\s+(\w+)"), "code_definition", True, False),
            (QRegularExpression(r"'[^'\\]*(\\.[^'\\]*)*'|\"[^\"\\]*(\\.[^\"\\]*)*\""), "code_string", False, False),
            (QRegularExpression(r"#[^\n]*"), "code_comment", False, True),
        ]
        self._triple = QRegularExpression(r'"""|\'\'\'')
        self._make_formats()
        notifier().changed.connect(self._scheme_changed)

    def _make_formats(self) -> None:
        def fmt(role: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            result = QTextCharFormat()
            result.setForeground(qcolor(role))
            if bold:
                result.setFontWeight(QFont.Weight.Bold)
            result.setFontItalic(italic)
            return result

        self._rules = [(pattern, fmt(role, bold, italic)) for pattern, role, bold, italic in self._patterns]
        self._docstring = fmt("code_string", italic=True)

    def _scheme_changed(self, _scheme: str) -> None:
        self._make_formats()
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        for pattern, style in self._rules:
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), style)
        # Triple-quoted strings span lines: state 1 means "inside one".
        self.setCurrentBlockState(0)
        start = 0 if self.previousBlockState() == 1 else -1
        offset = 0
        if start == -1:
            found = self._triple.match(text, 0)
            start = found.capturedStart() if found.hasMatch() else -1
            offset = 3
        while start >= 0:
            found = self._triple.match(text, start + offset)
            if found.hasMatch():
                end = found.capturedEnd()
                self.setFormat(start, end - start, self._docstring)
                found_next = self._triple.match(text, end)
                start = found_next.capturedStart() if found_next.hasMatch() else -1
                offset = 3
            else:
                self.setCurrentBlockState(1)
                self.setFormat(start, len(text) - start, self._docstring)
                break


class SourceView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.caption = QLabel("Select a module to read the source of its class.")
        self.caption.setWordWrap(True)
        layout.addWidget(self.caption)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._highlighter = PythonHighlighter(self.text.document())
        layout.addWidget(self.text, 1)

    def show_source(self, class_name: str, module: str, source: str) -> None:
        self.caption.setText(f"<b>{html.escape(class_name)}</b> from <code>{html.escape(module)}</code> (read-only)")
        self.text.setPlainText(source)

    def show_message(self, text: str) -> None:
        self.caption.setText(text)
        self.text.clear()
