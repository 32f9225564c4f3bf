"""Build Hugging Face hub caches on disk the way huggingface_hub writes them, for tests.

<cache>/models--org--name/
    blobs/<hash>                      content, named by its hash (sha256 for weights, git sha1 otherwise)
    refs/main, refs/<tag>             the commit each ref points to
    snapshots/<commit>/<file>         relative links: ../../blobs/<hash> (../../../blobs for subfolders)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class HubRepo:
    def __init__(self, cache: Path, repo_id: str, repo_type: str = "model") -> None:
        self.cache = Path(cache)
        self.repo_id = repo_id
        self.path = self.cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
        (self.path / "blobs").mkdir(parents=True, exist_ok=True)
        (self.path / "refs").mkdir(exist_ok=True)
        (self.path / "snapshots").mkdir(exist_ok=True)

    def blob_for(self, content: bytes, name: str) -> Path:
        if name.endswith((".safetensors", ".bin")):
            digest = hashlib.sha256(content).hexdigest()
        else:
            digest = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        blob = self.path / "blobs" / digest
        if not blob.exists():
            blob.write_bytes(content)
        return blob

    def add(self, commit: str, name: str, content: bytes) -> Path:
        """Store ``content`` as a blob and link snapshots/<commit>/<name> to it (relative link)."""
        blob = self.blob_for(content, name)
        return self.link(commit, name, blob)

    def link(self, commit: str, name: str, target: Path) -> Path:
        link = self.path / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(target, link.parent), link)
        return link

    def add_folder(self, commit: str, folder: Path) -> None:
        """Every file of a real checkpoint folder, as one revision."""
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                self.add(commit, path.relative_to(folder).as_posix(), path.read_bytes())

    def ref(self, name: str, commit: str) -> None:
        path = self.path / "refs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(commit)

    def incomplete_blob(self, content: bytes = b"partial") -> Path:
        blob = self.path / "blobs" / (hashlib.sha256(content).hexdigest() + ".incomplete")
        blob.write_bytes(content)
        return blob

    def snapshot(self, commit: str) -> Path:
        return self.path / "snapshots" / commit


def commit_hash(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` with its type, size, mode and mtime, links not followed."""
    state = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            state[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
        state[os.path.relpath(directory, root)] = os.lstat(directory).st_mtime_ns
    return state


def age_tree(root: Path, seconds: int = 3600) -> None:
    """Set every mtime under ``root`` into the past, as for a cache downloaded a while ago.

    The scanner re-reads anything touched in the last seconds (folder mtimes are coarse),
    so tests of its reuse start from settled folders.
    """
    import time

    past = time.time() - seconds
    for directory, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(directory, name), (past, past), follow_symlinks=False)
        os.utime(directory, (past, past))
