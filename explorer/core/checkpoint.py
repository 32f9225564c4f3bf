"""The checkpoint record shared by discovery, the command line and the window."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

SOURCE_HUB_CACHE = "hub-cache"
SOURCE_FOLDER = "folder"
SOURCE_LEGACY = "legacy-cache"
SOURCE_OLLAMA = "ollama"  # Ollama's model store: manifests naming blobs by digest
SOURCE_LM_STUDIO = "lm-studio"  # LM Studio's models folder: <publisher>/<repo>/<file>.gguf

# What a checkpoint is: a transformers folder, a PEFT adapter on a base model, or a GGUF model
# (one file or the parts of a split one).
FORMAT_TRANSFORMERS = "transformers"
FORMAT_ADAPTER = "adapter"
FORMAT_GGUF = "gguf"

TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "vocab.json",
        "spiece.model",
        "tokenizer.model",
        "sentencepiece.bpe.model",
        "merges.txt",
    }
)


def display_text(text: str) -> str:
    """File names may not be valid UTF-8 (surrogate-escaped); show them with replacement marks."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass(slots=True)
class CheckpointFile:
    name: str  # relative to the checkpoint folder, '/'-separated
    path: str  # absolute path where the content can be read (a symlink into blobs for the hub cache)
    size: int | None  # None when the content is missing (broken link, interrupted download)
    # (device, inode) of the content: one blob behind several names or revisions has one.
    content: tuple[int, int] | None = None

    @property
    def blob(self) -> str | None:
        """Hub cache: the blob (content hash) this name links to; None for a plain file.

        Read from the link when asked: a scan does not need it (sizes come from the blob).
        """
        try:
            return os.path.basename(os.readlink(self.path))
        except (OSError, ValueError):
            return None


@dataclass(slots=True)
class Checkpoint:
    id: str
    source: str
    path: str
    revision: str | None = None
    refs: list[str] = field(default_factory=list)
    repo_path: str | None = None  # hub cache: models--org--name folder
    files: list[CheckpointFile] = field(default_factory=list)
    model_type: str | None = None
    architectures: list[str] = field(default_factory=list)
    num_parameters: int | None = None
    dtypes: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0
    repo_size_bytes: int | None = None  # blobs counted once across the repo's revisions
    has_tokenizer: bool = False
    needs_remote_code: bool = False
    remote_code_files: list[str] = field(default_factory=list)
    has_model_card: bool = False
    last_modified: float | None = None
    problems: list[str] = field(default_factory=list)
    origin: str | None = None  # the place the user or the default configuration named
    format: str = FORMAT_TRANSFORMERS
    base_model: str | None = None  # adapters: base_model_name_or_path as adapter_config.json writes it

    def gguf_parts(self) -> list[str]:
        """GGUF: the paths of the model's file(s), first part first (its other files are not GGUF)."""
        return [f.path for f in self.files if f.name.endswith(".gguf") and f.size is not None]

    @property
    def key(self) -> str:
        """Stable identity across scans (for selection and incremental rescans)."""
        if self.source == SOURCE_LEGACY and self.repo_path is None:
            # The old flat cache keeps every repo's files side by side in one folder.
            return f"{self.path}#{self.id}@{self.revision}"
        return self.path

    @property
    def name(self) -> str:
        return self.id

    def file(self, name: str) -> CheckpointFile | None:
        for entry in self.files:
            if entry.name == name:
                return entry
        return None

    def file_path(self, name: str) -> str | None:
        entry = self.file(name)
        if entry is not None and entry.size is not None:
            return entry.path
        candidate = os.path.join(self.path, name)
        return candidate if os.path.isfile(candidate) else None

    def to_json(self) -> dict[str, Any]:
        entry = {
            "id": display_text(self.id),
            "source": self.source,
            "path": display_text(self.path),
            "revision": self.revision,
            "refs": list(self.refs),
            "model_type": self.model_type,
            "architectures": list(self.architectures),
            "num_parameters": self.num_parameters,
            "dtypes": dict(self.dtypes),
            "size_bytes": self.size_bytes,
            "repo_size_bytes": self.repo_size_bytes,
            "has_tokenizer": self.has_tokenizer,
            "needs_remote_code": self.needs_remote_code,
            "remote_code_files": [display_text(n) for n in self.remote_code_files],
            "files": [{"name": display_text(f.name), "size": f.size} for f in self.files],
            "last_modified": self.last_modified,
            "problems": [display_text(p) for p in self.problems],
        }
        # Transformers checkpoints keep the keys they always had; other formats say what they are.
        if self.format != FORMAT_TRANSFORMERS:
            entry["format"] = self.format
            if self.format == FORMAT_ADAPTER:
                entry["base_model"] = self.base_model
        return entry
