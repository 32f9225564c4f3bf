"""The task options the seed tutorials use, each checked against the tutorial's own code on the same checkpoint:
gold labels → loss (004), a layer's hidden states, the pooler and attentions (001), a padded tokenizer batch (004),
generate(max_length=...) (003) and config overrides at load time (004: from_pretrained(name, num_labels=10))."""

from __future__ import annotations

import pytest

from explorer.core.jobs import run_to_end
from explorer.tasks.base import TaskError, TaskInputError, get_task
from explorer.tasks.session import LoadRequest, ModelSession, parse_config_overrides

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TEXTS = ["We are very happy to show you the 🤗 Transformers library.", "We hope you don't hate it."]


def run(session, task_id, path, values=None, **request):
    return run_to_end(session.run(task_id, LoadRequest(str(path), None, **request), values or {}))


# --------------------------------------------------------------------------- text classification: gold labels


def test_gold_labels_give_the_models_loss(session, sample):
    """Tutorial 004: `outputs = model(**batch, labels=torch.tensor([1, 0]))`, `outputs.loss`."""
    import torch

    path = sample("tiny-distilbert-sentiment")
    result = run(session, "text-classification", path, {"texts": "\n".join(TEXTS), "gold_labels": "POSITIVE, 0"})
    model, tokenizer = session.loaded.model, session.loaded.tokenizer
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch, labels=torch.tensor([1, 0])).loss.item()
    assert result.loss == pytest.approx(expected, abs=1e-6)
    assert [g.label for g in result.gold_labels] == ["POSITIVE", "NEGATIVE"]
    assert result.loss_kind == "single_label_classification"
    # Without gold labels there is no loss, and the run is the same as before.
    assert run(session, "text-classification", path, {"texts": TEXTS[0]}).loss is None


@pytest.mark.parametrize(
    "gold, message",
    [("POSITIVE", "give one per text \\(2\\), got 1"), ("POSITIVE, maybe", "'maybe' is not a label of this classifier"), ("1, 7", "'7' is not a label")],
)
def test_bad_gold_labels_are_named(session, sample, gold, message):
    with pytest.raises(TaskInputError, match=message):
        run(session, "text-classification", sample("tiny-distilbert-sentiment"), {"texts": "\n".join(TEXTS), "gold_labels": gold})


# --------------------------------------------------------------------------- feature extraction: layers, pooler, attentions


def test_hidden_states_of_a_chosen_layer(session, sample):
    import torch

    path = sample("tiny-bert-mlm")
    result = run(session, "feature-extraction", path, {"sentences": TEXTS[1], "layer": 1})
    model, tokenizer = session.loaded.model, session.loaded.tokenizer
    with torch.no_grad():
        outputs = model(**tokenizer(TEXTS[1], return_tensors="pt"), output_hidden_states=True)
    assert result.layer == 1 and result.layers == len(outputs.hidden_states) - 1
    assert result.hidden_state_shape == list(outputs.hidden_states[1].shape)
    assert result.vectors[0] == pytest.approx(outputs.hidden_states[1][0].mean(dim=0).tolist(), abs=1e-5)
    embeddings = run(session, "feature-extraction", path, {"sentences": TEXTS[1], "layer": 0, "pooling": "cls"})
    assert embeddings.vectors[0] == pytest.approx(outputs.hidden_states[0][0, 0].tolist(), abs=1e-5)
    with pytest.raises(TaskInputError, match="Layer 9 does not exist: this model has 2 layers"):
        run(session, "feature-extraction", path, {"sentences": TEXTS[1], "layer": 9})
    assert get_task("feature-extraction").resolve({"layer": "last"})["layer"] == -1  # what the form shows for -1


def test_pooler_output_is_model_output_1(session, sample):
    """Tutorial 001: `pooled_output = model(input_ids)[1]`."""
    import torch

    path = sample("tiny-bert-nli")  # a classifier checkpoint keeps the trained pooler
    result = run(session, "feature-extraction", path, {"sentences": TEXTS[0], "pooling": "pooler"})
    model, tokenizer = session.loaded.model, session.loaded.tokenizer
    with torch.no_grad():
        pooled = model(tokenizer(TEXTS[0], return_tensors="pt")["input_ids"])[1]
    assert result.has_pooler and result.vectors[0] == pytest.approx(pooled[0].tolist(), abs=1e-5)
    with pytest.raises(TaskInputError, match="last layer only"):
        run(session, "feature-extraction", path, {"pooling": "pooler", "layer": 1})
    with pytest.raises(TaskInputError, match="GPT2Model has no pooler"):
        run(session, "feature-extraction", sample("tiny-gpt2-lm"), {"pooling": "pooler"})


def test_attention_shapes_and_attention_restored(session, sample):
    path = sample("tiny-bert-mlm")
    result = run(session, "feature-extraction", path, {"sentences": "\n".join(TEXTS), "output_attentions": True})
    config = session.loaded.model.config
    batch, tokens = result.last_hidden_state_shape[:2]
    assert result.attentions_shape == [config.num_hidden_layers, batch, config.num_attention_heads, tokens, tokens]
    assert config._attn_implementation == "sdpa"  # switched to eager for the run only
    assert run(session, "feature-extraction", path, {"sentences": TEXTS[0]}).attentions_shape is None


# --------------------------------------------------------------------------- tokenizer: padded batch


def test_padded_batch_matches_the_tokenizer(session, sample):
    """Tutorial 004: `tokenizer([...], padding=True, truncation=True, max_length=512)`: input_ids and attention_mask."""
    path = sample("tiny-bert-mlm")
    result = run(session, "tokenize", path, {"text": "\n".join(TEXTS), "batch": True})
    expected = session.loaded.tokenizer(TEXTS, padding=True, truncation=True, max_length=512)
    assert result.input_ids == expected["input_ids"] and result.attention_mask == expected["attention_mask"]
    batch = result.batch
    assert batch.texts == TEXTS and batch.shape == [2, len(expected["input_ids"][0])]
    assert batch.lengths[1] < batch.lengths[0] and result.attention_mask[1][-1] == 0
    assert batch.tokens[0][0] == "[CLS]"
    with pytest.raises(TaskInputError, match="second text goes with a single text"):
        run(session, "tokenize", path, {"text": "\n".join(TEXTS), "text_pair": "x", "batch": True})


def test_batch_without_a_padding_token_pads_with_end_of_text(session, sample):
    path = sample("tiny-gpt2-lm")
    run(session, "tokenize", path, {"text": "Hello"})
    tokenizer = session.loaded.tokenizer
    tokenizer.pad_token = None  # as GPT-2's own tokenizer (the sample's pads with end-of-text already)
    result = run(session, "tokenize", path, {"text": "Hello\nHello there my friend", "batch": True})
    assert session.loaded.tokenizer is tokenizer and tokenizer.pad_token is None  # the shared tokenizer is left as it was
    assert result.batch.pad_token_id == tokenizer.eos_token_id
    assert result.input_ids[0][-1] == tokenizer.eos_token_id and result.attention_mask[0][-1] == 0
    assert "no padding token" in " ".join(result.notices)


# --------------------------------------------------------------------------- text generation: max_length


def test_max_length_counts_the_prompt_like_generate(session, sample):
    """Tutorial 003: `model.generate(**inputs, max_length=50, ...)` stops at 50 tokens, prompt included."""
    import torch

    path = sample("tiny-gpt2-lm")
    values = {"text": "Once upon a time", "max_length": 20, "do_sample": False, "use_chat_template": False}
    result = run(session, "text-generation", path, values)
    model, tokenizer = session.loaded.model, session.loaded.tokenizer
    inputs = tokenizer("Once upon a time", return_tensors="pt")
    with torch.no_grad():
        outputs = model.generate(**inputs, max_length=20, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert result.token_ids == outputs[0, inputs.input_ids.shape[1]:].tolist()
    assert result.prompt_tokens + result.new_tokens <= 20
    if result.stopped != "eos":
        assert result.stopped == "max_length" and result.prompt_tokens + result.new_tokens == 20
    with pytest.raises(TaskInputError, match="leaves no room"):
        run(session, "text-generation", path, {**values, "max_length": 2})


def test_lengths_start_from_the_checkpoint_or_transformers():
    """No length from the checkpoint: both off, and generate adds its default 20 new tokens."""
    from explorer.tasks.generation_settings import LIBRARY_NEW_TOKENS

    task = get_task("text-generation")
    assert task.field("max_new_tokens").default == 0 and task.field("max_length").default == 0
    assert LIBRARY_NEW_TOKENS == 20 and "20 new tokens" in task.field("max_length").help


# --------------------------------------------------------------------------- config overrides at load time


def test_parse_config_overrides():
    parsed = parse_config_overrides("num_labels=10\n\n# a comment\nproblem_type=multi_label_classification\noutput_hidden_states = true")
    assert parsed == (("num_labels", 10), ("problem_type", "multi_label_classification"), ("output_hidden_states", True))
    assert parse_config_overrides(['id2label={"0": "sad", "1": "glad"}']) == (("id2label", {0: "sad", 1: "glad"}),)
    for bad, message in [("num_labels", "write KEY=VALUE"), ("2x=1", "write KEY=VALUE"), ("num_labels=", "has no value"), ("device_map=auto", "loading option")]:
        with pytest.raises(TaskInputError, match=message):
            parse_config_overrides(bad)


def test_new_label_count_needs_ignore_mismatched_sizes(sample):
    """Tutorial 004: `from_pretrained(name, num_labels=10)` on a 2-label classifier."""
    path = sample("tiny-distilbert-sentiment")
    session = ModelSession()
    overrides = parse_config_overrides("num_labels=10")
    with pytest.raises(TaskError, match="Ignore mismatched sizes"):
        run(session, "text-classification", path, {"texts": "good"}, config_overrides=overrides)
    result = run(session, "text-classification", path, {"texts": "good"}, config_overrides=overrides, ignore_mismatched_sizes=True)
    assert len(result.results[0].scores) == 10
    notices = " ".join(result.notices)
    assert "classifier.weight [2, 32] → [10, 32]" in notices and "num_labels=10" in notices
    assert result.model.config_overrides == {"num_labels": 10} and result.model.ignore_mismatched_sizes
    # Another request (no overrides) reloads: the saved two labels are back.
    assert len(run(session, "text-classification", path, {"texts": "good"}).results[0].scores) == 2
    with pytest.raises(TaskError, match="'colour' is not a setting of this model's config"):
        run(session, "text-classification", path, {"texts": "good"}, config_overrides=(("colour", "red"),))
    session.unload_now()
