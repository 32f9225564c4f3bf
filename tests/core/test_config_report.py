"""Config report: fields with docs and defaults, derived facts, Auto class resolution, bad input."""

from __future__ import annotations

import json

import pytest

from explorer.core.config import build_config_report, compare_configs, compare_derived, inspect_config, iter_fields
from explorer.core.config.field_docs import class_docs, parse_docstring
from explorer.core.task_catalog import offered_tasks
from tests.core.config_fixtures import (
    copy_sample,
    write_config,
    write_custom_code_checkpoint,
    write_encoder_decoder,
    write_llama_gqa,
)


def _rows(report):
    return {r.auto_class: r for r in report.resolution}


def _field(report, name):
    return next(f for f in iter_fields(report.fields) if f.path == name)


def test_masked_lm_checkpoint_with_automodel_drops_the_head(sample):
    report = build_config_report(str(sample("tiny-bert-mlm")))
    assert report.problems == []
    assert report.model_type == "bert"
    assert report.config_class == "BertConfig"
    rows = _rows(report)
    assert rows["AutoModel"].resolves_to == "BertModel"
    assert rows["AutoModel"].relation == "drops-head"
    assert "BertForMaskedLM head" in rows["AutoModel"].note
    assert rows["AutoModelForMaskedLM"].resolves_to == "BertForMaskedLM"
    assert rows["AutoModelForMaskedLM"].relation == "same"
    assert rows["AutoModelForSequenceClassification"].relation == "different-head"
    assert "randomly initialised" in rows["AutoModelForSequenceClassification"].note
    assert report.load_hint == (
        "Load with AutoModelForMaskedLM: it builds BertForMaskedLM, the class the weights were saved with. "
        "AutoModel gives the bare BertModel and drops the BertForMaskedLM head."
    )


def test_bert_with_image_classification_is_not_supported_with_reason(sample):
    report = inspect_config(str(sample("tiny-bert-mlm")))
    assert report.auto_classes["AutoModelForImageClassification"] is None
    reason = _rows(report)["AutoModelForImageClassification"].reason
    assert "not supported" in reason and "image classification" in reason and "BertConfig" in reason
    json.dumps(report.to_json())  # the command line prints it


def test_every_auto_model_class_of_transformers_is_listed(sample):
    from transformers.models.auto import modeling_auto

    report = build_config_report(str(sample("tiny-gpt2-lm")))
    expected = {n for n in dir(modeling_auto) if n.startswith("AutoModelFor")} | {"AutoModel"}
    assert expected <= set(report.auto_classes)


def test_fields_have_docs_defaults_and_changed_markers(sample):
    report = build_config_report(str(sample("tiny-bert-mlm")))
    vocab = _field(report, "vocab_size")
    assert vocab.known and vocab.changed
    assert vocab.default == 30522
    assert "Vocabulary size" in vocab.doc
    dropout = _field(report, "hidden_dropout_prob")
    assert dropout.changed is False and dropout.default == 0.1
    architectures = _field(report, "architectures")
    assert architectures.doc_source == "PreTrainedConfig"
    nli = build_config_report(str(sample("tiny-bert-nli")))
    id2label = _field(nli, "id2label")
    assert id2label.changed and id2label.value["2"] == "entailment"


def test_t5_aliases_and_nested_task_params(sample):
    report = build_config_report(str(sample("tiny-t5")))
    d_model = _field(report, "d_model")
    assert d_model.known and d_model.doc
    assert _field(report, "task_specific_params").value["summarization"]["prefix"] == "summarize: "
    derived = report.derived
    assert derived["hidden_size"].value == 32
    assert derived["layers"].text == "2 encoder + 2 decoder"
    assert derived["context_length"].value is None  # relative positions: no fixed limit
    assert _rows(report)["AutoModelForSeq2SeqLM"].relation == "same"
    assert report.tasks == ["text2text-generation", "feature-extraction", "tokenize", "chat-template"]


def test_derived_facts_match_the_weight_headers(sample):
    for name in ("tiny-gpt2-lm", "tiny-t5", "tiny-bert-mlm"):
        derived = build_config_report(str(sample(name))).derived
        assert derived["params_from_headers"].value > 0
        assert abs(derived["params_estimate_error"].value) < 0.06, name
    gpt2 = build_config_report(str(sample("tiny-gpt2-lm"))).derived
    assert gpt2["head_dim"].value == 16
    assert gpt2["mlp_size"].value == 128  # n_inner null -> 4 x hidden
    assert gpt2["context_length"].value == 128
    assert gpt2["tied_embeddings"].value is True
    assert gpt2["kv_cache_bytes_per_token_fp16"].value == 2 * 2 * 2 * 16 * 2


def test_gqa_and_rope_scaling(tmp_path):
    report = build_config_report(str(write_llama_gqa(tmp_path / "llama")))
    derived = report.derived
    assert derived["gqa_ratio"].value == 2
    assert "grouped-query" in derived["kv_heads"].text
    assert derived["context_length"].value == 1024  # 256 x linear factor 4
    assert derived["kv_cache_bytes_per_token_fp16"].value == 2 * 2 * 2 * 16 * 2
    assert derived["tied_embeddings"].value is False
    assert "text-generation" not in report.tasks  # no tokenizer in this folder
    assert _rows(report)["AutoModelForCausalLM"].resolves_to == "LlamaForCausalLM"


def test_composite_encoder_decoder_has_expandable_sub_configs(tmp_path):
    report = build_config_report(str(write_encoder_decoder(tmp_path / "encdec")))
    assert report.problems == []
    encoder = _field(report, "encoder")
    assert encoder.sub_config == "BertConfig"
    child = _field(report, "decoder.is_decoder")
    assert child.value is True and child.known and child.doc
    assert _rows(report)["AutoModelForSeq2SeqLM"].resolves_to == "EncoderDecoderModel"
    assert report.derived["layers"].text == "2 encoder + 2 decoder"


def test_unknown_model_type(tmp_path):
    folder = write_config(tmp_path / "odd", {"model_type": "not-a-real-model", "hidden_size": 8, "num_attention_heads": 2, "architectures": ["OddModel"]})
    report = build_config_report(str(folder))
    assert any("unknown to the installed transformers" in p for p in report.problems)
    assert report.config_class is None
    assert all(target is None for target in report.auto_classes.values())
    assert _field(report, "architectures").known is True  # a base field
    assert report.derived["head_dim"].value == 4


def test_unknown_fields_are_flagged(sample, tmp_path):
    folder = copy_sample(sample("tiny-bert-mlm"), tmp_path / "extra", lambda c: {**c, "my_secret_knob": 3})
    field = _field(build_config_report(str(folder)), "my_secret_knob")
    assert field.known is False and field.doc is None


def test_invalid_json(tmp_path):
    folder = write_config(tmp_path / "bad", '{"model_type": "bert", ')
    report = build_config_report(str(folder))
    assert any("not valid JSON" in p for p in report.problems)
    assert report.fields == [] and report.config_text.startswith('{"model_type"')


def test_config_not_an_object(tmp_path):
    report = build_config_report(str(write_config(tmp_path / "list", "[1, 2]")))
    assert any("not a JSON object" in p for p in report.problems)


def test_missing_config_json_still_counts_weights(sample, tmp_path):
    folder = tmp_path / "weights-only"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((sample("tiny-bert-mlm") / "model.safetensors").read_bytes())
    report = build_config_report(str(folder))
    assert any("no config.json" in p for p in report.problems)
    assert report.derived["params_from_headers"].value > 0
    assert report.auto_classes == {}


def test_fields_of_the_wrong_type(sample, tmp_path):
    folder = copy_sample(sample("tiny-bert-mlm"), tmp_path / "typed", lambda c: {**c, "hidden_size": "32", "num_hidden_layers": 2.5})
    report = build_config_report(str(folder))
    assert _field(report, "hidden_size").type_problem
    assert _field(report, "num_hidden_layers").type_problem
    assert any("hidden_size has the wrong type" in p for p in report.problems)
    assert any("AutoConfig.from_pretrained fails" in p for p in report.problems)
    assert report.resolution  # still resolves by model_type


def test_auto_map_naming_a_missing_file(sample, tmp_path):
    folder = copy_sample(sample("tiny-bert-mlm"), tmp_path / "gone", lambda c: {**c, "auto_map": {"AutoModel": "modeling_gone.GoneModel"}})
    report = build_config_report(str(folder))
    assert any("modeling_gone.py" in p for p in report.problems)
    row = _rows(report)["AutoModel"]
    assert "missing" in row.reason and row.resolves_to == "BertModel"


def test_newer_transformers_version_warns(sample, tmp_path):
    folder = copy_sample(sample("tiny-bert-mlm"), tmp_path / "future", lambda c: {**c, "transformers_version": "99.0.0"})
    report = build_config_report(str(folder))
    assert any("newer than the installed" in w for w in report.warnings)


def test_custom_code_without_consent_is_described_not_run(tmp_path):
    marker = tmp_path / "ran.txt"
    folder = write_custom_code_checkpoint(tmp_path / "custom", marker)
    report = inspect_config(str(folder))
    assert not marker.exists()
    assert report.needs_remote_code and report.remote_code_files == ["configuration_x.py", "modeling_x.py"]
    assert any("not built into transformers" in w for w in report.warnings)
    assert "sources" not in report.to_json()["remote_code"]
    assert "Read it before allowing it to run (trust_remote_code)" in report.python


def test_other_files_sections(sample):
    report = build_config_report(str(sample("tiny-gpt2-lm")))
    sections = {s.name: s for s in report.other_files}
    assert sections["generation_config.json"].present
    tokenizer = dict(sections["tokenizer_config.json"].summary)
    assert tokenizer["eos_token"] == "<|endoftext|>"
    assert tokenizer["model_max_length"] == "128"
    assert not sections["adapter_config.json"].present
    assert report.chat_templates and "add_generation_prompt" in report.chat_templates[0].text


def test_named_chat_templates_in_their_folder(sample, tmp_path):
    folder = copy_sample(sample("tiny-gpt2-lm"), tmp_path / "named")
    (folder / "additional_chat_templates").mkdir()
    (folder / "additional_chat_templates" / "tool_use.jinja").write_text("{{ tools }}")
    templates = {t.name: t for t in build_config_report(str(folder)).chat_templates}
    assert templates["tool_use"].text == "{{ tools }}"


def test_adapter_config_names_the_base_model(tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/base", "peft_type": "LORA", "r": 8, "target_modules": ["q_proj", "v_proj"]}))
    report = build_config_report(str(folder))
    adapter = dict(next(s for s in report.other_files if s.name == "adapter_config.json").summary)
    assert adapter["base model"] == "org/base" and adapter["target_modules"] == "q_proj, v_proj"
    assert any("PEFT adapter" in p for p in report.problems)


def test_tasks_offered_follow_the_saved_head(sample):
    expected = {
        "tiny-bert-mlm": ["fill-mask", "feature-extraction", "tokenize", "chat-template"],
        "tiny-gpt2-lm": ["text-generation", "feature-extraction", "tokenize", "chat-template"],
        "tiny-distilbert-sentiment": ["text-classification", "feature-extraction", "tokenize", "chat-template"],
        "tiny-bert-ner": ["token-classification", "feature-extraction", "tokenize", "chat-template"],
        "tiny-bert-qa": ["question-answering", "feature-extraction", "tokenize", "chat-template"],
        "tiny-bert-nli": ["text-classification", "zero-shot-classification", "feature-extraction", "tokenize", "chat-template"],
    }
    for name, tasks in expected.items():
        assert build_config_report(str(sample(name))).tasks == tasks, name


def test_offered_tasks_with_names_only():
    config = {"id2label": {"0": "entailment", "1": "not_entailment"}}
    tasks = offered_tasks(config, True, ["AutoModelForSequenceClassification", "AutoModel"])
    assert tasks == ["text-classification", "zero-shot-classification", "feature-extraction", "tokenize", "chat-template"]
    assert offered_tasks(config, False, ["AutoModel"]) == []


def test_compare_two_configs(sample):
    a = build_config_report(str(sample("tiny-bert-mlm")))
    b = build_config_report(str(sample("tiny-bert-nli")))
    rows = {r.name: r for r in compare_configs(a.config, b.config)}
    assert rows["architectures"].status == "differs"
    assert rows["id2label.2"].status == "only-b"
    assert rows["hidden_size"].status == "same"
    derived = {r.name: r for r in compare_derived(a, b)}
    assert derived["params_from_headers"].status == "differs"  # different heads
    assert derived["head_dim"].status == "same"


def test_copy_as_python_is_valid_code(sample):
    report = build_config_report(str(sample("tiny-bert-qa")))
    compile(report.python, "<snippet>", "exec")
    assert "AutoModelForQuestionAnswering.from_pretrained" in report.python
    assert "local_files_only=True" in report.python


def test_docstring_parser():
    doc = """Intro.

    Args:
        alpha (`int`, *optional*, defaults to `3`):
            First line
            continues here.
        beta (`Union[float, int]`, *optional*):
            Beta text.

        > Sub heading

        gamma (`str`):
            Gamma.

    Examples:
        alpha (`int`): not an arg
    """
    docs = parse_docstring(doc, "X")
    assert docs["alpha"].default_text == "3" and docs["alpha"].text == "First line continues here."
    assert docs["beta"].type_text == "Union[float, int]"
    assert docs["gamma"].text == "Gamma."
    assert set(docs) == {"alpha", "beta", "gamma"}


def test_class_docs_cover_bert_fields():
    from transformers import BertConfig

    docs = class_docs(BertConfig)
    assert {"vocab_size", "hidden_size", "id2label", "problem_type"} <= set(docs)


# --------------------------------------------------------------------------- review against the tutorials


def _bare_bert(folder):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)).save_pretrained(folder)
    return folder


def test_bare_model_checkpoint_is_loaded_with_automodel(tmp_path):
    """Seed 000: `AutoModel.from_pretrained("bert-base-cased")`, not AutoModelForTextEncoding (which builds the same BertModel)."""
    folder = _bare_bert(tmp_path / "bert-body")
    report = build_config_report(str(folder))
    rows = _rows(report)
    assert rows["AutoModelForTextEncoding"].resolves_to == rows["AutoModel"].resolves_to == "BertModel"
    assert report.load_hint.startswith("Load with AutoModel: it builds BertModel")
    assert "AutoModel.from_pretrained(" in report.python and "AutoModelForTextEncoding" not in report.python
    exact = inspect_config(str(folder))
    assert exact.load_hint.startswith("Load with AutoModel: it builds BertModel, the class the weights were saved with, and every weight loads.")
    assert "AutoModelForTextEncoding" not in exact.load_hint


def test_gpt2_prefers_causal_lm_over_pretraining(sample):
    report = build_config_report(str(sample("tiny-gpt2-lm")))
    rows = _rows(report)
    assert rows["AutoModelForPreTraining"].resolves_to == rows["AutoModelForCausalLM"].resolves_to == "GPT2LMHeadModel"
    assert "AutoModelForCausalLM.from_pretrained(" in report.python and "AutoModelForPreTraining" not in report.python
    assert inspect_config(str(sample("tiny-gpt2-lm"))).load_hint.startswith("Load with AutoModelForCausalLM")


def test_auto_map_target_not_in_architectures_is_unknown_until_checked(tmp_path):
    """ChatGLM: auto_map AutoModel -> ChatGLMForConditionalGeneration, architectures ChatGLMModel; every weight loads."""
    from explorer.core.consent import default_store
    from tests.seed_fixtures import build_chatglm

    folder = build_chatglm(tmp_path / "chatglm-6b", tmp_path / "code")
    default_store().grant(str(folder))
    row = _rows(build_config_report(str(folder)))["AutoModel"]
    assert (row.resolves_to, row.source, row.relation) == ("ChatGLMForConditionalGeneration", "auto_map", "unknown")
    assert "drops" not in row.note
    checked = inspect_config(str(folder))
    row = _rows(checked)["AutoModel"]
    assert row.weights.status == "loads" and row.relation == "loads-all"
    assert checked.load_hint.startswith("Load with AutoModel: it builds ChatGLMForConditionalGeneration and every saved weight loads.")


def test_relation_follows_the_checked_weights():
    from dataclasses import replace

    from explorer.core.config import ResolutionRow, exact_relation
    from explorer.core.head_survey import HeadCheck

    row = ResolutionRow("AutoModel", resolves_to="BertModel", relation="unknown")
    check = HeadCheck("AutoModel", "BertModel", "partial", "", "", missing=["pooler.dense.weight"], unexpected=["cls.predictions.bias"])
    assert exact_relation(row, check, ["BertForMaskedLM"], "BertModel") == "drops-head"
    assert exact_relation(replace(row, resolves_to="BertForSequenceClassification"), check, ["BertForMaskedLM"], "BertModel") == "different-head"
    assert exact_relation(row, replace(check, unexpected=[]), ["BertForMaskedLM"], "BertModel") == "new-head"
    assert exact_relation(row, replace(check, missing=[]), ["BertForMaskedLM"], "X") == "drops-head"
    assert exact_relation(row, replace(check, status="loads"), ["BertModel"], None) == "same"
    assert exact_relation(row, replace(check, status="mismatch"), [], None) == "mismatch"
    assert exact_relation(row, replace(check, status="unchecked"), [], None) == "unknown"


@pytest.fixture(scope="module")
def unregistered_ltgbert(tmp_path_factory, sample):
    """Seed 002's folder with its code but without auto_map (the tutorial registers the classes in Python)."""
    from tests.seed_fixtures import build_ltgbert

    root = tmp_path_factory.mktemp("ltgbert")
    folder = build_ltgbert(root / "ltgbert", sample("tiny-bert-mlm"), root / "code")
    config = json.loads((folder / "config.json").read_text())
    del config["auto_map"]
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_custom_code_without_auto_map_is_named_with_its_fix(unregistered_ltgbert):
    report = build_config_report(str(unregistered_ltgbert))
    problem = next(p for p in report.problems if "'LtgBert' is unknown" in p)
    assert "newer transformers" not in problem
    assert "configuration_ltgbert.py defines LtgBertConfig" in problem
    assert "modeling_ltgbert.py defines LtgBertForMaskedLM, LtgBertForSequenceClassification, LtgBertForCausalLM" in problem
    suggested = {"auto_map": {
        "AutoConfig": "configuration_ltgbert.LtgBertConfig",
        "AutoModelForMaskedLM": "modeling_ltgbert.LtgBertForMaskedLM",
        "AutoModelForSequenceClassification": "modeling_ltgbert.LtgBertForSequenceClassification",
        "AutoModelForCausalLM": "modeling_ltgbert.LtgBertForCausalLM",
    }}
    assert json.dumps(suggested) in problem
    assert "AutoConfig.register" in problem
    scan = report.code_scan.scan
    assert [c.model_type for c in scan.config_classes] == ["LtgBert"]
    assert "LtgBertPreTrainedModel" not in {c.name for c in scan.model_classes}  # abstract base left out
    assert 'AutoConfig.register("LtgBert", LtgBertConfig)' in report.load_hint
    assert "AutoModelForMaskedLM.register(LtgBertConfig, LtgBertForMaskedLM)" in report.python


@pytest.mark.slow
def test_suggested_registration_code_loads_the_checkpoint(unregistered_ltgbert, tmp_path):
    import os
    import subprocess
    import sys

    code = build_config_report(str(unregistered_ltgbert)).python + "\nprint(type(model).__name__)\n"
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "LtgBertForMaskedLM"


def test_code_scan_reads_without_running(tmp_path):
    from explorer.core.code_scan import scan_folder

    marker = tmp_path / "ran.txt"
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "configuration_odd.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\nimport transformers\n\n"
        "class OddConfig(transformers.PretrainedConfig):\n    model_type: str = 'odd'\n"
    )
    (folder / "modeling_odd.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\nfrom transformers import PreTrainedModel\n"
        "from .configuration_odd import OddConfig\n\nclass OddPreTrainedModel(PreTrainedModel):\n    config_class = OddConfig\n\n"
        "class OddModel(OddPreTrainedModel):\n    '''The bare Odd model.'''\n\nclass OddForTokenClassification(OddPreTrainedModel):\n    pass\n"
    )
    (folder / "broken.py").write_text("def (:\n")
    write_config(folder, {"model_type": "odd", "architectures": ["OddModel"]})
    report = build_config_report(str(folder))
    assert not marker.exists()
    registration = report.code_scan.registration
    assert registration.auto_map == {
        "AutoConfig": "configuration_odd.OddConfig", "AutoModel": "modeling_odd.OddModel",
        "AutoModelForTokenClassification": "modeling_odd.OddForTokenClassification",
    }
    assert "AutoModel.register(OddConfig, OddModel)" in registration.python
    assert any("broken.py cannot be parsed" in p for p in report.code_scan.scan.problems)
    assert scan_folder(str(tmp_path / "nowhere")).found is False


def test_fields_left_at_their_defaults_are_listed_apart(sample):
    """Seed 001 reads `model.config.output_hidden_states`, which config.json does not set."""
    report = inspect_config(str(sample("tiny-bert-mlm")), check_weights=False)
    fields = {f.name: f for f in report.fields}
    for name in ("output_hidden_states", "output_attentions", "return_dict"):
        assert fields[name].in_file is False, name
        assert fields[name].changed is False and fields[name].known is True
    assert fields["output_hidden_states"].value is False and fields["return_dict"].value is True
    assert fields["output_hidden_states"].doc
    assert fields["vocab_size"].in_file is True
    on_disk = json.loads((sample("tiny-bert-mlm") / "config.json").read_text())
    assert {f.name for f in report.fields if f.in_file} == set(on_disk)
    json.dumps(report.to_json())


def test_config_without_model_type_names_the_type_from_architectures(tmp_path):
    """Seed 001's old bert config.json: no model_type, architectures BertForMaskedLM."""
    from transformers import AutoConfig

    folder = write_config(tmp_path / "bert-base-uncased", {
        "architectures": ["BertForMaskedLM"], "hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1,
        "intermediate_size": 64, "vocab_size": 100,
    })
    # What transformers 5 really does: no guessing from the folder name although it contains "bert".
    with pytest.raises(ValueError, match="Unrecognized model"):
        AutoConfig.from_pretrained(str(folder), local_files_only=True)
    report = build_config_report(str(folder))
    problem = next(p for p in report.problems if "no model_type" in p)
    assert "model_type 'bert'" in problem and '"model_type": "bert"' in problem
    assert report.suggested_model_type == "bert" and report.config_class is None
    rows = _rows(report)
    assert all(r.resolves_to is None for r in rows.values())
    assert rows["AutoModelForMaskedLM"].note == 'would build BertForMaskedLM once config.json has "model_type": "bert"'
    assert report.load_hint.startswith("No Auto class loads this config.json (it has no model_type). Load with BertForMaskedLM.from_pretrained")
    assert "BertForMaskedLM.from_pretrained(" in report.python
    assert _field(report, "hidden_size").doc  # explained with BertConfig, the class the architectures point at

    bare = build_config_report(str(write_config(tmp_path / "plain", {"hidden_size": 8})))
    assert bare.suggested_model_type is None and any("no model_type" in p for p in bare.problems)


def test_model_types_for_architecture():
    from explorer.core.config import model_types_for_architecture

    assert model_types_for_architecture("BertForMaskedLM") == ["bert"]
    assert model_types_for_architecture("GPT2LMHeadModel")[0] == "gpt2"  # gpt-sw3 reuses the class
    assert model_types_for_architecture("NoSuchModel") == []


def test_auto_class_documentation(sample, tmp_path):
    """Seed 003: `help(AutoModelForQuestionAnswering)`."""
    from explorer.core.config import auto_class_doc, doc_paragraphs

    doc = auto_class_doc(str(sample("tiny-bert-qa")), "AutoModelForQuestionAnswering", "BertForQuestionAnswering", "mapping")
    assert "question answering head" in doc.purpose and "[`" not in doc.purpose
    assert doc.class_doc[0].startswith("The Bert transformer with a span classification head")
    assert not any(p.startswith("This model inherits") for p in doc.class_doc)
    assert doc.doc_source == "transformers.models.bert.modeling_bert.BertForQuestionAnswering"
    missing = auto_class_doc(str(tmp_path), "AutoModel", "OddModel", "auto_map")
    assert "not defined" in missing.problem
    assert doc_paragraphs("Intro.\n\nArgs:\n    x: y\n") == ["Intro."]
