"""Chat template inspector (issue 12, item 3): the templates come from where transformers 5 reads them, the
rendering is apply_chat_template's, special tokens are found in it, and a tokenizer without a template says so."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from explorer.core.chat_templates import MAX_TEMPLATE_BYTES, NO_TEMPLATE, read_chat_templates
from explorer.core.jobs import run_to_end
from explorer.tasks.base import TaskError, TaskInputError, get_task
from explorer.tasks.chat_template import _rendering, _spans_by_search, _special_ids
from explorer.tasks.cli import add_run_arguments, run_command
from explorer.tasks.script import python_script, summary_of
from explorer.tasks.session import LoadRequest
from tests.tasks import chat_fixtures as fx
from tests.tasks.test_script import DRIVER, _close, _last_json

CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "<think> paris </think> Paris."},
    {"role": "user", "content": "hello world!"},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    return fx.layouts(tmp_path_factory.mktemp("chat-layouts"))


def run(session, folder, values=None):
    return run_to_end(session.run("chat-template", LoadRequest(str(folder), None), values or {}))


def auto_tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


# --------------------------------------------------------------------------- where templates come from


@pytest.mark.parametrize("layout", ["config-string", "jinja", "named-files", "named-config", "jinja-beside-config",
                                    "processor-json", "named-files-no-default", "none"])
def test_the_files_give_the_templates_the_tokenizer_loads(layouts, layout):
    """read_chat_templates follows transformers' precedence: what it says the tokenizer uses is what it loads."""
    loaded = auto_tokenizer(layouts[layout]).chat_template
    loaded = {"default": loaded} if isinstance(loaded, str) else dict(loaded or {})
    found = read_chat_templates(str(layouts[layout]))
    assert {name: source.text for name, source in found.tokenizer_templates().items()} == loaded
    assert not found.problems


def test_sources_name_their_files(layouts):
    files = {s.file: (s.name, s.used) for s in read_chat_templates(str(layouts["named-files"])).sources}
    assert files == {"chat_template.jinja": ("default", True), "additional_chat_templates/tool_use.jinja": ("tool_use", True)}
    config = read_chat_templates(str(layouts["named-config"])).sources
    assert [(s.name, s.file, s.used) for s in config] == [("default", "tokenizer_config.json", True), ("tool_use", "tokenizer_config.json", True)]
    beside = read_chat_templates(str(layouts["jinja-beside-config"])).sources
    assert [(s.file, s.used) for s in beside] == [("chat_template.jinja", True), ("tokenizer_config.json", False)]
    assert "reads chat_template.jinja instead" in beside[1].note
    processor = read_chat_templates(str(layouts["processor-json"])).sources
    assert [(s.file, s.reader) for s in processor] == [("chat_template.json", "processor")]
    assert processor[0].text == fx.CHATML and "AutoTokenizer does not read it" in processor[0].note


# --------------------------------------------------------------------------- rendering


def test_rendering_is_apply_chat_templates(session, layouts):
    tokenizer = auto_tokenizer(layouts["jinja"])
    result = run(session, layouts["jinja"], {"conversation": CONVERSATION})
    assert (result.template_name, result.template_file, result.template_text) == ("default", "chat_template.jinja", fx.CHATML)
    for rendering, add in ((result.without_generation_prompt, False), (result.with_generation_prompt, True)):
        assert rendering.text == tokenizer.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=add)
        assert rendering.input_ids == tokenizer.apply_chat_template(CONVERSATION, add_generation_prompt=add)["input_ids"]
        assert rendering.tokens == len(rendering.input_ids)
    assert result.generation_prompt == "<|im_start|>assistant\n"
    assert summary_of(result)["with_generation_prompt"]["text"].endswith("<|im_start|>assistant\n")


def test_special_tokens_are_found_where_the_template_wrote_them(session, layouts):
    tokenizer = auto_tokenizer(layouts["jinja"])
    rendering = run(session, layouts["jinja"], {"conversation": CONVERSATION}).with_generation_prompt
    text = rendering.text
    for span in rendering.special_tokens:
        assert text[span.start:span.end] == span.token == tokenizer.convert_ids_to_tokens(span.id)
    markers = [span.token for span in rendering.special_tokens if span.kind == "special"]
    assert markers == [token for token in tokenizer.convert_ids_to_tokens(rendering.input_ids) if token in ("<|im_start|>", "<|im_end|>")]
    assert markers.count("<|im_start|>") == text.count("<|im_start|>") == 5
    assert [(s.token, s.kind) for s in rendering.special_tokens if s.kind == "added"] == [("<think>", "added")]
    assert all(span.token != "[UNK]" for span in rendering.special_tokens)  # an unknown word is no token the template wrote
    # A slow tokenizer has no offsets: searching the text finds the same spans.
    assert _spans_by_search(tokenizer, text, _special_ids(tokenizer)) == rendering.special_tokens


def test_slow_path_spans_match_offsets_on_unknown_words(layouts):
    tokenizer = auto_tokenizer(layouts["jinja"])
    text = "<|im_start|>Zebra<|im_end|> <think>"
    by_offsets = _rendering(tokenizer, text, False, _special_ids(tokenizer)).special_tokens
    assert [(s.start, s.end, s.token) for s in by_offsets] == [(0, 12, "<|im_start|>"), (17, 27, "<|im_end|>"), (28, 35, "<think>")]
    assert _spans_by_search(tokenizer, text, _special_ids(tokenizer)) == by_offsets


def test_named_templates_are_picked_as_transformers_picks_them(session, layouts):
    folder = layouts["named-files"]
    tokenizer = auto_tokenizer(folder)
    plain = run(session, folder, {"conversation": CONVERSATION})
    assert plain.template_name == "default" and plain.picked_because == "the tokenizer's default template"
    with_tools = run(session, folder, {"conversation": CONVERSATION, "tools": json.dumps(TOOLS)})
    assert with_tools.template_name == "tool_use" and with_tools.template_file == "additional_chat_templates/tool_use.jinja"
    assert with_tools.with_generation_prompt.text == tokenizer.apply_chat_template(CONVERSATION, tools=TOOLS, tokenize=False, add_generation_prompt=True)
    assert with_tools.with_generation_prompt.text.startswith("<s>tools: 1\n")
    named = run(session, folder, {"conversation": CONVERSATION, "tools": json.dumps(TOOLS), "template": "default"})
    assert named.template_name == "default" and "You may call: get_weather" in named.with_generation_prompt.text
    assert named.reads_tools and named.picked_because == "named in the settings"
    with pytest.raises(TaskInputError, match=r"^This tokenizer has no chat template named 'rag'; its templates: default, tool_use$"):
        run(session, folder, {"template": "rag"})
    with pytest.raises(TaskInputError, match=r"^This tokenizer has several chat templates and none is named 'default': choose one of"):
        run(session, layouts["named-files-no-default"])
    assert run(session, layouts["named-files-no-default"], {"template": "rag"}).template_file == "additional_chat_templates/rag.jinja"


def test_a_single_template_takes_its_name_default(session, layouts):
    """A name passed with one template would be read as the template's text: 'default' renders the template."""
    result = run(session, layouts["config-string"], {"template": "default"})
    assert result.template_file == "tokenizer_config.json"
    assert result.with_generation_prompt.text.startswith("<|im_start|>system\n")


def test_tools_the_template_ignores_are_said(session, layouts):
    result = run(session, layouts["named-config"], {"tools": json.dumps(TOOLS), "template": "default"})
    assert not result.reads_tools
    assert any("never reads `tools`" in notice for notice in result.notices)
    with pytest.raises(TaskInputError, match=r"^Tools is not valid JSON"):
        run(session, layouts["jinja"], {"tools": "[{"})
    with pytest.raises(TaskInputError, match=r"^Tools must be a JSON list of tool schemas"):
        run(session, layouts["jinja"], {"tools": "[1, 2]"})


# --------------------------------------------------------------------------- no template, broken templates


def test_no_template_says_so_and_renders_nothing(session, layouts):
    result = run(session, layouts["none"])
    assert result.no_template_message == NO_TEMPLATE == "This tokenizer has no chat template: the prompt is used as plain text"
    assert result.with_generation_prompt is None and result.without_generation_prompt is None and result.template_text is None
    assert get_task("chat-template").text_lines(result) == [NO_TEMPLATE]
    processor = run(session, layouts["processor-json"])
    assert processor.no_template_message == NO_TEMPLATE
    assert [t.file for t in processor.templates] == ["chat_template.json"]
    assert any("AutoTokenizer does not read it" in notice for notice in processor.notices)


def test_a_template_that_refuses_the_conversation_says_why(session, layouts):
    starts_with_assistant = [{"role": "assistant", "content": "hello"}, {"role": "user", "content": "world"}]
    with pytest.raises(TaskInputError) as raised:
        run(session, layouts["jinja"], {"conversation": starts_with_assistant})
    assert str(raised.value) == (
        "The chat template 'default' (chat_template.jinja) refused this conversation: "
        "The conversation must not start with the assistant"
    )


def test_a_broken_template_is_one_line(session, tmp_path):
    folder = fx.save(tmp_path / "broken", fx.BROKEN)
    with pytest.raises(TaskError) as raised:
        run(session, folder)
    message = str(raised.value)
    assert message.startswith("The chat template 'default' (chat_template.jinja) has a syntax error at line 1:") and "\n" not in message


# --------------------------------------------------------------------------- hostile files


def test_an_oversized_template_file_is_refused(session, tmp_path):
    folder = fx.save(tmp_path / "huge", fx.PLAIN)
    with open(folder / "chat_template.jinja", "a", encoding="utf-8") as handle:
        handle.write("x" * MAX_TEMPLATE_BYTES)
    found = read_chat_templates(str(folder))
    assert found.refused and "more than the 1.0 MiB such a file can sensibly hold" in found.refused[0]
    assert not found.has_tokenizer_template
    with pytest.raises(TaskError, match=r"^chat_template\.jinja is 1\.0 MiB, more than the 1\.0 MiB"):
        run(session, folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
def test_a_fifo_template_never_blocks(session, tmp_path):
    folder = fx.save(tmp_path / "fifo", None)
    os.mkfifo(folder / "chat_template.jinja")
    (folder / "additional_chat_templates").mkdir()
    os.mkfifo(folder / "additional_chat_templates" / "tool_use.jinja")
    found = read_chat_templates(str(folder))
    assert [problem.split(" is ")[0] for problem in found.problems] == ["chat_template.jinja", "additional_chat_templates/tool_use.jinja"]
    assert all("not a regular file" in problem for problem in found.problems) and not found.sources
    with pytest.raises(TaskError, match="not a regular file"):  # refused before transformers opens anything
        run(session, folder)


def test_a_template_file_that_is_not_utf8_is_refused(tmp_path):
    folder = fx.save(tmp_path / "latin", None)
    (folder / "chat_template.jinja").write_bytes("{{ 'caf\xe9' }}".encode("latin-1"))
    found = read_chat_templates(str(folder))
    assert found.refused == ("chat_template.jinja is not UTF-8 text (invalid continuation byte at byte 7)",)


# --------------------------------------------------------------------------- command line and Copy as Python


def invoke(argv, capsys):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    code = run_command(parser.parse_args(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_json_from_the_command_line(layouts, capsys):
    code, out, err = invoke(["chat-template", str(layouts["jinja"]), "--text", "hello world", "--json"], capsys)
    assert code == 0, err
    printed = json.loads(out)
    assert printed["conversation"] == [{"role": "user", "content": "hello world"}]
    assert printed["with_generation_prompt"]["text"] == "<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n"
    assert list(printed) == [
        "task", "result_type", "conversation", "tools", "no_template_message", "template_name", "template_file", "template_text",
        "picked_because", "reads_tools", "add_generation_prompt", "without_generation_prompt", "with_generation_prompt",
        "generation_prompt", "templates", "notices", "tokenizer_class", "seconds", "model",
    ]
    code, out, _ = invoke(["chat-template", str(layouts["none"])], capsys)
    assert code == 0 and out.strip() == NO_TEMPLATE


@pytest.mark.slow
def test_copy_as_python_prints_what_the_app_showed(session, layouts, tmp_path):
    runs = [
        (layouts["jinja"], {"conversation": CONVERSATION}),
        (layouts["named-files"], {"conversation": CONVERSATION, "tools": json.dumps(TOOLS)}),
        (layouts["named-config"], {"template": "tool_use", "tools": json.dumps(TOOLS), "add_generation_prompt": False}),
        (layouts["config-string"], {"template": "default"}),
        (layouts["none"], {}),
    ]
    expected, paths = [], []
    for index, (folder, values) in enumerate(runs):
        request = LoadRequest(str(folder), None)
        expected.append(summary_of(run_to_end(session.run("chat-template", request, values))))
        path = tmp_path / f"run_{index}.py"
        path.write_text(python_script("chat-template", request, values), encoding="utf-8")
        paths.append(str(path))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", DRIVER, *paths], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    chunks = done.stdout.split("===== ")[1:]
    assert len(chunks) == len(runs)
    for chunk, want in zip(chunks, expected):
        assert _close(_last_json(chunk), want)
    assert NO_TEMPLATE in chunks[-1]
