"""Consent to run a checkpoint's own Python code (``auto_map``, ``*.py`` files).

transformers runs a checkpoint's code when ``trust_remote_code`` is true. The explorer passes
that only when the user has consented to the exact code that is on disk now: a record holds
the checkpoint's real path and the SHA-256 of each code file. When a file changes, appears
or disappears, the record no longer matches and the user is asked again.

Nothing here imports the checkpoint's code. ``load_custom_config`` and
``load_custom_class`` are the only doors to it, and both check the record first.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.core import paths
from explorer.core.atomic import write_text_atomically

STORE_VERSION = 1
MAX_CONFIG_BYTES = 16 * 1024 * 1024

STATE_NOT_NEEDED = "not-needed"  # no custom code at all
STATE_NOT_GRANTED = "not-granted"
STATE_GRANTED = "granted"
STATE_CHANGED = "changed"  # granted once, but the code on disk is no longer what was approved


class ConsentRequired(PermissionError):
    """Raised instead of running a checkpoint's code the user has not approved."""


@dataclass(slots=True)
class CodeFile:
    name: str
    path: str | None  # None when the file is named (auto_map) but missing
    sha256: str | None
    size: int | None


@dataclass(slots=True)
class ConsentStatus:
    path: str  # real path of the checkpoint folder: the key of the record
    state: str
    files: list[CodeFile] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)  # differ from, or are absent in, the record
    missing_files: list[str] = field(default_factory=list)  # named in auto_map but not on disk
    upstream_refs: list[str] = field(default_factory=list)  # auto_map "repo--module.Class": code from another repo
    granted_at: float | None = None

    @property
    def needs_code(self) -> bool:
        return self.state != STATE_NOT_NEEDED

    @property
    def granted(self) -> bool:
        return self.state == STATE_GRANTED

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size, "missing": f.path is None} for f in self.files],
            "changed_files": list(self.changed_files),
            "missing_files": list(self.missing_files),
            "upstream_refs": list(self.upstream_refs),
            "granted_at": self.granted_at,
        }


# --------------------------------------------------------------------------- which files are code


def _read_auto_map(folder: str) -> dict:
    config_path = os.path.join(folder, "config.json")
    try:
        if os.path.getsize(config_path) > MAX_CONFIG_BYTES:
            return {}
        with open(config_path, "rb") as handle:
            config = json.loads(handle.read())
    except (OSError, ValueError):
        return {}
    auto_map = config.get("auto_map") if isinstance(config, dict) else None
    return auto_map if isinstance(auto_map, dict) else {}


def auto_map_references(auto_map: dict) -> list[str]:
    """Every class reference in an auto_map ('module.Class' or 'repo--module.Class')."""
    refs: list[str] = []
    for value in auto_map.values():
        # AutoTokenizer maps to [slow, fast], either of which may be null.
        for ref in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(ref, str) and ref:
                refs.append(ref)
    return refs


def module_file_of(ref: str) -> str | None:
    """'modeling_x.XModel' -> 'modeling_x.py'; None for references to another repository."""
    if "--" in ref:
        return None
    module, _, _ = ref.rpartition(".")
    if not module:
        return None
    return module.replace(".", "/") + ".py"


def code_file_names(folder: str, auto_map: dict | None = None) -> tuple[list[str], list[str]]:
    """(code files the checkpoint's code consists of, auto_map references to other repositories)."""
    if auto_map is None:
        auto_map = _read_auto_map(folder)
    names: set[str] = set()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    names.add(entry.name)
    except OSError:
        pass
    upstream: list[str] = []
    for ref in auto_map_references(auto_map):
        file_name = module_file_of(ref)
        if file_name is None:
            upstream.append(ref)
        else:
            names.add(file_name)
    return sorted(names), sorted(set(upstream))


def _sha256(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def code_files(folder: str, auto_map: dict | None = None) -> tuple[list[CodeFile], list[str]]:
    names, upstream = code_file_names(folder, auto_map)
    files = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            sha, size = _sha256(path)
            files.append(CodeFile(name=name, path=path, sha256=sha, size=size))
        except OSError:
            files.append(CodeFile(name=name, path=None, sha256=None, size=None))
    return files, upstream


# --------------------------------------------------------------------------- the store


class ConsentStore:
    """Consent records in a JSON file (default: the app's data dir), written atomically."""

    def __init__(self, file: str | os.PathLike | None = None) -> None:
        self._file = Path(file) if file is not None else None

    @property
    def file(self) -> Path:
        return self._file if self._file is not None else paths.consent_file()

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.file, "rb") as handle:
                data = json.loads(handle.read())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A damaged store grants nothing; it is rewritten on the next grant.
            return {}
        records = data.get("checkpoints") if isinstance(data, dict) else None
        return records if isinstance(records, dict) else {}

    def _save(self, records: dict[str, Any]) -> None:
        payload = json.dumps({"version": STORE_VERSION, "checkpoints": records}, indent=2, sort_keys=True)
        write_text_atomically(self.file, payload)

    @staticmethod
    def key(path: str | os.PathLike) -> str:
        return os.path.realpath(os.fspath(path))

    def status(self, path: str | os.PathLike, auto_map: dict | None = None) -> ConsentStatus:
        key = self.key(path)
        files, upstream = code_files(key, auto_map)
        status = ConsentStatus(path=key, state=STATE_NOT_NEEDED, files=files, upstream_refs=upstream)
        status.missing_files = [f.name for f in files if f.path is None]
        if not files and not upstream:
            return status
        record = self._load().get(key)
        if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
            status.state = STATE_NOT_GRANTED
            return status
        approved: dict = record["files"]
        status.granted_at = record.get("granted_at") if isinstance(record.get("granted_at"), (int, float)) else None
        current = {f.name: f.sha256 for f in files if f.sha256 is not None}
        status.changed_files = sorted(
            {n for n, sha in current.items() if approved.get(n) != sha} | {n for n in approved if n not in current}
        )
        same_upstream = sorted(record.get("upstream_refs") or []) == upstream
        status.state = STATE_GRANTED if not status.changed_files and same_upstream else STATE_CHANGED
        return status

    def trust_remote_code_for(self, path: str | os.PathLike) -> bool:
        """True only if the user consented to exactly the code files on disk now."""
        return self.status(path).state == STATE_GRANTED

    def grant(self, path: str | os.PathLike) -> ConsentStatus:
        """Record consent to the code files as they are now (hashes taken at this moment)."""
        key = self.key(path)
        files, upstream = code_files(key)
        if not files and not upstream:
            raise ValueError(f"{key} has no custom code to consent to")
        records = self._load()
        records[key] = {
            "files": {f.name: f.sha256 for f in files if f.sha256 is not None},
            "upstream_refs": upstream,
            "granted_at": time.time(),
        }
        self._save(records)
        return self.status(key)

    def revoke(self, path: str | os.PathLike) -> None:
        key = self.key(path)
        records = self._load()
        if key in records:
            del records[key]
            self._save(records)

    def granted_paths(self) -> list[str]:
        return sorted(self._load())


def default_store() -> ConsentStore:
    """The store in the app's data dir (resolved at each call, so MODEL_EXPLORER_HOME applies)."""
    return ConsentStore()


def trust_remote_code_for(path: str | os.PathLike) -> bool:
    """The only value the explorer ever passes as ``trust_remote_code``."""
    return default_store().trust_remote_code_for(path)


# --------------------------------------------------------------------------- doors to the code


def _require_consent(path: str, store: ConsentStore | None) -> bool:
    """True when the record allows the code on disk now; raises otherwise."""
    store = store or default_store()
    status = store.status(path)
    if status.state == STATE_GRANTED:
        return True
    if status.state == STATE_CHANGED:
        raise ConsentRequired(
            f"the custom code of {path} changed since you allowed it ({', '.join(status.changed_files) or 'upstream code'}); allow it again to run it"
        )
    if status.state == STATE_NOT_NEEDED:
        raise ValueError(f"{path} has no custom code")
    raise ConsentRequired(f"{path} needs its own Python code to run; it runs only after you allow it in the Config tab")


def load_custom_config(path: str | os.PathLike, store: ConsentStore | None = None):
    """The checkpoint's config through its own configuration class; ConsentRequired without consent."""
    path = os.fspath(path)
    trusted = _require_consent(path, store)
    from explorer.core.torch_import import import_transformers

    import_transformers()  # first: it points HF_MODULES_CACHE at the app's cache
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path, trust_remote_code=trusted, local_files_only=True)


def load_custom_class(path: str | os.PathLike, auto_class: str, store: ConsentStore | None = None):
    """The class ``auto_map[auto_class]`` names (not instantiated); ConsentRequired without consent."""
    path = os.fspath(path)
    _require_consent(path, store)
    auto_map = _read_auto_map(os.path.realpath(path))
    ref = auto_map.get(auto_class)
    if isinstance(ref, (list, tuple)):
        ref = next((r for r in reversed(ref) if isinstance(r, str) and r), None)
    if not isinstance(ref, str) or not ref:
        raise KeyError(f"auto_map has no entry for {auto_class}")
    from explorer.core.torch_import import import_transformers

    import_transformers()  # first: it points HF_MODULES_CACHE at the app's cache
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    return get_class_from_dynamic_module(ref, path, local_files_only=True)


__all__ = [
    "ConsentStore",
    "ConsentStatus",
    "ConsentRequired",
    "CodeFile",
    "STATE_NOT_NEEDED",
    "STATE_NOT_GRANTED",
    "STATE_GRANTED",
    "STATE_CHANGED",
    "code_file_names",
    "default_store",
    "trust_remote_code_for",
    "load_custom_config",
    "load_custom_class",
]
