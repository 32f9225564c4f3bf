"""Every task end to end on CPU with the sample checkpoints, checked against hand-written
tokenizer + model code (the seed tutorial's examples)."""

from __future__ import annotations

import pytest
import torch

from explorer.core.jobs import Cancelled, CancelToken, Progress
from explorer.tasks.base import Partial

pytestmark = pytest.mark.slow


def test_text_generation_greedy_matches_generate_and_streams(run_task, session):
    values = {"text": "Once upon a time", "max_new_tokens": 12, "do_sample": False, "use_chat_template": False}
    result, partials = run_task("text-generation", "tiny-gpt2-lm", values)
    tokens = [p for p in partials if p.kind == "token"]
    assert len(tokens) == result.new_tokens == len(result.token_ids)
    assert partials[0].kind == "prompt" and partials[0].data["text"] == "Once upon a time"
    assert "".join(p.data["text"] for p in partials[1:]) == result.generated_text
    assert result.tokens_per_second > 0
    assert result.text.startswith("Once upon a time")
    model, tokenizer = session.loaded.model, session.loaded.tokenizer
    inputs = tokenizer("Once upon a time", return_tensors="pt")
    expected = model.generate(**inputs, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert result.token_ids == expected[0, inputs["input_ids"].shape[1]:].tolist()
    first_step = result.steps[0].top
    assert len(first_step) == 5
    assert [t.probability for t in first_step] == sorted((t.probability for t in first_step), reverse=True)
    assert first_step[0].id == result.token_ids[0]  # greedy takes the most likely token


def test_text_generation_sampling_is_seeded_and_uses_chat_template(run_task):
    values = {"text": "Hello", "max_new_tokens": 10, "do_sample": True, "seed": 7, "temperature": 1.3, "top_k": 0}
    first, _ = run_task("text-generation", "tiny-gpt2-lm", values)
    again, _ = run_task("text-generation", "tiny-gpt2-lm", values)
    other, _ = run_task("text-generation", "tiny-gpt2-lm", {**values, "seed": 8})
    assert first.token_ids == again.token_ids
    assert first.token_ids != other.token_ids
    assert first.chat_template_used is True
    assert first.prompt_text == "user: Hello\nassistant:"


def test_text_generation_stop_ends_within_one_step(session, sample):
    from explorer.tasks.session import LoadRequest

    cancel = CancelToken()
    job = session.run("text-generation", LoadRequest(str(sample("tiny-gpt2-lm")), None), {"max_new_tokens": 40}, cancel)
    seen = []
    with pytest.raises(Cancelled):
        for item in job:
            if isinstance(item, Partial):
                seen.append(item)
                cancel.cancel()
    assert len(seen) == 1
    # The lock is free again: the next run starts at once.
    assert session._lock.acquire(timeout=0.1)
    session._lock.release()


def test_fill_mask_top_k_matches_argmax_of_seed_example(run_task, session):
    result, _ = run_task("fill-mask", "tiny-bert-mlm", {"text": "The capital of France is [MASK].", "top_k": 4})
    (mask,) = result.masks
    scores = [p.score for p in mask.predictions]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True) and sum(scores) <= 1.0
    tokenizer, model = session.loaded.tokenizer, session.loaded.model
    inputs = tokenizer("The capital of France is [MASK].", return_tensors="pt")
    with torch.no_grad():
        predictions = model(**inputs).logits
    masked_index = (inputs.input_ids == tokenizer.mask_token_id)[0].nonzero(as_tuple=True)[0]
    predicted = tokenizer.decode([predictions[0, masked_index].argmax(dim=-1).item()])
    assert mask.predictions[0].token == predicted
    assert "[MASK]" not in mask.predictions[0].sequence


def test_fill_mask_several_masks(run_task):
    result, partials = run_task("fill-mask", "tiny-bert-mlm", {"text": "[MASK] is the capital of [MASK]."})
    assert len(result.masks) == 2 == len([p for p in partials if p.kind == "mask"])


def test_text_classification_batch_softmax_and_sigmoid(run_task, session):
    texts = ["We are very happy to show you the library.", "We hope you don't hate it."]
    result, _ = run_task("text-classification", "tiny-distilbert-sentiment", {"texts": "\n".join(texts)})
    assert [row.text for row in result.results] == texts
    for row in result.results:
        assert {s.label for s in row.scores} == {"NEGATIVE", "POSITIVE"}
        assert sum(s.score for s in row.scores) == pytest.approx(1.0, abs=1e-5)
    tokenizer, model = session.loaded.tokenizer, session.loaded.model
    batch = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        probabilities = torch.nn.functional.softmax(model(**batch).logits, dim=-1)
    by_label = {s.label: s.score for s in result.results[1].scores}
    assert by_label["POSITIVE"] == pytest.approx(probabilities[1, 1].item(), abs=1e-5)
    multi, _ = run_task("text-classification", "tiny-distilbert-sentiment", {"texts": texts[0], "multi_label": True})
    assert multi.multi_label is True
    sigmoid = {s.label: s.score for s in multi.results[0].scores}
    with torch.no_grad():
        logits = model(**tokenizer(texts[0], return_tensors="pt")).logits[0]
    assert sigmoid["NEGATIVE"] == pytest.approx(torch.sigmoid(logits[0]).item(), abs=1e-5)


@pytest.mark.parametrize("aggregation", ["none", "simple", "first", "max", "average"])
def test_token_classification_aggregations(run_task, aggregation):
    text = "My name is Sarah and I live in London. Hugging Face Inc. is based in New York City."
    result, _ = run_task("token-classification", "tiny-bert-ner", {"text": text, "aggregation": aggregation})
    assert result.tokens[0].word == "[CLS]" and result.tokens[0].special
    assert all(t.entity in result.labels for t in result.tokens)
    for entity in result.entities:
        if aggregation == "none":  # the token itself, as the old pipeline reported it
            assert entity.word.removeprefix("##") == text[entity.start:entity.end].lower()
        else:
            assert entity.word == text[entity.start:entity.end]
        assert entity.label != "O"
        assert 0 < entity.score <= 1


def test_token_classification_word_strategies_label_whole_words(run_task):
    text = "Transformers checkpoints everywhere"
    result, _ = run_task("token-classification", "tiny-bert-ner", {"text": text, "aggregation": "first"})
    for entity in result.entities:
        # word-level strategies never cut a word in the middle
        assert entity.start == 0 or text[entity.start - 1] == " "
        assert entity.end == len(text) or text[entity.end] in " ."


def test_token_classification_seed_example_labels(run_task, session):
    text = "Hugging Face Inc. is a company based in New York City."
    result, _ = run_task("token-classification", "tiny-bert-ner", {"text": text, "aggregation": "none"})
    tokenizer, model = session.loaded.tokenizer, session.loaded.model
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        predictions = torch.argmax(model(**inputs).logits, dim=2)
    expected = [model.config.id2label[p.item()] for p in predictions[0]]
    assert [t.entity for t in result.tokens] == expected


def test_question_answering_spans_and_seed_argmax(run_task, session):
    context = "Hugging Face is creating a tool that democratizes AI."
    question = "What is Hugging Face creating?"
    result, partials = run_task("question-answering", "tiny-bert-qa", {"question": question, "context": context, "top_n": 3})
    assert 1 <= len(result.answers) <= 3
    for answer in result.answers:
        assert answer.answer == context[answer.start:answer.end]
        assert answer.start < answer.end
    scores = [a.score for a in result.answers]
    assert scores == sorted(scores, reverse=True)
    assert partials and partials[-1].data == result.answers[0]
    tokenizer, model = session.loaded.tokenizer, session.loaded.model
    inputs = tokenizer(question, context, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    start, end = torch.argmax(outputs.start_logits), torch.argmax(outputs.end_logits) + 1
    expected = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0][start:end]))
    assert result.argmax_answer.answer == expected
    (window,) = result.windows
    assert len(window.tokens) == len(window.start_logits) == len(window.end_logits) == len(window.context_mask)


def test_question_answering_long_context_uses_windows(run_task):
    context = " ".join(["Paris is the capital of France. Berlin is the capital of Germany."] * 30)
    result, _ = run_task("question-answering", "tiny-bert-qa", {"question": "What is the capital of France?", "context": context, "stride": 32})
    assert len(result.windows) > 1
    assert any("overlapping windows" in n for n in result.notices)
    for answer in result.answers:
        assert answer.answer == context[answer.start:answer.end]


def test_text2text_matches_generate_with_beams(run_task, session):
    text = "translate English to German: Hello, how are you?"
    result, _ = run_task("text2text-generation", "tiny-t5", {"text": text, "max_length": 20, "num_beams": 4})
    tokenizer, model = session.loaded.tokenizer, session.loaded.model
    outputs = model.generate(**tokenizer(text, return_tensors="pt"), max_length=20, num_beams=4, early_stopping=True)
    assert result.token_ids == outputs[0].tolist()
    assert result.generated_text == tokenizer.decode(outputs[0], skip_special_tokens=True)


def test_zero_shot_single_and_multi_label(run_task):
    values = {"text": "The movie was great and I loved it.", "labels": "cinema, food, weather"}
    single, _ = run_task("zero-shot-classification", "tiny-bert-nli", values)
    assert sorted(single.labels) == ["cinema", "food", "weather"]
    assert sum(single.scores) == pytest.approx(1.0, abs=1e-5)
    assert single.entailment_label == "entailment"
    multi, _ = run_task("zero-shot-classification", "tiny-bert-nli", {**values, "multi_label": True})
    assert all(0 < s < 1 for s in multi.scores)
    assert sum(multi.scores) != pytest.approx(1.0, abs=1e-3)


def test_feature_extraction_shapes_and_similarity(run_task):
    sentences = ["This is a sample sentence.", "The cat sat on the mat."]
    result, _ = run_task("feature-extraction", "tiny-bert-mlm", {"sentences": "\n".join(sentences)})
    batch, length, hidden = result.last_hidden_state_shape
    assert (batch, hidden) == (2, 32) and length == max(result.token_counts)
    assert result.vector_size == 32
    similarity = result.similarity
    assert similarity[0][0] == pytest.approx(1.0, abs=1e-5)
    assert similarity[0][1] == pytest.approx(similarity[1][0], abs=1e-6)
    assert any("pooler" in n for n in result.notices)
    cls, _ = run_task("feature-extraction", "tiny-bert-mlm", {"sentences": "\n".join(sentences), "pooling": "cls"})
    assert cls.vectors != result.vectors


def test_feature_extraction_encoder_decoder_uses_encoder(run_task):
    result, _ = run_task("feature-extraction", "tiny-t5", {"sentences": "Hello world."})
    assert any("encoder" in n for n in result.notices)
    assert result.vector_size == 32


def test_tokenize_offsets_specials_and_decode(run_task, sample):
    from transformers import AutoTokenizer

    text = "Hello world. Good morning."
    result, _ = run_task("tokenize", "tiny-bert-mlm", {"text": text, "text_pair": "Thank you"})
    tokenizer = AutoTokenizer.from_pretrained(sample("tiny-bert-mlm"))
    assert result.input_ids == tokenizer(text, "Thank you")["input_ids"]
    assert result.counts.special_tokens == 3  # [CLS] a [SEP] b [SEP]
    for token in result.tokens:
        if not token.special and token.sequence == 0:
            assert text[token.start:token.end].lower() == token.token.removeprefix("##")
    assert result.decoded_without_special.startswith("hello world")
    assert result.model_max_length == 128


def test_tokenize_loads_no_model(session, sample):
    from explorer.core.jobs import run_to_end
    from explorer.tasks.session import LoadRequest

    run_to_end(session.run("tokenize", LoadRequest(str(sample("tiny-gpt2-lm")), None), {"text": "hi"}))
    assert session.loaded.model is None


def test_progress_is_reported(session, sample):
    from explorer.tasks.session import LoadRequest

    session.unload_now()
    messages = []
    job = session.run("fill-mask", LoadRequest(str(sample("tiny-bert-mlm")), None), {})
    for item in job:
        if isinstance(item, Progress):
            messages.append(item.message)
    assert "Loading the tokenizer" in messages and "Loading the weights" in messages
    assert any(m.startswith("Loading weights (") for m in messages)  # per-tensor progress from the loader


def test_spread_over_devices_uses_accelerate_placement(run_task):
    result, _ = run_task("fill-mask", "tiny-bert-mlm", {}, spread=True)
    assert result.model.device == "auto"
    assert result.masks[0].predictions


def test_dtype_choice_is_applied(run_task, session):
    result, _ = run_task("text-classification", "tiny-distilbert-sentiment", {}, dtype="bfloat16")
    assert result.model.dtype == "bfloat16"
    assert session.loaded.memory_bytes < 100_000  # half of the float32 sample


def test_tokenizer_playground_reuses_the_loaded_model(session, sample):
    from explorer.core.jobs import run_to_end
    from explorer.tasks.session import LoadRequest

    path = str(sample("tiny-bert-ner"))
    run_to_end(session.run("token-classification", LoadRequest(path, None), {}))
    model = session.loaded.model
    run_to_end(session.run("tokenize", LoadRequest(path, None), {"text": "hi"}))
    assert session.loaded.model is model
