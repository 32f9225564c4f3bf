"""Flat legacy caches get a folder of named links in the app's cache, so tools can load them."""

from __future__ import annotations

import hashlib
import json
import os

from explorer.core.discovery import ScanLocation, scan_all
from explorer.core.locate import loadable_checkpoint, needs_named_view
from explorer.core.paths import cache_dir


def make_flat_legacy_cache(root, sample_dir, repo_id: str) -> None:
    root.mkdir(parents=True)
    for source in sample_dir.iterdir():
        url = f"https://huggingface.co/{repo_id}/resolve/main/{source.name}"
        hashed = hashlib.sha256(url.encode()).hexdigest() + "." + hashlib.sha256(b"etag").hexdigest()
        (root / hashed).write_bytes(source.read_bytes())
        (root / (hashed + ".json")).write_text(json.dumps({"url": url, "etag": "etag"}))


def test_flat_legacy_checkpoint_loads_through_a_named_view(sample, tmp_path):
    cache = tmp_path / "torch-transformers"
    make_flat_legacy_cache(cache, sample("tiny-bert-mlm"), "bert-base-uncased")
    before = sorted(os.listdir(cache))
    [ckpt], _ = scan_all([ScanLocation("legacy-cache", str(cache))])
    assert needs_named_view(ckpt)
    view = loadable_checkpoint(ckpt)
    assert view.path.startswith(str(cache_dir()))
    assert sorted(os.listdir(view.path)) == sorted(p.name for p in sample("tiny-bert-mlm").iterdir())
    assert sorted(os.listdir(cache)) == before  # nothing written into the user's cache
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(view.path, local_files_only=True).model_type == "bert"
    assert loadable_checkpoint(view).path == view.path  # already loadable: unchanged


def test_ordinary_folders_are_used_as_they_are(sample):
    [ckpt], _ = scan_all([ScanLocation("folder", str(sample("tiny-t5")))])
    assert not needs_named_view(ckpt)
    assert loadable_checkpoint(ckpt) is ckpt


def test_named_view_drops_links_to_files_the_cache_no_longer_holds(sample, tmp_path):
    cache = tmp_path / "torch-transformers"
    make_flat_legacy_cache(cache, sample("tiny-bert-mlm"), "bert-base-uncased")
    [ckpt], _ = scan_all([ScanLocation("legacy-cache", str(cache))])
    view = loadable_checkpoint(ckpt)
    assert "README.md" in os.listdir(view.path)
    url = "https://huggingface.co/bert-base-uncased/resolve/main/README.md"
    hashed = hashlib.sha256(url.encode()).hexdigest() + "." + hashlib.sha256(b"etag").hexdigest()
    os.unlink(cache / hashed)
    os.unlink(cache / (hashed + ".json"))
    [ckpt], _ = scan_all([ScanLocation("legacy-cache", str(cache))])
    assert "README.md" not in os.listdir(loadable_checkpoint(ckpt).path)


def test_a_repo_id_lookup_says_when_the_settings_had_to_be_set_aside(capsys):
    from explorer import cli
    from explorer.core.paths import settings_file

    settings_file().parent.mkdir(parents=True, exist_ok=True)
    settings_file().write_text("{ damaged")
    assert cli.main(["inspect", "org/not-on-this-machine"]) == 2
    err = capsys.readouterr().err
    assert "could not be read" in err and "defaults are in use" in err
    assert "org/not-on-this-machine is neither a folder" in err
