"""The scan lists every format users keep: PEFT adapters, GGUF files (single and split), GGUF repos in
the hub cache, Ollama's model store and LM Studio's models folders, with counts from their headers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from safetensors import safe_open

from explorer.core.cache_places import default_locations
from explorer.core.checkpoint import SOURCE_LM_STUDIO, SOURCE_OLLAMA
from explorer.core.discovery import ScanLocation, Scanner, scan_all
from explorer.core.gguf_file import read_gguf_split
from tests.core.hub_layout import HubRepo
from tests.format_builders import write_gguf, write_lm_studio_model, write_lora_adapter, write_ollama_model

COMMIT = "a" * 40


def _scan(*locations: ScanLocation):
    found, _stats = scan_all(locations)
    return {c.id: c for c in found}


@pytest.fixture(scope="module")
def lora(tmp_path_factory, samples_root) -> Path:
    return write_lora_adapter(samples_root / "tiny-gpt2-lm", tmp_path_factory.mktemp("adapters") / "my-lora")


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory) -> Path:
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny-Q8_0.gguf")


@pytest.mark.slow
def test_an_adapter_is_listed_as_an_adapter_with_its_own_count_and_base(lora, tmp_path, samples_root):
    os.symlink(lora, tmp_path / "my-lora")
    entry = _scan(ScanLocation("folder", str(tmp_path)))["my-lora"].to_json()
    with safe_open(lora / "adapter_model.safetensors", "pt") as tensors:
        expected = sum(tensors.get_slice(name).get_shape()[0] * tensors.get_slice(name).get_shape()[1] for name in tensors.keys())
    assert entry["format"] == "adapter"
    assert entry["num_parameters"] == expected > 0
    assert entry["base_model"] == str(samples_root / "tiny-gpt2-lm")
    assert entry["problems"] == []  # no "no config.json": an adapter has none


def test_an_adapter_config_that_is_no_object_is_a_problem_not_a_crash(tmp_path):
    folder = tmp_path / "broken-adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("[1, 2]")
    entry = _scan(ScanLocation("folder", str(tmp_path)))["broken-adapter"]
    assert entry.format == "adapter"
    assert any("adapter_config.json is not a JSON object" in p for p in entry.problems)
    assert any("no adapter weights" in p for p in entry.problems)


def test_gguf_files_single_and_split_are_listed_once_each(tmp_path, gguf_file):
    os.symlink(gguf_file, tmp_path / "tiny-Q8_0.gguf")
    write_gguf(tmp_path / "big.gguf", split_max_tensors=2)
    found = _scan(ScanLocation("folder", str(tmp_path)))
    assert sorted(found) == ["big-00001-of-00002.gguf", "tiny-Q8_0.gguf"]  # the second part is not an entry of its own
    model = read_gguf_split(gguf_file)
    single = found["tiny-Q8_0.gguf"].to_json()
    assert single["format"] == "gguf"
    assert single["model_type"] == "llama"  # general.architecture
    assert single["num_parameters"] == model.num_parameters == 960
    assert single["dtypes"] == {"F32": 384, "F16": 64, "Q8_0": 512}
    split = found["big-00001-of-00002.gguf"]
    assert [f.name for f in split.files] == ["big-00001-of-00002.gguf", "big-00002-of-00002.gguf"]
    assert split.num_parameters == 960 and split.size_bytes == sum(f.size for f in split.files)


def test_a_broken_gguf_is_listed_with_its_problem(tmp_path, gguf_file):
    (tmp_path / "cut.gguf").write_bytes(gguf_file.read_bytes()[:100])
    (tmp_path / "orphan-00002-of-00002.gguf").write_bytes(b"GGUF")
    write_gguf(tmp_path / "lost.gguf", split_max_tensors=2)
    (tmp_path / "lost-00002-of-00002.gguf").unlink()
    found = _scan(ScanLocation("folder", str(tmp_path)))
    assert sorted(found) == ["cut.gguf", "lost-00001-of-00002.gguf"]
    assert found["cut.gguf"].num_parameters is None and found["cut.gguf"].problems
    assert any("part 2 of 2" in p and "missing" in p for p in found["lost-00001-of-00002.gguf"].problems)


def test_a_gguf_repo_in_the_hub_cache_lists_its_files_not_a_broken_checkpoint(tmp_path, gguf_file):
    cache = tmp_path / "hub"
    repo = HubRepo(cache, "someone/Tiny-GGUF")
    repo.add(COMMIT, "tiny-Q8_0.gguf", gguf_file.read_bytes())
    repo.add(COMMIT, "README.md", b"# Tiny GGUF\n")
    (repo.path / "refs" / "main").write_text(COMMIT)
    found = _scan(ScanLocation("hub-cache", str(cache)))
    assert list(found) == ["someone/Tiny-GGUF/tiny-Q8_0.gguf"]
    entry = found["someone/Tiny-GGUF/tiny-Q8_0.gguf"]
    assert entry.format == "gguf" and entry.revision == COMMIT and entry.refs == ["main"]
    assert entry.num_parameters == 960 and entry.problems == []


def test_ollama_store_entries_are_named_as_ollama_names_them(tmp_path, gguf_file, monkeypatch):
    store = tmp_path / "ollama-models"
    write_ollama_model(store, "tiny", "latest", gguf_file)
    write_ollama_model(store, "tiny", "q8", gguf_file, params={"temperature": 0.5})
    write_ollama_model(store, "model", "v1", gguf_file, namespace="someone")
    monkeypatch.setenv("OLLAMA_MODELS", str(store))
    locations = [loc for loc in default_locations() if loc.kind == SOURCE_OLLAMA]
    assert locations == [ScanLocation(SOURCE_OLLAMA, str(store))]
    found = _scan(*locations)
    assert sorted(found) == ["someone/model:v1", "tiny:latest", "tiny:q8"]
    entry = found["tiny:q8"]
    assert entry.source == "ollama" and entry.format == "gguf" and entry.model_type == "llama"
    assert entry.num_parameters == 960
    assert [f.name for f in entry.files] == ["model.gguf", "params", "template"]
    assert entry.gguf_parts() == [str(store / "blobs" / f"sha256-{_sha(gguf_file)}")]


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ollama_manifests_that_are_hostile_or_broken_never_leave_the_store(tmp_path, gguf_file):
    store = tmp_path / "store"
    manifest = write_ollama_model(store, "tiny", "latest", gguf_file)
    bad = store / "manifests" / "registry.ollama.ai" / "library" / "evil" / "latest"
    bad.parent.mkdir(parents=True)
    outside = tmp_path / "secret.gguf"
    outside.write_bytes(gguf_file.read_bytes())
    bad.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../../secret.gguf"}]}))
    gone = store / "manifests" / "registry.ollama.ai" / "library" / "gone" / "latest"
    gone.parent.mkdir(parents=True)
    gone.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "0" * 64}]}))
    (store / "manifests" / "registry.ollama.ai" / "library" / "junk").mkdir()
    (store / "manifests" / "registry.ollama.ai" / "library" / "junk" / "latest").write_text("{not json")
    found = _scan(ScanLocation(SOURCE_OLLAMA, str(store)))
    assert "evil:latest" not in found  # a digest that is no sha256 names no blob: no model layer, not listed
    assert any("missing" in p for p in found["gone:latest"].problems)
    assert found["junk:latest"].problems and found["junk:latest"].num_parameters is None
    assert found["tiny:latest"].problems == [] and manifest.exists()


def test_an_ollama_store_given_as_a_folder_is_read_as_a_store(tmp_path, gguf_file):
    write_ollama_model(tmp_path / "models", "tiny", "latest", gguf_file)
    assert list(_scan(ScanLocation("folder", str(tmp_path)))) == ["tiny:latest"]


def test_lm_studio_models_folders_are_sources_named_publisher_repo_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_lm_studio_model(tmp_path / ".lmstudio" / "models", "someone", "Tiny-GGUF")
    write_lm_studio_model(tmp_path / ".cache" / "lm-studio" / "models", "old", "Tiny-GGUF", "tiny-F16.gguf")
    locations = [loc for loc in default_locations() if loc.kind == SOURCE_LM_STUDIO]
    assert [loc.path for loc in locations] == [str(tmp_path / ".lmstudio" / "models"), str(tmp_path / ".cache" / "lm-studio" / "models")]
    found = _scan(*locations)
    assert sorted(found) == ["old/Tiny-GGUF/tiny-F16.gguf", "someone/Tiny-GGUF/tiny-Q8_0.gguf"]
    assert {c.source for c in found.values()} == {"lm-studio"}
    assert all(c.num_parameters == 960 for c in found.values())


def test_no_ollama_or_lm_studio_source_where_they_are_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "nothing"))
    assert {loc.kind for loc in default_locations()} <= {"hub-cache", "legacy-cache"}


@pytest.mark.slow
def test_a_rescan_reuses_every_new_format_entry_and_sees_a_change(tmp_path, gguf_file, lora):
    folder = tmp_path / "models"
    folder.mkdir()
    os.symlink(lora, folder / "my-lora")
    (folder / "tiny.gguf").write_bytes(gguf_file.read_bytes())
    write_ollama_model(tmp_path / "ollama", "tiny", "latest", gguf_file)
    cache = tmp_path / "hub"
    repo = HubRepo(cache, "someone/Tiny-GGUF")
    repo.add(COMMIT, "tiny.gguf", gguf_file.read_bytes())
    locations = [ScanLocation("folder", str(folder)), ScanLocation(SOURCE_OLLAMA, str(tmp_path / "ollama")), ScanLocation("hub-cache", str(cache))]
    index = tmp_path / "index"
    scanner = Scanner(index_path=index)
    from explorer.core.jobs import run_to_end

    first, _ = run_to_end(scanner.scan(locations))
    # Anything modified in the last seconds is read again; pretend the files settled long ago.
    old = time.time() - 60
    for path in [folder, folder / "tiny.gguf", *lora.iterdir(), lora, *(tmp_path / "ollama").rglob("*"), *cache.rglob("*")]:
        os.utime(path, (old, old), follow_symlinks=False)
    run_to_end(scanner.scan(locations))
    fresh = Scanner(index_path=index)
    again, stats = run_to_end(fresh.scan(locations))
    assert stats.reused == len(fresh._cache) == 5  # the hub revision is remembered besides its GGUF
    def facts(checkpoints):  # the files' times were moved back above
        return [{k: v for k, v in c.to_json().items() if k != "last_modified"} for c in checkpoints]

    assert facts(again) == facts(first)
    (folder / "tiny.gguf").write_bytes(b"GGUF")
    changed, _ = run_to_end(fresh.scan(locations))
    assert next(c for c in changed if c.id == "tiny.gguf").num_parameters is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
adapter_keys = st.sampled_from(
    ["peft_type", "r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "base_model_name_or_path", "revision", "task_type"]
)


@given(config=st.dictionaries(adapter_keys, json_values, max_size=9))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_adapter_config_is_described_and_summarised_without_raising(tmp_path, config):
    from explorer.core.format_summary import format_summary

    folder = tmp_path / "fuzzed-adapter"
    folder.mkdir(exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps(config))
    (entry,) = _scan(ScanLocation("folder", str(tmp_path))).values()
    assert entry.format == "adapter"
    lines = format_summary(entry, [entry])
    assert lines and all(isinstance(line.text, str) for line in lines)
