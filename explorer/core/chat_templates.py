"""Where a checkpoint's chat templates come from, read as transformers 5 reads them.

``AutoTokenizer.from_pretrained`` (tokenization_utils_base, ``_from_pretrained``) takes its
templates from the template files when there are any: ``chat_template.jinja`` is the one named
"default", each ``additional_chat_templates/<name>.jinja`` is one named ``<name>`` (read after
it, so a ``default.jinja`` there wins). Only when neither exists does it use
``tokenizer_config.json``'s ``chat_template``: a string, or a list of ``{"name", "template"}``.
``chat_template.json`` is a processor's file: ``AutoProcessor`` reads it (before
``chat_template.jinja``), the tokenizer never does. One template named "default" is the
tokenizer's ``chat_template`` string; several are a dict of names.

Every file goes through ``explorer.core.safe_io`` (bounded, regular files only): a file it
refuses is listed in ``problems`` and gives no template. No transformers import.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from explorer.core.safe_io import UnreadableFile, decode_utf8, read_bounded, read_json

TOKENIZER_CONFIG = "tokenizer_config.json"
TEMPLATE_FILE = "chat_template.jinja"  # transformers' CHAT_TEMPLATE_FILE
PROCESSOR_TEMPLATE_FILE = "chat_template.json"  # LEGACY_PROCESSOR_CHAT_TEMPLATE_FILE
TEMPLATE_DIR = "additional_chat_templates"  # CHAT_TEMPLATE_DIR
DEFAULT_NAME = "default"
TOOL_USE_NAME = "tool_use"  # transformers picks it when tools are given and no template is named

READER_TOKENIZER = "tokenizer"
READER_PROCESSOR = "processor"

# Real templates are a few kilobytes (the longest on the Hub, tens); a megabyte is no template.
MAX_TEMPLATE_BYTES = 1024 * 1024
# tokenizer_config.json may list every added token; templates of the processor sit in a small object.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_CONFIG_VALUES = 2_000_000
MAX_NAMED_FILES = 64  # additional_chat_templates/ files read; a folder of thousands is not a checkpoint's

_TOOLS = re.compile(r"\btools\b")

NO_TEMPLATE = "This tokenizer has no chat template: the prompt is used as plain text"


@dataclass(frozen=True)
class TemplateSource:
    """One template found in the checkpoint's files."""

    name: str  # "default", "tool_use", ...
    file: str  # relative to the checkpoint: "chat_template.jinja", "additional_chat_templates/tool_use.jinja"
    text: str
    reader: str  # READER_TOKENIZER or READER_PROCESSOR: which of transformers' loaders reads it
    used: bool  # that loader ends up with this template (another file does not take precedence)
    note: str = ""  # why it is not used, or what reads it

    @property
    def mentions_tools(self) -> bool:
        return mentions_tools(self.text)


@dataclass(frozen=True)
class ChatTemplates:
    """Every template of a checkpoint, in the order transformers reads them, and the files refused."""

    sources: tuple[TemplateSource, ...] = ()
    problems: tuple[str, ...] = ()  # one line each, for the user
    refused: tuple[str, ...] = ()  # why a template file the tokenizer reads was refused (too large, not UTF-8)

    def tokenizer_templates(self) -> dict[str, TemplateSource]:
        """What ``AutoTokenizer`` loads: name -> template (later files of one name replace earlier ones)."""
        return {s.name: s for s in self.sources if s.reader == READER_TOKENIZER and s.used}

    @property
    def has_tokenizer_template(self) -> bool:
        return bool(self.tokenizer_templates())


def pick_template(names: list[str], name: str, tools_given: bool) -> str:
    """The name of the template ``apply_chat_template(chat_template=name or None, tools=...)`` renders with.

    As ``get_chat_template`` picks among a tokenizer's templates (``names``; one template is
    "default"): a given name must be one of them; with no name, "tool_use" when tools are given
    and it exists, else "default". Raises KeyError with a sentence for the user otherwise.
    """
    if not names:
        raise KeyError(NO_TEMPLATE)
    listed = ", ".join(names)
    if name:
        if name in names:
            return name
        raise KeyError(f"This tokenizer has no chat template named {name!r}; its templates: {listed}")
    if tools_given and TOOL_USE_NAME in names:
        return TOOL_USE_NAME
    if DEFAULT_NAME in names:
        return DEFAULT_NAME
    raise KeyError(f"This tokenizer has several chat templates and none is named {DEFAULT_NAME!r}: choose one of {listed}")


def mentions_tools(template: str) -> bool:
    """Whether a template reads the ``tools`` variable at all (else tool schemas change nothing)."""
    return bool(_TOOLS.search(template))


def _read_template(path: str, label: str) -> str:
    return decode_utf8(read_bounded(path, label, MAX_TEMPLATE_BYTES), label)


def _named_template_files(folder: str, problems: list[str]) -> list[tuple[str, str]]:
    """(name, relative file) of additional_chat_templates/*.jinja, sorted by name."""
    directory = os.path.join(folder, TEMPLATE_DIR)
    try:
        with os.scandir(directory) as entries:
            names = sorted(entry.name for entry in entries if entry.name.endswith(".jinja"))
    except OSError:  # no such folder (the usual case), or one that cannot be listed
        return []
    if len(names) > MAX_NAMED_FILES:
        problems.append(f"{TEMPLATE_DIR}/ holds {len(names)} templates; only the first {MAX_NAMED_FILES} were read")
        names = names[:MAX_NAMED_FILES]
    return [(name.removesuffix(".jinja"), f"{TEMPLATE_DIR}/{name}") for name in names]


def _config_templates(value: object) -> list[tuple[str, str]]:
    """tokenizer_config.json's chat_template as (name, text) pairs, as the tokenizer's __init__ reads it."""
    if isinstance(value, str):
        return [(DEFAULT_NAME, value)]
    if isinstance(value, list):
        return [(str(item["name"]), item["template"]) for item in value
                if isinstance(item, dict) and "name" in item and isinstance(item.get("template"), str)]
    if isinstance(value, dict):
        return [(str(name), text) for name, text in value.items() if isinstance(text, str)]
    return []


def read_chat_templates(folder: str) -> ChatTemplates:
    """Every chat template of the checkpoint in ``folder``, with which loader uses it."""
    problems: list[str] = []
    refused: list[str] = []
    sources: list[TemplateSource] = []
    candidates = [(DEFAULT_NAME, TEMPLATE_FILE)] if os.path.lexists(os.path.join(folder, TEMPLATE_FILE)) else []
    candidates += _named_template_files(folder, problems)
    files: list[tuple[str, str]] = []  # (name, relative file) the tokenizer reads instead of its config's
    file_texts: list[tuple[str, str, str]] = []
    for name, relative in candidates:
        path = os.path.join(folder, relative)
        if os.path.isfile(path):  # transformers (cached_file) skips what is not a regular file
            files.append((name, relative))
        try:
            file_texts.append((name, relative, _read_template(path, relative)))
        except UnreadableFile as error:
            problems.append(str(error))
            if files and files[-1][1] == relative:
                refused.append(str(error))
    # A later file of the same name replaces an earlier one, as in transformers' dict of templates.
    last_of_name = {name: relative for name, relative, _ in file_texts}
    for name, relative, text in file_texts:
        replaced = last_of_name[name] != relative
        note = f"replaced by {last_of_name[name]}, read after it" if replaced else ""
        sources.append(TemplateSource(name, relative, text, READER_TOKENIZER, not replaced, note))

    config = _read_json(folder, TOKENIZER_CONFIG, problems)
    config_value = config.get("chat_template") if isinstance(config, dict) else None
    # Files the tokenizer reads take precedence even when one of them was refused above: the library opens them first.
    files_win = bool(files)
    config_templates = _config_templates(config_value)
    last_in_config = {name: index for index, (name, _) in enumerate(config_templates)}
    for index, (name, text) in enumerate(config_templates):
        if files_win:
            used, note = False, f"not used: the tokenizer reads {files[0][1]} instead of tokenizer_config.json's chat_template"
        elif last_in_config[name] != index:
            used, note = False, f"not used: a later entry of tokenizer_config.json is also named {name!r}"
        else:
            used, note = True, ""
        sources.append(TemplateSource(name, TOKENIZER_CONFIG, text, READER_TOKENIZER, used, note))

    if os.path.lexists(os.path.join(folder, PROCESSOR_TEMPLATE_FILE)):
        legacy = _read_json(folder, PROCESSOR_TEMPLATE_FILE, problems)
        text = legacy.get("chat_template") if isinstance(legacy, dict) else None
        if isinstance(text, str):
            sources.append(TemplateSource(
                DEFAULT_NAME, PROCESSOR_TEMPLATE_FILE, text, READER_PROCESSOR, True,
                "read by AutoProcessor (the processor of a multimodal model), before chat_template.jinja; "
                "AutoTokenizer does not read it",
            ))
        elif legacy is not None:
            problems.append(f"{PROCESSOR_TEMPLATE_FILE} has no \"chat_template\" text")
    return ChatTemplates(tuple(sources), tuple(problems), tuple(refused))


def _read_json(folder: str, name: str, problems: list[str]) -> object:
    try:
        return read_json(os.path.join(folder, name), name, MAX_CONFIG_BYTES, max_values=MAX_CONFIG_VALUES)
    except UnreadableFile as error:
        if not error.missing:
            problems.append(str(error))
    return None


__all__ = [
    "DEFAULT_NAME", "MAX_TEMPLATE_BYTES", "NO_TEMPLATE", "PROCESSOR_TEMPLATE_FILE", "READER_PROCESSOR", "READER_TOKENIZER",
    "TEMPLATE_DIR", "TEMPLATE_FILE", "TOKENIZER_CONFIG", "TOOL_USE_NAME", "ChatTemplates", "TemplateSource",
    "mentions_tools", "pick_template", "read_chat_templates",
]
