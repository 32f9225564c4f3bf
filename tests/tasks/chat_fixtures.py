"""Tiny tokenizers with chat templates in each of the layouts transformers 5 reads, built with save_pretrained."""

from __future__ import annotations

import json
from pathlib import Path

CHATML = (
    "{%- if tools %}<|im_start|>system\nYou may call: {{ tools | map(attribute='function') | map(attribute='name') | join(', ') }}<|im_end|>\n"
    "{% endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' and loop.first %}{{ raise_exception('The conversation must not start with the assistant') }}{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{# the assistant's turn starts here #}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
PLAIN = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
TOOL_USE = "{{ bos_token }}tools: {{ tools | length }}\n" + PLAIN
BROKEN = "{% for message in messages %}{{ message['content'] }"  # never closed

WORDS = (
    "you are a helpful assistant what is the capital of france paris hello world system user assistant tool "
    "may call get weather tools think You What Paris France"
).split()


def tokenizer(chat_template=None):
    """A WordLevel tokenizer with ChatML markers as special tokens and <think> as an added (not special) one."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = list(dict.fromkeys(["[UNK]", *WORDS, ":", "?", ".", ",", "!"]))  # ids 0..n-1: added tokens come after
    vocab = {word: index for index, word in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", bos_token="<s>", eos_token="</s>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    fast.add_tokens(["<think>"])
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


def save(folder: Path, chat_template=None, jinja_files: bool = True) -> Path:
    """save_pretrained: a string template goes to chat_template.jinja (or tokenizer_config.json without jinja
    files); several go to chat_template.jinja and additional_chat_templates/ (or a list in tokenizer_config.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer(chat_template).save_pretrained(folder, save_jinja_files=jinja_files)
    return folder


def set_config_template(folder: Path, value) -> None:
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["chat_template"] = value
    path.write_text(json.dumps(config))


def layouts(root: Path) -> dict[str, Path]:
    """One folder per layout, named by it."""
    both = save(root / "jinja-beside-config", CHATML)
    set_config_template(both, PLAIN)  # the file wins: transformers reads chat_template.jinja instead
    processor = save(root / "processor-json", None)
    (processor / "chat_template.json").write_text(json.dumps({"chat_template": CHATML}))
    extra_only = save(root / "named-files-no-default", None)
    (extra_only / "additional_chat_templates").mkdir()
    (extra_only / "additional_chat_templates" / "rag.jinja").write_text(PLAIN)
    (extra_only / "additional_chat_templates" / "tool_use.jinja").write_text(TOOL_USE)
    return {
        "config-string": save(root / "config-string", CHATML, jinja_files=False),
        "jinja": save(root / "jinja", CHATML),
        "named-files": save(root / "named-files", {"default": CHATML, "tool_use": TOOL_USE}),
        "named-config": save(root / "named-config", {"default": PLAIN, "tool_use": TOOL_USE}, jinja_files=False),
        "jinja-beside-config": both,
        "processor-json": processor,
        "named-files-no-default": extra_only,
        "none": save(root / "none", None),
    }
