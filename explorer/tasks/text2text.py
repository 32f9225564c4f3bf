"""Text-to-text with an encoder-decoder LM (T5, BART, Marian): translation, summarization.

Runs ``model.generate`` as the seed example does (beams, max length, early stopping, or
sampling); a stopping criterion watches the cancel token so Stop ends it at the next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import keyword_arguments, python_literal
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_MULTILINE,
    KIND_TEXT,
    CommandLine,
    Field,
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
    Field("max_length", "Max length (tokens)", KIND_INT, default=40, minimum=1, maximum=4096, step=1, help="Longest output, in tokens"),
    Field(
        "num_beams", "Beams", KIND_INT, default=4, minimum=1, maximum=32, step=1,
        help="1: greedy or sampling; more beams search several candidates",
    ),
    Field("early_stopping", "Early stopping", KIND_BOOL, default=True, help="Stop beam search when every beam has finished (beams > 1)"),
    Field("do_sample", "Sampling", KIND_BOOL, default=False),
    Field("temperature", "Temperature", KIND_FLOAT, default=1.0, minimum=0.01, maximum=5.0, step=0.05, requires="do_sample"),
    Field("top_p", "Top-p", KIND_FLOAT, default=1.0, minimum=0.01, maximum=1.0, step=0.01, requires="do_sample"),
    Field("seed", "Seed", KIND_INT, default=0, minimum=0, maximum=2**31 - 1, step=1, requires="do_sample"),
)


@dataclass(kw_only=True)
class Text2TextResult(TaskResult):
    input_text: str  # the prefix and the text, as the model read them
    generated_text: str
    token_ids: list[int]  # the output's ids, decoder start included
    settings: dict[str, Any]  # the form's values for this run, by field name
    notices: list[str] = field(default_factory=list)


def generate_kwargs(values: dict) -> dict:
    kwargs = {"max_length": values["max_length"], "num_beams": values["num_beams"], "do_sample": values["do_sample"]}
    if values["num_beams"] > 1:
        kwargs["early_stopping"] = values["early_stopping"]
    if values["do_sample"]:
        kwargs["temperature"] = values["temperature"]
        kwargs["top_p"] = values["top_p"]
    return kwargs


def _cancel_criterion(cancel: CancelToken):
    import torch
    from transformers import StoppingCriteria

    class StopWhenCancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), cancel.cancelled, dtype=torch.bool, device=input_ids.device)

    return StopWhenCancelled()


def run(loaded, values: dict, cancel: CancelToken) -> Job[Text2TextResult]:
    import torch
    from transformers import StoppingCriteriaList

    tokenizer, model = loaded.tokenizer, loaded.model
    text = values["prefix"] + values["text"]
    encoded = encode(loaded, text)
    cancel.raise_if_cancelled()
    yield Progress(0, None, "Generating")
    torch.manual_seed(values["seed"])
    with torch.inference_mode():
        outputs = model.generate(
            **encoded.inputs,
            **generate_kwargs(values),
            stopping_criteria=StoppingCriteriaList([_cancel_criterion(cancel)]),
        )
    cancel.raise_if_cancelled()
    ids = outputs[0].tolist()
    return Text2TextResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        input_text=text,
        generated_text=tokenizer.decode(outputs[0], skip_special_tokens=True),
        token_ids=ids,
        settings=dict(values),
        notices=encoded.notices,
    )


def summary(result: Text2TextResult) -> dict:
    return {"generated_text": result.generated_text, "token_ids": result.token_ids}


def script(values: dict) -> str:
    settings = ", ".join(keyword_arguments(generate_kwargs(values)))
    return f'''input_text = {python_literal(values["prefix"] + values["text"])}
inputs = tokenizer(input_text, truncation=True, max_length=limit, return_tensors="pt").to(device)
torch.manual_seed({python_literal(values["seed"])})
with torch.inference_mode():
    outputs = model.generate(**inputs, {settings})
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
    )
)
