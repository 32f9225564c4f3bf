"""Chat template inspector: where the template comes from, and what it makes of a conversation.

Only the tokenizer is loaded. The conversation is rendered by the tokenizer's own
``apply_chat_template(..., tokenize=False)`` with and without the generation prompt, each
rendering is tokenised as ``apply_chat_template(tokenize=True)`` does it (no special tokens
added: the template writes them), and the special and added tokens are found in the text by
the tokenizer's offsets. A tokenizer without a template says so: no default template of the
library's or of ours is ever put in its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explorer.core.chat_templates import (
    NO_TEMPLATE,
    READER_PROCESSOR,
    ChatTemplates,
    mentions_tools,
    pick_template,
    read_chat_templates,
)
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.safe_io import UnreadableFile, one_line, parse_json
from explorer.core.snippets import python_literal
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_CONVERSATION,
    KIND_MULTILINE,
    KIND_TEXT,
    CommandLine,
    Field,
    FromCheckpoint,
    Record,
    TaskError,
    TaskInputError,
    TaskResult,
    TaskSpec,
    register,
)

DEFAULT_CONVERSATION = (
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
)
MAX_TOOLS_VALUES = 100_000  # a tool schema is a few dozen values; a hundred thousand is a pasted file

INPUTS = (
    Field(
        "conversation", "Conversation", KIND_CONVERSATION, default=DEFAULT_CONVERSATION, required=True,
        help="The turns the template renders: system, user, assistant and tool messages. On the command line, "
        "--text is one user turn; 'role: text' lines or a JSON list give several",
    ),
    Field(
        "tools", "Tools (optional)", KIND_MULTILINE, default="",
        placeholder='JSON list of tool schemas: [{"type": "function", "function": {"name": ..., "parameters": {...}}}]',
        help="Passed as apply_chat_template(tools=...); only a template that reads `tools` renders them",
        only_if=FromCheckpoint("chat_template_reads_tools", why_not="This checkpoint's chat template does not read tools"),
    ),
)
PARAMETERS = (
    Field(
        "template", "Template name", KIND_TEXT, default="", placeholder="as transformers picks it",
        help="One of the tokenizer's named templates (apply_chat_template(chat_template=name)); empty: the only "
        "one, else 'tool_use' when tools are given and it exists, else 'default'",
    ),
    Field(
        "add_generation_prompt", "Add the generation prompt", KIND_BOOL, default=True,
        help="The rendering the summary and the command line print: with the assistant turn's opening "
        "(add_generation_prompt=True, what generation starts from) or without it; both are shown",
    ),
)

KIND_SPECIAL = "special"  # all_special_tokens, and added tokens marked special
KIND_ADDED = "added"  # added tokens not marked special (e.g. <think> in some vocabularies)


@dataclass(slots=True)
class TemplateFound(Record):
    """One template in the checkpoint's files."""

    name: str
    file: str
    reader: str  # "tokenizer" or "processor": which of transformers' loaders reads it
    used: bool  # that loader ends up with it
    note: str
    mentions_tools: bool
    text: str


@dataclass(slots=True)
class SpecialSpan(Record):
    """A special or added token of a rendering, by its characters in the rendered text."""

    start: int
    end: int
    token: str
    id: int
    kind: str  # "special" or "added"


@dataclass(slots=True)
class Rendering(Record):
    add_generation_prompt: bool
    text: str
    input_ids: list[int]
    tokens: int
    special_tokens: list[SpecialSpan]


@dataclass(kw_only=True)
class ChatTemplateResult(TaskResult):
    conversation: list[dict[str, str]]
    tools: list[dict] | None
    no_template_message: str | None  # set when the tokenizer has no template: nothing was rendered
    template_name: str | None  # the template rendered
    template_file: str | None  # where it comes from; None when the tokenizer's class set it
    template_text: str | None
    picked_because: str  # why this template: named, the only one, tools given, the default
    reads_tools: bool
    add_generation_prompt: bool  # which rendering the summary puts first
    without_generation_prompt: Rendering | None
    with_generation_prompt: Rendering | None
    generation_prompt: str | None  # what add_generation_prompt appends, when the one rendering extends the other
    templates: list[TemplateFound]  # every template of the checkpoint, used or not
    notices: list[str] = field(default_factory=list)
    tokenizer_class: str = ""


def parse_tools(text: str) -> list[dict] | None:
    """The tools field's JSON: None when empty, a list of schemas (one object becomes a list of one)."""
    if not text.strip():
        return None
    try:
        value = parse_json(text, "Tools", max_values=MAX_TOOLS_VALUES)
    except UnreadableFile as error:
        raise TaskInputError(str(error)) from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(tool, dict) for tool in value):
        raise TaskInputError("Tools must be a JSON list of tool schemas (objects with a \"type\" and a \"function\")")
    return value


def _loaded_templates(tokenizer: Any) -> dict[str, str]:
    """The tokenizer's templates by name, as ``get_chat_template`` sees them (one template is "default")."""
    value = getattr(tokenizer, "chat_template", None)
    if isinstance(value, dict):
        return {str(name): text for name, text in value.items() if isinstance(text, str)}
    return {"default": value} if isinstance(value, str) else {}


def _found(templates: ChatTemplates) -> list[TemplateFound]:
    return [TemplateFound(s.name, s.file, s.reader, s.used, s.note, s.mentions_tools, s.text) for s in templates.sources]


def _special_ids(tokenizer: Any) -> dict[int, str]:
    """id -> "special" or "added" for every token a rendering may hold that is not ordinary text."""
    kinds: dict[int, str] = {}
    for token_id, token in getattr(tokenizer, "added_tokens_decoder", {}).items():
        kinds[int(token_id)] = KIND_SPECIAL if getattr(token, "special", True) else KIND_ADDED
    for token_id in getattr(tokenizer, "all_special_ids", []) or []:
        kinds[int(token_id)] = KIND_SPECIAL
    return kinds


def _spans_by_search(tokenizer: Any, text: str, kinds: dict[int, str]) -> list[SpecialSpan]:
    """A slow tokenizer has no offsets: its added tokens are found by their text, longest first."""
    contents = {}
    for token_id, kind in kinds.items():
        content = tokenizer.convert_ids_to_tokens(token_id)
        if isinstance(content, str) and content:
            contents[content] = (token_id, kind)
    spans: list[SpecialSpan] = []
    taken = [False] * len(text)
    for content in sorted(contents, key=len, reverse=True):
        start = text.find(content)
        while start >= 0:
            end = start + len(content)
            if not any(taken[start:end]):
                token_id, kind = contents[content]
                spans.append(SpecialSpan(start, end, content, token_id, kind))
                taken[start:end] = [True] * len(content)
            start = text.find(content, end)
    return sorted(spans, key=lambda span: span.start)


def _rendering(tokenizer: Any, text: str, add_generation_prompt: bool, kinds: dict[int, str]) -> Rendering:
    """The rendered text tokenised as apply_chat_template(tokenize=True) does, with its special tokens' spans."""
    encoding = tokenizer(text, add_special_tokens=False)
    ids = list(encoding["input_ids"])
    native = encoding.encodings[0] if getattr(encoding, "encodings", None) else None
    if native is not None:
        spans = []
        for token_id, token, (start, end) in zip(native.ids, native.tokens, native.offsets):
            # The token's own text, written by the template: not an unknown word the tokenizer maps to [UNK],
            # and without the space an lstrip/rstrip token's offsets take in.
            at = text.find(token, start, end) if token_id in kinds and token else -1
            if at >= 0:
                spans.append(SpecialSpan(at, at + len(token), token, token_id, kinds[token_id]))
    else:
        spans = _spans_by_search(tokenizer, text, kinds)
    return Rendering(add_generation_prompt, text, ids, len(ids), spans)


def _render(tokenizer: Any, conversation: list, tools: list | None, chat_template: str | None, add_generation_prompt: bool, where: str) -> str:
    """apply_chat_template(tokenize=False); the template's own errors as one line for the user."""
    import jinja2

    try:
        return tokenizer.apply_chat_template(
            conversation, tools=tools, chat_template=chat_template, add_generation_prompt=add_generation_prompt, tokenize=False,
        )
    except jinja2.TemplateSyntaxError as error:
        raise TaskError(one_line(f"The chat template {where} has a syntax error at line {error.lineno}: {error.message}")) from None
    except jinja2.TemplateError as error:  # raise_exception(...) in the template, an undefined value it needs
        raise TaskInputError(one_line(f"The chat template {where} refused this conversation: {error}")) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
        raise TaskInputError(one_line(f"The chat template {where} failed on this conversation: {type(error).__name__}: {error}")) from None


def run(loaded, values: dict, cancel: CancelToken) -> Job[ChatTemplateResult]:
    tokenizer = loaded.tokenizer
    tools = parse_tools(values["tools"])
    yield Progress(0, 3, "Reading the chat templates")
    found = read_chat_templates(loaded.request.path)
    if found.refused:
        raise TaskError(found.refused[0])
    notices = list(found.problems)
    loaded_templates = _loaded_templates(tokenizer)
    on_disk = {name: source.text for name, source in found.tokenizer_templates().items()}
    if loaded_templates and loaded_templates != on_disk:
        notices.append("The loaded tokenizer's chat templates differ from the checkpoint's template files (its class sets "
                       "them); the tokenizer's own are shown and rendered.")
    result = ChatTemplateResult(
        task=SPEC.id, result_type=SPEC.result_type, conversation=values["conversation"], tools=tools,
        no_template_message=None, template_name=None, template_file=None, template_text=None, picked_because="",
        reads_tools=False, add_generation_prompt=values["add_generation_prompt"], without_generation_prompt=None,
        with_generation_prompt=None, generation_prompt=None, templates=_found(found), notices=notices,
        tokenizer_class=type(tokenizer).__name__,
    )
    if not loaded_templates:
        result.no_template_message = NO_TEMPLATE
        processor = [s for s in found.sources if s.reader == READER_PROCESSOR]
        if processor:
            notices.append(f"{processor[0].file} holds a template for this checkpoint's processor (AutoProcessor); "
                           "AutoTokenizer does not read it. Its text is shown, not rendered.")
        return result
    names = list(loaded_templates)
    try:
        name = pick_template(names, values["template"].strip(), tools is not None)
    except KeyError as error:
        raise TaskInputError(error.args[0]) from None
    result.template_name, result.template_text = name, loaded_templates[name]
    source = found.tokenizer_templates().get(name)
    result.template_file = source.file if source is not None and source.text == result.template_text else None
    result.picked_because = _why(name, values["template"].strip(), names, tools is not None)
    result.reads_tools = mentions_tools(result.template_text)
    if tools is not None and not result.reads_tools:
        notices.append(f"The template {name!r} never reads `tools`: the tool schemas change nothing in its rendering.")
    # A tokenizer of one template reads a name passed as chat_template as a template's text: pass None then.
    chosen = name if isinstance(tokenizer.chat_template, dict) else None
    where = f"{name!r} ({result.template_file or 'set by the tokenizer'})"
    kinds = loaded.remember("chat_template_special_ids", lambda: _special_ids(tokenizer))
    renderings: dict[bool, Rendering | None] = {}
    for step, add_prompt in enumerate((False, True), start=1):
        cancel.raise_if_cancelled()
        yield Progress(step, 3, "Rendering " + ("with" if add_prompt else "without") + " the generation prompt")
        try:
            text = _render(tokenizer, values["conversation"], tools, chosen, add_prompt, where)
        except (TaskError, TaskInputError) as error:
            if add_prompt == values["add_generation_prompt"]:
                raise
            notices.append(f"{'With' if add_prompt else 'Without'} the generation prompt: {error}")
            renderings[add_prompt] = None
            continue
        renderings[add_prompt] = _rendering(tokenizer, text, add_prompt, kinds)
    result.without_generation_prompt, result.with_generation_prompt = renderings[False], renderings[True]
    without, with_prompt = renderings[False], renderings[True]
    if without is not None and with_prompt is not None and with_prompt.text.startswith(without.text):
        result.generation_prompt = with_prompt.text[len(without.text):]
    return result


def _why(name: str, asked: str, names: list[str], tools_given: bool) -> str:
    if asked:
        return "named in the settings"
    if len(names) == 1:
        return "the tokenizer's only template"
    if name == "tool_use" and tools_given:
        return "tools are given and the tokenizer has a 'tool_use' template"
    return "the tokenizer's default template"


def _summary_of(rendering: Rendering | None) -> dict | None:
    if rendering is None:
        return None
    return {"text": rendering.text, "tokens": rendering.tokens, "input_ids": rendering.input_ids}


def summary(result: ChatTemplateResult) -> dict:
    return {
        "without_generation_prompt": _summary_of(result.without_generation_prompt),
        "with_generation_prompt": _summary_of(result.with_generation_prompt),
    }


def script(values: dict) -> str:
    # Every value is a literal on a line of its own, and the code around them is the same for any value.
    return f'''conversation = {python_literal(list(values["conversation"]))}
tools_json = {python_literal(values["tools"])}
tools = json.loads(tools_json) if tools_json.strip() else None
template = {python_literal(values["template"].strip())}  # a name among the tokenizer's templates; empty: transformers picks
# A tokenizer of one template would read a name as the template's text: names are for several templates.
chat_template = template if template and isinstance(tokenizer.chat_template, dict) else None
result = {{}}
for add_generation_prompt in (False, True):
    key = "with_generation_prompt" if add_generation_prompt else "without_generation_prompt"
    if tokenizer.chat_template is None:  # no template: nothing is rendered, never a default of the library's
        print({python_literal(NO_TEMPLATE)})
        result[key] = None
        continue
    text = tokenizer.apply_chat_template(
        conversation, tools=tools, chat_template=chat_template, add_generation_prompt=add_generation_prompt, tokenize=False
    )
    # Tokenised as apply_chat_template(tokenize=True) does: the template writes the special tokens itself.
    input_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    print(f"--- {{key}}: {{len(input_ids)}} tokens")
    print(text)
    result[key] = {{"text": text, "tokens": len(input_ids), "input_ids": input_ids}}
'''


def text_lines(result: ChatTemplateResult) -> list[str]:
    if result.no_template_message:
        return [result.no_template_message]
    source = result.template_file or "set by the tokenizer's class"
    lines = [f"template {result.template_name!r} from {source} ({result.picked_because})"]
    for rendering in (result.without_generation_prompt, result.with_generation_prompt):
        if rendering is None:
            continue
        special = len([span for span in rendering.special_tokens if span.kind == KIND_SPECIAL])
        which = "with" if rendering.add_generation_prompt else "without"
        lines.append(f"--- {which} the generation prompt: {rendering.tokens} tokens ({special} special)")
        if rendering.add_generation_prompt == result.add_generation_prompt:
            lines.append(rendering.text)
    if result.generation_prompt is not None:
        lines.append(f"the generation prompt adds {result.generation_prompt!r}")
    return lines


SPEC = register(
    TaskSpec(
        id="chat-template",
        order=10,
        title="Chat template",
        description="Shows the tokenizer's chat template, where it comes from, and the prompt it makes of a conversation, "
        "with and without the generation prompt.",
        auto_class=None,
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="conversation"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="chat-template",
        view="chat_template",
    )
)
