"""Feature extraction of a folder in the sentence-transformers layout gives what ``encode`` gives.

The folders are built here: a tiny BERT (or GPT-2) saved with save_pretrained, a real tokenizer,
and the files sentence-transformers writes (modules.json, 1_Pooling/config.json, a 2_Normalize
folder, sentence_bert_config.json). sentence-transformers itself is not a dependency: the
expected vectors are computed by hand, one sentence at a time without padding, the way its
modules define them (the Transformer's last hidden state, truncated at max_seq_length; the
Pooling mode; Normalize's L2 norm).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.tasks.base import SOURCE_CHANGED, SOURCE_CHECKPOINT, Sourced, get_task
from explorer.tasks.feature_extraction import APP_DEFAULT, checkpoint_defaults
from explorer.tasks.sentence_transformers_layout import POOLING_KEYS, read_layout

SENTENCES = ["The cat sat on the mat.", "A checkpoint holds the weights of a model and its tokenizer files.", "Hello"]
TOLERANCE = 2e-5  # results are rounded to 6 digits; padding changes the last bits of a float


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")


def pooling_config(mode: str, dimension: int = 32) -> dict:
    keys = {
        "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens", "mean": "pooling_mode_mean_tokens",
        "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens", "weightedmean": "pooling_mode_weightedmean_tokens",
        "lasttoken": "pooling_mode_lasttoken",
    }
    return {"word_embedding_dimension": dimension, **{key: name == mode for name, key in keys.items()}, "include_prompt": True}


def write_layout(folder: Path, pooling: str = "mean", normalize: bool = True, max_seq_length: int | None = 12, lowercase: bool = False) -> Path:
    """The files SentenceTransformer.save writes beside the transformers model."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(exist_ok=True)
    write_json(folder / "modules.json", modules)
    write_json(folder / "1_Pooling" / "config.json", pooling_config(pooling))
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": lowercase})
    return folder


@pytest.fixture(scope="module")
def bert_body(tmp_path_factory, sample) -> Path:
    """A tiny BertModel saved with save_pretrained, with the BERT samples' tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    from tests.seed_fixtures import copy_tokenizer, vocab_size_of

    tokenizer = sample("tiny-bert-mlm")
    folder = tmp_path_factory.mktemp("st") / "bert-body"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=vocab_size_of(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, pad_token_id=0,
    )
    BertModel(config).save_pretrained(folder)
    copy_tokenizer(tokenizer, folder)
    return folder


@pytest.fixture
def st_folder(bert_body, tmp_path):
    """st_folder(**layout) -> a copy of the tiny BERT with the sentence-transformers files written."""

    def make(name: str = "st", **layout) -> Path:
        folder = tmp_path / name
        shutil.copytree(bert_body, folder)
        return write_layout(folder, **layout)

    return make


def encode_by_hand(folder: Path, sentences: list[str], pooling: str, normalize: bool, max_seq_length: int | None, lowercase: bool = False):
    """sentence-transformers' encode, written out: each sentence alone, so no padding is involved at all."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    vectors = []
    for sentence in sentences:
        text = sentence.strip().lower() if lowercase else sentence.strip()
        inputs = tokenizer(text, truncation=max_seq_length is not None, max_length=max_seq_length, return_tensors="pt")
        with torch.no_grad():
            tokens = model(**inputs).last_hidden_state[0]  # (tokens, hidden): every token is real
        count = tokens.shape[0]
        if pooling == "mean":
            vector = tokens.mean(dim=0)
        elif pooling == "cls":
            vector = tokens[0]
        elif pooling == "max":
            vector = tokens.max(dim=0).values
        elif pooling == "mean_sqrt_len_tokens":
            vector = tokens.sum(dim=0) / math.sqrt(count)
        elif pooling == "weightedmean":
            weights = torch.arange(1, count + 1, dtype=tokens.dtype).unsqueeze(-1)
            vector = (tokens * weights).sum(dim=0) / weights.sum()
        elif pooling == "lasttoken":
            vector = tokens[-1]
        else:
            raise AssertionError(pooling)
        if normalize:
            vector = vector / vector.norm()
        vectors.append(vector.tolist())
    return vectors


def assert_vectors_close(got: list[list[float]], want: list[list[float]]) -> None:
    assert len(got) == len(want)
    for row, expected in zip(got, want):
        assert len(row) == len(expected)
        worst = max(abs(a - b) for a, b in zip(row, expected))
        assert worst <= TOLERANCE, worst


# --------------------------------------------------------------------------- reading the layout


def test_the_checkpoint_says_pooling_normalisation_and_truncation(st_folder):
    folder = st_folder(max_seq_length=12, lowercase=False)
    assert checkpoint_defaults(str(folder)) == {
        "pooling": Sourced("mean", SOURCE_CHECKPOINT, "1_Pooling/config.json"),
        "layer": Sourced(-1, SOURCE_CHECKPOINT, "modules.json"),
        "normalize": Sourced(True, SOURCE_CHECKPOINT, "modules.json"),
        "max_seq_length": Sourced(12, SOURCE_CHECKPOINT, "sentence_bert_config.json"),
        "lowercase": Sourced(False, SOURCE_CHECKPOINT, "sentence_bert_config.json"),
    }
    task = get_task("feature-extraction")
    resolved = task.resolve({}, task.defaults_for(str(folder)))
    assert (resolved["pooling"], resolved["normalize"], resolved["max_seq_length"]) == ("mean", True, 12)


def test_a_folder_without_the_layout_keeps_todays_choices(sample):
    folder = str(sample("tiny-bert-mlm"))
    assert read_layout(folder) is None
    assert checkpoint_defaults(folder) == {}
    task = get_task("feature-extraction")
    assert task.resolve({}, task.defaults_for(folder)) == task.resolve({})


def test_no_normalize_module_and_no_max_length(st_folder):
    folder = st_folder(normalize=False, max_seq_length=None)
    defaults = checkpoint_defaults(str(folder))
    assert defaults["normalize"] == Sourced(False, SOURCE_CHECKPOINT, "modules.json")
    assert "max_seq_length" not in defaults  # sentence-transformers then cuts at the model's limit, as the app does
    assert read_layout(str(folder)).notices == []


def test_pooling_mode_by_name_and_the_old_default(st_folder):
    folder = st_folder()
    write_json(folder / "1_Pooling" / "config.json", {"word_embedding_dimension": 32, "pooling_mode": "CLS"})
    assert checkpoint_defaults(str(folder))["pooling"].value == "cls"
    # Pooling's own default: mean is on unless the file says otherwise.
    write_json(folder / "1_Pooling" / "config.json", {"word_embedding_dimension": 32})
    assert checkpoint_defaults(str(folder))["pooling"].value == "mean"


def test_what_the_app_cannot_reproduce_is_said(st_folder):
    folder = st_folder()
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    write_json(folder / "modules.json", modules)
    write_json(folder / "1_Pooling" / "config.json", {**pooling_config("mean"), "pooling_mode_cls_token": True})
    write_json(folder / "config_sentence_transformers.json", {"prompts": {"query": "query: "}, "default_prompt_name": "query"})
    layout = read_layout(str(folder))
    text = " ".join(layout.notices)
    assert "Dense" in text and "2_Dense" in text
    assert "cls + mean" in text
    assert "'query: '" in text
    assert "pooling" not in checkpoint_defaults(str(folder))  # the app's mean pooling stays, said plainly
    assert checkpoint_defaults(str(folder))["normalize"].value is True


def _fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


BROKEN = {
    "modules-not-json": ("modules.json", "[{'type': "),
    "modules-object": ("modules.json", {"0": "Transformer"}),
    "modules-wrong-types": ("modules.json", [{"type": 5, "path": ""}]),
    "modules-path-leaves": ("modules.json", [{"type": "sentence_transformers.models.Transformer", "path": "../elsewhere"}]),
    "modules-type-with-newline": ("modules.json", [{"type": "sentence_transformers.models.Transformer\nrm -rf", "path": ""}]),
    "modules-too-many": ("modules.json", [{"type": "sentence_transformers.models.Dense", "path": f"{i}_Dense"} for i in range(1000)]),
    "modules-fifo": ("modules.json", _fifo),
    "modules-huge": ("modules.json", "[" + " " * (300 * 1024) + "]"),
    "pooling-not-json": ("1_Pooling/config.json", "pooling_mode_mean_tokens = true"),
    "pooling-wrong-types": ("1_Pooling/config.json", {"pooling_mode_mean_tokens": "yes"}),
    "pooling-unknown-mode": ("1_Pooling/config.json", {"pooling_mode": "median"}),
    "pooling-list": ("1_Pooling/config.json", [True]),
    "pooling-fifo": ("1_Pooling/config.json", _fifo),
    "pooling-deep": ("1_Pooling/config.json", "[" * 5000 + "]" * 5000),
    "bert-config-wrong-types": ("sentence_bert_config.json", {"max_seq_length": "long", "do_lower_case": "no"}),
    "bert-config-negative": ("sentence_bert_config.json", {"max_seq_length": -3}),
    "bert-config-bool": ("sentence_bert_config.json", {"max_seq_length": True}),
    "bert-config-fifo": ("sentence_bert_config.json", _fifo),
    "prompts-not-json": ("config_sentence_transformers.json", "{"),
}


def _break(folder: Path, name: str, content) -> None:
    path = folder / name
    if callable(content):
        content(path)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        write_json(path, content)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_gives_a_notice_and_the_apps_choice(st_folder, case):
    name, content = BROKEN[case]
    folder = st_folder()
    _break(folder, name, content)
    layout = read_layout(str(folder))
    assert layout is not None and layout.notices, case
    assert all("\n" not in notice for notice in layout.notices)
    defaults = checkpoint_defaults(str(folder))
    task = get_task("feature-extraction")
    task.resolve({}, defaults)  # whatever the files say, the starting values are valid
    if name == "modules.json":
        assert defaults == {}
    elif name == "1_Pooling/config.json":
        assert "pooling" not in defaults and defaults["normalize"].value is True
    elif name == "sentence_bert_config.json":
        assert "max_seq_length" not in defaults and defaults["pooling"].value == "mean"


def test_a_broken_file_runs_with_a_notice_from_the_command_line(st_folder):
    folder = st_folder()
    _break(folder, "1_Pooling/config.json", "{'pooling_mode': 'cls'}")
    code, printed, errors = run_cli(folder, "--text", "one sentence", "--json")
    assert code == 0, errors
    assert any(notice.startswith("1_Pooling/config.json is not valid JSON") for notice in printed["notices"])
    assert printed["embedding_settings"]["pooling"] == {"value": "mean", "source": APP_DEFAULT}


# --------------------------------------------------------------------------- the vectors


def test_normalised_mean_pooling_equals_encode(st_folder, run_task):
    folder = st_folder(pooling="mean", normalize=True, max_seq_length=64)
    result, _ = run_task("feature-extraction", str(folder), {"sentences": "\n".join(SENTENCES)})
    assert_vectors_close(result.vectors, encode_by_hand(folder, SENTENCES, "mean", True, 64))
    assert all(abs(norm - 1.0) <= 1e-5 for norm in result.norms)
    assert result.notices == []
    printed = result.to_json()
    assert printed["embedding_settings"] == {
        "pooling": {"value": "mean", "source": "checkpoint (1_Pooling/config.json)"},
        "layer": {"value": -1, "source": "checkpoint (modules.json)"},
        "normalize": {"value": True, "source": "checkpoint (modules.json)"},
        "max_seq_length": {"value": 64, "source": "checkpoint (sentence_bert_config.json)"},
        "lowercase": {"value": False, "source": "checkpoint (sentence_bert_config.json)"},
    }
    assert list(printed)[:5] == ["task", "result_type", "sentences", "pooling", "embedding_settings"]


def test_truncation_at_max_seq_length(st_folder, run_task):
    folder = st_folder(max_seq_length=6)
    result, _ = run_task("feature-extraction", str(folder), {"sentences": "\n".join(SENTENCES)})
    assert max(result.token_counts) == 6 and result.last_hidden_state_shape[1] == 6
    assert_vectors_close(result.vectors, encode_by_hand(folder, SENTENCES, "mean", True, 6))
    assert any("cut to 6" in notice for notice in result.notices)


@pytest.mark.parametrize("pooling", ["cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"])
def test_every_pooling_mode_equals_encode(st_folder, run_task, pooling):
    folder = st_folder(pooling=pooling, normalize=False, max_seq_length=None)
    result, _ = run_task("feature-extraction", str(folder), {"sentences": "\n".join(SENTENCES)})
    assert result.pooling == pooling
    assert_vectors_close(result.vectors, encode_by_hand(folder, SENTENCES, pooling, False, None))


def test_lasttoken_and_lowercase_on_a_decoder(sample, tmp_path, run_task):
    """GPT-2's byte-level tokenizer keeps case: do_lower_case shows; last-token pooling of a causal model."""
    import torch
    from transformers import GPT2Config, GPT2Model

    from tests.seed_fixtures import copy_tokenizer, vocab_size_of

    folder = tmp_path / "gpt2-st"
    source = sample("tiny-gpt2-lm")
    torch.manual_seed(0)
    GPT2Model(GPT2Config(vocab_size=vocab_size_of(source), n_positions=128, n_embd=32, n_layer=2, n_head=2)).save_pretrained(folder)
    copy_tokenizer(source, folder)
    write_layout(folder, pooling="lasttoken", normalize=True, max_seq_length=None, lowercase=True)
    sentences = ["The Cat SAT on the mat.", "HELLO there"]
    result, _ = run_task("feature-extraction", str(folder), {"sentences": "\n".join(sentences)})
    assert_vectors_close(result.vectors, encode_by_hand(folder, sentences, "lasttoken", True, None, lowercase=True))
    keeping_case, _ = run_task("feature-extraction", str(folder), {"sentences": "\n".join(sentences), "lowercase": False})
    assert keeping_case.vectors != result.vectors
    assert keeping_case.embedding_settings["lowercase"] == {"value": False, "source": SOURCE_CHANGED}


# --------------------------------------------------------------------------- the command line


def run_cli(folder: Path, *arguments: str) -> tuple[int, dict | str, str]:
    """(exit code, the printed JSON with --json or else the printed text, what went to stderr)."""
    from explorer import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["run", "feature-extraction", str(folder), *arguments])
    printed = json.loads(out.getvalue()) if "--json" in arguments and code == 0 else out.getvalue()
    return code, printed, err.getvalue()


def test_command_line_gives_unit_vectors_and_set_changes_each(st_folder):
    folder = st_folder(max_seq_length=8)
    code, printed, errors = run_cli(folder, "--text", SENTENCES[0], "--text", SENTENCES[1], "--json")
    assert code == 0, errors
    assert all(abs(norm - 1.0) <= 1e-5 for norm in printed["norms"])
    assert printed["embedding_settings"]["normalize"] == {"value": True, "source": "checkpoint (modules.json)"}
    assert max(printed["token_counts"]) == 8
    code, changed, errors = run_cli(
        folder, "--text", SENTENCES[0], "--text", SENTENCES[1], "--json",
        "--set", "normalize=false", "--set", "pooling=max", "--set", "max_seq_length=model limit", "--set", "lowercase=true",
    )
    assert code == 0, errors
    assert all(abs(norm - 1.0) > 1e-3 for norm in changed["norms"])
    assert max(changed["token_counts"]) > 8
    assert {name: item["source"] for name, item in changed["embedding_settings"].items()} == {
        "pooling": SOURCE_CHANGED, "layer": "checkpoint (modules.json)", "normalize": SOURCE_CHANGED,
        "max_seq_length": SOURCE_CHANGED, "lowercase": SOURCE_CHANGED,
    }
    assert changed["embedding_settings"]["max_seq_length"]["value"] == 0


def test_command_line_text_says_where_the_settings_came_from(st_folder):
    code, printed, errors = run_cli(st_folder(), "--text", "one")
    assert code == 0, errors
    assert "mean pooling (checkpoint (1_Pooling/config.json)); normalized (checkpoint (modules.json)); " \
        "cut at 12 tokens (checkpoint (sentence_bert_config.json))" in printed


def test_a_plain_folder_prints_no_settings(sample):
    code, printed, errors = run_cli(sample("tiny-bert-mlm"), "--text", "one", "--json")
    assert code == 0, errors
    assert "embedding_settings" not in printed and "from_sentence_transformers" not in printed


# --------------------------------------------------------------------------- Copy as Python


@pytest.mark.slow
def test_copy_as_python_pools_normalises_and_truncates_as_the_app(st_folder, sample, tmp_path):
    import subprocess
    import sys

    from explorer.core.jobs import run_to_end
    from explorer.tasks.script import python_script, summary_of
    from explorer.tasks.session import LoadRequest, ModelSession
    from tests.tasks.test_script import DRIVER, _close, _last_json

    truncated = st_folder("truncated", max_seq_length=6)
    runs = [
        (truncated, {}),  # mean, normalised, cut at 6: all from the checkpoint
        (truncated, {"pooling": "max", "normalize": False, "max_seq_length": 0, "lowercase": True}),  # all changed here
        (st_folder("last", pooling="lasttoken", normalize=False, max_seq_length=None), {}),
        (st_folder("sqrt", pooling="mean_sqrt_len_tokens", max_seq_length=9), {"layer": 1}),
        (st_folder("weighted", pooling="weightedmean"), {}),
        (st_folder("cls", pooling="cls"), {}),
    ]
    session = ModelSession()
    expected, paths = [], []
    for index, (folder, values) in enumerate(runs):
        values = {"sentences": "\n".join(SENTENCES), **values}
        request = LoadRequest(str(folder), None)
        expected.append(summary_of(run_to_end(session.run("feature-extraction", request, values))))
        script = python_script("feature-extraction", request, values)
        path = tmp_path / f"features_{index}.py"
        path.write_text(script, encoding="utf-8")
        paths.append(str(path))
    session.unload_now()
    first = Path(paths[0]).read_text(encoding="utf-8")
    assert "limit = min(limit, 6)  # max_seq_length, from 'checkpoint (sentence_bert_config.json)'" in first
    assert "# from 'checkpoint (modules.json)'" in first
    assert "# mean pooling, from 'checkpoint (1_Pooling/config.json)'" in first
    assert "changed here" in Path(paths[1]).read_text(encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", DRIVER, *paths], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    chunks = done.stdout.split("===== ")[1:]
    assert len(chunks) == len(runs)
    for (folder, values), chunk, want in zip(runs, chunks, expected):
        got = _last_json(chunk)
        assert _close(got, want), f"{folder.name} {values}: script printed {got!r}, app showed {want!r}"
    assert all(abs(norm - 1.0) <= 1e-5 for norm in expected[0]["norms"])


# --------------------------------------------------------------------------- the view


def test_the_view_shows_the_settings_their_sources_and_the_norm(st_folder, run_task, qtbot, tmp_path):
    from explorer.ui.demo_views.features import FeaturesView

    result, _ = run_task("feature-extraction", str(st_folder(max_seq_length=10)), {"sentences": "one\ntwo words"})
    view = FeaturesView()
    qtbot.addWidget(view)
    view.show_result(result)
    text = view.summary.text()
    assert "mean pooling (checkpoint (1_Pooling/config.json))" in text
    assert "normalized (checkpoint (modules.json))" in text
    assert "cut at 10 tokens (checkpoint (sentence_bert_config.json))" in text
    assert "vector norm <b>1.0000</b>" in text
    view.resize(700, 500)
    view.show()
    qtbot.waitExposed(view)
    view.grab().save(str(tmp_path / "features.png"))


def test_any_json_in_the_layout_files_gives_valid_starting_values():
    """Whatever JSON the three files hold, reading them never raises and the form's values stay valid."""
    import tempfile

    leaves = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=12)
    values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
    module = st.fixed_dictionaries({"type": st.sampled_from(["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                                                             "sentence_transformers.models.Normalize", "x.Dense"]) | values,
                                    "path": st.sampled_from(["", "1_Pooling", "../up", "a/../../b"]) | values})
    pooling_keys = st.sampled_from([key for key, _mode, _default in POOLING_KEYS] + ["pooling_mode"])
    task = get_task("feature-extraction")

    @settings(max_examples=60, deadline=None)
    @given(st.lists(module, max_size=4) | values, st.dictionaries(pooling_keys, values, max_size=4) | values,
           st.dictionaries(st.sampled_from(["max_seq_length", "do_lower_case"]), values) | values)
    def check(modules, pooling, bert_config):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            write_json(root / "modules.json", modules)
            write_json(root / "1_Pooling" / "config.json", pooling)
            write_json(root / "sentence_bert_config.json", bert_config)
            layout = read_layout(folder)
            assert layout is not None and all("\n" not in notice for notice in layout.notices)
            task.resolve({}, checkpoint_defaults(folder))

    check()
