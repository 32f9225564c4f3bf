"""'Copy as Python' scripts run standalone (in a subprocess) and print what the app showed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from explorer.core.jobs import run_to_end
from explorer.tasks.script import python_script, result_json, summary_of
from explorer.tasks.session import LoadRequest, ModelSession, parse_config_overrides

pytestmark = pytest.mark.slow

RUNS = [
    ("text-generation", "tiny-gpt2-lm", {"max_new_tokens": 12, "seed": 3}),
    ("text-generation", "tiny-gpt2-lm", {"max_new_tokens": 8, "do_sample": False, "repetition_penalty": 1.4, "use_chat_template": False}),
    ("fill-mask", "tiny-bert-mlm", {"text": "[MASK] is the capital of [MASK]."}),
    ("text-classification", "tiny-distilbert-sentiment", {"texts": "I love it.\nThe food was terrible and the service was slow."}),
    ("token-classification", "tiny-bert-ner", {"aggregation": "simple"}),
    ("token-classification", "tiny-bert-ner", {"aggregation": "max"}),
    ("question-answering", "tiny-bert-qa", {"top_n": 4}),
    ("text2text-generation", "tiny-t5", {"prefix": "summarize: ", "num_beams": 2, "max_length": 12}),
    ("zero-shot-classification", "tiny-bert-nli", {"multi_label": True}),
    ("feature-extraction", "tiny-bert-mlm", {"pooling": "cls", "normalize": True}),
    ("tokenize", "tiny-t5", {"text": "Hello world", "text_pair": "again"}),
    # The tutorials' options: gold labels and loss, layer choice, pooler, attentions, padded batch, max_length.
    ("text-classification", "tiny-distilbert-sentiment", {"texts": "good\nbad", "gold_labels": "POSITIVE, 0"}),
    ("feature-extraction", "tiny-bert-mlm", {"layer": 1, "pooling": "mean", "output_attentions": True}),
    ("feature-extraction", "tiny-bert-nli", {"pooling": "pooler"}),  # a classifier checkpoint saves its pooler
    ("tokenize", "tiny-gpt2-lm", {"text": "Hello world\nA longer second line of text", "batch": True}),
    ("text-generation", "tiny-gpt2-lm", {"max_length": 12, "do_sample": False, "use_chat_template": False}),
    # Config overrides reach from_pretrained in both: renamed labels show in the scores.
    ("text-classification", "tiny-distilbert-sentiment", {"texts": "good"}, {"config_overrides": parse_config_overrides(["id2label={\"0\": \"sad\", \"1\": \"glad\"}"])}),
]

# Runs every script file in one interpreter (each in a fresh namespace) to keep the test quick;
# a marker line separates the outputs.
DRIVER = """
import runpy, sys
for path in sys.argv[1:]:
    print("=====", path, flush=True)
    runpy.run_path(path, run_name="__main__")
"""


def _last_json(text: str):
    lines = text.splitlines()
    start = max(i for i, line in enumerate(lines) if line in ("{", "["))
    return json.loads("\n".join(lines[start:]))


def _close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 2e-5
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def test_scripts_print_the_apps_results(sample, tmp_path):
    session = ModelSession()
    expected, paths = [], []
    for index, (task_id, name, values, *options) in enumerate(RUNS):
        request = LoadRequest(str(sample(name)), None, **(options[0] if options else {}))
        result = run_to_end(session.run(task_id, request, values))
        expected.append(summary_of(result))
        json.loads(result_json(result))  # the export is valid JSON
        script = python_script(task_id, request, values)
        assert "trust_remote_code" not in script
        compile(script, f"{task_id}.py", "exec")
        path = tmp_path / f"run_{index}_{task_id}.py"
        path.write_text(script, encoding="utf-8")
        paths.append(str(path))
    session.unload_now()
    done = subprocess.run([sys.executable, "-c", DRIVER, *paths], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    chunks = done.stdout.split("===== ")[1:]
    assert len(chunks) == len(RUNS)
    for (task_id, _, values, *_options), chunk, want in zip(RUNS, chunks, expected):
        got = _last_json(chunk)
        assert _close(got, want), f"{task_id} {values}: script printed {got!r}, app showed {want!r}"


def test_script_names_device_dtype_and_seed(sample):
    request = LoadRequest(str(sample("tiny-gpt2-lm")), None, device="cuda:1", dtype="bfloat16")
    script = python_script("text-generation", request, {"seed": 42})
    assert "device = 'cuda:1'" in script
    assert "dtype=torch.bfloat16" in script
    assert "torch.manual_seed(42)" in script
    assert "AutoModelForCausalLM.from_pretrained" in script
    assert "local_files_only=True" in script
    spread = python_script("fill-mask", LoadRequest(str(sample("tiny-bert-mlm")), None, spread=True), {})
    assert 'device_map="auto"' in spread


def test_script_with_consent_passes_it_on(sample):
    script = python_script("fill-mask", LoadRequest(str(sample("tiny-bert-mlm")), None), {}, trust_remote_code=True)
    assert "trust_remote_code=True" in script


def test_script_passes_config_overrides_to_from_pretrained(sample):
    """Tutorial 004: AutoModelForSequenceClassification.from_pretrained(name, num_labels=10)."""
    request = LoadRequest(
        str(sample("tiny-distilbert-sentiment")), None, config_overrides=(("num_labels", 10),), ignore_mismatched_sizes=True
    )
    script = python_script("text-classification", request, {})
    assert "local_files_only=True,\n    num_labels=10, ignore_mismatched_sizes=True" in script
    compile(script, "run.py", "exec")
    assert "ignore_mismatched_sizes" not in python_script("text-classification", LoadRequest(request.path, None), {})
