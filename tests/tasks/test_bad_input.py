"""Bad input gets a clear message (TaskInputError / TaskError), never a crash."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from explorer.core.jobs import Cancelled, CancelToken, Progress, run_to_end
from explorer.tasks import base
from explorer.tasks.base import TaskError, TaskInputError, get_task
from explorer.tasks.session import LoadRequest, ModelSession, load_model


def run(session, task_id, path, values=None, **request):
    return run_to_end(session.run(task_id, LoadRequest(str(path), None, **request), values or {}))


def test_empty_text_fails_before_loading(session, sample):
    with pytest.raises(TaskInputError, match="Prompt is empty"):
        run(session, "text-generation", sample("tiny-gpt2-lm"), {"text": "   "})
    with pytest.raises(TaskInputError, match="at least one"):
        run(session, "text-classification", sample("tiny-distilbert-sentiment"), {"texts": "\n \n"})
    with pytest.raises(TaskInputError, match="Candidate labels"):
        run(session, "zero-shot-classification", sample("tiny-bert-nli"), {"labels": " , "})
    assert session.loaded is None  # nothing was loaded for input that cannot run


def test_no_mask_token_in_text(session, sample):
    with pytest.raises(TaskInputError, match=r"no mask token: put \[MASK\]"):
        run(session, "fill-mask", sample("tiny-bert-mlm"), {"text": "Paris is the capital of France."})


def test_tokenizer_without_mask_token(sample):
    from transformers import AutoTokenizer

    from explorer.tasks.fill_mask import with_tokenizer_mask

    tokenizer = AutoTokenizer.from_pretrained(sample("tiny-gpt2-lm"))
    with pytest.raises(TaskInputError, match="This tokenizer has no mask token"):
        with_tokenizer_mask("a [MASK] b", tokenizer)


def test_over_long_input_is_truncated_with_notice(session, sample):
    long_text = "The weather is nice today. " * 80
    result = run(session, "text-classification", sample("tiny-distilbert-sentiment"), {"texts": long_text})
    assert any("truncated to 128 tokens" in n for n in result.notices)
    result = run(session, "token-classification", sample("tiny-bert-ner"), {"text": long_text})
    assert any("truncated" in n for n in result.notices)
    assert result.tokens[-1].word == "[SEP]" and len(result.tokens) == 128


def test_over_long_prompt_keeps_its_end(session, sample):
    result = run(session, "text-generation", sample("tiny-gpt2-lm"), {"text": "hello world " * 200, "max_new_tokens": 5, "use_chat_template": False})
    assert any("last 127 tokens" in n for n in result.notices)
    assert result.new_tokens == 1  # only one position left


def test_checkpoint_without_tokenizer(session, sample, tmp_path):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    source = sample("tiny-bert-mlm")
    for name in ("config.json", "model.safetensors"):
        shutil.copy(source / name, folder / name)
    with pytest.raises(TaskError, match="no tokenizer"):
        run(session, "fill-mask", folder)


def test_head_the_model_type_cannot_take(session, sample):
    with pytest.raises(TaskError, match="bert models have no AutoModelForSeq2SeqLM head"):
        run(session, "text2text-generation", sample("tiny-bert-mlm"))


def test_zero_shot_needs_an_nli_model(session, sample):
    with pytest.raises(TaskError, match="no 'entailment' label"):
        run(session, "zero-shot-classification", sample("tiny-distilbert-sentiment"), {"labels": "a, b"})


def test_zero_shot_template_needs_placeholder(session, sample):
    with pytest.raises(TaskInputError, match="needs {}"):
        run(session, "zero-shot-classification", sample("tiny-bert-nli"), {"hypothesis_template": "no slot"})


def test_device_not_present_never_falls_back(session, sample):
    with pytest.raises(TaskError, match="'cuda:7' is not available.*not loaded anywhere else"):
        run(session, "fill-mask", sample("tiny-bert-mlm"), device="cuda:7")
    assert session.loaded is None


def test_bad_settings(sample):
    spec = get_task("text-generation")
    with pytest.raises(TaskInputError, match="at most 100"):
        spec.resolve({"temperature": 500})
    with pytest.raises(TaskInputError, match="must be a number"):
        spec.resolve({"max_new_tokens": "many"})
    with pytest.raises(TaskInputError, match="no setting named colour"):
        spec.resolve({"colour": "red"})
    with pytest.raises(TaskInputError, match="unknown task"):
        get_task("summarise-everything")
    with pytest.raises(TaskInputError, match="Aggregation must be one of"):
        get_task("token-classification").resolve({"aggregation": "median"})


def test_missing_folder(session, tmp_path):
    with pytest.raises(TaskError, match="does not exist"):
        run(session, "fill-mask", tmp_path / "gone")


def with_run(monkeypatch, spec, run_function) -> None:
    """For one test, the task registered with another run generator (declarations are frozen)."""
    monkeypatch.setitem(base._REGISTRY, spec.id, dataclasses.replace(spec, run=run_function))


def test_out_of_memory_becomes_a_clear_message(session, sample, monkeypatch):
    spec = get_task("fill-mask")

    def exhausted(loaded, values, cancel):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield  # a generator, like every task

    with_run(monkeypatch, spec, exhausted)
    with pytest.raises(TaskError, match="Out of memory on cpu"):
        run(session, "fill-mask", sample("tiny-bert-mlm"))


def test_model_failure_is_reported_with_details(session, sample, monkeypatch):
    spec = get_task("fill-mask")

    def broken(loaded, values, cancel):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)")
        yield

    with_run(monkeypatch, spec, broken)
    with pytest.raises(TaskError, match="failed on this input: mat1 and mat2") as caught:
        run(session, "fill-mask", sample("tiny-bert-mlm"))
    assert "Traceback" in caught.value.details


def test_loading_can_be_cancelled(sample):
    cancel = CancelToken()
    job = load_model(LoadRequest(str(sample("tiny-bert-mlm")), "AutoModelForMaskedLM"), cancel)
    with pytest.raises(Cancelled):
        for item in job:
            if isinstance(item, Progress) and item.message == "Loading the weights":
                cancel.cancel()


def test_new_run_waits_for_the_old_one_and_unload_frees(session, sample):
    import gc
    import weakref

    path = str(sample("tiny-gpt2-lm"))
    first = session.run("text-generation", LoadRequest(path, None), {"max_new_tokens": 30})
    while not (item := next(first)).__class__.__name__ == "Partial":
        pass
    second = session.run("text-generation", LoadRequest(path, None), {"max_new_tokens": 2})
    waiting = next(second)
    assert isinstance(waiting, Progress) and "previous run" in waiting.message
    first.close()  # what cancelling does: the old job leaves and frees the session
    result = run_to_end(second)
    assert result.new_tokens == 2
    model_ref = weakref.ref(session.loaded.model)
    run_to_end(session.unload())
    gc.collect()
    assert session.loaded is None and model_ref() is None
    assert session.status() == "No model loaded"


@pytest.fixture(scope="module")
def session():
    session = ModelSession()
    yield session
    session.unload_now()


def custom_code_checkpoint(sample, tmp_path):
    """A checkpoint whose config points at its own modeling file (auto_map)."""
    folder = tmp_path / "custom-code"
    shutil.copytree(sample("tiny-bert-mlm"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "my-custom-bert"
    config["auto_map"] = {"AutoConfig": "modeling_custom.CustomConfig", "AutoModelForMaskedLM": "modeling_custom.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_custom.py").write_text("raise RuntimeError('custom code must not run without consent')\n")
    return folder


def test_custom_code_without_consent_is_refused(session, sample, tmp_path):
    folder = custom_code_checkpoint(sample, tmp_path)
    with pytest.raises(TaskError, match="needs its own Python code and you have not allowed it"):
        run(session, "fill-mask", folder)


def test_consent_decides_trust_remote_code(sample, tmp_path, monkeypatch):
    from explorer.core import consent
    from explorer.tasks.session import remote_code_allowed

    folder = custom_code_checkpoint(sample, tmp_path)
    assert remote_code_allowed(str(folder)) is False
    monkeypatch.setattr(consent, "trust_remote_code_for", lambda path: str(path) == str(folder))
    assert remote_code_allowed(str(folder)) is True


def test_tokenize_decodes_given_ids(session, sample):
    result = run(session, "tokenize", sample("tiny-bert-mlm"), {"text": "hello", "ids_to_decode": "2, 4, 3"})
    assert result.decoded_ids.to_json() == {"ids": [2, 4, 3], "text": "[CLS] [MASK] [SEP]", "tokens": ["[CLS]", "[MASK]", "[SEP]"]}
    with pytest.raises(TaskInputError, match="outside the vocabulary"):
        run(session, "tokenize", sample("tiny-bert-mlm"), {"text": "hello", "ids_to_decode": "99999"})
    with pytest.raises(TaskInputError, match="not a whole number"):
        run(session, "tokenize", sample("tiny-bert-mlm"), {"text": "hello", "ids_to_decode": "1, x"})


def test_a_hypothesis_longer_than_the_model_takes_is_said_in_words(session, sample):
    from explorer.core.jobs import run_to_end
    from explorer.tasks.session import LoadRequest

    long_label = " ".join(["river"] * 400)
    with pytest.raises(TaskInputError, match="Shorten the hypothesis template or the label"):
        run_to_end(session.run("zero-shot-classification", LoadRequest(str(sample("tiny-bert-nli")), None), {"labels": f"{long_label}, short"}))
