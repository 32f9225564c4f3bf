"""Text generation with a causal LM: a step loop over the KV cache, streamed token by token.

The loop does what ``model.generate`` does for one sequence (same logits processors in the
same order, float32 scores, ``torch.multinomial`` after ``torch.manual_seed``), so the
"copy as Python" script that calls ``generate`` prints the same tokens. Owning the loop lets
Stop end the run within one step and shows each step's most likely next tokens.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any

from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.snippets import keyword_arguments, python_literal
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_MULTILINE,
    CommandLine,
    Field,
    FromCheckpoint,
    Partial,
    Record,
    TaskInputError,
    TaskResult,
    TaskSpec,
    register,
    rounded,
)

# A round number that shows a model's style in a few sentences and takes seconds, not minutes, on a CPU.
DEFAULT_NEW_TOKENS = 50

INPUTS = (Field("text", "Prompt", KIND_MULTILINE, default="Once upon a time", required=True),)
PARAMETERS = (
    Field(
        "use_chat_template", "Chat template", KIND_BOOL, default=True,
        help="Wrap the prompt as a user message when the tokenizer has a chat template",
        only_if=FromCheckpoint("has_chat_template", why_not="This tokenizer has no chat template: the prompt is used as it is"),
    ),
    Field(
        "max_new_tokens", "Max new tokens", KIND_INT, default=DEFAULT_NEW_TOKENS, minimum=1, maximum=4096, step=1,
        help=f"How many tokens to add at most ({DEFAULT_NEW_TOKENS} by default: a few sentences, a second or two on a CPU "
        "for small models). Ignored when Max length is set",
    ),
    Field(
        "max_length", "Max length (total)", KIND_INT, default=0, minimum=0, maximum=1_000_000, step=1,
        help="Stop when prompt + new tokens reach this many tokens, as generate(max_length=50) in the tutorials; "
        "'off' uses Max new tokens instead",
        special_value="off",
    ),
    Field("do_sample", "Sampling", KIND_BOOL, default=True, help="Off: greedy decoding, always the most likely token"),
    Field(
        "temperature", "Temperature", KIND_FLOAT, default=0.7, minimum=0.01, maximum=5.0, step=0.05,
        help="Below 1 sharpens, above 1 flattens the distribution (sampling only)", requires="do_sample",
    ),
    Field(
        "top_p", "Top-p", KIND_FLOAT, default=0.95, minimum=0.01, maximum=1.0, step=0.01,
        help="Keep the smallest set of tokens whose probability adds up to p (sampling only)", requires="do_sample",
    ),
    Field(
        "top_k", "Top-k", KIND_INT, default=50, minimum=0, maximum=10000, step=1,
        help="Keep the k most likely tokens; 0 turns it off (sampling only)", requires="do_sample",
    ),
    Field(
        "repetition_penalty", "Repetition penalty", KIND_FLOAT, default=1.0, minimum=0.01, maximum=10.0, step=0.05,
        help="Above 1 discourages tokens already in the text",
    ),
    Field(
        "seed", "Seed", KIND_INT, default=0, minimum=0, maximum=2**31 - 1, step=1,
        help="Same seed and settings give the same text", requires="do_sample",
    ),
    Field(
        "show_top_k", "Show next-token probabilities", KIND_INT, default=5, minimum=0, maximum=20, step=1,
        help="For each step, the k most likely tokens after the processors (0: off)",
    ),
)


@dataclass(slots=True)
class NextToken(Record):
    token: str
    id: int
    probability: float  # after the logits processors


@dataclass(slots=True)
class GenerationStep(Record):
    chosen: int  # the token id the step added
    top: list[NextToken]  # the most likely next tokens, best first


@dataclass(kw_only=True)
class GenerationResult(TaskResult):
    prompt: str  # as typed
    prompt_text: str  # as the model read it (chat template applied, cut to fit)
    chat_template_used: bool
    generated_text: str  # the new tokens only
    text: str  # prompt and new tokens, special tokens left out
    token_ids: list[int]  # the new tokens
    prompt_tokens: int
    new_tokens: int
    stopped: str  # "eos", "max_new_tokens" or "max_length"
    tokens_per_second: float | None
    steps: list[GenerationStep]  # empty when show_top_k is 0
    settings: dict[str, Any]  # the form's values for this run, by field name
    notices: list[str] = field(default_factory=list)


def build_processors(values: dict):
    """The processors ``generate`` builds for these settings, in its order."""
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList()
    if values["repetition_penalty"] != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(penalty=values["repetition_penalty"]))
    if values["do_sample"]:
        if values["temperature"] != 1.0:
            processors.append(TemperatureLogitsWarper(values["temperature"]))
        if values["top_k"]:
            processors.append(TopKLogitsWarper(top_k=values["top_k"], min_tokens_to_keep=1))
        if values["top_p"] < 1.0:
            processors.append(TopPLogitsWarper(top_p=values["top_p"], min_tokens_to_keep=1))
    return processors


def position_limit(config) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def eos_token_ids(model, tokenizer) -> set[int]:
    config = getattr(model, "generation_config", None)
    value = getattr(config, "eos_token_id", None)
    if value is None:
        value = tokenizer.eos_token_id
    if value is None:
        return set()
    return {int(v) for v in (value if isinstance(value, (list, tuple)) else [value])}


def cache_keyword(model) -> str:
    """The forward argument that carries the KV cache: transformers 5.24 renamed past_key_values to cache
    (the old name warns, and goes in 5.40); a checkpoint's own modelling code may know only the old one."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def returned_cache(outputs):
    """The KV cache a forward returned, under either name (reading the old one warns on transformers' outputs)."""
    cache = outputs.get("cache") if hasattr(outputs, "get") else None
    return cache if cache is not None else getattr(outputs, "past_key_values", None)


def prepare_prompt(tokenizer, text: str, use_chat_template: bool):
    """input_ids and attention mask, exactly as the script builds them."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        encoded = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return encoded["input_ids"], encoded["attention_mask"], True
    encoded = tokenizer(text, return_tensors="pt")
    return encoded["input_ids"], encoded["attention_mask"], False


def run(loaded, values: dict, cancel: CancelToken) -> Job[GenerationResult]:
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    notices: list[str] = []
    input_ids, attention_mask, chat_used = prepare_prompt(tokenizer, values["text"], values["use_chat_template"])
    if input_ids.shape[1] == 0:
        raise TaskInputError("The prompt became no tokens at all; type some text")
    max_new_tokens = values["max_new_tokens"]
    if values["max_length"]:
        max_new_tokens = values["max_length"] - input_ids.shape[1]
        if max_new_tokens < 1:
            raise TaskInputError(
                f"Max length {values['max_length']} leaves no room: the prompt alone is {input_ids.shape[1]} tokens. "
                "Raise Max length or turn it off"
            )
    limit = position_limit(model.config)
    if limit is not None:
        if input_ids.shape[1] > limit - 1:
            notices.append(f"The prompt is {input_ids.shape[1]} tokens; the model takes {limit}, so only its last {limit - 1} tokens were kept.")
            input_ids, attention_mask = input_ids[:, -(limit - 1):], attention_mask[:, -(limit - 1):]
        if input_ids.shape[1] + max_new_tokens > limit:
            max_new_tokens = limit - input_ids.shape[1]
            notices.append(f"Only {max_new_tokens} new tokens fit in the model's {limit} positions.")
    input_ids = input_ids.to(loaded.input_device)
    attention_mask = attention_mask.to(loaded.input_device)
    prompt_length = input_ids.shape[1]
    processors = build_processors(values)
    eos = eos_token_ids(model, tokenizer)
    show_top_k = values["show_top_k"]
    torch.manual_seed(values["seed"])

    sequence = input_ids
    step_input = input_ids
    cache = None
    carry_cache = loaded.remember("cache_keyword", lambda: cache_keyword(model))
    new_ids: list[int] = []
    steps: list[GenerationStep] = []
    emitted = ""
    stopped = "max_length" if values["max_length"] else "max_new_tokens"
    yield Partial("prompt", {"text": tokenizer.decode(input_ids[0], skip_special_tokens=False), "chat_template_used": chat_used})
    yield Progress(0, max_new_tokens, "Generating")
    started = time.perf_counter()
    with torch.inference_mode():
        for step in range(max_new_tokens):
            cancel.raise_if_cancelled()
            outputs = model(input_ids=step_input, attention_mask=attention_mask, use_cache=True, **{carry_cache: cache})
            cache = returned_cache(outputs)
            logits = outputs.logits[:, -1, :].to(copy=True, dtype=torch.float32, device=input_ids.device)
            scores = processors(sequence, logits)
            if values["do_sample"]:
                probabilities = torch.nn.functional.softmax(scores, dim=-1)
                next_token = torch.multinomial(probabilities, num_samples=1)
            else:
                next_token = torch.argmax(scores, dim=-1, keepdim=True)
            token_id = int(next_token[0, 0])
            new_ids.append(token_id)
            sequence = torch.cat([sequence, next_token], dim=-1)
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((1, 1))], dim=-1)
            step_input = next_token
            top: list[NextToken] = []
            if show_top_k:
                distribution = probabilities if values["do_sample"] else torch.nn.functional.softmax(scores, dim=-1)
                best = torch.topk(distribution[0], k=min(show_top_k, distribution.shape[-1]))
                top = [NextToken(tokenizer.decode([i]), i, rounded(p)) for p, i in zip(best.values.tolist(), best.indices.tolist())]
                steps.append(GenerationStep(token_id, top))
            text = tokenizer.decode(new_ids, skip_special_tokens=True)
            delta = ""
            # A byte-level token can end inside a UTF-8 character; wait for the rest before showing it.
            if not text.endswith("\ufffd") and text.startswith(emitted):
                delta, emitted = text[len(emitted):], text
            elapsed = time.perf_counter() - started
            yield Partial(
                "token",
                {
                    "text": delta,
                    "token_id": token_id,
                    "token": tokenizer.decode([token_id]),
                    "step": step + 1,
                    "top": top,
                    "tokens_per_second": (step + 1) / elapsed if elapsed > 0 else None,
                },
            )
            if token_id in eos:
                stopped = "eos"
                break
    elapsed = time.perf_counter() - started
    generated_text = tokenizer.decode(new_ids, skip_special_tokens=True)
    if generated_text != emitted:
        # Held-back bytes at the end (or a decoder that rewrote earlier text): send the final text.
        rest = generated_text[len(emitted):] if generated_text.startswith(emitted) else ""
        yield Partial("text", {"text": rest, "full_text": generated_text})
    return GenerationResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        prompt=values["text"],
        prompt_text=tokenizer.decode(input_ids[0], skip_special_tokens=False),
        chat_template_used=chat_used,
        generated_text=generated_text,
        text=tokenizer.decode(sequence[0], skip_special_tokens=True),
        token_ids=new_ids,
        prompt_tokens=prompt_length,
        new_tokens=len(new_ids),
        stopped=stopped,
        tokens_per_second=round(len(new_ids) / elapsed, 2) if elapsed > 0 else None,
        steps=steps,
        settings=dict(values),
        notices=notices,
    )


def summary(result: GenerationResult) -> dict:
    return {"text": result.text, "token_ids": result.token_ids}


def script(values: dict) -> str:
    length_setting = "max_length=max_length" if values["max_length"] else "max_new_tokens=max_new_tokens"
    chosen = {"do_sample": values["do_sample"]}
    if values["do_sample"]:
        chosen.update(temperature=values["temperature"], top_k=values["top_k"], top_p=values["top_p"])
    if values["repetition_penalty"] != 1.0:
        chosen["repetition_penalty"] = values["repetition_penalty"]
    settings = [length_setting, *keyword_arguments(chosen)]
    joined = ",\n        ".join(settings)
    if values["max_length"]:
        # generate(max_length=N) counts the prompt too, as in the tutorials.
        length_code = f"max_length = {python_literal(values['max_length'])}  # prompt + new tokens"
        fit_code = "max_length = min(max_length, limit)"
    else:
        length_code = f"max_new_tokens = {python_literal(values['max_new_tokens'])}"
        fit_code = "max_new_tokens = min(max_new_tokens, limit - input_ids.shape[1])"
    return f'''prompt = {python_literal(values["text"])}
if {python_literal(values["use_chat_template"])} and tokenizer.chat_template:
    inputs = tokenizer.apply_chat_template(
        [{{"role": "user", "content": prompt}}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
else:
    inputs = tokenizer(prompt, return_tensors="pt")
input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
{length_code}
limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
if limit:  # keep the prompt and the new tokens inside the model's positions, as the app does
    input_ids, attention_mask = input_ids[:, -(limit - 1):], attention_mask[:, -(limit - 1):]
    {fit_code}

torch.manual_seed({python_literal(values["seed"])})
with torch.inference_mode():
    outputs = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        {joined},
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    )
new_ids = outputs[0, input_ids.shape[1]:].tolist()
result = {{"text": tokenizer.decode(outputs[0], skip_special_tokens=True), "token_ids": new_ids}}
'''


def text_lines(result: GenerationResult) -> list[str]:
    # The text itself was streamed to the terminal as it came.
    return ["", f"[{result.new_tokens} tokens, {result.tokens_per_second} tokens/s, stopped at {result.stopped}]"]


SPEC = register(
    TaskSpec(
        id="text-generation",
        order=1,
        title="Text generation",
        description="Continues a prompt token by token with a causal language model (GPT-2, Llama, …).",
        auto_class="AutoModelForCausalLM",
        inputs=INPUTS,
        parameters=PARAMETERS,
        command_line=CommandLine(text="text"),
        streams=True,
        run=run,
        script=script,
        summary=summary,
        text_lines=text_lines,
        result_type="generated-text",
        view="generation",
    )
)
