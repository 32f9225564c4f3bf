"""Discovery on hub caches, legacy caches and user folders built here, including every bad-input case."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.core import discovery, listing, transformers_tables
from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE, SOURCE_LEGACY
from explorer.core.discovery import ScanLocation, Scanner, default_hub_cache, default_locations, scan_all
from explorer.core.jobs import CancelToken, Cancelled, Progress, run_to_end
from tests.core.hub_layout import HubRepo, age_tree, commit_hash, tree_state

REV_1 = commit_hash("first")
REV_2 = commit_hash("second")


def scan_hub(cache: Path, scanner: Scanner | None = None):
    return run_to_end((scanner or Scanner()).scan([ScanLocation(SOURCE_HUB_CACHE, str(cache))]))


def scan_folder(folder: Path, scanner: Scanner | None = None):
    return run_to_end((scanner or Scanner()).scan([ScanLocation(SOURCE_FOLDER, str(folder))]))


def by_id(checkpoints, id_):
    matches = [c for c in checkpoints if c.id == id_]
    assert matches, f"{id_} not found among {[c.id for c in checkpoints]}"
    return matches


def copy_sample(sample, name: str, dest: Path) -> Path:
    shutil.copytree(sample(name), dest)
    return dest


@pytest.fixture
def hub_cache(tmp_path, sample) -> Path:
    """Two model repos (one with two revisions sharing blobs, a ref and a tag), a dataset and a space."""
    cache = tmp_path / "hub"
    bert = HubRepo(cache, "org/tiny-bert")
    bert.add_folder(REV_1, sample("tiny-bert-mlm"))
    # The second revision only changes the model card: every other file shares its blob.
    for path in sorted(sample("tiny-bert-mlm").iterdir()):
        content = path.read_bytes()
        if path.name == "README.md":
            content += b"\nUpdated card.\n"
        bert.add(REV_2, path.name, content)
    bert.ref("main", REV_2)
    bert.ref("v1.0", REV_1)
    gpt2 = HubRepo(cache, "gpt2-tiny")
    gpt2.add_folder(REV_1, sample("tiny-gpt2-lm"))
    gpt2.ref("main", REV_1)
    dataset = HubRepo(cache, "org/some-data", repo_type="dataset")
    dataset.add(REV_1, "data.csv", b"a,b\n1,2\n")
    dataset.ref("main", REV_1)
    space = HubRepo(cache, "org/demo", repo_type="space")
    space.add(REV_1, "app.py", b"print('hi')\n")
    space.ref("main", REV_1)
    return cache


# --------------------------------------------------------------------------- hub cache


def test_hub_cache_one_entry_per_revision_with_refs_files_and_facts(hub_cache):
    found, stats = scan_hub(hub_cache)
    assert sorted((c.id, c.revision) for c in found) == sorted(
        [("org/tiny-bert", REV_1), ("org/tiny-bert", REV_2), ("gpt2-tiny", REV_1)]
    )
    revisions = {c.revision: c for c in by_id(found, "org/tiny-bert")}
    assert revisions[REV_2].refs == ["main"]
    assert revisions[REV_1].refs == ["v1.0"]
    latest = revisions[REV_2]
    assert latest.source == SOURCE_HUB_CACHE
    assert latest.path == str(hub_cache / "models--org--tiny-bert" / "snapshots" / REV_2)
    assert latest.model_type == "bert"
    assert latest.architectures == ["BertForMaskedLM"]
    assert latest.has_tokenizer and latest.has_model_card
    assert not latest.needs_remote_code
    assert latest.problems == []
    assert latest.dtypes == {"float32": latest.num_parameters}
    # Files are readable by name through the snapshot links; sizes are the blobs' sizes.
    config = latest.file("config.json")
    assert config.blob and json.loads(Path(latest.file_path("config.json")).read_text())["model_type"] == "bert"
    assert config.size == (hub_cache / "models--org--tiny-bert" / "blobs" / config.blob).stat().st_size
    assert latest.last_modified is not None
    assert stats.skipped_repos == {"dataset": 1, "space": 1}
    assert all(json.dumps(c.to_json()) for c in found)


def test_repo_size_counts_shared_blobs_once_like_scan_cache_dir(hub_cache):
    from huggingface_hub import scan_cache_dir

    found, _ = scan_hub(hub_cache)
    info = scan_cache_dir(hub_cache)
    expected = {repo.repo_id: repo.size_on_disk for repo in info.repos if repo.repo_type == "model"}
    ours = {c.id: c.repo_size_bytes for c in found}
    assert ours == expected
    bert_revisions = by_id(found, "org/tiny-bert")
    # Two revisions sharing all but one blob: the repo is far smaller than the two summed.
    assert bert_revisions[0].repo_size_bytes < sum(c.size_bytes for c in bert_revisions)
    hub_revisions = {
        rev.commit_hash: rev for repo in info.repos if repo.repo_id == "org/tiny-bert" for rev in repo.revisions
    }
    for ckpt in bert_revisions:
        assert ckpt.size_bytes == hub_revisions[ckpt.revision].size_on_disk
        assert set(ckpt.refs) == set(hub_revisions[ckpt.revision].refs)


def test_every_revision_folder_is_found_whatever_the_refs_say(hub_cache, sample):
    """The refs usually name every revision (then snapshots/ need not be listed); when they do
    not, or name one that is not there, or hold something that is not a commit, nothing is lost."""
    repo = HubRepo(hub_cache, "gpt2-tiny")
    unreferenced = commit_hash("an old revision no ref points to")
    repo.add_folder(unreferenced, sample("tiny-gpt2-lm"))
    found = {c.revision: c.refs for c in by_id(scan_hub(hub_cache)[0], "gpt2-tiny")}
    assert found == {REV_1: ["main"], unreferenced: []}

    repo.ref("v2", commit_hash("a revision that was never downloaded"))  # as many refs as folders now
    found = {c.revision: c.refs for c in by_id(scan_hub(hub_cache)[0], "gpt2-tiny")}
    assert found == {REV_1: ["main"], unreferenced: []}

    (repo.path / "refs" / "v2").write_text("../../../../etc")  # never a path to follow
    found = {c.revision: c.refs for c in by_id(scan_hub(hub_cache)[0], "gpt2-tiny")}
    assert found == {REV_1: ["main"], unreferenced: []}


def test_weights_shared_by_revisions_are_read_once_per_scan(hub_cache, monkeypatch):
    from explorer.core import safetensors_index

    read = []
    real_count = safetensors_index.count_parameters
    monkeypatch.setattr(safetensors_index, "count_parameters", lambda path, *a: read.append(path) or real_count(path, *a))
    found, _ = scan_hub(hub_cache)
    first, second = by_id(found, "org/tiny-bert")
    assert first.num_parameters == second.num_parameters and first.dtypes == second.dtypes
    # Three checkpoints, but the two bert revisions link to one weights blob.
    assert len(read) == 2
    # A damaged shared blob is a problem on both revisions, named the same way.
    blob = Path(first.path) / os.readlink(Path(first.path) / "model.safetensors")
    blob.write_bytes(b"\xff" * 16)
    first, second = by_id(scan_hub(hub_cache)[0], "org/tiny-bert")
    assert first.num_parameters is None and second.num_parameters is None
    assert [p for p in first.problems if "model.safetensors" in p] == [p for p in second.problems if "model.safetensors" in p] != []


def test_hub_cache_location_follows_hf_hub_cache_then_hf_home(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert default_hub_cache() == str(tmp_path / "home" / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert default_hub_cache() == str(tmp_path / "elsewhere")
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_hub_cache() == str(tmp_path / "xdg" / "huggingface" / "hub")


def test_default_locations_agree_with_huggingface_hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    code = "from huggingface_hub import constants; print(constants.HF_HUB_CACHE)"
    reported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    locations = default_locations([str(tmp_path / "mine")])
    assert locations[0] == ScanLocation(SOURCE_HUB_CACHE, reported)
    assert locations[-1] == ScanLocation(SOURCE_FOLDER, str(tmp_path / "mine"))


def test_scan_of_the_default_cache_finds_what_hf_home_holds(monkeypatch, tmp_path, sample):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    repo = HubRepo(tmp_path / "hf" / "hub", "org/tiny-t5")
    repo.add_folder(REV_1, sample("tiny-t5"))
    repo.ref("main", REV_1)
    found, stats = scan_all(default_locations())
    assert [(c.id, c.model_type, c.refs) for c in found] == [("org/tiny-t5", "t5", ["main"])]
    assert str(tmp_path / "hf" / "hub") in stats.locations


def test_missing_cache_is_reported_not_an_error(tmp_path):
    found, stats = scan_hub(tmp_path / "nowhere")
    assert found == [] and stats.missing_locations == [str(tmp_path / "nowhere")]


def test_scan_streams_checkpoints_and_progress_before_it_ends(hub_cache):
    items = list_items(Scanner().scan([ScanLocation(SOURCE_HUB_CACHE, str(hub_cache))]))
    assert isinstance(items[0], Progress)
    kinds = [type(i).__name__ for i in items]
    assert kinds.count("Checkpoint") == 3 and kinds[-1] == "Progress"


def list_items(job):
    items = []
    run_to_end(job, items.append)
    return items


def test_scan_can_be_cancelled(hub_cache):
    token = CancelToken()
    job = Scanner().scan([ScanLocation(SOURCE_HUB_CACHE, str(hub_cache))], token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        run_to_end(job)


# --------------------------------------------------------------------------- real checkpoints


@pytest.mark.slow
def test_parameter_counts_equal_the_loaded_models(sample, samples_root):
    import transformers

    found, _ = scan_folder(samples_root)
    assert len(found) == 7
    for ckpt in found:
        model_class = getattr(transformers, ckpt.architectures[0])
        model = model_class.from_pretrained(ckpt.path, local_files_only=True)
        # parameters() yields a tied weight once, as the saved file stores it once.
        unique = {id(p): p for p in model.parameters()}
        assert ckpt.num_parameters == sum(p.numel() for p in unique.values()), ckpt.id
        assert ckpt.dtypes == {"float32": ckpt.num_parameters}
        assert ckpt.problems == [], (ckpt.id, ckpt.problems)


def test_folder_checkpoint_facts(sample, tmp_path):
    copy_sample(sample, "tiny-distilbert-sentiment", tmp_path / "models" / "sentiment")
    found, _ = scan_folder(tmp_path / "models")
    (ckpt,) = found
    assert (ckpt.id, ckpt.source, ckpt.model_type) == ("sentiment", SOURCE_FOLDER, "distilbert")
    assert ckpt.path == str(tmp_path / "models" / "sentiment")
    assert ckpt.size_bytes == sum(p.stat().st_size for p in Path(ckpt.path).iterdir())
    assert ckpt.has_tokenizer and ckpt.revision is None and ckpt.refs == []


def test_user_folders_are_searched_to_a_bounded_depth(sample, tmp_path):
    root = tmp_path / "work"
    copy_sample(sample, "tiny-bert-ner", root / "a" / "ner")
    copy_sample(sample, "tiny-bert-qa", root / "a" / "b" / "c" / "d" / "e" / "f" / "qa")
    (root / "notes").mkdir()
    (root / "notes" / "config.json").write_text('{"editor": "vim"}')  # not a model config
    found, _ = run_to_end(Scanner(folder_depth=3).scan([ScanLocation(SOURCE_FOLDER, str(root))]))
    assert [c.id for c in found] == ["ner"]
    found, _ = run_to_end(Scanner(folder_depth=8).scan([ScanLocation(SOURCE_FOLDER, str(root))]))
    assert sorted(c.id for c in found) == ["ner", "qa"]


def test_a_hub_cache_inside_a_user_folder_is_read_as_a_cache(hub_cache):
    found, _ = scan_folder(hub_cache.parent)
    assert sorted(c.id for c in found) == ["gpt2-tiny", "org/tiny-bert", "org/tiny-bert"]
    assert all(c.source == SOURCE_HUB_CACHE for c in found)


def test_a_place_reached_twice_is_listed_once(sample, tmp_path):
    copy_sample(sample, "tiny-bert-mlm", tmp_path / "root" / "mlm")
    root = str(tmp_path / "root")
    found, _ = run_to_end(Scanner().scan([ScanLocation(SOURCE_FOLDER, root), ScanLocation(SOURCE_FOLDER, root + "/mlm")]))
    assert [c.id for c in found] == ["mlm"]


def test_custom_code_is_flagged(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "custom")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_custom.CustomModel"}
    config["model_type"] = "custom-thing"
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_custom.py").write_text("class CustomModel: pass\n")
    (ckpt,), _ = scan_folder(folder)
    assert ckpt.needs_remote_code and ckpt.remote_code_files == ["modeling_custom.py"]
    assert not any("unknown" in p for p in ckpt.problems)  # auto_map explains the unknown type


# --------------------------------------------------------------------------- legacy caches


def write_flat_legacy(cache: Path, sample_folder: Path, repo_id: str) -> None:
    import hashlib

    cache.mkdir(parents=True, exist_ok=True)
    for path in sorted(sample_folder.iterdir()):
        url = f"https://huggingface.co/{repo_id}/resolve/main/{path.name}"
        etag = hashlib.sha256(path.read_bytes()).hexdigest()
        stem = hashlib.sha256(url.encode()).hexdigest() + "." + hashlib.sha256(etag.encode()).hexdigest()
        shutil.copyfile(path, cache / stem)
        (cache / (stem + ".json")).write_text(json.dumps({"url": url, "etag": etag}))
        (cache / (stem + ".lock")).write_text("")


def test_flat_legacy_cache_from_transformers_cache(monkeypatch, tmp_path, sample):
    legacy = tmp_path / "old-cache"
    write_flat_legacy(legacy, sample("tiny-bert-mlm"), "bert-tiny")
    write_flat_legacy(legacy, sample("tiny-gpt2-lm"), "someone/gpt2-tiny")
    monkeypatch.setenv("TRANSFORMERS_CACHE", str(legacy))
    locations = default_locations()
    assert ScanLocation(SOURCE_LEGACY, str(legacy)) in locations
    found, _ = scan_all(locations)
    facts = sorted((c.id, c.source, c.revision, c.model_type) for c in found)
    assert facts == [("bert-tiny", SOURCE_LEGACY, "main", "bert"), ("someone/gpt2-tiny", SOURCE_LEGACY, "main", "gpt2")]
    bert = by_id(found, "bert-tiny")[0]
    assert bert.num_parameters and bert.has_tokenizer
    assert json.loads(Path(bert.file_path("config.json")).read_text())["model_type"] == "bert"
    assert len({c.key for c in found}) == 2  # one flat folder, two distinct entries
    assert bert.problems == []


def test_flat_legacy_cache_with_a_missing_file(tmp_path, sample):
    legacy = tmp_path / "old-cache"
    write_flat_legacy(legacy, sample("tiny-bert-mlm"), "bert-tiny")
    sidecar = next(p for p in legacy.glob("*.json") if "README.md" in p.read_text())
    Path(str(sidecar)[: -len(".json")]).unlink()
    (ckpt,), _ = run_to_end(Scanner().scan([ScanLocation(SOURCE_LEGACY, str(legacy))]))
    assert has_problem(ckpt, "README.md", "content missing")


def test_transformers_cache_in_hub_layout(monkeypatch, tmp_path, sample):
    legacy = tmp_path / "tf-cache"
    repo = HubRepo(legacy, "org/tiny-qa")
    repo.add_folder(REV_1, sample("tiny-bert-qa"))
    repo.ref("main", REV_1)
    monkeypatch.setenv("TRANSFORMERS_CACHE", str(legacy))
    found, _ = scan_all(default_locations())
    assert [(c.id, c.source, c.refs) for c in found] == [("org/tiny-qa", SOURCE_LEGACY, ["main"])]


def test_default_hf_home_transformers_folder_is_a_legacy_location(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (tmp_path / "hf" / "transformers").mkdir(parents=True)
    assert ScanLocation(SOURCE_LEGACY, str(tmp_path / "hf" / "transformers")) in default_locations()


# --------------------------------------------------------------------------- bad input: each case


def only(found):
    assert len(found) == 1, [c.id for c in found]
    return found[0]


def has_problem(ckpt, *words) -> bool:
    return any(all(w in p for w in words) for p in ckpt.problems)


def test_unreadable_user_subfolder_is_reported_and_the_scan_goes_on(monkeypatch, sample, tmp_path):
    copy_sample(sample, "tiny-bert-mlm", tmp_path / "root" / "good")
    locked = tmp_path / "root" / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found, stats = scan_folder(tmp_path / "root")
    assert [c.id for c in found] == ["good"]
    assert any("locked" in p and "Permission denied" in p for p in stats.problems)


def test_unreadable_hub_snapshot_is_listed_with_a_problem(monkeypatch, hub_cache):
    snapshot = str(hub_cache / "models--gpt2-tiny" / "snapshots" / REV_1)
    real_scandir, real_open = os.scandir, os.open

    # Both ways of listing a folder fail for it, as they would for a folder without read permission.
    def scandir(path="."):
        if os.fspath(path) == snapshot:
            raise PermissionError(errno.EACCES, "Permission denied", snapshot)
        return real_scandir(path)

    def open_(path, flags, *args, **kwargs):
        if os.fspath(path) == snapshot:
            raise PermissionError(errno.EACCES, "Permission denied", snapshot)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "open", open_)
    found, _ = scan_hub(hub_cache)
    gpt2 = only(by_id(found, "gpt2-tiny"))
    assert has_problem(gpt2, "cannot list folder", "Permission denied")
    assert len(found) == 3


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_chmod_000_folder(sample, tmp_path):
    copy_sample(sample, "tiny-bert-mlm", tmp_path / "root" / "good")
    locked = tmp_path / "root" / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        found, stats = scan_folder(tmp_path / "root")
    finally:
        locked.chmod(0o755)
    assert [c.id for c in found] == ["good"]
    assert any("locked" in p for p in stats.problems)


def test_unreadable_config_is_a_problem(monkeypatch, sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    real_open = os.open

    def guarded_open(path, flags, *args, **kwargs):
        if os.fspath(path) == str(folder / "config.json"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    ckpt = only(scan_folder(folder)[0])
    assert has_problem(ckpt, "config.json cannot be read", "Permission denied")
    assert ckpt.num_parameters  # the weights were still read


def test_broken_symlink_in_a_snapshot(hub_cache):
    snapshot = hub_cache / "models--gpt2-tiny" / "snapshots" / REV_1
    os.symlink("../../blobs/" + "0" * 64, snapshot / "pytorch_model.bin")
    gpt2 = only(by_id(scan_hub(hub_cache)[0], "gpt2-tiny"))
    assert has_problem(gpt2, "pytorch_model.bin", "broken symbolic link")
    assert gpt2.file("pytorch_model.bin").size is None
    assert gpt2.model_type == "gpt2" and gpt2.num_parameters


def test_snapshots_with_subfolders_fifos_and_loops_list_like_plain_folders(hub_cache):
    """The flat-snapshot shortcut must give what the generic walk gives, or step aside for it."""
    snapshot = hub_cache / "models--gpt2-tiny" / "snapshots" / REV_1
    flat = listing._list_flat_snapshot(str(snapshot))
    generic = listing._list_files(str(snapshot), stamped=False)
    assert flat is not None
    assert (flat.files, flat.problems, flat.size_bytes, flat.latest_mtime) == (
        generic.files, generic.problems, generic.size_bytes, generic.latest_mtime)

    os.symlink("loop", snapshot / "loop")
    os.symlink("../../blobs/" + "0" * 64, snapshot / "missing.bin")
    flat = listing._list_flat_snapshot(str(snapshot))
    generic = listing._list_files(str(snapshot), stamped=False)
    assert (flat.files, sorted(flat.problems), flat.size_bytes) == (generic.files, sorted(generic.problems), generic.size_bytes)

    (snapshot / "onnx").mkdir()
    (snapshot / "onnx" / "model.onnx").write_bytes(b"onnx")
    os.mkfifo(snapshot / "extra.safetensors")
    assert listing._list_flat_snapshot(str(snapshot)) is None
    gpt2 = only(by_id(scan_hub(hub_cache)[0], "gpt2-tiny"))
    assert gpt2.file("onnx/model.onnx").size == 4
    assert has_problem(gpt2, "extra.safetensors", "not a regular file")
    assert has_problem(gpt2, "loop", "symbolic link loop")
    assert has_problem(gpt2, "missing.bin", "broken symbolic link")
    assert gpt2.model_type == "gpt2" and gpt2.num_parameters


def test_broken_config_link(hub_cache):
    snapshot = hub_cache / "models--gpt2-tiny" / "snapshots" / REV_1
    blob = snapshot / os.readlink(snapshot / "config.json")
    blob.unlink()
    gpt2 = only(by_id(scan_hub(hub_cache)[0], "gpt2-tiny"))
    assert has_problem(gpt2, "config.json: broken symbolic link")
    assert not has_problem(gpt2, "config.json is missing its content")  # said once, not twice
    assert gpt2.model_type is None and gpt2.num_parameters


def test_symlink_loops(sample, tmp_path):
    root = tmp_path / "root"
    folder = copy_sample(sample, "tiny-bert-mlm", root / "m")
    os.symlink("self-loop", folder / "self-loop")  # a file link to itself
    os.symlink("..", folder / "up")  # a folder link back to the parent
    os.symlink(".", root / "here")  # and one at the top of the user's folder
    found, _ = scan_folder(root)
    ckpt = only(found)
    assert has_problem(ckpt, "self-loop", "symbolic link loop")
    assert ckpt.model_type == "bert"


def test_symlink_loop_inside_a_checkpoint_subfolder(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    (folder / "extra").mkdir()
    os.symlink("..", folder / "extra" / "back")
    ckpt = only(scan_folder(folder)[0])
    assert has_problem(ckpt, "extra/back", "symbolic link loop; not followed")


def test_invalid_config_json(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    (folder / "config.json").write_text('{"model_type": "bert", ')
    ckpt = only(scan_folder(folder)[0])
    assert has_problem(ckpt, "config.json is not valid JSON")
    assert ckpt.num_parameters


def test_config_json_transformers_cannot_read_is_a_problem(sample, tmp_path):
    """transformers reads config.json as UTF-8 text: a byte-order mark or UTF-16 makes it refuse the checkpoint."""
    config = json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]})
    with_bom = copy_sample(sample, "tiny-bert-mlm", tmp_path / "bom")
    (with_bom / "config.json").write_bytes(b"\xef\xbb\xbf" + config.encode())
    assert has_problem(only(scan_folder(with_bom)[0]), "config.json is UTF-8 with a byte-order mark", "save it as plain UTF-8")
    utf16 = copy_sample(sample, "tiny-bert-mlm", tmp_path / "utf16")
    (utf16 / "config.json").write_bytes(config.encode("utf-16"))
    ckpt = only(scan_folder(utf16)[0])
    assert has_problem(ckpt, "config.json is UTF-16 or UTF-32 text, which transformers cannot read")
    assert ckpt.model_type is None and ckpt.num_parameters  # the weights are still counted
    latin1 = copy_sample(sample, "tiny-bert-mlm", tmp_path / "latin1")
    (latin1 / "config.json").write_bytes('{"model_type": "bert", "note": "café"}'.encode("latin-1"))
    assert has_problem(only(scan_folder(latin1)[0]), "config.json is not UTF-8 text", "at byte 35")


def test_config_json_that_is_not_an_object(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    (folder / "config.json").write_text("[1, 2, 3]")
    assert has_problem(only(scan_folder(folder)[0]), "not a JSON object")


def test_deeply_nested_config_json(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    assert has_problem(only(scan_folder(folder)[0]), "config.json")


def test_huge_config_json_is_not_read(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    with open(folder / "config.json", "r+b") as handle:
        handle.truncate(17 * 1024 * 1024)  # sparse: no disk used
    ckpt = only(scan_folder(folder)[0])
    assert has_problem(ckpt, "config.json is 17 MiB, too large")
    assert ckpt.num_parameters


def test_unknown_model_type(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "not-a-real-architecture"
    (folder / "config.json").write_text(json.dumps(config))
    ckpt = only(scan_folder(folder)[0])
    assert ckpt.model_type == "not-a-real-architecture"
    assert has_problem(ckpt, "model_type 'not-a-real-architecture' is unknown")


def test_known_model_types_cover_the_samples():
    known = transformers_tables.known_model_types()
    assert {"bert", "gpt2", "t5", "distilbert", "llama"} <= known


def test_truncated_safetensors(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    ckpt = only(scan_folder(folder)[0])
    assert has_problem(ckpt, "model.safetensors", "truncated")
    assert ckpt.num_parameters is None and ckpt.model_type == "bert"


def test_corrupt_safetensors_header_length(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.write((2**62).to_bytes(8, "little"))
    ckpt = only(scan_folder(folder)[0])
    assert has_problem(ckpt, "model.safetensors", "header length", "implausible")
    assert ckpt.num_parameters is None


def test_non_utf8_file_names(sample, tmp_path):
    root = tmp_path / "root"
    folder = copy_sample(sample, "tiny-bert-mlm", root / "m")
    bad_file = os.path.join(os.fsencode(folder), b"weights-\xff.bin")
    with open(bad_file, "wb") as handle:
        handle.write(b"x")
    bad_folder = os.path.join(os.fsencode(root), b"caf\xe9-model")
    shutil.copytree(folder, os.fsdecode(bad_folder))
    found, _ = scan_folder(root)
    assert len(found) == 2
    for ckpt in found:
        assert has_problem(ckpt, "is not valid UTF-8")
        text = json.dumps(ckpt.to_json())  # shown with replacement marks, never an encoding error
        assert "\\ufffd" in text
        assert ckpt.model_type == "bert"


def test_incomplete_blobs_of_an_interrupted_download(hub_cache):
    repo = HubRepo(hub_cache, "gpt2-tiny")
    repo.incomplete_blob(b"half a weight file")
    gpt2 = only(by_id(scan_hub(hub_cache)[0], "gpt2-tiny"))
    assert has_problem(gpt2, "1 interrupted download", ".incomplete")
    assert gpt2.model_type == "gpt2"


def test_download_interrupted_before_any_file_landed(tmp_path):
    cache = tmp_path / "hub"
    repo = HubRepo(cache, "org/big-model")
    repo.incomplete_blob(b"first bytes")
    repo.snapshot(REV_1).mkdir(parents=True)
    ckpt = only(scan_hub(cache)[0])
    assert ckpt.id == "org/big-model"
    assert has_problem(ckpt, "interrupted download")
    assert has_problem(ckpt, "no config.json")


def test_repo_without_snapshots_folder_is_listed_with_a_problem(tmp_path):
    cache = tmp_path / "hub"
    repo = HubRepo(cache, "org/odd")
    shutil.rmtree(repo.path / "snapshots")
    ckpt = only(scan_hub(cache)[0])
    assert has_problem(ckpt, "no downloaded revision")


def test_stray_files_in_the_cache_root_are_ignored(hub_cache):
    (hub_cache / "models--not-a-folder").write_text("stray")
    (hub_cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55")
    (hub_cache / ".locks").mkdir()
    found, _ = scan_hub(hub_cache)
    assert len(found) == 3


def test_fifo_named_like_a_checkpoint_file_does_not_block(sample, tmp_path):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "m")
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")
    os.mkfifo(folder / "extra.safetensors")
    ckpt = only(scan_folder(folder)[0])
    assert has_problem(ckpt, "extra.safetensors", "not a regular file")
    assert has_problem(ckpt, "config.json", "not a regular file")


# --------------------------------------------------------------------------- safety and rescans


def test_scan_writes_nothing_inside_what_it_scans(hub_cache, sample, tmp_path):
    folder = copy_sample(sample, "tiny-t5", tmp_path / "user" / "t5")
    before = (tree_state(hub_cache), tree_state(folder.parent))
    scanner = Scanner()
    for _ in range(2):
        run_to_end(scanner.scan([ScanLocation(SOURCE_HUB_CACHE, str(hub_cache)), ScanLocation(SOURCE_FOLDER, str(folder.parent))]))
    assert (tree_state(hub_cache), tree_state(folder.parent)) == before


def test_rescan_rereads_only_what_changed(hub_cache, sample, tmp_path, monkeypatch):
    user = tmp_path / "user"
    copy_sample(sample, "tiny-bert-ner", user / "ner")
    copy_sample(sample, "tiny-bert-nli", user / "nli")
    locations = [ScanLocation(SOURCE_HUB_CACHE, str(hub_cache)), ScanLocation(SOURCE_FOLDER, str(user))]
    age_tree(hub_cache)
    age_tree(user)
    scanner = Scanner()
    first, stats = run_to_end(scanner.scan(locations))
    assert stats.reused == 0 and len(first) == 5

    described = []
    real_describe = discovery.describe_checkpoint
    monkeypatch.setattr(discovery, "describe_checkpoint", lambda ckpt, *a: described.append(ckpt.path) or real_describe(ckpt, *a))
    again, stats = run_to_end(scanner.scan(locations))
    assert stats.reused == 5 and described == []
    assert [c.key for c in again] == [c.key for c in first]

    # A user folder edited in place, and a new revision downloaded into the hub cache.
    config = json.loads((user / "ner" / "config.json").read_text())
    config["architectures"] = ["BertModel"]
    (user / "ner" / "config.json").write_text(json.dumps(config))
    repo = HubRepo(hub_cache, "gpt2-tiny")
    new_rev = commit_hash("third")
    repo.add_folder(new_rev, sample("tiny-gpt2-lm"))
    repo.add(new_rev, "NOTES.md", b"A new blob: the repo's blobs folder changes too.\n")
    repo.ref("main", new_rev)
    third, stats = run_to_end(scanner.scan(locations))
    assert sorted(described) == sorted([str(user / "ner"), str(repo.snapshot(new_rev)), str(repo.snapshot(REV_1))])
    assert stats.reused == 3  # both tiny-bert revisions and the untouched user folder
    assert by_id(third, "ner")[0].architectures == ["BertModel"]
    refs = {c.revision: c.refs for c in by_id(third, "gpt2-tiny")}
    assert refs == {REV_1: [], new_rev: ["main"]}


def test_changes_in_the_last_seconds_are_read_again(sample, tmp_path, monkeypatch):
    folder = copy_sample(sample, "tiny-bert-mlm", tmp_path / "fresh")
    os.utime(folder)  # copytree keeps the sample's old times: make the folder just-written
    scanner = Scanner()
    scan_folder(folder, scanner)
    _, stats = scan_folder(folder, scanner)
    assert stats.reused == 0  # just written: an edit in the same mtime tick would be invisible
    age_tree(folder)
    scan_folder(folder, scanner)
    _, stats = scan_folder(folder, scanner)
    assert stats.reused == 1


def test_scan_never_imports_torch_or_transformers(hub_cache, samples_root):
    code = f"""
import sys
from explorer.core.discovery import Scanner, ScanLocation
from explorer.core.jobs import run_to_end
found, stats = run_to_end(Scanner().scan([
    ScanLocation("hub-cache", {str(hub_cache)!r}),
    ScanLocation("folder", {str(samples_root)!r}),
]))
assert len(found) == 10, len(found)
assert all(c.num_parameters for c in found)
print(sorted(m for m in ("torch", "transformers", "PySide6") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_fifos_in_place_of_config_and_index_do_not_block(tmp_path):
    config_only = tmp_path / "root" / "config-only"
    config_only.mkdir(parents=True)
    os.mkfifo(config_only / "config.json")
    indexed = tmp_path / "root" / "indexed"
    indexed.mkdir()
    (indexed / "config.json").write_text('{"model_type": "bert"}')
    os.mkfifo(indexed / "model.safetensors.index.json")
    found, _ = scan_folder(tmp_path / "root")
    facts = {c.id: c for c in found}
    assert has_problem(facts["config-only"], "config.json", "not a regular file")
    assert has_problem(facts["indexed"], "model.safetensors.index.json", "not a regular file")


def test_cache_wide_shared_blob_store(tmp_path, sample):
    """huggingface_hub 2.x can keep Xet files once per cache: repo blobs link into <cache>/blobs/."""
    import hashlib

    from huggingface_hub import scan_cache_dir

    cache = tmp_path / "hub"
    store = cache / "blobs"
    store.mkdir(parents=True)
    (store / ".huggingface-shared-blobs").write_text("1\n")
    weights = (sample("tiny-bert-mlm") / "model.safetensors").read_bytes()
    xet_hash = hashlib.sha256(b"xet" + weights).hexdigest()
    (store / xet_hash[:2]).mkdir()
    (store / xet_hash[:2] / xet_hash).write_bytes(weights)
    for repo_id in ("org/first", "org/second"):
        repo = HubRepo(cache, repo_id)
        for path in sorted(sample("tiny-bert-mlm").iterdir()):
            if path.name != "model.safetensors":
                repo.add(REV_1, path.name, path.read_bytes())
        etag_blob = repo.path / "blobs" / hashlib.sha256(weights).hexdigest()
        os.symlink(os.path.relpath(store / xet_hash[:2] / xet_hash, etag_blob.parent), etag_blob)
        repo.link(REV_1, "model.safetensors", etag_blob)
        repo.ref("main", REV_1)
    found, _ = scan_hub(cache)
    assert sorted(c.id for c in found) == ["org/first", "org/second"]
    info = scan_cache_dir(cache)
    assert {c.id: c.repo_size_bytes for c in found} == {r.repo_id: r.size_on_disk for r in info.repos}
    for ckpt in found:
        assert ckpt.problems == [] and ckpt.num_parameters and ckpt.file("model.safetensors").size == len(weights)
