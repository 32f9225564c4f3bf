"""Text-to-text with an encoder-decoder LM (T5, BART, Marian): translation, summarization.

Runs ``model.generate`` from the checkpoint's generation_config, passing only what the user
changed (beams, max length, early stopping, sampling, ... as the seed example sets them); a
stopping criterion watches the cancel token so Stop ends it at the next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explorer.core.jobs import CancelToken, Job
from explorer.core.snippets import keyword_arguments, python_literal
from explorer.tasks import generation_settings
from explorer.tasks.base import (
    KIND_INT,
    KIND_MULTILINE,
    KIND_TEXT,
    CommandLine,
    Field,
    Sourced,
    TaskResult,
    TaskSpec,
    encode,
    register,
)

INPUTS = (
    Field(
        "prefix", "Task prefix", KIND_TEXT, default="", placeholder="e.g. translate English to German: ",
        help="T5-style models need the task written before the text",
    ),
    Field("text", "Text", KIND_MULTILINE, default="Hello, how are you?", required=True),
)
PARAMETERS = (
    *generation_settings.FIELDS,
    Field(
        "seed", "Seed", KIND_INT, default=0, minimum=0, maximum=2**31 - 1, step=1,
        help="torch.manual_seed before generate: same seed and settings give the same text", requires="do_sample",
    ),
)


@dataclass(kw_only=True)
class Text2TextResult(TaskResult):
    input_text: str  # the prefix and the text, as the model read them
    generated_text: str
    token_ids: list[int]  # the output's ids, decoder start included
    settings: dict[str, Any]  # the form's values for this run, by field name
    generation_settings: dict[str, dict[str, Any]]  # each decoding setting: its value and where it came from
    notices: list[str] = field(default_factory=list)


def run(loaded, values: dict, cancel: CancelToken) -> Job[Text2TextResult]:
    from explorer.tasks.generation_run import run_generate

    tokenizer, model = loaded.tokenizer, loaded.model
    checkpoint = generation_settings.checkpoint_defaults(loaded.request.path, loaded)
    text = values["prefix"] + values["text"]
    encoded = encode(loaded, text)
    cancel.raise_if_cancelled()
    settings = generation_settings.changed_settings(values, checkpoint)
    generated = yield from run_generate(
        model, dict(encoded.inputs), settings, seed=values["seed"], cancel=cancel,
        total_steps=values["max_new_tokens"] or values["max_length"], stream=False, tokenizer=tokenizer,
    )
    ids = generated.sequence.tolist()
    encoded.notices.extend(f"transformers: {warning}" for warning in generated.warnings)
    return Text2TextResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        input_text=text,
        generated_text=tokenizer.decode(generated.sequence, skip_special_tokens=True),
        token_ids=ids,
        settings=dict(values),
        generation_settings=generation_settings.effective_settings(values, checkpoint),
        notices=encoded.notices,
    )


def summary(result: Text2TextResult) -> dict:
    return {"generated_text": result.generated_text, "token_ids": result.token_ids}


def script(values: dict, checkpoint: dict[str, Sourced]) -> str:
    changed = generation_settings.changed_settings(values, checkpoint)
    settings = "".join(f", {item}" for item in keyword_arguments(changed))
    if changed.get("stop_strings") or (not "stop_strings" in changed and checkpoint.get("stop_strings") and checkpoint["stop_strings"].value):
        settings += ", tokenizer=tokenizer"
    return f'''input_text = {python_literal(values["prefix"] + values["text"])}
inputs = tokenizer(input_text, truncation=True, max_length=limit, return_tensors="pt").to(device)
torch.manual_seed({python_literal(values["seed"])})
with torch.inference_mode():
    # model.generate starts from the checkpoint's generation_config; only what was changed in the app is passed.
    outputs = model.generate(**inputs{settings})
result = {{"generated_text": tokenizer.decode(outputs[0], skip_special_tokens=True), "token_ids": outputs[0].tolist()}}
'''


def text_lines(result: Text2TextResult) -> list[str]:
    return [result.generated_text]


SPEC = register(
    TaskSpec(
        id="text2text-generation",
        order=6,
        title="Text to text",
        description="Rewrites the input with an encoder-decoder model: translation, summarization (T5, BART, Marian).",
        auto_class="AutoModelForSeq2SeqLM",
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="text"),
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="text2text",
        view="text2text",
        checkpoint_defaults=generation_settings.checkpoint_defaults,
    )
)
