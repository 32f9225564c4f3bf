"""GGUF models as scan entries: single files and split sets in folders and hub snapshots, and Ollama's store.

A GGUF model is one file, or the parts ``name-0000K-of-0000N.gguf`` of a split one, listed once
through its first part. Its facts come from the header (``gguf_file``): ``general.architecture``
as the model type, the parameter count from the tensor shapes, and the parameters per
quantisation type as its dtypes. A header that cannot be read is a problem on the entry, which
is still listed (a user wants to see the broken 40 GB download too).

Ollama keeps models as ``manifests/<host>/<namespace>/<name>/<tag>`` (JSON naming layers by
digest) and ``blobs/sha256-<hex>``; each manifest with a model layer is one entry, ``name:tag``,
whose files are the GGUF blob (``model.gguf``) and the small layers (template, params, ...).
Nothing here writes anything.
"""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass
from typing import Iterator

from explorer.core.checkpoint import FORMAT_GGUF, SOURCE_OLLAMA, Checkpoint, CheckpointFile, display_text
from explorer.core.gguf_file import SPLIT_NAME, read_gguf, read_gguf_split
from explorer.core.safe_io import UnreadableFile, read_json

GGUF_SUFFIX = ".gguf"
MAX_MANIFEST_BYTES = 1024 * 1024
OLLAMA_DEFAULT_HOST = "registry.ollama.ai"
OLLAMA_DEFAULT_NAMESPACE = "library"
# Layer media types of an Ollama manifest -> the name the layer gets among the entry's files.
OLLAMA_LAYER_NAMES = {
    "application/vnd.ollama.image.model": "model.gguf",
    "application/vnd.ollama.image.projector": "projector",
    "application/vnd.ollama.image.adapter": "adapter",
    "application/vnd.ollama.image.template": "template",
    "application/vnd.ollama.image.system": "system",
    "application/vnd.ollama.image.params": "params",
    "application/vnd.ollama.image.license": "license",
    "application/vnd.ollama.image.messages": "messages",
}


def is_gguf_name(name: str) -> bool:
    return name[-5:].lower() == GGUF_SUFFIX


def gguf_models(files: list[CheckpointFile]) -> list[list[CheckpointFile]]:
    """The GGUF models among listed files: each a list of its parts, first part first.

    A split set is keyed by its folder, stem and part count; its first part must be listed for the
    set to count (the later parts alone are a broken download, named by the first part's reader).
    """
    singles: list[list[CheckpointFile]] = []
    splits: dict[tuple[str, str, str], dict[int, CheckpointFile]] = {}
    for f in files:
        if not is_gguf_name(f.name):
            continue
        folder, _, base = f.name.rpartition("/")
        match = SPLIT_NAME.match(base)
        if match is None:
            singles.append([f])
        else:
            splits.setdefault((folder, match["stem"], match["count"]), {})[int(match["index"])] = f
    models = singles
    for parts in splits.values():
        if 1 in parts:
            models.append([parts[index] for index in sorted(parts)])
    models.sort(key=lambda parts: parts[0].name)
    return models


def describe_gguf(ckpt: Checkpoint, *, split: bool = True) -> Checkpoint:
    """Fill a GGUF entry's facts from the header of its first file (all parts when ``split``)."""
    ckpt.format = FORMAT_GGUF
    parts = ckpt.gguf_parts()
    if not parts:
        ckpt.problems.append("the GGUF file's content is missing (broken link or interrupted download)")
        return ckpt
    try:
        model = read_gguf_split(parts[0]) if split else read_gguf(parts[0])
    except UnreadableFile as exc:
        ckpt.problems.append(str(exc))
    else:
        ckpt.model_type = model.architecture
        ckpt.num_parameters = model.num_parameters
        ckpt.dtypes = dict(model.dtypes)
        ckpt.has_tokenizer = "tokenizer.ggml.tokens" in model.metadata
    if not ckpt.size_bytes:
        ckpt.size_bytes = sum(f.size or 0 for f in ckpt.files)
    return ckpt


def gguf_entry(parts: list[CheckpointFile], *, id: str, source: str, path: str, **identity) -> Checkpoint:
    """One scan entry for a GGUF model whose parts a listing found (in a folder or a hub snapshot)."""
    latest = None
    for part in parts:
        try:
            mtime = os.stat(part.path).st_mtime
        except OSError:
            continue
        latest = mtime if latest is None or mtime > latest else latest
    problems = [f"{display_text(p.name)}: content missing (broken link or interrupted download)" for p in parts if p.size is None]
    ckpt = Checkpoint(id=id, source=source, path=path, files=list(parts), problems=problems, last_modified=latest, **identity)
    return describe_gguf(ckpt)


# --------------------------------------------------------------------------- Ollama


@dataclass(frozen=True)
class OllamaManifest:
    path: str
    name: str  # "llama3:latest", "user/model:tag", "host/ns/model:tag"
    stamp: tuple  # what says the manifest (and so the entry) is unchanged


def ollama_name(relative: str) -> str | None:
    """'registry.ollama.ai/library/llama3/latest' -> 'llama3:latest', as ``ollama list`` names it."""
    parts = relative.split("/")
    if len(parts) != 4 or not all(parts):
        return None
    host, namespace, model, tag = parts
    if host == OLLAMA_DEFAULT_HOST:
        return f"{model}:{tag}" if namespace == OLLAMA_DEFAULT_NAMESPACE else f"{namespace}/{model}:{tag}"
    return f"{host}/{namespace}/{model}:{tag}"


def ollama_manifests(root: str) -> Iterator[OllamaManifest]:
    """Every manifest file under ``root/manifests`` (host/namespace/model/tag), sorted by name."""
    manifests_dir = os.path.join(root, "manifests")
    pending = [(manifests_dir, "", 0)]
    found: list[OllamaManifest] = []
    while pending:
        directory, prefix, depth = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            relative = prefix + entry.name
            try:
                st = entry.stat()
            except OSError:
                continue
            if stat_module.S_ISDIR(st.st_mode):
                if depth < 3 and not entry.name.startswith("."):
                    pending.append((entry.path, relative + "/", depth + 1))
            elif stat_module.S_ISREG(st.st_mode) and depth == 3:
                name = ollama_name(relative)
                if name is not None:
                    found.append(OllamaManifest(entry.path, name, (st.st_mtime_ns, st.st_size, st.st_ino)))
    yield from sorted(found, key=lambda m: m.name)


def _blob_path(root: str, digest: object) -> str | None:
    if not isinstance(digest, str):
        return None
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or len(hex_digest) != 64 or not all(c in "0123456789abcdef" for c in hex_digest):
        return None  # a digest that could name a path outside blobs/ is never followed
    return os.path.join(root, "blobs", f"sha256-{hex_digest}")


def ollama_entry(root: str, manifest: OllamaManifest) -> Checkpoint | None:
    """The entry for one Ollama manifest; None when it has no model layer (not a model)."""
    problems: list[str] = []
    try:
        raw = read_json(manifest.path, f"the manifest of {manifest.name}", MAX_MANIFEST_BYTES)
    except UnreadableFile as exc:
        return Checkpoint(id=manifest.name, source=SOURCE_OLLAMA, path=manifest.path, format=FORMAT_GGUF, problems=[str(exc)])
    layers = raw.get("layers") if isinstance(raw, dict) else None
    if not isinstance(layers, list):
        problems.append(f"the manifest of {manifest.name} lists no layers")
        layers = []
    files: list[CheckpointFile] = []
    has_model = False
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        file_name = OLLAMA_LAYER_NAMES.get(layer.get("mediaType"))
        blob = _blob_path(root, layer.get("digest"))
        if file_name is None or blob is None or any(f.name == file_name for f in files):
            continue
        has_model = has_model or file_name == "model.gguf"
        try:
            st = os.stat(blob)
        except OSError:
            problems.append(f"{file_name}: blob {os.path.basename(blob)} is missing")
            files.append(CheckpointFile(file_name, blob, None))
            continue
        if not stat_module.S_ISREG(st.st_mode):
            problems.append(f"{file_name}: blob {os.path.basename(blob)} is not a regular file; not read")
            files.append(CheckpointFile(file_name, blob, None))
            continue
        files.append(CheckpointFile(file_name, blob, st.st_size, (st.st_dev, st.st_ino)))
    if not has_model and not problems:
        return None
    files.sort(key=lambda f: (f.name != "model.gguf", f.name))
    ckpt = Checkpoint(
        id=manifest.name,
        source=SOURCE_OLLAMA,
        path=manifest.path,
        files=files,
        problems=problems,
        last_modified=manifest.stamp[0] / 1e9,
    )
    if not has_model:
        ckpt.format = FORMAT_GGUF
        ckpt.problems.append("the manifest has no model layer")
        return ckpt
    return describe_gguf(ckpt, split=False)


def ollama_blob_stamp(ckpt_files: list[CheckpointFile]) -> tuple:
    """What says an entry's blobs are unchanged (blobs are named by content, so presence and size)."""
    stamps = []
    for f in ckpt_files:
        try:
            st = os.stat(f.path)
            stamps.append((f.name, st.st_size, st.st_mtime_ns))
        except OSError:
            stamps.append((f.name, None, None))
    return tuple(stamps)


__all__ = [
    "OllamaManifest",
    "describe_gguf",
    "gguf_entry",
    "gguf_models",
    "is_gguf_name",
    "ollama_blob_stamp",
    "ollama_entry",
    "ollama_manifests",
    "ollama_name",
]
