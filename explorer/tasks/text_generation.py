"""Text generation with a causal LM: ``model.generate`` with the checkpoint's generation_config, streamed.

Every decoding setting starts from what the checkpoint says (``generation_settings``) and only
what the user changed is passed to ``generate`` (``generation_run`` streams it), so the app, the
"copy as Python" script and a notebook that loads the checkpoint give the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explorer.core.jobs import CancelToken, Job
from explorer.core.snippets import keyword_arguments, python_literal
from explorer.tasks import generation_settings
from explorer.tasks.base import (
    KIND_BOOL,
    KIND_INT,
    KIND_MULTILINE,
    CommandLine,
    Field,
    FromCheckpoint,
    Partial,
    Record,
    Sourced,
    TaskInputError,
    TaskResult,
    TaskSpec,
    register,
    rounded,
)

INPUTS = (Field("text", "Prompt", KIND_MULTILINE, default="Once upon a time", required=True),)
PARAMETERS = (
    Field(
        "use_chat_template", "Chat template", KIND_BOOL, default=True,
        help="Wrap the prompt as a user message when the tokenizer has a chat template",
        only_if=FromCheckpoint("has_chat_template", why_not="This tokenizer has no chat template: the prompt is used as it is"),
    ),
    *generation_settings.FIELDS,
    Field(
        "seed", "Seed", KIND_INT, default=0, minimum=0, maximum=2**31 - 1, step=1,
        help="torch.manual_seed before generate: same seed and settings give the same text", requires="do_sample",
    ),
    Field(
        "show_top_k", "Show next-token probabilities", KIND_INT, default=5, minimum=0, maximum=20, step=1,
        help="For each step, the k most likely tokens after the logits processors (repetition penalty, bad words, ...); "
        "when sampling, before temperature, top-k and top-p narrow them for the draw (0: off; not with beam search)",
    ),
)


@dataclass(slots=True)
class NextToken(Record):
    token: str
    id: int
    probability: float  # after the logits processors, before sampling's warpers


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
    stopped: str  # "eos", "stop_string", "max_new_tokens" or "max_length"
    tokens_per_second: float | None
    steps: list[GenerationStep]  # empty when show_top_k is 0 or with beam search
    settings: dict[str, Any]  # the form's values for this run, by field name
    generation_settings: dict[str, dict[str, Any]]  # each decoding setting: its value and where it came from
    notices: list[str] = field(default_factory=list)


def position_limit(config) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


class IncrementalText:
    """The text of streamed tokens, decoded a few tokens at a time (decoding all of them at each step grows
    with the square of the length). A byte-level token can end inside a UTF-8 character: its text waits
    for the rest. Decoding from a few tokens back keeps the spaces a tokenizer puts between words."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.shown = ""
        self._prefix_start = 0  # decode from here, so the first shown token keeps its leading space
        self._read_start = 0  # tokens before this are shown

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        return self.catch_up()

    def catch_up(self) -> str:
        """The text of the tokens appended to ``ids`` since the last call, as far as it is whole."""
        decode = self.tokenizer.decode
        before = decode(self.ids[self._prefix_start:self._read_start], skip_special_tokens=True)
        now = decode(self.ids[self._prefix_start:], skip_special_tokens=True)
        if len(now) <= len(before) or now.endswith("\ufffd") or not now.startswith(before):
            return ""
        delta = now[len(before):]
        self._prefix_start, self._read_start = self._read_start, len(self.ids)
        self.shown += delta
        return delta


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
    from explorer.tasks.generation_run import run_generate

    model, tokenizer = loaded.model, loaded.tokenizer
    checkpoint = generation_settings.checkpoint_defaults(loaded.request.path, loaded)
    notices: list[str] = []
    input_ids, attention_mask, chat_used = prepare_prompt(tokenizer, values["text"], values["use_chat_template"])
    if input_ids.shape[1] == 0:
        raise TaskInputError("The prompt became no tokens at all; type some text")
    limit = position_limit(model.config)
    if limit is not None and input_ids.shape[1] > limit - 1:
        notices.append(f"The prompt is {input_ids.shape[1]} tokens; the model takes {limit}, so only its last {limit - 1} tokens were kept.")
        input_ids, attention_mask = input_ids[:, -(limit - 1):], attention_mask[:, -(limit - 1):]
    prompt_length = input_ids.shape[1]
    room, generate_keeps_to_it = generation_settings.new_token_room(values, prompt_length, limit)
    settings = generation_settings.changed_settings(values, checkpoint)
    if not generate_keeps_to_it:
        settings["max_new_tokens"] = room
        notices.append(f"Only {room} new tokens fit in the model's {limit} positions.")
    elif settings.get("max_new_tokens", room) != room:  # the form's "off" turned into 20 new tokens, capped
        settings["max_new_tokens"] = room
    beams = values["num_beams"] > 1
    show_top_k = 0 if beams else values["show_top_k"]
    if beams and values["show_top_k"]:
        notices.append("Beam search keeps several sequences at once, so no per-step probabilities are shown.")
    prompt_text = tokenizer.decode(input_ids[0], skip_special_tokens=False)
    yield Partial("prompt", {"text": prompt_text, "chat_template_used": chat_used})

    steps: list[GenerationStep] = []
    text = IncrementalText(tokenizer)

    token_texts: dict[int, str] = {}  # the same few tokens come up step after step

    def token_text(token_id: int) -> str:
        known = token_texts.get(token_id)
        if known is None:
            known = token_texts[token_id] = tokenizer.decode([token_id])
        return known

    def pieces(batch: list, elapsed: float) -> list[Partial]:
        """A piece per token; the text of the tokens collected together comes with the last of them."""
        made = []
        for index, (token_id, top) in enumerate(batch):
            records: list[NextToken] = []
            if top is not None:
                records = [NextToken(token_text(i), i, rounded(p)) for i, p in zip(*top)]
                steps.append(GenerationStep(token_id, records))
            text.ids.append(token_id)
            count = len(text.ids)
            made.append(Partial(
                "token",
                {
                    "text": text.catch_up() if index == len(batch) - 1 else "",
                    "token_id": token_id,
                    "token": token_text(token_id),
                    "step": count,
                    "top": records,
                    "tokens_per_second": count / elapsed if elapsed > 0 else None,
                },
            ))
        return made

    inputs = {"input_ids": input_ids.to(loaded.input_device), "attention_mask": attention_mask.to(loaded.input_device)}
    generated = yield from run_generate(
        model, inputs, settings, seed=values["seed"], cancel=cancel, total_steps=room, stream=not beams,
        show_top_k=show_top_k, tokenizer=tokenizer, on_tokens=pieces,
    )
    notices.extend(f"transformers: {warning}" for warning in generated.warnings)
    sequence = generated.sequence
    new_ids = sequence[prompt_length:].tolist()
    generated_text = tokenizer.decode(new_ids, skip_special_tokens=True)
    if generated_text != text.shown:
        # Held-back bytes at the end, a decoder that rewrote earlier text, or beam search (nothing streamed).
        rest = generated_text[len(text.shown):] if generated_text.startswith(text.shown) else ""
        yield Partial("text", {"text": rest, "full_text": generated_text})
    return GenerationResult(
        task=SPEC.id,
        result_type=SPEC.result_type,
        prompt=values["text"],
        prompt_text=prompt_text,
        chat_template_used=chat_used,
        generated_text=generated_text,
        text=tokenizer.decode(sequence, skip_special_tokens=True),
        token_ids=new_ids,
        prompt_tokens=prompt_length,
        new_tokens=len(new_ids),
        stopped=stop_reason(values, new_ids, generated_text, room),
        tokens_per_second=round(len(new_ids) / generated.seconds, 2) if generated.seconds > 0 else None,
        steps=steps,
        settings=dict(values),
        generation_settings=generation_settings.effective_settings(values, checkpoint),
        notices=notices,
    )


def stop_reason(values: dict, new_ids: list[int], text: str, room: int) -> str:
    if new_ids and new_ids[-1] in set(values["eos_token_id"]) and len(new_ids) <= room:
        return "eos"
    if any(stop in text for stop in values["stop_strings"]) and len(new_ids) < room:
        return "stop_string"
    return "max_length" if values["max_length"] and not values["max_new_tokens"] else "max_new_tokens"


def summary(result: GenerationResult) -> dict:
    return {"text": result.text, "token_ids": result.token_ids}


def script(values: dict, checkpoint: dict[str, Sourced]) -> str:
    changed = generation_settings.changed_settings(values, checkpoint)
    settings = "".join(f"\n        {item}," for item in keyword_arguments(changed))
    return f'''prompt = {python_literal(values["text"])}
if {python_literal(values["use_chat_template"])} and tokenizer.chat_template:
    inputs = tokenizer.apply_chat_template(
        [{{"role": "user", "content": prompt}}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
else:
    inputs = tokenizer(prompt, return_tensors="pt")
input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
# model.generate starts from the checkpoint's generation_config; only what was changed in the app is passed.
settings = dict({settings}
)
position_limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
if position_limit:  # keep the prompt and the new tokens inside the model's positions, as the app does
    input_ids, attention_mask = input_ids[:, -(position_limit - 1):], attention_mask[:, -(position_limit - 1):]
    max_new = settings.get("max_new_tokens", model.generation_config.max_new_tokens)
    max_length = settings.get("max_length", model.generation_config.max_length)
    if not max_new and max_length:
        max_new = max_length - input_ids.shape[1]
    if max_new and input_ids.shape[1] + max_new > position_limit:
        settings["max_new_tokens"] = position_limit - input_ids.shape[1]

torch.manual_seed({python_literal(values["seed"])})
with torch.inference_mode():
    outputs = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        **settings,{_stop_strings_argument(changed, checkpoint)}
    )
new_ids = outputs[0, input_ids.shape[1]:].tolist()
result = {{"text": tokenizer.decode(outputs[0], skip_special_tokens=True), "token_ids": new_ids}}
'''


def _stop_strings_argument(changed: dict, checkpoint: dict[str, Sourced]) -> str:
    stop_strings = changed.get("stop_strings", checkpoint["stop_strings"].value if "stop_strings" in checkpoint else None)
    return "\n        tokenizer=tokenizer,  # generate needs it to find the stop strings" if stop_strings else ""


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
        checkpoint_defaults=generation_settings.checkpoint_defaults,
    )
)
