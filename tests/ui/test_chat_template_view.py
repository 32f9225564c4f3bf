"""The chat template view (source, highlighted Jinja, renderings with special tokens) and the conversation editor."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from explorer.core.jobs import run_to_end
from explorer.core.chat_templates import NO_TEMPLATE
from explorer.tasks.session import LoadRequest, ModelSession
from explorer.ui import palette
from explorer.ui.conversation_editor import ConversationEditor
from explorer.ui.demo_views.chat_template import ChatTemplateView
from tests.tasks import chat_fixtures as fx

CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "<think> paris </think> Paris."},
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat-view")
    session = ModelSession()
    named = fx.save(root / "named", {"default": fx.CHATML, "tool_use": fx.TOOL_USE})
    none = fx.save(root / "none", None)
    out = {
        "named": run_to_end(session.run("chat-template", LoadRequest(str(named), None), {"conversation": CONVERSATION})),
        "none": run_to_end(session.run("chat-template", LoadRequest(str(none), None), {})),
    }
    session.unload_now()
    return out


@pytest.fixture
def scheme():
    yield palette.set_scheme
    palette.set_scheme(None)


def _view(qtbot, result) -> ChatTemplateView:
    view = ChatTemplateView()
    qtbot.addWidget(view)
    view.show_result(result)
    view.resize(1000, 600)
    return view


def _colours_at(document, position: int) -> set[str]:
    block = document.findBlock(position)
    offset = position - block.position()
    return {
        f.format.foreground().color().name()
        for f in block.layout().formats()
        if f.start <= offset < f.start + f.length
    }


def test_the_view_shows_the_source_the_highlighted_template_and_both_renderings(qtbot, results, scheme):
    scheme(palette.LIGHT)
    result = results["named"]
    view = _view(qtbot, result)
    source = view.findChild(QLabel, "template_source")
    assert "chat_template.jinja" in source.text() and "default" in source.text()
    assert view.template_choice.count() == 2 and view.template_choice.currentIndex() == 0
    assert view.template_text.toPlainText() == fx.CHATML
    document = view.template_text.document()
    text = fx.CHATML
    assert _colours_at(document, text.index("{%- if")) == {palette.color("code_keyword")}
    assert _colours_at(document, text.index("'assistant'")) == {palette.color("code_string")}
    assert _colours_at(document, text.index("{# the")) == {palette.color("code_comment")}
    assert _colours_at(document, text.index("{{ message['role']") + 3) == {palette.color("code_definition")}
    assert _colours_at(document, text.index("join")) == {palette.color("code_builtin")}
    assert not _colours_at(document, text.index("You may call"))  # what the template writes stays plain
    for add_prompt, rendering in ((False, result.without_generation_prompt), (True, result.with_generation_prompt)):
        browser = view.renderings[add_prompt]
        # Every line break is marked (a last one would be invisible; Qt drops it from the plain text), special
        # tokens hold word joiners (Qt would cut "<|im_end|>" after its "|"): what is copied has neither.
        assert browser.toPlainText().replace("\u2060", "") == rendering.text.replace("\n", "↵\n").removesuffix("\n")
        assert browser.prompt_text() == rendering.text.removesuffix("\n")
        browser.selectAll()
        assert browser.createMimeDataFromSelection().text() == rendering.text.removesuffix("\n")
        assert palette.color("highlight_1") in browser.toHtml() and palette.color("highlight_2") in browser.toHtml()
        heading = view.findChild(QLabel, f"rendering_heading_{'with' if add_prompt else 'without'}")
        assert f"<b>{rendering.tokens}</b> tokens" in heading.text()
    assert "&lt;|im_start|&gt;assistant" in view.findChild(QLabel, "generation_prompt").text()

    view.template_choice.setCurrentIndex(1)  # the other named template: its text, not rendered
    assert view.template_text.toPlainText() == fx.TOOL_USE
    assert view.template_note.text().startswith("not rendered")


def test_the_view_follows_the_colour_scheme(qtbot, results, scheme):
    scheme(palette.DARK)
    view = _view(qtbot, results["named"])
    assert _colours_at(view.template_text.document(), 0) == {palette.ROLES["code_keyword"][1]}
    assert palette.ROLES["highlight_1"][1] in view.renderings[True].toHtml()


def test_no_template_is_said_plainly(qtbot, results):
    view = _view(qtbot, results["none"])
    message = view.findChild(QLabel, "no_template_message")
    assert message.text() == NO_TEMPLATE
    assert view.findChild(type(message), "no_template_checked") is not None
    assert not hasattr(view, "renderings") and not hasattr(view, "template_text")  # no empty panels


# --------------------------------------------------------------------------- the conversation editor


def test_the_editor_gives_back_what_it_was_given(qtbot):
    editor = ConversationEditor()
    qtbot.addWidget(editor)
    with qtbot.waitSignal(editor.changed):
        editor.set_value(CONVERSATION)
    assert editor.value() == CONVERSATION
    assert [row.role.currentText() for row in editor.rows] == ["system", "user", "assistant"]
    with qtbot.waitSignal(editor.changed):
        editor.rows[1].text.setPlainText("hello")
    assert editor.value()[1] == {"role": "user", "content": "hello"}
    with qtbot.waitSignal(editor.changed):
        editor.rows[2].role.setCurrentText("tool")
    assert editor.value()[2]["role"] == "tool"


def test_turns_are_added_removed_and_moved_with_the_buttons(qtbot):
    editor = ConversationEditor(CONVERSATION[:2])
    qtbot.addWidget(editor)
    editor.show()
    with qtbot.waitSignal(editor.changed):
        qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    assert editor.value()[-1] == {"role": "assistant", "content": ""}  # the assistant answers the user
    editor.rows[2].text.setPlainText("Paris.")
    with qtbot.waitSignal(editor.changed):
        editor.add_turn()
    assert editor.value()[-1]["role"] == "user"
    assert not editor.rows[0].up.isEnabled() and not editor.rows[-1].down.isEnabled()
    with qtbot.waitSignal(editor.changed):
        qtbot.mouseClick(editor.rows[2].up, Qt.MouseButton.LeftButton)
    assert [turn["role"] for turn in editor.value()] == ["system", "assistant", "user", "user"]
    assert editor.value()[1]["content"] == "Paris."
    with qtbot.waitSignal(editor.changed):
        qtbot.mouseClick(editor.rows[1].down, Qt.MouseButton.LeftButton)
    assert editor.value()[2] == {"role": "assistant", "content": "Paris."}
    with qtbot.waitSignal(editor.changed):
        qtbot.mouseClick(editor.rows[0].remove, Qt.MouseButton.LeftButton)
    assert [turn["role"] for turn in editor.value()] == ["user", "assistant", "user"]
    editor.set_value(CONVERSATION[1:2])
    assert not editor.rows[0].remove.isEnabled()  # a conversation keeps one turn


def test_the_tool_role_is_offered_only_when_the_template_reads_tools(qtbot):
    editor = ConversationEditor([{"role": "user", "content": "weather?"}, {"role": "tool", "content": "sunny"}])
    qtbot.addWidget(editor)

    def offered(row):
        return [row.role.itemText(i) for i in range(row.role.count())]

    assert offered(editor.rows[0]) == ["system", "user", "assistant", "tool"]
    editor.set_tools_supported(False)
    assert not editor.tools_supported()
    assert offered(editor.rows[0]) == ["system", "user", "assistant"]
    assert editor.rows[1].role.currentText() == "tool" and "does not read tools" in editor.rows[1].role.toolTip()
    assert editor.value()[1] == {"role": "tool", "content": "sunny"}  # kept as it was
    editor.add_turn()
    assert "tool" not in offered(editor.rows[-1])
    editor.set_tools_supported(True)
    assert offered(editor.rows[-1])[-1] == "tool"


def test_tags_and_comments_that_span_lines_stay_highlighted(qtbot, scheme):
    from PySide6.QtWidgets import QPlainTextEdit

    from explorer.ui.demo_views.chat_template import JinjaHighlighter

    scheme(palette.LIGHT)
    template = "{#- a comment\n  over lines -#}hi {%- if messages\n   and 'x %}' in y -%}\n{{ a\n | upper }}!"
    editor = QPlainTextEdit()
    qtbot.addWidget(editor)
    highlighter = JinjaHighlighter(editor.document())  # first, as in the view: the text is highlighted as it is set
    editor.setPlainText(template)
    document = editor.document()
    assert _colours_at(document, template.index("over")) == {palette.color("code_comment")}
    assert not _colours_at(document, template.index("hi"))
    assert _colours_at(document, template.index("and")) == {palette.color("code_keyword")}
    assert _colours_at(document, template.index("'x %}'") + 2) == {palette.color("code_string")}  # a quoted %} ends nothing
    assert _colours_at(document, template.index("upper")) == {palette.color("code_builtin")}
    assert not _colours_at(document, template.index("!"))
    assert highlighter.document() is document


@pytest.mark.slow
def test_the_demo_tab_renders_the_turns_typed_in_its_editor(qtbot, sample):
    """The form's conversation field is the turn editor; Run shows the chat template view of what was typed."""
    from tests.ui.test_demo_tab import WAIT, checkpoint_for, run_and_wait

    from explorer.ui.demo_tab import DemoTab

    tab = DemoTab()
    qtbot.addWidget(tab)
    tab.resize(1200, 800)
    try:
        with qtbot.waitSignal(tab.devices_ready, timeout=WAIT):
            tab.show()
        with qtbot.waitSignal(tab.tasks_ready, timeout=WAIT):
            tab.set_checkpoint(checkpoint_for(sample("tiny-gpt2-lm")))
        tab.select_task("chat-template")
        editor = tab.form().findChild(ConversationEditor)
        assert editor is not None and [turn["role"] for turn in editor.value()] == ["system", "user"]
        editor.rows[1].text.setPlainText("the capital of")
        editor.add_turn("assistant", "paris")
        result = run_and_wait(qtbot, tab)
        assert result.conversation[1:] == [{"role": "user", "content": "the capital of"}, {"role": "assistant", "content": "paris"}]
        view = tab.result_view()
        assert isinstance(view, ChatTemplateView)
        assert "user: the capital of\nassistant: paris\nassistant:" in view.renderings[True].prompt_text()
    finally:
        tab.shutdown()


def test_the_form_offers_tools_only_where_the_template_reads_them(qtbot, tmp_path):
    """Facts come from the templates AutoTokenizer loads: a processor's chat_template.json does not count."""
    from explorer.tasks.base import get_task
    from explorer.tasks.heads import checkpoint_facts
    from explorer.ui.demo_form import TaskForm

    folders = fx.layouts(tmp_path)
    expected = {  # layout -> (has a template the tokenizer loads, one of them reads tools)
        "named-files": (True, True),
        "named-files-no-default": (True, True),
        "named-config": (True, True),
        "config-string": (True, True),
        "processor-json": (False, False),
        "none": (False, False),
    }
    spec = get_task("chat-template")
    for layout, (has_template, reads_tools) in expected.items():
        facts = checkpoint_facts(str(folders[layout]))
        assert (facts.has_chat_template, facts.chat_template_reads_tools) == (has_template, reads_tools), layout
        form = TaskForm(spec, facts)
        qtbot.addWidget(form)
        assert form.editors["tools"].isEnabled() == reads_tools, layout
        conversation = form.editors["conversation"]
        if isinstance(conversation, ConversationEditor):
            assert conversation.tools_supported() == reads_tools, layout
