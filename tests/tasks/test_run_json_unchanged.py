"""``run --json`` prints what it printed before task results became dataclasses.

The reference (``data/run_json_digests.json``) was captured from the dict-based results: for each
case, the top-level keys in order, the keys of every nested object (by its path, list positions
as ``[]``) and a digest of each top-level value. Timings are blanked and the checkpoint's path
is ``<checkpoint>``. Checkpoints whose weights and vocabulary are the same in every build are
compared digest for digest; the BERT and T5 samples' vocabularies change from one build to the
next (their trainers are not deterministic), so their cases compare keys only, while BERT-family
heads built on GPT-2's fixed vocabulary cover those tasks' values. Regenerate only on purpose:
``python -m tests.tasks.test_run_json_unchanged --write``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "data" / "run_json_digests.json"
TIMINGS = ("seconds", "tokens_per_second")
VOCABULARY_VARIES = ("tiny-bert-", "tiny-distilbert-", "tiny-t5")
LONG_CONTEXT = " ".join(f"Sentence {i} says that the river Elbe flows through Hamburg and Dresden." for i in range(40))

# (case name, task, checkpoint, command-line arguments); checkpoints named tiny-* are the samples.
CASES = [
    ("generation-sampled", "text-generation", "tiny-gpt2-lm", ["--max-new-tokens", "12"]),
    ("generation-greedy", "text-generation", "tiny-gpt2-lm", ["--text", "Hello there", "--set", "do_sample=false", "--set", "use_chat_template=false", "--set", "max_length=9"]),
    ("tokenize-gpt2", "tokenize", "tiny-gpt2-lm", ["--set", "ids_to_decode=1, 2, 3"]),
    ("tokenize-pair", "tokenize", "tiny-gpt2-lm", ["--text", "a question", "--context", "a context", "--set", "add_special_tokens=false"]),
    ("tokenize-batch", "tokenize", "tiny-gpt2-lm", ["--text", "one", "--text", "two words here", "--set", "ids_to_decode=5"]),
    ("features-gpt2", "feature-extraction", "tiny-gpt2-lm", []),
    ("features-layer", "feature-extraction", "tiny-gpt2-lm", ["--set", "layer=1", "--set", "pooling=cls", "--set", "normalize=true", "--set", "output_attentions=true"]),
    ("fill-mask", "fill-mask", "bert-mlm", ["--text", "[MASK] is the capital of [MASK].", "--set", "top_k=3"]),
    ("classification", "text-classification", "distilbert-sentiment", []),
    ("classification-gold", "text-classification", "distilbert-sentiment", ["--text", "good", "--text", "bad", "--set", "gold_labels=POSITIVE, 0"]),
    ("classification-multi", "text-classification", "distilbert-sentiment", ["--set", "multi_label=true"]),
    ("ner-simple", "token-classification", "bert-ner", []),
    ("ner-none", "token-classification", "bert-ner", ["--set", "aggregation=none"]),
    ("ner-first", "token-classification", "bert-ner", ["--set", "aggregation=first"]),
    ("ner-max", "token-classification", "bert-ner", ["--set", "aggregation=max"]),
    ("ner-average", "token-classification", "bert-ner", ["--set", "aggregation=average"]),
    ("qa", "question-answering", "bert-qa", []),
    ("qa-windows", "question-answering", "bert-qa", ["--text", "Where does the Elbe flow?", "--context", LONG_CONTEXT, "--set", "stride=16"]),
    ("zero-shot", "zero-shot-classification", "bert-nli", []),
    ("zero-shot-multi", "zero-shot-classification", "bert-nli", ["--labels", "rivers, cities", "--set", "multi_label=true"]),
    ("nli-classification", "text-classification", "bert-nli", []),
    ("features-pooler", "feature-extraction", "bert-nli", ["--set", "pooling=pooler"]),
    # Samples whose vocabulary varies: keys only (see the module doc).
    ("text2text", "text2text-generation", "tiny-t5", ["--set", "max_length=8"]),
    ("text2text-sampled", "text2text-generation", "tiny-t5", ["--set", "max_length=8", "--set", "num_beams=1", "--set", "do_sample=true", "--seed", "3"]),
    ("tokenize-t5", "tokenize", "tiny-t5", []),
    ("features-t5", "feature-extraction", "tiny-t5", []),
    ("sample-fill-mask", "fill-mask", "tiny-bert-mlm", []),
    ("sample-features-bert", "feature-extraction", "tiny-bert-mlm", []),
    ("sample-classification", "text-classification", "tiny-distilbert-sentiment", ["--text", "good", "--text", "bad", "--set", "gold_labels=POSITIVE, NEGATIVE"]),
    ("sample-ner", "token-classification", "tiny-bert-ner", []),
    ("sample-ner-none", "token-classification", "tiny-bert-ner", ["--set", "aggregation=none"]),
    ("sample-qa", "question-answering", "tiny-bert-qa", []),
    ("sample-zero-shot", "zero-shot-classification", "tiny-bert-nli", []),
    ("sample-tokenize-bert", "tokenize", "tiny-bert-mlm", ["--text", "a", "--text", "b c"]),
]


def build_checkpoints(root: Path, samples: Path) -> dict[str, Path]:
    """The samples, and BERT-family heads on GPT-2's fixed vocabulary (with a mask token added for fill-mask)."""
    from transformers import AutoTokenizer

    from explorer.core.samples import NER_LABELS, NLI_LABELS, SAMPLE_NAMES, SENTIMENT_LABELS
    from tests.seed_fixtures import build_head_model

    def labels(names: list[str]) -> dict:
        return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}

    folders = {name: samples / name for name in SAMPLE_NAMES}
    vocabulary = samples / "tiny-gpt2-lm"
    with_mask = root / "gpt2-vocabulary-with-mask"
    tokenizer = AutoTokenizer.from_pretrained(vocabulary)
    tokenizer.add_special_tokens({"mask_token": "[MASK]"})
    tokenizer.save_pretrained(with_mask)
    folders["bert-mlm"] = build_head_model(root / "bert-mlm", with_mask, "BertForMaskedLM")
    folders["distilbert-sentiment"] = build_head_model(root / "distilbert-sentiment", vocabulary, "DistilBertForSequenceClassification", **labels(SENTIMENT_LABELS))
    folders["bert-ner"] = build_head_model(root / "bert-ner", vocabulary, "BertForTokenClassification", **labels(NER_LABELS))
    folders["bert-qa"] = build_head_model(root / "bert-qa", vocabulary, "BertForQuestionAnswering")
    folders["bert-nli"] = build_head_model(root / "bert-nli", vocabulary, "BertForSequenceClassification", **labels(NLI_LABELS))
    return folders


def run_json(task: str, folder: Path, arguments: list[str]) -> dict:
    """What ``run TASK FOLDER ... --json`` prints, timings blanked and the folder's path as ``<checkpoint>``."""
    from explorer import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["run", task, str(folder), *arguments, "--json"])
    assert code == 0, (task, folder, arguments)
    result = json.loads(out.getvalue().replace(json.dumps(str(folder))[1:-1], "<checkpoint>"))
    for key in TIMINGS:
        if key in result:
            result[key] = "<timing>"
    return result


def object_keys(value, path: str = "", found: dict | None = None) -> dict[str, list[str]]:
    """The keys of every object in ``value``, in order, by path; lists' items share the path ``[]``."""
    found = {} if found is None else found
    if isinstance(value, dict):
        keys = list(value)
        known = found.setdefault(path, keys)
        if known != keys:  # items of one list with different keys (entities of two kinds cannot mix; say so)
            found[path] = sorted(set(known) | set(keys))
        for key, item in value.items():
            object_keys(item, f"{path}.{key}", found)
    elif isinstance(value, list):
        for item in value:
            object_keys(item, f"{path}[]", found)
    return found


def describe(result: dict) -> dict:
    return {
        "keys": list(result),
        "objects": object_keys(result),
        "digests": {key: hashlib.sha256(json.dumps(value).encode()).hexdigest()[:16] for key, value in result.items()},
    }


def differences(checkpoint: str, now: dict, before: dict) -> dict:
    changed = {}
    if now["keys"] != before["keys"]:
        changed["keys"] = now["keys"]
    shared = set(now["objects"]) & set(before["objects"])  # a list empty in one build has no items to compare
    objects = sorted(path for path in shared if now["objects"][path] != before["objects"][path])
    if objects:
        changed["objects"] = {path: now["objects"][path] for path in objects}
    if not checkpoint.startswith(VOCABULARY_VARIES):
        missing = sorted(set(before["objects"]) ^ set(now["objects"]))
        if missing:
            changed["paths"] = missing
        values = [key for key in before["digests"] if now["digests"].get(key) != before["digests"][key]]
        if values:
            changed["values"] = values
    return changed


# Issue 12 changed these on purpose: decoding starts from the checkpoint's generation_config, the form's
# settings are generate's, and the result says each setting's source (generation_settings). Everything
# else of their results must stay; so must the tokens of a run whose settings were all given.
REDESIGNED_TASKS = ("text-generation", "text2text-generation")
DECODED_WITH_OLD_DEFAULTS = ("generation-sampled",)  # sampled by the old form's defaults, greedy now


def as_before_issue_12(name: str, now: dict, before: dict) -> tuple[dict, dict]:
    now = json.loads(json.dumps(now))
    before = json.loads(json.dumps(before))
    assert now["keys"][-4:] == ["generation_settings", "notices", "seconds", "model"], now["keys"]
    now["keys"].remove("generation_settings")
    for described in (now, before):
        described["objects"] = {path: keys for path, keys in described["objects"].items() if not path.startswith((".settings", ".generation_settings"))}
        described["objects"][""] = [key for key in described["objects"][""] if key != "generation_settings"]
        described["digests"].pop("settings", None)
        described["digests"].pop("generation_settings", None)
        if name in DECODED_WITH_OLD_DEFAULTS:
            described["digests"] = {}
    return now, before


def _transformers_version() -> str:
    import transformers

    return transformers.__version__


@pytest.mark.slow
def test_run_json_is_unchanged(samples_root, tmp_path):
    reference = json.loads(REFERENCE.read_text())
    if reference["transformers"] != _transformers_version():
        pytest.skip(f"captured with transformers {reference['transformers']}; models' outputs may differ between versions")
    folders = build_checkpoints(tmp_path, samples_root)
    changed = {}
    for name, task, checkpoint, arguments in CASES:
        now, before = describe(run_json(task, folders[checkpoint], arguments)), reference["cases"][name]
        if task in REDESIGNED_TASKS:
            now, before = as_before_issue_12(name, now, before)
        found = differences(checkpoint, now, before)
        if found:
            changed[name] = found
    assert not changed, changed


def _write_reference() -> None:
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["MODEL_EXPLORER_HOME"] = str(root / "home")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from explorer.core.samples import create_samples_now

        create_samples_now(str(root / "samples"))
        folders = build_checkpoints(root, root / "samples")
        cases = {name: describe(run_json(task, folders[checkpoint], arguments)) for name, task, checkpoint, arguments in CASES}
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps({"transformers": _transformers_version(), "cases": cases}, indent=1) + "\n")


if __name__ == "__main__" and "--write" in sys.argv:
    _write_reference()
