"""Every example of the seed tutorials (/work/shared/seeds, in Chinese), reproduced through the app.

Each test names its seed file and example and quotes, in English, the tutorial code it
reproduces. The app's own code paths run: the command line (``explorer.cli.main``, which the
window's core shares) and the core/task functions the tabs call. Checkpoints are tiny with
random weights, so the tests assert mechanics, shapes, class resolution and loading facts,
and compare the app's numbers with the tutorial's own code run on the same checkpoint;
never the semantic answers of the real models.

Seed files: seed000 = 000_e0864ec1fcc3218e.txt (Transformers quick start 4: AutoModel, auto_map, heads),
seed001 = 001_0e0e68ad0cbc219c.txt (using pre-trained models: BERT encode, config, caches),
seed002 = 002_91bd71b47896d060.txt (custom LTG-BERT code: config, model, auto_map registration),
seed003 = 003_26d997b43ae91b29.txt (the AutoModel family, seven task examples),
seed004 = 004_c44a15fe4a26a2b0.txt (pipeline, tokenizer, model outputs, DistilBERT heads).
Out of scope (no checkpoint involved): seed000's torch.nn / torch.optim / scheduler examples,
seed002's Trainer and Dataset, seed004's TensorFlow lines (transformers 5 has no TF).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from explorer import cli
from explorer.core.checkpoint import SOURCE_LEGACY
from tests import seed_fixtures as fx

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --------------------------------------------------------------------------- helpers


def inspect_json(capsys, path, *extra) -> dict:
    assert cli.main(["inspect", str(path), *map(str, extra), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def inspect_text(capsys, path, *extra) -> str:
    assert cli.main(["inspect", str(path), *map(str, extra)]) == 0
    return capsys.readouterr().out


def run_json(capsys, task: str, path, *args) -> dict:
    code = cli.main(["run", task, str(path), *map(str, args), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def resolution(report: dict) -> dict[str, dict]:
    return {row["auto_class"]: row for row in report["resolution"]}


def child(node: dict, name: str) -> dict:
    for item in node["children"]:
        if item["name"] == name:
            return item
    raise AssertionError(f"{node['name']} has no child {name}: {[c['name'] for c in node['children']]}")


def param(node: dict, name: str) -> dict:
    return next(p for p in node["parameters"] if p["name"] == name)


def grant(path) -> None:
    from explorer.core.consent import default_store

    default_store().grant(path)


def load(auto_class: str, path):
    """The tutorials' loading line, on a local folder."""
    import transformers

    model = getattr(transformers, auto_class).from_pretrained(str(path), local_files_only=True)
    return model.eval()


def tokenizer_of(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample) -> dict[str, Path]:
    """The checkpoints the samples do not provide, built once for this file."""
    root = tmp_path_factory.mktemp("seed-checkpoints")
    work = root / "code"
    bert_tokenizer = sample("tiny-bert-mlm")
    distil_tokenizer = sample("tiny-distilbert-sentiment")
    t5_tokenizer = sample("tiny-t5")
    paths = {
        "bert-base-cased": fx.build_bert_body(root / "bert-base-cased", bert_tokenizer),
        "bert-saved-bin": fx.build_bert_body(root / "models" / "bert-base-cased", bert_tokenizer, as_bin=True),
        "chatglm-6b": fx.build_chatglm(root / "chatglm-6b", work),
        "ltgbert": fx.build_ltgbert(root / "ltgbert", bert_tokenizer, work),
        "ltgbert-full-auto-map": fx.build_ltgbert(root / "ltgbert-full-auto-map", bert_tokenizer, work, force_full_auto_map=True),
        "bert-base-uncased-config": fx.write_config_only(root / "bert-base-uncased", fx.BERT_BASE_UNCASED_CONFIG),
        "bert-base-uncased-typed": fx.write_config_only(root / "bert-base-uncased-typed", {**fx.BERT_BASE_UNCASED_CONFIG, "model_type": "bert"}),
        "gpt2-config": fx.write_config_only(root / "gpt2", fx.GPT2_CONFIG),
        "opus-mt-en-de": fx.build_head_model(root / "opus-mt-en-de", t5_tokenizer, "MarianMTModel"),
        "chinese-xlnet-base": fx.build_head_model(root / "chinese-xlnet-base", t5_tokenizer, "XLNetLMHeadModel"),
        "distilbert-squad": fx.build_head_model(root / "distilbert-squad", distil_tokenizer, "DistilBertForQuestionAnswering"),
        "distilbert-base-uncased": fx.build_head_model(root / "distilbert-base-uncased", distil_tokenizer, "DistilBertForMaskedLM"),
        "multilingual-sentiment": fx.build_head_model(
            root / "bert-base-multilingual-uncased-sentiment", bert_tokenizer, "BertForSequenceClassification",
            id2label={i: f"{i + 1} star" + ("s" if i else "") for i in range(5)},
            label2id={f"{i + 1} star" + ("s" if i else ""): i for i in range(5)},
        ),
    }
    # Seed 004's pipeline defaults: distilroberta (fill-mask), bart-large-mnli (zero-shot), distilbart-cnn (summarization).
    nli = ["contradiction", "neutral", "entailment"]
    paths["distilroberta-base"] = fx.build_roberta_family(root / "distilroberta-base", "RobertaForMaskedLM")
    paths["bart-large-mnli"] = fx.build_roberta_family(
        root / "bart-large-mnli", "BartForSequenceClassification", id2label=dict(enumerate(nli)), label2id={n: i for i, n in enumerate(nli)}
    )
    paths["distilbart-cnn-12-6"] = fx.build_roberta_family(root / "distilbart-cnn-12-6", "BartForConditionalGeneration")
    paths["bert-base-uncased-2020"] = fx.build_old_bert_layout(root / "bert-base-uncased-2020", bert_tokenizer)
    # Their decoding settings as the Hub's checkpoints save them (ids fitted to the tiny vocabularies).
    fx.write_generation_config(paths["distilbart-cnn-12-6"], {
        "bos_token_id": 0, "decoder_start_token_id": 2, "early_stopping": True, "eos_token_id": 2, "forced_bos_token_id": 0,
        "forced_eos_token_id": 2, "length_penalty": 2.0, "max_length": 142, "min_length": 56, "no_repeat_ngram_size": 3,
        "num_beams": 4, "pad_token_id": 1,
    })
    fx.write_generation_config(paths["opus-mt-en-de"], {
        "bad_words_ids": [[0]], "decoder_start_token_id": 0, "eos_token_id": 1, "forced_eos_token_id": 1, "max_length": 512,
        "num_beams": 4, "pad_token_id": 0, "renormalize_logits": True,
    })
    # Seed 002 without auto_map (what AutoConfig.register works around): same code, nothing points at it.
    unregistered = shutil.copytree(paths["ltgbert"], root / "ltgbert-unregistered")
    config = json.loads((unregistered / "config.json").read_text())
    del config["auto_map"]
    (unregistered / "config.json").write_text(json.dumps(config, indent=2))
    paths["ltgbert-unregistered"] = unregistered
    # Seed 004: DistilBertConfig(n_heads=8, dim=512, hidden_dim=4*512), a model built from it, not trained.
    from transformers import DistilBertConfig

    DistilBertConfig(n_heads=8, dim=512, hidden_dim=4 * 512, architectures=["DistilBertForSequenceClassification"]).save_pretrained(
        root / "distilbert-custom-config"
    )
    paths["distilbert-custom-config"] = root / "distilbert-custom-config"
    return paths


# =========================================================================== seed 000


def test_seed000_bertmodel_class_from_pretrained(built, capsys):
    """`model = BertModel.from_pretrained("bert-base-cased")`: the concrete class loads every weight."""
    report = inspect_json(capsys, built["bert-base-cased"], "--head", "BertModel")
    assert report["head"] == "BertModel"
    assert report["modules"]["class"] == "BertModel"
    assert report["missing"] == [] and report["unexpected"] == [] and report["mismatched"] == []


def test_seed000_automodel_on_bert_checkpoint_gives_bertmodel(sample, capsys):
    """`model = AutoModel.from_pretrained("bert-base-cased")` (saved as BertForMaskedLM) builds BertModel."""
    report = inspect_json(capsys, sample("tiny-bert-mlm"), "--head", "AutoModel")
    assert report["architectures"] == ["BertForMaskedLM"]
    assert report["auto_classes"]["AutoModel"] == "BertModel"
    row = resolution(report)["AutoModel"]
    assert row["relation"] == "drops-head"
    assert report["modules"]["class"] == "BertModel"
    # The saved masked-LM head has no place in BertModel: its weights are dropped.
    assert report["unexpected"] and all(name.startswith("cls.predictions.") for name in report["unexpected"])
    assert "AutoModel gives the bare BertModel" in report["load_hint"]


def test_seed000_chatglm_auto_map_needs_consent_then_builds_custom_class(built, capsys):
    """`AutoModel.from_pretrained("THUDM/chatglm-6b", trust_remote_code=True)`: config.json's auto_map
    ("AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration") picks the model class."""
    path = built["chatglm-6b"]
    before = inspect_json(capsys, path)
    assert before["needs_remote_code"] is True
    assert set(before["remote_code_files"]) == {"configuration_chatglm.py", "modeling_chatglm.py"}
    row = resolution(before)["AutoModel"]
    assert row["resolves_to"] is None and row["needs_consent"] is True
    assert "ChatGLMForConditionalGeneration" in row["note"]
    assert before["modules"] is None  # nothing of the checkpoint's code ran without consent

    grant(path)  # the app's equivalent of trust_remote_code=True, given for exactly these files
    after = inspect_json(capsys, path, "--head", "AutoModel")
    assert after["config_class"] == "ChatGLMConfig"
    for auto_class in ("AutoModel", "AutoModelForSeq2SeqLM"):
        row = resolution(after)[auto_class]
        assert (row["resolves_to"], row["source"]) == ("ChatGLMForConditionalGeneration", "auto_map")
    assert after["modules"]["class"] == "ChatGLMForConditionalGeneration"
    assert after["missing"] == [] and after["unexpected"] == []  # every stored weight loads
    # No built-in class: transformers knows no 'chatglm', only the auto_map makes it loadable.
    assert resolution(after)["AutoModelForCausalLM"]["resolves_to"] is None


def test_seed000_automodel_swaps_bert_for_roberta_by_name_only(built, sample, capsys):
    """"AutoModel lets us change only the argument, not the code, when switching models (BERT → RoBERTa)";
    built-in classes BertModel, RobertaModel, GPT2Model."""
    classes = {}
    for path in (sample("tiny-bert-mlm"), built["distilroberta-base"]):
        result = run_json(capsys, "feature-extraction", path, "--text", "Hello world.")
        classes[path.name] = result["model"]["class"]
    assert classes == {"tiny-bert-mlm": "BertModel", "distilroberta-base": "RobertaModel"}
    assert inspect_json(capsys, sample("tiny-gpt2-lm"))["auto_classes"]["AutoModel"] == "GPT2Model"


def test_seed000_without_auto_map_the_builtin_mapping_decides(sample, capsys):
    """Flowchart: AutoConfig reads config.json → no auto_map → built-in model for the config."""
    report = inspect_json(capsys, sample("tiny-bert-mlm"))
    assert report["needs_remote_code"] is False
    rows = [row for row in report["resolution"] if row["resolves_to"]]
    assert rows and all(row["source"] == "mapping" for row in rows)
    assert resolution(report)["AutoModelForMaskedLM"]["resolves_to"] == report["architectures"][0]


def test_seed000_neither_auto_map_nor_builtin_is_an_error(built, capsys):
    """"If there is neither auto_map nor a built-in model, it raises an error.\""""
    path = built["ltgbert-unregistered"]
    report = inspect_json(capsys, path)
    assert not any(report["auto_classes"].values())
    assert any("'LtgBert' is unknown" in p and "no auto_map" in p for p in report["problems"])
    assert cli.main(["run", "fill-mask", str(path), "--text", "a [MASK] b"]) == 1
    assert "could not be loaded" in capsys.readouterr().err


def test_seed000_load_from_local_relative_path(built, capsys, monkeypatch):
    """`model = BertModel.from_pretrained("./models/bert/")`: a downloaded folder given by relative path."""
    monkeypatch.chdir(built["bert-saved-bin"].parent.parent)
    report = inspect_json(capsys, "./models/bert-base-cased/", "--head", "BertModel")
    assert report["model_type"] == "bert" and report["missing"] == []
    result = run_json(capsys, "feature-extraction", "./models/bert-base-cased/", "--text", "Hello world.")
    assert result["model"]["class"] == "BertModel"


def test_seed000_save_pretrained_writes_config_and_pytorch_model_bin(built, capsys):
    """`model.save_pretrained("./models/bert-base-cased/")` → config.json + pytorch_model.bin."""
    import torch

    path = built["bert-saved-bin"]
    assert {"config.json", "pytorch_model.bin"} <= {p.name for p in path.iterdir()}
    report = inspect_json(capsys, path)
    assert report["tensors_on_disk"]["format"] == "pytorch"
    stored = torch.load(path / "pytorch_model.bin", weights_only=True)
    assert {t["name"]: t["shape"] for t in report["tensors"]} == {k: list(v.shape) for k, v in stored.items()}
    assert report["parameters"]["total"] == sum(v.numel() for v in stored.values())
    # The .bin weights load for a demo, and give what the tutorial's BertModel gives.
    result = run_json(capsys, "feature-extraction", path, "--text", "Hello world.", "--set", "pooling=cls")
    tokenizer, model = tokenizer_of(path), load("BertModel", path)
    with torch.no_grad():
        expected = model(**tokenizer("Hello world.", return_tensors="pt")).last_hidden_state[0, 0]
    assert result["vectors"][0] == pytest.approx(expected.tolist(), abs=1e-5)


def test_seed000_sequence_classification_on_bert_newly_initializes_classifier(built, capsys):
    """`AutoModelForSequenceClassification.from_pretrained("bert-base-cased")` warns: "Some weights of
    BertForSequenceClassification ... are newly initialized: ['classifier.bias', 'classifier.weight']"."""
    path = built["bert-base-cased"]
    report = inspect_json(capsys, path, "--head", "AutoModelForSequenceClassification")
    assert report["modules"]["class"] == "BertForSequenceClassification"
    assert report["missing"] == ["classifier.bias", "classifier.weight"]
    assert report["unexpected"] == []
    assert resolution(report)["AutoModelForSequenceClassification"]["relation"] == "new-head"
    assert "missing: classifier.bias, classifier.weight" in inspect_text(capsys, path, "--head", "AutoModelForSequenceClassification")
    # Running it says the same, like the tutorial's "You should probably TRAIN this model" warning.
    result = run_json(capsys, "text-classification", path, "--text", "Hello world.")
    notice = " ".join(result["notices"])
    assert "2 weights of BertForSequenceClassification" in notice and "classifier.bias, classifier.weight" in notice


def test_seed000_auto_model_for_task_classes_on_bert(sample, capsys):
    """AutoModelForPreTraining / ForCausalLM / ForMaskedLM / ForSeq2SeqLM / ForQuestionAnswering /
    ForTokenClassification on BERT."""
    autos = inspect_json(capsys, sample("tiny-bert-mlm"))["auto_classes"]
    assert autos["AutoModelForPreTraining"] == "BertForPreTraining"
    assert autos["AutoModelForCausalLM"] == "BertLMHeadModel"
    assert autos["AutoModelForMaskedLM"] == "BertForMaskedLM"
    assert autos["AutoModelForQuestionAnswering"] == "BertForQuestionAnswering"
    assert autos["AutoModelForTokenClassification"] == "BertForTokenClassification"
    assert autos["AutoModelForSeq2SeqLM"] is None  # BERT is encoder-only


def test_seed000_image_classification_on_bert_is_an_error(built, capsys):
    """`AutoModelForImageClassification.from_pretrained("bert-base-cased")` raises: BERT cannot do it."""
    report = inspect_json(capsys, built["bert-base-cased"], "--head", "AutoModelForImageClassification")
    row = resolution(report)["AutoModelForImageClassification"]
    assert row["resolves_to"] is None
    assert row["reason"].startswith("not supported") and "image classification" in row["reason"] and "BertConfig" in row["reason"]
    assert any("AutoModelForImageClassification" in p and "model type 'bert'" in p for p in report["problems"])
    assert report["modules"] is None


def test_seed000_bert_for_sequence_classification_is_bert_plus_linear(built, capsys):
    """`from transformers import BertForSequenceClassification`: BERT classification is plain BERT plus
    one classification layer (dropout + nn.Linear(hidden_size, num_labels))."""
    report = inspect_json(capsys, built["bert-base-cased"], "--head", "BertForSequenceClassification")
    root = report["modules"]
    assert [c["name"] for c in root["children"]] == ["bert", "dropout", "classifier"]
    assert child(root, "bert")["class"] == "BertModel"
    assert child(root, "dropout")["class"] == "Dropout"
    classifier = child(root, "classifier")
    assert classifier["class"] == "Linear" and param(classifier, "weight")["shape"] == [2, 32]


def test_seed000_custom_bert_for_cls_uses_the_cls_vector(built, capsys):
    """`cls_vectors = outputs.last_hidden_state[:, 0, :]` in the hand-written BertForCLS."""
    import torch

    path = built["bert-base-cased"]
    texts = ["The movie was great.", "The food was terrible."]
    result = run_json(capsys, "feature-extraction", path, *sum((["--text", t] for t in texts), []), "--set", "pooling=cls")
    tokenizer, model = tokenizer_of(path), load("AutoModel", path)
    with torch.no_grad():
        outputs = model(**tokenizer(texts, padding=True, return_tensors="pt"))
    cls_vectors = outputs.last_hidden_state[:, 0, :]
    assert result["vector_size"] == cls_vectors.shape[-1]
    for got, expected in zip(result["vectors"], cls_vectors.tolist()):
        assert got == pytest.approx(expected, abs=1e-5)


def test_seed000_default_cache_folder_and_cache_dir(built, capsys, isolated_home, tmp_path):
    """`.from_pretrained()` downloads to `~/.cache/huggingface/transformers` by default, or to
    `cache_dir='./'`; both places are found and their checkpoints inspected."""
    default_cache = isolated_home / "hf-home" / "transformers"  # ~/.cache/huggingface/transformers
    fx.add_to_hub_cache(default_cache, "bert-base-cased", built["bert-base-cased"])
    assert cli.main(["scan", "--json"]) == 0
    found = {c["id"]: c for c in json.loads(capsys.readouterr().out)}
    assert found["bert-base-cased"]["model_type"] == "bert"
    assert found["bert-base-cased"]["architectures"] == ["BertModel"]

    cache_dir = tmp_path / "cache-dir"
    fx.add_to_hub_cache(cache_dir, "bert-base-cased", built["bert-base-cased"])
    assert cli.main(["scan", "--hub-cache", str(cache_dir), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["id"] == "bert-base-cased"
    assert inspect_json(capsys, entry["path"])["auto_classes"]["AutoModel"] == "BertModel"


# =========================================================================== seed 001


def test_seed001_bertmodel_encodes_here_is_some_text_to_encode(sample, capsys):
    """`input_ids = tokenizer.encode("Here is some text to encode", add_special_tokens=True)`;
    `last_hidden_states = model(input_ids)[0]` → shape (1, 9, 768): one vector per token."""
    import torch

    path = sample("tiny-bert-mlm")
    text = "Here is some text to encode"
    tokens = run_json(capsys, "tokenize", path, "--text", text)
    features = run_json(capsys, "feature-extraction", path, "--text", text, "--set", "pooling=cls")
    assert features["model"]["class"] == "BertModel"
    hidden = json.loads((path / "config.json").read_text())["hidden_size"]
    assert features["last_hidden_state_shape"] == [1, len(tokens["input_ids"]), hidden]
    tokenizer, model = tokenizer_of(path), load("BertModel", path)
    input_ids = tokenizer.encode(text, add_special_tokens=True)
    assert tokens["input_ids"] == input_ids
    with torch.no_grad():
        last_hidden_states = model(torch.tensor([input_ids]))[0]
    assert list(last_hidden_states.shape) == features["last_hidden_state_shape"]
    assert features["vectors"][0] == pytest.approx(last_hidden_states[0, 0].tolist(), abs=1e-5)


def test_seed001_bert_tokenizer_and_model_from_vocab_txt_and_pytorch_model_bin(built, capsys):
    """`tokenizer = BertTokenizer.from_pretrained(model_name)`; `model = BertModel.from_pretrained(model_name)`
    on a folder of config.json, pytorch_model.bin and vocab.txt (the files' names must stay as they are)."""
    import torch
    from transformers import BertModel, BertTokenizer

    path = built["bert-base-uncased-2020"]
    assert {p.name for p in path.iterdir()} == {"config.json", "pytorch_model.bin", "vocab.txt"}
    text = "Here is some text to encode"
    tokens = run_json(capsys, "tokenize", path, "--text", text)
    tokenizer = BertTokenizer.from_pretrained(str(path), local_files_only=True)
    input_ids = tokenizer.encode(text, add_special_tokens=True)
    assert tokens["tokenizer_class"] == "BertTokenizer" and tokens["input_ids"] == input_ids
    features = run_json(capsys, "feature-extraction", path, "--text", text, "--set", "pooling=cls")
    model = BertModel.from_pretrained(str(path), local_files_only=True).eval()
    with torch.no_grad():
        last_hidden_states = model(torch.tensor([input_ids]))[0]
    assert features["last_hidden_state_shape"] == list(last_hidden_states.shape)
    assert features["vectors"][0] == pytest.approx(last_hidden_states[0, 0].tolist(), abs=1e-5)
    report = inspect_json(capsys, path, "--head", "AutoModelForMaskedLM")
    assert report["tensors_on_disk"]["format"] == "pytorch" and report["missing"] == [] and report["unexpected"] == []


def test_seed001_wordpiece_tokens_with_cls_and_sep(sample, capsys):
    """['[CLS]', 'here', 'is', 'some', 'text', 'to', 'en', '##code', '[SEP]']: lower-cased WordPiece,
    [CLS] first and [SEP] last; the vocabulary size is config.json's vocab_size; token 0 is [PAD]."""
    path = sample("tiny-bert-mlm")
    result = run_json(capsys, "tokenize", path, "--text", "Here is some text to encode")
    tokens = [t["token"] for t in result["tokens"]]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert [t["special"] for t in result["tokens"]] == [True] + [False] * (len(tokens) - 2) + [True]
    assert tokens[1:4] == ["here", "is", "some"]
    assert "".join(t.removeprefix("##") for t in tokens[1:-1]) == "hereissometexttoencode"
    assert result["counts"]["vocabulary"] == json.loads((path / "config.json").read_text())["vocab_size"]
    assert tokenizer_of(path).convert_ids_to_tokens(0) == "[PAD]"


def test_seed001_bert_base_uncased_config_json(built, capsys):
    """The bert-base-uncased config.json: 12 layers, hidden 768, 12 heads, vocab 30522, 512 positions."""
    report = inspect_json(capsys, built["bert-base-uncased-config"])
    # The tutorial's (old) file has no model_type; transformers 5 no longer guesses it.
    assert any("no model_type" in p for p in report["problems"])
    derived = {k: v["value"] for k, v in report["derived"].items()}
    assert derived["layers"] == 12 and derived["hidden_size"] == 768 and derived["attention_heads"] == 12
    assert derived["head_dim"] == 64 and derived["vocab_size"] == 30522 and derived["context_length"] == 512
    assert derived["mlp_size"] == 3072

    typed = inspect_json(capsys, built["bert-base-uncased-typed"])
    assert typed["config_class"] == "BertConfig"
    fields = {f["name"]: f for f in typed["fields"]}
    for name in ("hidden_size", "num_hidden_layers", "vocab_size", "hidden_dropout_prob", "max_position_embeddings"):
        assert fields[name]["doc"], name
    # Every setting of bert-base-uncased is BertConfig's default; only the saved head is recorded.
    assert [f["name"] for f in fields.values() if f["changed"]] == ["architectures"]
    # The module tree is built without weights: the 110M parameters of BertForMaskedLM.
    assert typed["parameters"]["total"] == 109_514_298
    assert abs(typed["derived"]["params_from_config"]["value"] - 109_514_298) / 109_514_298 < 0.02


def test_seed001_bertmodel_is_embeddings_encoder_pooler(built, capsys):
    """`class BertModel`: self.embeddings = BertEmbeddings, self.encoder = BertEncoder (num_hidden_layers
    BertLayer), self.pooler = BertPooler (dense + Tanh on the [CLS] state); embeddings are word +
    position + token type, then LayerNorm and dropout."""
    report = inspect_json(capsys, built["bert-base-uncased-typed"], "--head", "AutoModel")
    root = report["modules"]
    assert root["class"] == "BertModel"
    assert [c["name"] for c in root["children"]] == ["embeddings", "encoder", "pooler"]
    embeddings = child(root, "embeddings")
    assert embeddings["class"] == "BertEmbeddings"
    shapes = {c["name"]: param(c, "weight")["shape"] for c in embeddings["children"] if c.get("parameters")}
    assert shapes["word_embeddings"] == [30522, 768]
    assert shapes["position_embeddings"] == [512, 768]
    assert shapes["token_type_embeddings"] == [2, 768]
    assert {"LayerNorm", "dropout"} <= {c["name"] for c in embeddings["children"]}
    layers = child(root, "encoder")["children"][0]
    assert layers["class"] == "BertLayer" and layers["repeat"] == 12
    pooler = child(root, "pooler")
    assert pooler["class"] == "BertPooler"
    assert param(child(pooler, "dense"), "weight")["shape"] == [768, 768]
    assert child(pooler, "activation")["class"] == "Tanh"


def test_seed001_pretraining_and_task_heads_of_bert(sample, capsys):
    """BertForMaskedLM, BertForNextSentencePrediction (pre-training heads), BertForSequenceClassification,
    BertForQuestionAnswering (task heads) on top of BertModel."""
    autos = inspect_json(capsys, sample("tiny-bert-mlm"))["auto_classes"]
    assert autos["AutoModelForNextSentencePrediction"] == "BertForNextSentencePrediction"
    assert autos["AutoModelForPreTraining"] == "BertForPreTraining"
    assert autos["AutoModelForSequenceClassification"] == "BertForSequenceClassification"
    assert autos["AutoModelForQuestionAnswering"] == "BertForQuestionAnswering"


def test_seed001_autotokenizer_and_automodel_from_local_xlnet_folder(built, capsys):
    """`model_name = 'E:/models/hfl/chinese-xlnet-base/'`; `AutoTokenizer.from_pretrained(model_name)`;
    `AutoModel.from_pretrained(model_name)`."""
    import torch

    path = built["chinese-xlnet-base"]
    report = inspect_json(capsys, path)
    assert report["model_type"] == "xlnet" and report["auto_classes"]["AutoModel"] == "XLNetModel"
    result = run_json(capsys, "feature-extraction", path, "--text", "This is a sample sentence.")
    assert result["model"]["class"] == "XLNetModel"
    tokenizer, model = tokenizer_of(path), load("AutoModel", path)
    with torch.no_grad():
        hidden = model(**tokenizer("This is a sample sentence.", return_tensors="pt")).last_hidden_state
    assert result["last_hidden_state_shape"] == list(hidden.shape)


def test_seed001_downloaded_model_is_found_in_the_cache(built, capsys, tmp_path):
    """"The model files are downloaded and stored on the computer" (the cache), then loaded by name."""
    cache = tmp_path / "hub"
    snapshot = fx.add_to_hub_cache(cache, "hfl/chinese-xlnet-base", built["chinese-xlnet-base"])
    assert cli.main(["scan", "--hub-cache", str(cache), "--json"]) == 0
    found = {c["id"]: c for c in json.loads(capsys.readouterr().out)}
    entry = found["hfl/chinese-xlnet-base"]
    assert entry["model_type"] == "xlnet" and entry["has_tokenizer"] is True
    assert Path(entry["path"]).resolve() == snapshot.resolve()
    result = run_json(capsys, "feature-extraction", entry["path"], "--text", "Hello world.")
    assert result["model"]["class"] == "XLNetModel"


def test_seed001_old_torch_transformers_cache(built, capsys, tmp_path, monkeypatch):
    """"On Linux the models are saved under ~/.cache/torch/transformers/", fetched from
    "https://s3.amazonaws.com/models.huggingface.co/bert/bert-base-uncased-config.json" and friends."""
    import hashlib

    home = tmp_path / "home"
    cache = home / ".cache" / "torch" / "transformers"
    cache.mkdir(parents=True)
    source = built["bert-saved-bin"]
    base = "https://s3.amazonaws.com/models.huggingface.co/bert/bert-base-uncased"
    for file_name, url in (("config.json", f"{base}-config.json"), ("pytorch_model.bin", f"{base}-pytorch_model.bin")):
        stored = cache / f"{hashlib.sha256(url.encode()).hexdigest()}.{hashlib.sha256(b'etag').hexdigest()}"
        shutil.copy(source / file_name, stored)
        Path(f"{stored}.json").write_text(json.dumps({"url": url, "etag": "etag"}))
    monkeypatch.setenv("HOME", str(home))
    assert cli.main(["scan", "--json"]) == 0
    found = {c["id"]: c for c in json.loads(capsys.readouterr().out)}
    entry = found["bert-base-uncased"]
    assert entry["source"] == SOURCE_LEGACY and entry["model_type"] == "bert"
    assert {f["name"] for f in entry["files"]} == {"config.json", "pytorch_model.bin"}
    # The Parameters tab reads the hashed files through the record: tensors and the new-head check.
    from explorer.core.discovery import ScanLocation, scan_all
    from explorer.core.jobs import run_to_end
    from explorer.core.parameters_report import parameters_job

    (checkpoint,), _ = scan_all([ScanLocation(SOURCE_LEGACY, str(cache))])
    result = run_to_end(parameters_job(checkpoint, "AutoModelForSequenceClassification"))
    assert len(result.disk.tensors) == len(inspect_json(capsys, source)["tensors"])
    assert result.match.missing == ["classifier.bias", "classifier.weight"]


# =========================================================================== seed 002


def test_seed002_ltgbert_checkpoint_files_and_custom_code(built, capsys):
    """A custom checkpoint holds config.json, configuration_ltgbert.py, modeling_ltgbert.py,
    pytorch_model.bin and the tokenizer files; its classes come from its own code."""
    path = built["ltgbert"]
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "configuration_ltgbert.py", "modeling_ltgbert.py", "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json"} <= names
    report = inspect_json(capsys, path)
    assert report["model_type"] == "LtgBert" and report["needs_remote_code"] is True
    assert set(report["remote_code_files"]) == {"configuration_ltgbert.py", "modeling_ltgbert.py"}
    # The weights are listed from the .bin without running its pickle or the code.
    assert report["tensors_on_disk"]["format"] == "pytorch"
    assert "model.word_embedding.weight" in {t["name"] for t in report["tensors"]}
    row = resolution(report)["AutoModelForMaskedLM"]
    assert row["needs_consent"] and "LtgBertForMaskedLM" in row["note"]

    grant(path)
    trusted = inspect_json(capsys, path)
    assert trusted["config_class"] == "LtgBertConfig"
    assert trusted["modules"]["class"] == "LtgBertForMaskedLM"
    body = child(trusted["modules"], "model")  # "self.model is the actual model body"
    assert body["class"] == "Bert"


def test_seed002_register_for_auto_class_leaves_auto_map_incomplete(built, capsys):
    """`LtgBertForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")`
    ... "sometimes auto_map in config.json is incomplete": only the saved class is written."""
    path = built["ltgbert"]
    auto_map = json.loads((path / "config.json").read_text())["auto_map"]
    assert auto_map == {"AutoConfig": "configuration_ltgbert.LtgBertConfig", "AutoModelForMaskedLM": "modeling_ltgbert.LtgBertForMaskedLM"}
    grant(path)
    rows = resolution(inspect_json(capsys, path))
    assert (rows["AutoModelForMaskedLM"]["resolves_to"], rows["AutoModelForMaskedLM"]["source"]) == ("LtgBertForMaskedLM", "auto_map")
    for auto_class in ("AutoModelForSequenceClassification", "AutoModelForCausalLM"):
        assert rows[auto_class]["resolves_to"] is None
        assert f"auto_map has no {auto_class} entry" in rows[auto_class]["reason"]


def test_seed002_auto_map_set_in_config_init_registers_every_head(built, capsys):
    """`self.auto_map = {"AutoConfig": ..., "AutoModelForMaskedLM": ..., "AutoModelForSequenceClassification": ...,
    "AutoModelForCausalLM": ...}` forced in the config's __init__."""
    path = built["ltgbert-full-auto-map"]
    grant(path)
    report = inspect_json(capsys, path, "--head", "AutoModelForSequenceClassification")
    autos = report["auto_classes"]
    assert autos["AutoModelForMaskedLM"] == "LtgBertForMaskedLM"
    assert autos["AutoModelForSequenceClassification"] == "LtgBertForSequenceClassification"
    assert autos["AutoModelForCausalLM"] == "LtgBertForCausalLM"
    # The sequence-classification head is not in the masked-LM weights.
    assert report["missing"] == ["head.bias", "head.weight"]
    result = run_json(capsys, "text-classification", path, "--text", "hello world")
    assert result["model"]["class"] == "LtgBertForSequenceClassification"
    assert "head.bias, head.weight" in " ".join(result["notices"])


def test_seed002_custom_masked_lm_runs_only_after_consent(built, capsys):
    """LtgBertForMaskedLM.forward (batch_first transposes, MaskedLMOutput) used through AutoModelForMaskedLM."""
    import torch

    path = built["ltgbert"]
    text = "The capital of France is [MASK]."
    assert cli.main(["run", "fill-mask", str(path), "--text", text]) == 1
    assert "allow" in capsys.readouterr().err
    grant(path)
    result = run_json(capsys, "fill-mask", path, "--text", text)
    assert result["model"]["class"] == "LtgBertForMaskedLM"
    from transformers import AutoModelForMaskedLM

    tokenizer = tokenizer_of(path)
    model = AutoModelForMaskedLM.from_pretrained(str(path), local_files_only=True, trust_remote_code=True).eval()
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    index = int((inputs.input_ids[0] == tokenizer.mask_token_id).nonzero()[0, 0])
    assert result["masks"][0]["predictions"][0]["token_id"] == int(logits[0, index].argmax())


def test_seed002_demo_tab_offers_the_custom_heads(built):
    """The Demo tab's task picker for LTG-BERT: AutoModelForMaskedLM comes from auto_map, so fill-mask is available."""
    from explorer.tasks.heads import task_choices

    config = json.loads((built["ltgbert"] / "config.json").read_text())
    choices = {c.task_id: c for c in task_choices(config["architectures"], config["model_type"])}
    assert choices["fill-mask"].suggested and choices["fill-mask"].available


# =========================================================================== seed 003


def test_seed003_gpt2_loads_with_auto_model_for_causal_lm(sample, capsys):
    """"Use this model" shows GPT-2 → AutoModelForCausalLM."""
    report = inspect_json(capsys, sample("tiny-gpt2-lm"))
    assert report["load_hint"].startswith("Load with AutoModelForCausalLM: it builds GPT2LMHeadModel")
    assert "text-generation" in report["tasks"]
    # The Config tab's "copy as Python" is that loading code, and it runs.
    namespace: dict = {}
    exec(compile(report["python"], "config-snippet", "exec"), namespace)
    assert type(namespace["model"]).__name__ == "GPT2LMHeadModel"


def test_seed003_parameter_shapes_and_precision(sample, capsys):
    """Files and versions → the weights file's tensors: parameter shapes and precision."""
    report = inspect_json(capsys, sample("tiny-gpt2-lm"))
    tensors = {t["name"]: t for t in report["tensors"]}
    wte = tensors["transformer.wte.weight"]
    config = json.loads((sample("tiny-gpt2-lm") / "config.json").read_text())
    assert wte["shape"] == [config["vocab_size"], config["n_embd"]] and wte["dtype"] == "float32"
    assert tensors["transformer.wpe.weight"]["shape"] == [config["n_positions"], config["n_embd"]]


def test_seed003_gpt2_config_json_explained(built, capsys):
    """GPT-2's config.json: model_type gpt2, GPT2LMHeadModel, n_embd 768, n_head 12, n_layer 12,
    n_positions 1024, bos_token_id == eos_token_id == 50256, vocab_size 50257, gelu_new, dropouts,
    task_specific_params text-generation {do_sample: true, max_length: 50}."""
    report = inspect_json(capsys, built["gpt2-config"])
    assert report["model_type"] == "gpt2" and report["architectures"] == ["GPT2LMHeadModel"]
    derived = {k: v["value"] for k, v in report["derived"].items()}
    assert derived["hidden_size"] == 768 and derived["attention_heads"] == 12 and derived["layers"] == 12
    assert derived["context_length"] == 1024 and derived["vocab_size"] == 50257
    fields = {f["name"]: f for f in report["fields"]}
    for name in ("n_embd", "n_head", "n_layer", "n_positions", "activation_function", "attn_pdrop", "embd_pdrop", "resid_pdrop", "bos_token_id"):
        assert fields[name]["doc"], name
    assert fields["bos_token_id"]["value"] == fields["eos_token_id"]["value"] == 50256
    assert fields["task_specific_params"]["value"] == {"text-generation": {"do_sample": True, "max_length": 50}}
    assert report["auto_classes"]["AutoModelForCausalLM"] == "GPT2LMHeadModel"
    assert report["parameters"]["total"] == 124_439_808  # GPT-2 small, counted from the config alone


def test_seed003_example1_text_generation(sample, capsys):
    """`outputs = model.generate(**inputs, max_length=50, do_sample=True, top_p=0.95, temperature=0.7)`
    for "Once upon a time"."""
    import torch

    path = sample("tiny-gpt2-lm")
    tokenizer, model = tokenizer_of(path), load("AutoModelForCausalLM", path)
    inputs = tokenizer("Once upon a time", return_tensors="pt")
    prompt_length = inputs.input_ids.shape[1]
    result = run_json(
        capsys, "text-generation", path, "--text", "Once upon a time", "--max-new-tokens", 50 - prompt_length,
        "--set", "use_chat_template=false", "--set", "do_sample=true", "--set", "top_p=0.95", "--set", "temperature=0.7",
        "--seed", 0,
    )
    assert result["prompt_tokens"] == prompt_length
    assert result["prompt_tokens"] + result["new_tokens"] <= 50
    torch.manual_seed(0)
    with torch.no_grad():
        outputs = model.generate(**inputs, max_length=50, do_sample=True, top_p=0.95, temperature=0.7, pad_token_id=tokenizer.eos_token_id)
    assert result["token_ids"] == outputs[0, prompt_length:].tolist()
    assert result["text"] == tokenizer.decode(outputs[0], skip_special_tokens=True)
    # "Copy as Python" writes the tutorial's generate call with the same settings.
    assert cli.main([
        "run", "text-generation", str(path), "--script", "--set", "use_chat_template=false", "--set", "do_sample=true",
        "--set", "top_p=0.95", "--set", "temperature=0.7",
    ]) == 0
    script = capsys.readouterr().out
    assert "AutoModelForCausalLM.from_pretrained(" in script and "model.generate(" in script
    assert "do_sample=True" in script and "top_p=0.95" in script and "temperature=0.7" in script


def test_seed003_example2_fill_mask(sample, capsys):
    """`predicted_token_id = predictions[0, masked_index].argmax(dim=-1).item()` for
    "The capital of France is [MASK].\""""
    import torch

    path = sample("tiny-bert-mlm")
    result = run_json(capsys, "fill-mask", path, "--text", "The capital of France is [MASK].")
    tokenizer, model = tokenizer_of(path), load("AutoModelForMaskedLM", path)
    inputs = tokenizer("The capital of France is [MASK].", return_tensors="pt")
    with torch.no_grad():
        predictions = model(**inputs).logits
    masked_index = (inputs.input_ids == tokenizer.mask_token_id)[0].nonzero(as_tuple=True)[0]
    predicted_token_id = predictions[0, masked_index].argmax(dim=-1).item()
    best = result["masks"][0]["predictions"][0]
    assert result["masks"][0]["position"] == int(masked_index)
    assert best["token_id"] == predicted_token_id and best["token"] == tokenizer.decode([predicted_token_id])


def test_seed003_example3_seq2seq_translation(built, capsys):
    """`model = AutoModelForSeq2SeqLM.from_pretrained("Helsinki-NLP/opus-mt-en-de")`;
    `model.generate(**inputs, max_length=40, num_beams=4, early_stopping=True)` for "Hello, how are you?"."""
    import torch

    path = built["opus-mt-en-de"]
    assert inspect_json(capsys, path)["auto_classes"]["AutoModelForSeq2SeqLM"] == "MarianMTModel"
    result = run_json(
        capsys, "text2text-generation", path, "--text", "Hello, how are you?", "--set", "max_length=40", "--set", "early_stopping=on"
    )
    assert result["model"]["class"] == "MarianMTModel"
    settings = result["generation_settings"]
    assert settings["max_length"] == {"value": 40, "source": "changed here"}
    assert settings["num_beams"] == {"value": 4, "source": "checkpoint (generation_config.json)"}  # the tutorial's 4 is the checkpoint's
    assert settings["early_stopping"] == {"value": "on", "source": "changed here"}
    tokenizer, model = tokenizer_of(path), load("AutoModelForSeq2SeqLM", path)
    with torch.no_grad():
        outputs = model.generate(**tokenizer("Hello, how are you?", return_tensors="pt"), max_length=40, num_beams=4, early_stopping=True)
    assert result["token_ids"] == outputs[0].tolist()
    assert result["generated_text"] == tokenizer.decode(outputs[0], skip_special_tokens=True)


def test_seed003_example4_question_answering(built, capsys):
    """`answer_start = torch.argmax(outputs.start_logits)`; `answer_end = torch.argmax(outputs.end_logits) + 1`
    with distilbert-base-uncased-distilled-squad on "What is Hugging Face creating?"."""
    import torch

    path = built["distilbert-squad"]
    question, context = "What is Hugging Face creating?", "Hugging Face is creating a tool that democratizes AI."
    result = run_json(capsys, "question-answering", path, "--text", question, "--context", context)
    assert result["model"]["class"] == "DistilBertForQuestionAnswering"
    tokenizer, model = tokenizer_of(path), load("AutoModelForQuestionAnswering", path)
    inputs = tokenizer(question, context, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    answer_start = torch.argmax(outputs.start_logits)
    answer_end = torch.argmax(outputs.end_logits) + 1
    answer = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0][answer_start:answer_end]))
    assert result["argmax_answer"] == {"answer": answer, "token_start": int(answer_start), "token_end": int(answer_end)}
    # The app's own spans always lie inside the context.
    for span in result["answers"]:
        assert context[span["start"]:span["end"]] == span["answer"]


def test_seed003_example5_named_entity_recognition(sample, capsys):
    """`predictions = torch.argmax(logits, dim=2)`; `print(f"{token}: {label}")` for every token."""
    import torch

    path = sample("tiny-bert-ner")
    text = ("Hugging Face Inc. is a company based in New York City. Its headquarters are in DUMBO, "
            "therefore very close to the Manhattan Bridge.")
    result = run_json(capsys, "token-classification", path, "--text", text)
    tokenizer, model = tokenizer_of(path), load("AutoModelForTokenClassification", path)
    label_list = model.config.id2label
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        predictions = torch.argmax(model(**inputs).logits, dim=2)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    pred_labels = [label_list[prediction.item()] for prediction in predictions[0]]
    assert [(t["word"], t["entity"]) for t in result["tokens"]] == list(zip(tokens, pred_labels))


def test_seed003_example6_text_classification(sample, capsys):
    """`probabilities = F.softmax(logits, dim=1)`; `predicted_label = labels[prediction]` for
    "I love using transformers library!"."""
    import torch

    path = sample("tiny-distilbert-sentiment")
    text = "I love using transformers library!"
    result = run_json(capsys, "text-classification", path, "--text", text)
    tokenizer, model = tokenizer_of(path), load("AutoModelForSequenceClassification", path)
    with torch.no_grad():
        probabilities = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, dim=1)[0]
    labels = ["NEGATIVE", "POSITIVE"]
    row = result["results"][0]
    assert row["label"] == labels[int(torch.argmax(probabilities))]
    scores = {s["label"]: s["score"] for s in row["scores"]}
    assert [scores[label] for label in labels] == pytest.approx(probabilities.tolist(), abs=1e-6)


def test_seed003_example7_feature_extraction(sample, capsys):
    """`last_hidden_states = outputs.last_hidden_state`; `print(last_hidden_states.shape)` for
    "This is a sample sentence."."""
    import torch

    path = sample("tiny-bert-mlm")
    result = run_json(capsys, "feature-extraction", path, "--text", "This is a sample sentence.")
    tokenizer, model = tokenizer_of(path), load("AutoModel", path)
    with torch.no_grad():
        last_hidden_states = model(**tokenizer("This is a sample sentence.", return_tensors="pt")).last_hidden_state
    assert result["last_hidden_state_shape"] == list(last_hidden_states.shape)
    assert result["vectors"][0] == pytest.approx(last_hidden_states[0].mean(dim=0).tolist(), abs=1e-5)


def test_seed003_source_of_the_question_answering_head(built, sample, capsys):
    """`inspect.getsource(model.__init__)` / `inspect.getsource(model.forward)` of
    AutoModelForQuestionAnswering: self.distilbert, self.qa_outputs = nn.Linear(config.dim, config.num_labels),
    self.dropout; and the same head on a checkpoint without it (bert-base-chinese)."""
    from explorer.core.skeleton import build_skeleton, module_source

    path = built["distilbert-squad"]
    report = inspect_json(capsys, path, "--head", "AutoModelForQuestionAnswering")
    root = report["modules"]
    assert root["class"] == "DistilBertForQuestionAnswering"
    assert {"distilbert", "qa_outputs", "dropout"} <= {c["name"] for c in root["children"]}
    assert param(child(root, "qa_outputs"), "weight")["shape"] == [2, 32]
    assert resolution(report)["AutoModelForQuestionAnswering"]["head"] == "question answering"
    source = module_source(build_skeleton(path, "AutoModelForQuestionAnswering"), "DistilBertForQuestionAnswering")
    assert "self.qa_outputs = nn.Linear(config.dim, config.num_labels)" in source
    assert "def forward(" in source and "start_logits" in source
    # On a masked-LM BERT the QA head is new: its weights are not in the checkpoint.
    bert = inspect_json(capsys, sample("tiny-bert-mlm"), "--head", "AutoModelForQuestionAnswering")
    assert bert["modules"]["class"] == "BertForQuestionAnswering"
    assert bert["missing"] == ["qa_outputs.bias", "qa_outputs.weight"]


def test_seed003_homework_compare_init_of_three_auto_model_for_classes(sample):
    """Homework: print `__init__` of three AutoModelForXxx and compare: the same BertModel body,
    a different head each."""
    from explorer.core.skeleton import build_skeleton, module_source

    path = sample("tiny-bert-mlm")
    heads = {
        "AutoModelForMaskedLM": ("BertForMaskedLM", "self.cls = BertOnlyMLMHead(config)"),
        "AutoModelForSequenceClassification": ("BertForSequenceClassification", "self.classifier = nn.Linear(config.hidden_size, config.num_labels)"),
        "AutoModelForQuestionAnswering": ("BertForQuestionAnswering", "self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)"),
    }
    for auto_class, (class_name, head_line) in heads.items():
        skeleton = build_skeleton(path, auto_class)
        assert skeleton.model_class == class_name
        source = module_source(skeleton, class_name)
        assert "self.bert = BertModel(config" in source and head_line in source, class_name


# =========================================================================== seed 004


def test_seed004_sentiment_analysis_pipeline(sample, capsys):
    """`classifier = pipeline('sentiment-analysis')`;
    `classifier("I've been waiting for a HuggingFace course my whole life.")` → [{'label': ..., 'score': ...}]."""
    path = sample("tiny-distilbert-sentiment")
    result = run_json(capsys, "text-classification", path, "--text", "I've been waiting for a HuggingFace course my whole life.")
    (row,) = result["results"]
    assert row["label"] in ("NEGATIVE", "POSITIVE")
    assert row["score"] == max(s["score"] for s in row["scores"])
    assert sum(s["score"] for s in row["scores"]) == pytest.approx(1.0, abs=1e-5)
    # The app's default example is the tutorial's sentence.
    assert run_json(capsys, "text-classification", path)["results"][0]["text"] == "I've been waiting for a HuggingFace course my whole life."


def test_seed004_sentiment_of_several_sentences(sample, capsys):
    """`results = classifier(["We are very happy to show you the 🤗 Transformers library.", "We hope you don't hate it."])`
    then `label: ..., with score: round(result['score'], 4)` for each."""
    import torch

    path = sample("tiny-distilbert-sentiment")
    texts = ["We are very happy to show you the 🤗 Transformers library.", "We hope you don't hate it."]
    result = run_json(capsys, "text-classification", path, "--text", texts[0], "--text", texts[1])
    assert [row["text"] for row in result["results"]] == texts
    # pt_batch = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt"); F.softmax(pt_model(**pt_batch)[0], dim=-1)
    tokenizer, model = tokenizer_of(path), load("AutoModelForSequenceClassification", path)
    pt_batch = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        pt_predictions = torch.softmax(model(**pt_batch)[0], dim=-1)
    for row, probabilities in zip(result["results"], pt_predictions.tolist()):
        scores = {s["label"]: s["score"] for s in row["scores"]}
        assert [scores["NEGATIVE"], scores["POSITIVE"]] == pytest.approx(probabilities, abs=1e-6)
        for score in row["scores"]:  # logits come along: softmax of them is the score
            assert math.isfinite(score["logit"])
    assert cli.main(["run", "text-classification", str(path), "--text", texts[0], "--text", texts[1]]) == 0
    printed = capsys.readouterr().out
    assert texts[0] in printed and texts[1] in printed and "POSITIVE" in printed


def test_seed004_other_sentiment_model_with_five_labels(built, capsys):
    """`pipeline('sentiment-analysis', model="nlptown/bert-base-multilingual-uncased-sentiment")` (1–5 stars),
    with `AutoModelForSequenceClassification` + `AutoTokenizer` passed in."""
    path = built["multilingual-sentiment"]
    assert inspect_json(capsys, path)["auto_classes"]["AutoModelForSequenceClassification"] == "BertForSequenceClassification"
    result = run_json(capsys, "text-classification", path, "--text", "Nous sommes très heureux.")
    labels = {s["label"] for s in result["results"][0]["scores"]}
    assert labels == {"1 star", "2 stars", "3 stars", "4 stars", "5 stars"}


def test_seed004_tokenizer_input_ids_and_attention_mask(sample, capsys):
    """`inputs = tokenizer("We are very happy to show you the 🤗 Transformers library.")` → input_ids with
    [CLS] ... [SEP], the emoji as [UNK] (100 in BERT's vocabulary), attention_mask all ones."""
    path = sample("tiny-bert-mlm")
    result = run_json(capsys, "tokenize", path)  # the app's default example is this sentence
    assert result["text"] == "We are very happy to show you the 🤗 Transformers library."
    tokenizer = tokenizer_of(path)
    assert result["input_ids"] == tokenizer(result["text"])["input_ids"]
    assert result["attention_mask"] == [1] * len(result["input_ids"])
    emoji = next(t for t in result["tokens"] if t["start"] == result["text"].index("🤗"))
    assert emoji["token"] == "[UNK]" and emoji["id"] == tokenizer.unk_token_id


def test_seed004_padded_batch_of_two_sentences(sample, capsys):
    """`pt_batch = tokenizer([...two sentences...], padding=True, truncation=True, max_length=512,
    return_tensors="pt")`: the shorter one is padded; its attention_mask ends in zeros."""
    path = sample("tiny-bert-mlm")
    texts = ["We are very happy to show you the 🤗 Transformers library.", "We hope you don't hate it."]
    result = run_json(capsys, "feature-extraction", path, "--text", texts[0], "--text", texts[1])
    pt_batch = tokenizer_of(path)(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    assert result["last_hidden_state_shape"][:2] == list(pt_batch["input_ids"].shape)
    assert result["token_counts"] == pt_batch["attention_mask"].sum(dim=1).tolist()
    assert result["token_counts"][1] < result["token_counts"][0]


def test_seed004_auto_class_picks_distilbert_for_sequence_classification(sample, capsys):
    """"AutoModelForSequenceClassification automatically loads DistilBertForSequenceClassification"."""
    report = inspect_json(capsys, sample("tiny-distilbert-sentiment"))
    assert report["auto_classes"]["AutoModelForSequenceClassification"] == "DistilBertForSequenceClassification"
    assert resolution(report)["AutoModelForSequenceClassification"]["relation"] == "same"


def test_seed004_distilbert_config_with_changed_hyperparameters(built, capsys):
    """`config = DistilBertConfig(n_heads=8, dim=512, hidden_dim=4*512)`;
    `model = DistilBertForSequenceClassification(config)` (core sizes changed: train from scratch)."""
    report = inspect_json(capsys, built["distilbert-custom-config"], "--head", "DistilBertForSequenceClassification")
    derived = {k: v["value"] for k, v in report["derived"].items()}
    assert derived["attention_heads"] == 8 and derived["hidden_size"] == 512
    assert derived["head_dim"] == 64 and derived["mlp_size"] == 2048
    fields = {f["name"]: f for f in report["fields"]}
    assert fields["dim"]["changed"] and fields["n_heads"]["changed"] and fields["hidden_dim"]["changed"]
    root = report["modules"]
    assert root["class"] == "DistilBertForSequenceClassification"
    assert param(child(root, "pre_classifier"), "weight")["shape"] == [512, 512]
    assert report["parameters"]["total"] > 0 and report["tensors"] == []  # no weights: nothing pre-trained


def test_seed004_new_classification_head_on_pretrained_body(built, capsys):
    """`DistilBertForSequenceClassification.from_pretrained("distilbert-base-uncased", num_labels=10)`:
    the body is reused, pre_classifier and classifier are built anew."""
    report = inspect_json(capsys, built["distilbert-base-uncased"], "--head", "AutoModelForSequenceClassification")
    assert report["missing"] == ["classifier.bias", "classifier.weight", "pre_classifier.bias", "pre_classifier.weight"]
    # The masked-LM head (vocab_transform, vocab_layer_norm, vocab_projector) is dropped.
    assert report["unexpected"] and all(name.startswith("vocab_") for name in report["unexpected"])
    root = report["modules"]
    assert child(root, "distilbert")["class"] == "DistilBertModel"
    assert param(child(root, "pre_classifier"), "weight")["shape"] == [32, 32]
    assert param(child(root, "classifier"), "weight")["shape"] == [2, 32]


def test_seed004_zero_shot_classification(sample, capsys):
    """`pipeline` task zero-shot-classification (default bart-large-mnli): an NLI model scores labels you give."""
    path = sample("tiny-bert-nli")
    labels = ["education", "politics", "business"]
    result = run_json(capsys, "zero-shot-classification", path, "--text", "I have been waiting for a course like this my whole life.", "--labels", ",".join(labels))
    assert sorted(result["labels"]) == sorted(labels)
    assert sum(result["scores"]) == pytest.approx(1.0, abs=1e-5)
    assert result["scores"] == sorted(result["scores"], reverse=True)
    assert result["entailment_label"] == "entailment"


def test_seed004_summarization_and_translation_with_text_to_text(sample, capsys):
    """`pipeline` tasks summarization and translation: an encoder-decoder generates the output text."""
    path = sample("tiny-t5")
    for prefix in ("summarize: ", "translate English to German: "):
        result = run_json(
            capsys, "text2text-generation", path, "--text", "the house is wonderful.", "--set", f"prefix={prefix}",
            "--set", "num_beams=1", "--set", "max_length=8",
        )
        assert result["input_text"] == prefix + "the house is wonderful."
        assert result["model"]["class"] == "T5ForConditionalGeneration" and result["token_ids"]


def test_seed004_fill_mask_and_text_generation_pipelines(sample, capsys):
    """`pipeline` tasks fill-mask and text-generation (table of default models)."""
    masks = run_json(capsys, "fill-mask", sample("tiny-bert-mlm"), "--text", "Paris is the [MASK] of France.", "--set", "top_k=3")
    assert len(masks["masks"][0]["predictions"]) == 3
    generated = run_json(capsys, "text-generation", sample("tiny-gpt2-lm"), "--text", "Hello", "--max-new-tokens", 5)
    assert 1 <= generated["new_tokens"] <= 5


def test_seed004_save_pretrained_then_from_pretrained(sample, capsys, tmp_path):
    """`tokenizer.save_pretrained(save_directory)`; `model.save_pretrained(save_directory)`; later
    `from_pretrained(save_directory)` gives the same model."""
    source = sample("tiny-distilbert-sentiment")
    save_directory = tmp_path / "save_directory"
    tokenizer_of(source).save_pretrained(save_directory)
    load("DistilBertForSequenceClassification", source).save_pretrained(save_directory)
    before, after = inspect_json(capsys, source), inspect_json(capsys, save_directory)
    assert after["tensors"] == before["tensors"]
    assert after["auto_classes"] == before["auto_classes"]
    text = ["We hope you don't hate it."]
    first = run_json(capsys, "text-classification", source, "--text", text[0])["results"]
    second = run_json(capsys, "text-classification", save_directory, "--text", text[0])["results"]
    assert first == second
    concrete = inspect_json(capsys, save_directory, "--head", "DistilBertForSequenceClassification")
    assert concrete["missing"] == [] and concrete["unexpected"] == []


def test_seed004_pipeline_default_zero_shot_model_bart_large_mnli(built, capsys):
    """`pipeline("zero-shot-classification")` → bart-large-mnli: each label becomes the hypothesis
    "This example is {label}." and the entailment logits are compared across labels."""
    import torch

    path = built["bart-large-mnli"]
    text, labels = "I have been waiting for a course like this my whole life.", ["education", "politics", "business"]
    result = run_json(capsys, "zero-shot-classification", path, "--text", text, "--labels", ",".join(labels))
    assert result["model"]["class"] == "BartForSequenceClassification" and result["entailment_label"] == "entailment"
    tokenizer, model = tokenizer_of(path), load("AutoModelForSequenceClassification", path)
    hypotheses = [f"This example is {label}." for label in labels]
    with torch.no_grad():
        logits = model(**tokenizer([text] * len(labels), hypotheses, padding=True, return_tensors="pt")).logits
    expected = dict(zip(labels, logits[:, model.config.label2id["entailment"]].softmax(dim=0).tolist()))
    assert dict(zip(result["labels"], result["scores"])) == pytest.approx(expected, abs=1e-5)


def test_seed004_pipeline_default_fill_mask_model_distilroberta(built, capsys):
    """`pipeline("fill-mask")` → distilroberta-base, whose mask token is <mask>, not [MASK]."""
    import torch

    path = built["distilroberta-base"]
    result = run_json(capsys, "fill-mask", path, "--text", "Paris is the [MASK] of France.")
    assert result["mask_token"] == "<mask>" and result["text"] == "Paris is the <mask> of France."
    tokenizer, model = tokenizer_of(path), load("AutoModelForMaskedLM", path)
    inputs = tokenizer("Paris is the <mask> of France.", return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    index = int((inputs.input_ids[0] == tokenizer.mask_token_id).nonzero()[0, 0])
    assert result["masks"][0]["predictions"][0]["token_id"] == int(logits[0, index].argmax())


def test_seed004_pipeline_default_summarization_model_distilbart(built, capsys):
    """`pipeline("summarization")` → distilbart-cnn-12-6, an encoder-decoder that generates the summary."""
    import torch

    path = built["distilbart-cnn-12-6"]
    text = "The report describes the results. The weather is nice today."
    result = run_json(capsys, "text2text-generation", path, "--text", text, "--set", "max_length=60")
    assert result["model"]["class"] == "BartForConditionalGeneration"
    # The pipeline decodes with the checkpoint's own settings (4 beams, no repeated trigram, ...); so does the app.
    assert result["generation_settings"]["no_repeat_ngram_size"]["value"] == 3
    assert result["generation_settings"]["length_penalty"] == {"value": 2.0, "source": "checkpoint (generation_config.json)"}
    tokenizer, model = tokenizer_of(path), load("AutoModelForSeq2SeqLM", path)
    with torch.no_grad():
        outputs = model.generate(**tokenizer(text, return_tensors="pt"), max_length=60)
    assert result["token_ids"] == outputs[0].tolist()
