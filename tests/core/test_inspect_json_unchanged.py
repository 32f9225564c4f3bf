"""``inspect --json`` prints what it printed before the Config report became dataclasses.

The reference (``data/inspect_json_digests.json``) was captured from the dict-based report:
for each case, the top-level keys in order and a digest of each key's value, with the
checkpoint's path replaced by ``<checkpoint>``. Regenerate only on purpose:
``python -m tests.core.test_inspect_json_unchanged --write``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "data" / "inspect_json_digests.json"
# The BERT samples' WordPiece vocabulary changes size from one build to the next (the trainer is not
# deterministic), and with it every shape: BERT-family cases are built on GPT-2's fixed vocabulary instead.
SAMPLES = ("tiny-gpt2-lm", "tiny-t5")
# The custom code embeds this path; the code never runs, and it could not write there if it did.
MARKER = Path("/nonexistent-model-explorer/ran.txt")


def build_cases(root: Path, samples: Path) -> dict[str, Path]:
    """Config fixtures covering each section's odd cases, built under ``root``."""
    from tests.core import config_fixtures as cf
    from tests.seed_fixtures import BERT_BASE_UNCASED_CONFIG, build_bert_body, build_head_model, build_ltgbert

    cases = {name: samples / name for name in SAMPLES}
    vocabulary = samples / "tiny-gpt2-lm"
    cases["bert-mlm"] = build_head_model(root / "bert-mlm", vocabulary, "BertForMaskedLM")
    cases["bert-qa"] = build_head_model(root / "bert-qa", vocabulary, "BertForQuestionAnswering")
    cases["distilbert-classifier"] = build_head_model(root / "distilbert-classifier", vocabulary, "DistilBertForSequenceClassification", num_labels=3)
    cases["bert-body"] = build_bert_body(root / "bert-body", vocabulary)
    cases["llama-gqa"] = cf.write_llama_gqa(root / "llama-gqa")
    cases["encoder-decoder"] = cf.write_encoder_decoder(root / "encoder-decoder")
    cases["custom-code"] = cf.write_custom_code_checkpoint(root / "custom-code", MARKER)
    cases["unknown-type"] = cf.write_config(root / "unknown-type", {"model_type": "not-a-real-model", "hidden_size": 8, "architectures": ["OddModel"]})
    cases["no-model-type"] = cf.write_config(root / "no-model-type", BERT_BASE_UNCASED_CONFIG)
    cases["invalid-json"] = cf.write_config(root / "invalid-json", '{"model_type": "bert", ')
    cases["wrong-types"] = cf.copy_sample(
        vocabulary, root / "wrong-types",
        lambda c: {**c, "n_embd": "32", "my_secret_knob": 3, "auto_map": {"AutoModel": "modeling_gone.GoneModel"}},
    )
    # A PEFT adapter folder was a case here until inspect gave adapters a report of their own
    # (issue 13): tests/core/test_cli_formats.py checks that one.
    unregistered = build_ltgbert(root / "code-without-auto-map", vocabulary, root / "ltgbert-work")
    config = json.loads((unregistered / "config.json").read_text())
    del config["auto_map"]
    (unregistered / "config.json").write_text(json.dumps(config))
    cases["code-without-auto-map"] = unregistered
    return cases


def digests(folder: Path) -> dict:
    """The keys ``inspect --json`` prints for ``folder``, in order, and a digest of each value."""
    from explorer import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["inspect", str(folder), "--json"]) == 0
    text = out.getvalue().replace(json.dumps(str(folder))[1:-1], "<checkpoint>")
    report = json.loads(text)
    return {
        "keys": list(report),
        "digests": {key: hashlib.sha256(json.dumps(value, sort_keys=False).encode()).hexdigest()[:16] for key, value in report.items()},
    }


def _transformers_version() -> str:
    import transformers

    return transformers.__version__


@pytest.mark.slow
def test_inspect_json_is_unchanged(samples_root, tmp_path):
    reference = json.loads(REFERENCE.read_text())
    if reference["transformers"] != _transformers_version():
        pytest.skip(f"captured with transformers {reference['transformers']}; the docs it quotes differ between versions")
    changed = {}
    for name, folder in build_cases(tmp_path, samples_root).items():
        now, before = digests(folder), reference["cases"][name]
        if now != before:
            changed[name] = {
                "keys": now["keys"] if now["keys"] != before["keys"] else "same",
                "values": [key for key in before["digests"] if now["digests"].get(key) != before["digests"][key]],
            }
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
        (root / "cases").mkdir()
        cases = {name: digests(folder) for name, folder in build_cases(root / "cases", root / "samples").items()}
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps({"transformers": _transformers_version(), "cases": cases}, indent=1) + "\n")


if __name__ == "__main__" and "--write" in sys.argv:
    _write_reference()
