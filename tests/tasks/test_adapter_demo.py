"""A PEFT adapter in the Demo's session and `run`: the same outputs as PeftModel in a notebook, on and off."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings

import pytest

from explorer.core.checkpoint import FORMAT_ADAPTER, Checkpoint
from explorer.core.jobs import run_to_end
from explorer.tasks.cli import add_run_arguments, run_command
from explorer.tasks.format_loading import adapter_target, compare_job
from explorer.tasks.format_options import format_demo_options
from explorer.tasks.script import python_script, summary_of
from explorer.tasks.session import LoadRequest, ModelSession
from tests.format_builders import write_lora_adapter

pytestmark = pytest.mark.slow

PROMPT = "Hello world"
GREEDY = {"text": PROMPT, "max_new_tokens": 8, "do_sample": False, "use_chat_template": False}


@pytest.fixture(scope="module")
def adapter(sample, tmp_path_factory):
    return write_lora_adapter(sample("tiny-gpt2-lm"), tmp_path_factory.mktemp("adapter") / "lora")


@pytest.fixture(scope="module")
def notebook(sample, adapter):
    """What a notebook computes: PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(sample("tiny-gpt2-lm"))
    base = AutoModelForCausalLM.from_pretrained(sample("tiny-gpt2-lm")).eval()
    plain = AutoModelForCausalLM.from_pretrained(sample("tiny-gpt2-lm")).eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        model = PeftModel.from_pretrained(base, str(adapter)).eval()
    inputs = tokenizer(PROMPT, return_tensors="pt")

    def greedy(m):
        with torch.no_grad():
            out = m.generate(**inputs, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.eos_token_id)
        return out[0, inputs["input_ids"].shape[1]:].tolist()

    return {"on": greedy(model), "off": greedy(plain)}


def _ids(result) -> list[int]:
    return list(result.token_ids)


def test_adapter_on_and_off_match_the_notebook(sample, adapter, notebook):
    session = ModelSession()
    request = LoadRequest(str(sample("tiny-gpt2-lm")), None, adapter=str(adapter))
    on = run_to_end(session.run("text-generation", request, GREEDY))
    off = run_to_end(session.run("text-generation", request, GREEDY, adapter_enabled=False))
    loaded = session.loaded
    assert _ids(on) == notebook["on"]
    assert _ids(off) == notebook["off"]
    assert notebook["on"] != notebook["off"]  # the adapter really changes the output
    assert on.model.to_json()["adapter"] == "on" and off.model.to_json()["adapter"] == "off"
    assert on.model.to_json()["base"] == str(sample("tiny-gpt2-lm")) and on.model.path == str(adapter)
    # Switching is not reloading: the same model object ran both, and it is back on afterwards.
    again = run_to_end(session.run("text-generation", request, GREEDY))
    assert session.loaded is loaded and _ids(again) == notebook["on"]
    comparison = run_to_end(compare_job(session, "text-generation", request, GREEDY))
    assert (_ids(comparison.adapter_on), _ids(comparison.adapter_off)) == (notebook["on"], notebook["off"])
    session.unload_now()


def test_options_find_the_base_and_offer_its_causal_lm_tasks(sample, adapter):
    base = Checkpoint(id="tiny-gpt2-lm", source="folder", path=str(sample("tiny-gpt2-lm")), model_type="gpt2", architectures=["GPT2LMHeadModel"])
    ckpt = Checkpoint(id="lora", source="folder", path=str(adapter), format=FORMAT_ADAPTER, base_model=str(sample("tiny-gpt2-lm")))
    options = format_demo_options(ckpt, [base])
    ids = [c.task_id for c in options.choices if c.available]
    assert options.first_task == "text-generation"
    assert "text-generation" in ids and "tokenize" in ids and "fill-mask" not in ids and "text-classification" not in ids
    assert options.target.path == base.path and options.target.adapter == str(adapter)
    assert options.warnings == ()


def test_missing_base_names_it(sample, tmp_path):
    adapter = write_lora_adapter(sample("tiny-gpt2-lm"), tmp_path / "lora", base_model="openai-community/gpt2")
    ckpt = Checkpoint(id="lora", source="folder", path=str(adapter), format=FORMAT_ADAPTER, base_model="openai-community/gpt2")
    options = format_demo_options(ckpt, [])
    assert not any(c.available for c in options.choices)
    assert all("base model openai-community/gpt2 is not on this machine" in c.warning for c in options.choices)
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    code = run_command(parser.parse_args(["text-generation", str(adapter), "--text", "Hi", "--json"]))
    assert code == 1


def test_run_json_and_script_reproduce_on_and_off(sample, adapter, notebook, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    common = ["text-generation", str(adapter), "--text", PROMPT, "--max-new-tokens", "8", "--set", "do_sample=false",
              "--set", "use_chat_template=false", "--json"]
    for switch in ("on", "off"):
        assert run_command(parser.parse_args([*common, "--adapter", switch])) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["model"]["adapter"] == switch and printed["model"]["base"] == str(sample("tiny-gpt2-lm"))
        assert printed["token_ids"] == notebook[switch]
    # --base names the base explicitly (here the same folder the adapter names).
    assert run_command(parser.parse_args([*common, "--base", str(sample("tiny-gpt2-lm"))])) == 0
    assert json.loads(capsys.readouterr().out)["model"]["adapter"] == "on"

    target = adapter_target(str(adapter), base_path=str(sample("tiny-gpt2-lm")))
    request = LoadRequest(target.path, "AutoModelForCausalLM", adapter=target.adapter)
    session = ModelSession()
    expected = run_to_end(compare_job(session, "text-generation", request, GREEDY))
    session.unload_now()
    script = python_script("text-generation", request, GREEDY, adapter="compare")
    assert "PeftModel.from_pretrained(model, adapter)" in script and "with model.disable_adapter():" in script
    path = tmp_path / "compare.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout[done.stdout.index("{"):])
    assert printed == {"adapter on": summary_of(expected.adapter_on), "adapter off": summary_of(expected.adapter_off)}


def test_an_adapter_without_task_type_goes_on_the_bases_own_head(sample, tmp_path):
    from explorer.tasks.base import TaskError

    adapter = write_lora_adapter(sample("tiny-gpt2-lm"), tmp_path / "lora", task_type=None)
    base = Checkpoint(id="tiny-gpt2-lm", source="folder", path=str(sample("tiny-gpt2-lm")), model_type="gpt2", architectures=["GPT2LMHeadModel"])
    options = format_demo_options(Checkpoint(id="lora", source="folder", path=str(adapter), format=FORMAT_ADAPTER), [base])
    offered = {c.task_id for c in options.choices if c.available}
    assert "text-generation" in offered and "feature-extraction" not in offered
    # Put on a bare model, none of its weights would find their modules: said, not run as the plain base.
    session = ModelSession()
    with pytest.raises(TaskError, match="None of the adapter's weights fit GPT2Model"):
        run_to_end(session.run("feature-extraction", LoadRequest(base.path, None, adapter=str(adapter)), {}))
    session.unload_now()
