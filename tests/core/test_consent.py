"""Consent to run a checkpoint's code: recorded per path and code hashes; nothing runs without it."""

from __future__ import annotations

import json
import sys

import pytest

from explorer.core import consent
from explorer.core.config import build_config_report
from explorer.core.consent import (
    STATE_CHANGED,
    STATE_GRANTED,
    STATE_NOT_GRANTED,
    STATE_NOT_NEEDED,
    ConsentRequired,
    ConsentStore,
    load_custom_class,
    load_custom_config,
    trust_remote_code_for,
)
from explorer.core.paths import consent_file
from tests.core.config_fixtures import write_custom_code_checkpoint


@pytest.fixture
def custom(tmp_path):
    marker = tmp_path / "marker.txt"
    folder = write_custom_code_checkpoint(tmp_path / "custom-ckpt", marker)
    return folder, marker


def _checkpoint_modules() -> list[str]:
    return [name for name in sys.modules if "configuration_x" in name or "modeling_x" in name]


def test_without_consent_no_code_of_the_checkpoint_runs(custom):
    folder, marker = custom
    earlier = set(_checkpoint_modules())  # other tests' checkpoints, imported with their consent
    assert not trust_remote_code_for(folder)
    report = build_config_report(str(folder))
    assert not marker.exists(), "the checkpoint's code ran without consent"
    assert set(_checkpoint_modules()) == earlier
    assert report.needs_remote_code is True
    assert report.remote_code_files == ["configuration_x.py", "modeling_x.py"]
    assert report.remote_code.state == STATE_NOT_GRANTED
    # The viewer gets the source text without running it.
    assert "TinyCustomConfig" in report.remote_code.sources["configuration_x.py"]
    rows = {r.auto_class: r for r in report.resolution}
    assert rows["AutoModel"].resolves_to is None
    assert rows["AutoModel"].needs_consent is True
    assert "modeling_x.TinyCustomModel" in rows["AutoModel"].reason
    with pytest.raises(ConsentRequired):
        load_custom_config(folder)
    with pytest.raises(ConsentRequired):
        load_custom_class(folder, "AutoModel")
    assert not marker.exists()


def test_grant_then_code_runs_and_resolves_through_auto_map(custom):
    folder, marker = custom
    status = ConsentStore().grant(folder)
    assert status.state == STATE_GRANTED
    assert trust_remote_code_for(folder)
    report = build_config_report(str(folder))
    assert marker.exists(), "with consent the configuration code is used"
    assert report.config_class == "TinyCustomConfig"
    rows = {r.auto_class: r for r in report.resolution}
    assert rows["AutoModel"].resolves_to == "TinyCustomModel"
    assert rows["AutoModel"].source == "auto_map"
    assert rows["AutoModelForCausalLM"].relation == "same"
    assert "trust_remote_code=True" in report.python


def test_record_is_per_real_path_and_hashes_and_written_atomically(custom, tmp_path):
    folder, _ = custom
    link = tmp_path / "link-to-ckpt"
    link.symlink_to(folder)
    ConsentStore().grant(link)
    data = json.loads(consent_file().read_text())
    record = data["checkpoints"][str(folder.resolve())]
    assert set(record["files"]) == {"configuration_x.py", "modeling_x.py"}
    assert all(len(sha) == 64 for sha in record["files"].values())
    assert trust_remote_code_for(folder)
    assert not [p for p in consent_file().parent.iterdir() if p.name.startswith(".consent-")]


def test_changed_code_asks_again(custom):
    folder, _ = custom
    store = ConsentStore()
    store.grant(folder)
    (folder / "modeling_x.py").write_text("import os  # different code now\n")
    status = store.status(folder)
    assert status.state == STATE_CHANGED
    assert status.changed_files == ["modeling_x.py"]
    assert not store.trust_remote_code_for(folder)
    with pytest.raises(ConsentRequired, match="changed"):
        load_custom_config(folder, store)
    (folder / "helpers.py").write_text("x = 1\n")
    store.grant(folder)
    assert store.trust_remote_code_for(folder)
    (folder / "extra.py").write_text("y = 2\n")  # a new file is new code too
    assert store.status(folder).state == STATE_CHANGED


def test_revoke(custom):
    folder, _ = custom
    store = ConsentStore()
    store.grant(folder)
    store.revoke(folder)
    assert store.status(folder).state == STATE_NOT_GRANTED
    assert store.granted_paths() == []


def test_no_code_means_nothing_to_consent_to(sample):
    store = ConsentStore()
    assert store.status(sample("tiny-bert-mlm")).state == STATE_NOT_NEEDED
    with pytest.raises(ValueError):
        store.grant(sample("tiny-bert-mlm"))


def test_damaged_store_grants_nothing(custom):
    folder, _ = custom
    ConsentStore().grant(folder)
    consent_file().write_text("{not json")
    assert not trust_remote_code_for(folder)


def test_auto_map_naming_a_missing_file_is_reported(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "auto_map": {"AutoModel": "modeling_gone.GoneModel"}}))
    status = ConsentStore().status(folder)
    assert status.missing_files == ["modeling_gone.py"]
    assert status.state == STATE_NOT_GRANTED


def test_auto_map_references_handle_tokenizer_pairs_and_other_repos():
    auto_map = {"AutoTokenizer": ["tokenization_x.XTokenizer", None], "AutoModel": "org/repo--modeling_y.Y"}
    assert consent.auto_map_references(auto_map) == ["tokenization_x.XTokenizer", "org/repo--modeling_y.Y"]
    assert consent.module_file_of("tokenization_x.XTokenizer") == "tokenization_x.py"
    assert consent.module_file_of("org/repo--modeling_y.Y") is None


@pytest.mark.slow
def test_consented_code_is_copied_into_the_app_cache_not_the_users_hf_folder(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "from explorer.core.torch_import import import_transformers; import_transformers(); "
        "import transformers.utils.hub as hub; print(hub.HF_MODULES_CACHE)"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_MODULES_CACHE"}
    env["MODEL_EXPLORER_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "cache" / "hf-modules")
