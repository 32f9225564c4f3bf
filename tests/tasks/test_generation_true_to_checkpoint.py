"""The app decodes as ``model.generate()`` does with the checkpoint's generation_config, token for token.

Each case is a checkpoint with its own ``generation_config.json`` (or none). The app runs with
what the checkpoint says; the reference is a notebook's call: load, ``torch.manual_seed``,
``model.generate(**inputs, generation_config=...)``. Copy as Python prints the same tokens.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import pytest

from explorer.core.jobs import run_to_end
from explorer.tasks.base import get_task
from explorer.tasks.generation_settings import checkpoint_defaults
from explorer.tasks.script import python_script, summary_of
from explorer.tasks.session import LoadRequest
from tests.tasks.test_script import DRIVER, _close, _last_json

PROMPT = "Once upon a time"

# name -> the checkpoint's generation_config.json (None: the checkpoint has none)
CAUSAL_CASES = {
    "no-generation-config": None,
    "sampling": {"do_sample": True, "temperature": 0.8, "top_k": 20, "top_p": 0.9, "max_new_tokens": 12, "eos_token_id": 0},
    "penalties": {
        "repetition_penalty": 1.3, "no_repeat_ngram_size": 2, "bad_words_ids": [[30], [45, 46]], "max_new_tokens": 15,
        "eos_token_id": 0,
    },
    "beams": {"num_beams": 3, "length_penalty": 0.7, "early_stopping": True, "max_new_tokens": 10, "eos_token_id": 0},
    "everything-else": {
        "do_sample": True, "min_p": 0.05, "typical_p": 0.95, "suppress_tokens": [26, 117], "min_new_tokens": 4,
        "max_length": 30, "eos_token_id": [0, 411],
    },
}


def copy_with_generation_config(source, folder, values):
    shutil.copytree(source, folder)
    (folder / "generation_config.json").unlink(missing_ok=True)
    if values is not None:
        (folder / "generation_config.json").write_text(json.dumps(values), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def causal_checkpoints(samples_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("generation-configs")
    return {name: copy_with_generation_config(samples_root / "tiny-gpt2-lm", root / name, values) for name, values in CAUSAL_CASES.items()}


def notebook_generate(path, seed=0, **changes):
    """What a user gets in a notebook: the checkpoint as loaded, its generation_config, what they changed."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    inputs = tokenizer(PROMPT, return_tensors="pt")
    generation_config = model.generation_config
    generation_config.update(**changes)
    torch.manual_seed(seed)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using the model-agnostic default", UserWarning)  # the app shows it as a notice
        output = model.generate(**inputs, generation_config=generation_config, tokenizer=tokenizer)
    return output[0, inputs["input_ids"].shape[1]:].tolist()


@pytest.mark.parametrize("case", sorted(CAUSAL_CASES))
def test_the_apps_tokens_are_generates(case, causal_checkpoints, run_task, session):
    path = causal_checkpoints[case]
    values = {"text": PROMPT, "use_chat_template": False, "seed": 3}
    result, partials = run_task("text-generation", path, values)
    assert result.token_ids == notebook_generate(path, seed=3)
    assert result.generation_settings["eos_token_id"]["source"] == "checkpoint (generation_config.json)" if CAUSAL_CASES[case] else True
    streamed = [p.data["token_id"] for p in partials if p.kind == "token"]
    if result.settings["num_beams"] == 1:
        assert streamed == result.token_ids  # streamed through generate's streamer, one piece a token
        assert len(result.steps) == len(result.token_ids)
    else:
        assert streamed == [] and result.steps == []
        assert any("Beam search" in notice for notice in result.notices)


def test_settings_changed_in_the_app_are_passed_on(causal_checkpoints, run_task):
    path = causal_checkpoints["penalties"]
    changed = {"repetition_penalty": 1.0, "stop_strings": ["the"], "max_new_tokens": 20, "suppress_tokens": [308]}
    result, _ = run_task("text-generation", path, {"text": PROMPT, "use_chat_template": False, **changed})
    assert result.token_ids == notebook_generate(path, **changed)
    sources = {name: item["source"] for name, item in result.generation_settings.items()}
    assert sources["repetition_penalty"] == sources["stop_strings"] == sources["suppress_tokens"] == "changed here"
    assert sources["no_repeat_ngram_size"] == "checkpoint (generation_config.json)"
    assert sources["top_k"] == "transformers default"


def test_the_form_reads_what_loading_gives(causal_checkpoints, run_task, session):
    """The settings the form starts from (read before loading) are the loaded model's generation_config."""
    for case, path in causal_checkpoints.items():
        run_task("text-generation", path, {"text": "a", "max_new_tokens": 1})
        assert checkpoint_defaults(str(path)) == checkpoint_defaults(str(path), session.loaded), case


def test_no_generation_config_decodes_greedily_with_transformers_lengths(causal_checkpoints, run_task):
    result, _ = run_task("text-generation", causal_checkpoints["no-generation-config"], {"text": PROMPT, "use_chat_template": False})
    assert result.settings["do_sample"] is False
    assert result.generation_settings["do_sample"] == {"value": False, "source": "transformers default"}
    assert result.generation_settings["eos_token_id"]["source"] == "checkpoint (config.json)"
    assert result.new_tokens == 20  # generate's default when nothing sets a length
    assert any("model-agnostic default `max_length`" in notice for notice in result.notices)  # generate's warning, shown


def test_a_seq2seq_checkpoint_decodes_as_generate(samples_root, tmp_path, run_task):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    path = copy_with_generation_config(
        samples_root / "tiny-t5", tmp_path / "t5", {"num_beams": 2, "max_new_tokens": 7, "no_repeat_ngram_size": 2, "decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}
    )
    result, _ = run_task("text2text-generation", path, {"text": "the house is wonderful."})
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForSeq2SeqLM.from_pretrained(path)
    with torch.inference_mode():
        expected = model.generate(**tokenizer("the house is wonderful.", return_tensors="pt"), generation_config=model.generation_config)
    assert result.token_ids == expected[0].tolist()
    assert result.generation_settings["num_beams"] == {"value": 2, "source": "checkpoint (generation_config.json)"}


def test_the_command_line_sets_every_setting_and_prints_their_sources(causal_checkpoints, capsys):
    from explorer import cli

    path = causal_checkpoints["sampling"]
    arguments = ["--set", "top_k=5", "--set", "bad_words_ids=30\n45 46", "--set", "early_stopping=never", "--seed", "2"]
    assert cli.main(["run", "text-generation", str(path), "--text", PROMPT, "--set", "use_chat_template=false", *arguments, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    settings = printed["generation_settings"]
    assert settings["top_k"] == {"value": 5, "source": "changed here"}
    assert settings["bad_words_ids"] == {"value": [[30], [45, 46]], "source": "changed here"}
    assert settings["temperature"] == {"value": 0.8, "source": "checkpoint (generation_config.json)"}
    assert printed["token_ids"] == notebook_generate(path, seed=2, top_k=5, bad_words_ids=[[30], [45, 46]], early_stopping="never")
    task = get_task("text2text-generation")
    assert {field.name for field in task.fields} >= set(settings)  # text-to-text takes every one of them too


def test_stop_ends_within_one_step(causal_checkpoints, session):
    from explorer.core.jobs import Cancelled, CancelToken
    from explorer.tasks.base import Partial

    cancel = CancelToken()
    job = session.run("text-generation", LoadRequest(str(causal_checkpoints["no-generation-config"]), None), {"max_new_tokens": 200}, cancel)
    tokens = 0
    with pytest.raises(Cancelled):
        for item in job:
            if isinstance(item, Partial) and item.kind == "token":
                tokens += 1
                cancel.cancel()
    assert tokens <= 2


@pytest.mark.slow
def test_copy_as_python_sets_only_what_changed_and_prints_the_same_tokens(causal_checkpoints, tmp_path):
    from explorer.tasks.session import ModelSession

    runs = [
        ("sampling", {"seed": 4}),
        ("penalties", {"repetition_penalty": 1.0, "stop_strings": ["the"]}),
        ("beams", {"num_beams": 4}),
        ("everything-else", {"seed": 1, "min_new_tokens": 2}),
        ("no-generation-config", {"max_length": 12}),
    ]
    session = ModelSession()
    expected, paths = [], []
    for index, (case, values) in enumerate(runs):
        request = LoadRequest(str(causal_checkpoints[case]), None)
        values = {"text": PROMPT, "use_chat_template": False, **values}
        expected.append(summary_of(run_to_end(session.run("text-generation", request, values))))
        script = python_script("text-generation", request, values)
        for name, value in values.items():
            if name in ("repetition_penalty", "stop_strings", "num_beams", "min_new_tokens", "max_length"):
                assert f"{name}={value!r}" in script  # changed: passed on
        assert "temperature=" not in script and "top_k=" not in script  # the checkpoint's own: left to generate
        paths.append(tmp_path / f"run_{index}.py")
        paths[-1].write_text(script, encoding="utf-8")
    session.unload_now()
    done = subprocess.run([sys.executable, "-c", DRIVER, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for chunk, want in zip(done.stdout.split("===== ")[1:], expected):
        assert _close(_last_json(chunk), want)


@pytest.mark.parametrize("checkpoint", ["tiny-gpt2-lm", "tiny-t5"])
def test_streamed_text_joins_to_the_decoded_text(checkpoint, sample):
    """Pieces are decoded a few tokens at a time; a character split over byte-level tokens waits for its rest."""
    from transformers import AutoTokenizer

    from explorer.tasks.text_generation import IncrementalText

    tokenizer = AutoTokenizer.from_pretrained(sample(checkpoint))
    for text in ["Héllo wörld, a test 😀 of ünïcode, and  spaces.\n\nNext", "It's fine, isn't it?"]:
        ids = tokenizer(text)["input_ids"]
        streamed = IncrementalText(tokenizer)
        pieces = [streamed.add(token_id) for token_id in ids]
        assert "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=True)
        assert not any("\ufffd" in piece for piece in pieces)


def test_stop_strings_keep_spaces_and_newlines():
    """A stop string is often a newline or ends in a space: typed as \\n, read back exactly, shown escaped."""
    field = get_task("text-generation").field("stop_strings")
    assert field.convert("\\n\\n\nUser: \n") == ["\n\n", "User: "]
    assert field.convert('["\\n", " end"]') == ["\n", " end"]
    assert field.convert(["\n"]) == ["\n"]
    from explorer.tasks.base import escape_line, unescape_line

    for text in ["\n\n", "a\\nb", "tab\there", "back\\slash"]:
        assert unescape_line(escape_line(text)) == text


def test_the_checkpoints_own_stop_strings_and_max_length_work(samples_root, tmp_path, run_task):
    """Stop strings from generation_config.json need the tokenizer too; Max length set to off where the
    checkpoint sets one means transformers' default of 20 new tokens (generate reads None as 'not given')."""
    path = copy_with_generation_config(
        samples_root / "tiny-gpt2-lm", tmp_path / "stops", {"stop_strings": ["e"], "max_length": 40, "eos_token_id": 0}
    )
    values = {"text": PROMPT, "use_chat_template": False}
    result, _ = run_task("text-generation", path, values)
    assert result.token_ids == notebook_generate(path)
    assert result.generation_settings["stop_strings"] == {"value": ["e"], "source": "checkpoint (generation_config.json)"}
    off, _ = run_task("text-generation", path, {**values, "max_length": 0, "stop_strings": []})
    assert off.token_ids == notebook_generate(path, max_new_tokens=20, stop_strings=None)
    assert off.new_tokens == 20
