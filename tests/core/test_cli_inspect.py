from __future__ import annotations

import json

from explorer import cli


def run_json(capsys, *args) -> dict:
    assert cli.main(["inspect", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_json_merges_config_and_parameters(sample, capsys):
    report = run_json(capsys, sample("tiny-bert-mlm"))
    for key in ("model_type", "architectures", "config_class", "fields", "derived", "auto_classes", "tasks",
                "needs_remote_code", "remote_code_files", "problems", "parameters", "modules", "tensors"):
        assert key in report, key
    assert report["model_type"] == "bert" and report["config_class"] == "BertConfig"
    assert report["auto_classes"]["AutoModel"] == "BertModel"
    assert report["auto_classes"]["AutoModelForMaskedLM"] == "BertForMaskedLM"
    assert report["parameters"]["total"] == sum(
        t["numel"] if "numel" in t else __import__("math").prod(t["shape"]) for t in report["tensors"]
    )
    assert {t["name"] for t in report["tensors"]} >= {"bert.embeddings.word_embeddings.weight"}
    assert "fill-mask" in report["tasks"]


def test_inspect_with_a_head_reports_newly_initialised_weights(sample, capsys):
    report = run_json(capsys, sample("tiny-gpt2-lm"), "--head", "AutoModelForSequenceClassification")
    assert report["missing"] == ["score.weight"]
    assert report["unexpected"] == [] and report["mismatched"] == []


def test_inspect_text_output_and_bad_path(sample, capsys, tmp_path):
    assert cli.main(["inspect", str(sample("tiny-t5"))]) == 0
    out = capsys.readouterr().out
    assert "model_type:    t5" in out and "AutoModelForSeq2SeqLM" in out
    assert cli.main(["inspect", str(tmp_path / "absent")]) == 2
    assert "neither a folder nor a checkpoint found" in capsys.readouterr().err


def test_inspect_accepts_a_file_inside_the_checkpoint(sample, capsys):
    report = run_json(capsys, sample("tiny-bert-qa") / "config.json")
    assert report["architectures"] == ["BertForQuestionAnswering"]


def test_inspect_accepts_a_repo_id_from_the_hub_cache(sample, capsys, tmp_path, monkeypatch):
    from tests.ui.test_hub_browser import make_hub_repo

    cache = tmp_path / "hub"
    files = sorted(p for p in sample("tiny-gpt2-lm").iterdir() if p.is_file())
    make_hub_repo(cache, "org/tiny-gpt2", {"c" * 40: files}, {"main": "c" * 40})
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    report = run_json(capsys, "org/tiny-gpt2")
    assert report["model_type"] == "gpt2"
    assert cli.main(["inspect", "org/absent", "--json"]) == 2
    assert "works offline" in capsys.readouterr().err


def test_inspect_text_says_what_is_on_disk_and_a_config_problem_once(sample, capsys, tmp_path):
    import shutil

    folder = tmp_path / "broken-config"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert", ')
    shutil.copy(sample("tiny-bert-mlm") / "model.safetensors", folder / "model.safetensors")
    assert cli.main(["inspect", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "on disk:       42 tensors in 1 safetensors file(s)" in out
    config_lines = [line for line in out.splitlines() if line.startswith("problem: config.json")]
    assert len(config_lines) == 1, config_lines


def test_inspect_with_an_unknown_head_lists_the_supported_ones(sample, capsys):
    assert cli.main(["inspect", str(sample("tiny-bert-mlm")), "--head", "AutoModelForNothing"]) == 0
    out = capsys.readouterr().out
    assert "problem: AutoModelForNothing is not an Auto class" in out
    assert "heads this checkpoint supports: AutoModel, " in out and "AutoModelForMaskedLM" in out


def test_unknown_model_type_problem_is_one_paragraph(capsys, tmp_path):
    folder = tmp_path / "unknown"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "nosuchmodel", "architectures": ["NoSuchModel"]}))
    report = run_json(capsys, folder)
    loaded = [p for p in report["problems"] if p.startswith("config.json could not be loaded")]
    assert loaded and all("\n" not in p and len(p) < 400 for p in loaded)
