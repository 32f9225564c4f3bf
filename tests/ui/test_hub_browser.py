"""A hub cache shows as source → repo → revisions, with refs, and repo size counted once."""

from __future__ import annotations

import hashlib
import os
import shutil


def make_hub_repo(cache, repo_id: str, revisions: dict[str, list], refs: dict[str, str]) -> None:
    """Lay out models--org--name the way huggingface_hub does: blobs, refs, snapshots with relative links."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for commit, files in revisions.items():
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for source in files:
            data = source.read_bytes()
            blob = hashlib.sha256(data).hexdigest()
            (repo / "blobs" / blob).write_bytes(data)
            os.symlink(os.path.join("..", "..", "blobs", blob), snapshot / source.name)
    for ref, commit in refs.items():
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)


def test_hub_cache_repo_with_two_revisions(make_window, sample, tmp_path):
    cache = tmp_path / "hub"
    bert = sample("tiny-bert-mlm")
    new_commit, old_commit = "a" * 40, "b" * 40
    files = sorted(p for p in bert.iterdir() if p.is_file())
    make_hub_repo(cache, "org/tiny-bert", {new_commit: files, old_commit: files[:3]}, {"main": new_commit, "v1.0": new_commit})
    window = make_window(hub_caches=[cache])
    proxy = window.browser.proxy
    location = proxy.index(0, 0)
    assert "Hugging Face cache" in location.data()
    repo = proxy.index(0, 0, location)
    assert repo.data() == "org/tiny-bert"
    revisions = sorted(proxy.index(r, 0, repo).data() for r in range(proxy.rowCount(repo)))
    assert revisions[0].startswith("a" * 10) and "main" in revisions[0] and "v1.0" in revisions[0]
    assert revisions[1] == "b" * 10
    blob_bytes = sum(p.stat().st_size for p in (cache / "models--org--tiny-bert" / "blobs").iterdir())
    assert all(c.repo_size_bytes == blob_bytes for c in window.browser.source_model.checkpoints())
    window.browser.setCurrentIndex(repo)
    assert window.overview.fields["revision"].text().startswith(new_commit)
    assert "main" in window.overview.fields["revision"].text()
