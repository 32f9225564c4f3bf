"""Consent to run a checkpoint's own Python code (``auto_map``, ``*.py`` files).

transformers runs a checkpoint's code when ``trust_remote_code`` is true. The explorer passes
that only when the user has consented to the exact code that is on disk now: a record holds
the checkpoint's real path and the SHA-256 of each code file. When a file changes, appears
or disappears, the record no longer matches and the user is asked again.

Consent covers every Python file in the checkpoint's folder tree, not only the ones
``auto_map`` names: with ``trust_remote_code`` transformers also imports the files those
import and ``custom_generate/generate.py``. And transformers never reads the code from the
checkpoint itself: ``code_access`` hands it a view in the app's cache holding copies of
exactly the approved bytes (``explorer.core.code_view``), so code changed between the check
and the import cannot run.

Nothing here imports the checkpoint's code. ``code_access`` is the only door to it, and
``load_custom_config`` / ``load_custom_class`` go through it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.core import paths
from explorer.core.atomic import file_identity, set_aside, write_text_atomically
from explorer.core.code_view import MAX_CODE_FILE_BYTES, CodeChanged, build_code_view
from explorer.core.safe_io import UnreadableFile, open_regular, read_json

STORE_VERSION = 1
MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_STORE_BYTES = 16 * 1024 * 1024
# A checkpoint's code is a handful of files; the walk that finds them stays bounded on a folder
# that is not one (a whole project tree added by mistake).
MAX_CODE_FILES = 500
# Hashing runs when a checkpoint is selected; real checkpoints ship well under a megabyte of code.
MAX_CODE_TOTAL_BYTES = 32 * 1024 * 1024
MAX_CODE_DEPTH = 4
SKIPPED_CODE_FOLDERS = frozenset({"__pycache__", ".git", ".venv", "venv", "node_modules"})

# What transformers accepts in auto_map: 'module.Class', or 'repo_id--module.Class' for code
# kept in another repository. Anything else ('../outside.Thing') is not code of this checkpoint.
LOCAL_REFERENCE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\Z")
UPSTREAM_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?--[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\Z")

STATE_NOT_NEEDED = "not-needed"  # no custom code at all
STATE_NOT_GRANTED = "not-granted"
STATE_GRANTED = "granted"
STATE_CHANGED = "changed"  # granted once, but the code on disk is no longer what was approved


class ConsentRequired(PermissionError):
    """Raised instead of running a checkpoint's code the user has not approved."""


@dataclass(slots=True)
class CodeFile:
    name: str
    path: str | None  # None when the file is named (auto_map) but missing or cannot be read
    sha256: str | None
    size: int | None
    problem: str | None = None  # why it cannot be read (a FIFO, too large...): such code cannot be approved


@dataclass(slots=True)
class ConsentStatus:
    path: str  # real path of the checkpoint folder: the key of the record
    state: str
    files: list[CodeFile] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)  # differ from, or are absent in, the record
    missing_files: list[str] = field(default_factory=list)  # named in auto_map but not on disk
    upstream_refs: list[str] = field(default_factory=list)  # auto_map "repo--module.Class": code from another repo
    granted_at: float | None = None
    # What stands in the way of consent: unreadable code, auto_map entries that point outside,
    # a damaged or newer consent store. Shown to the user; a status with problems is never granted.
    problems: list[str] = field(default_factory=list)

    @property
    def needs_code(self) -> bool:
        return self.state != STATE_NOT_NEEDED

    @property
    def granted(self) -> bool:
        return self.state == STATE_GRANTED

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "files": [
                {"name": f.name, "sha256": f.sha256, "size": f.size, "missing": f.path is None, "problem": f.problem} for f in self.files
            ],
            "changed_files": list(self.changed_files),
            "missing_files": list(self.missing_files),
            "upstream_refs": list(self.upstream_refs),
            "granted_at": self.granted_at,
            "problems": list(self.problems),
        }


# --------------------------------------------------------------------------- which files are code


def _read_auto_map(folder: str) -> dict:
    try:
        config = read_json(os.path.join(folder, "config.json"), "config.json", MAX_CONFIG_BYTES)
    except UnreadableFile:
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
    """'modeling_x.XModel' -> 'modeling_x.py'; None for references to another repository or not to a module."""
    if not LOCAL_REFERENCE.match(ref):
        return None
    return ref.partition(".")[0] + ".py"


def invalid_references(auto_map: dict) -> list[str]:
    """auto_map entries that name neither a module of this checkpoint nor another repository's code."""
    return sorted({ref for ref in auto_map_references(auto_map) if not LOCAL_REFERENCE.match(ref) and not UPSTREAM_REFERENCE.match(ref)})


def _python_files(folder: str) -> tuple[list[str], list[str]]:
    """('/'-separated names of every .py file in the folder tree, problems); links followed, loops and depth bounded."""
    names: list[str] = []
    problems: list[str] = []
    try:
        root = os.stat(folder)
    except OSError:
        return names, problems
    pending = [(folder, "", 0, ((root.st_dev, root.st_ino),))]
    while pending:
        directory, prefix, depth, ancestors = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = prefix + entry.name
            if entry.name.endswith(".py"):
                names.append(name)
                if len(names) > MAX_CODE_FILES:
                    problems.append(f"more than {MAX_CODE_FILES} Python files in this folder: too many to review, so consent cannot be given")
                    return names[:MAX_CODE_FILES], problems
                continue
            if entry.name in SKIPPED_CODE_FOLDERS or entry.name.startswith("."):
                continue
            try:
                if not entry.is_dir():
                    continue
                st = entry.stat()
            except OSError:
                continue
            identity = (st.st_dev, st.st_ino)
            if identity in ancestors or depth + 1 > MAX_CODE_DEPTH:
                continue
            pending.append((entry.path, name + "/", depth + 1, ancestors + (identity,)))
    return names, problems


def code_file_names(folder: str, auto_map: dict | None = None) -> tuple[list[str], list[str]]:
    """(code files the checkpoint's code consists of, auto_map references to other repositories)."""
    if auto_map is None:
        auto_map = _read_auto_map(folder)
    names = set(_python_files(folder)[0])
    upstream: list[str] = []
    for ref in auto_map_references(auto_map):
        file_name = module_file_of(ref)
        if file_name is not None:
            names.add(file_name)
        elif UPSTREAM_REFERENCE.match(ref):
            upstream.append(ref)
    return sorted(names), sorted(set(upstream))


def _sha256(path: str, name: str) -> tuple[str, int]:
    """Digest and size of a regular file; UnreadableFile for a FIFO, device, folder or a file too large to be code."""
    digest = hashlib.sha256()
    size = 0
    with open_regular(path, name) as handle:
        while True:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_CODE_FILE_BYTES:
                raise UnreadableFile(f"{name} is larger than {MAX_CODE_FILE_BYTES // (1024 * 1024)} MiB, too large to review as code")
            digest.update(chunk)
    return digest.hexdigest(), size


def code_files(folder: str, auto_map: dict | None = None) -> tuple[list[CodeFile], list[str]]:
    """Each code file with its digest. Hashing stops past MAX_CODE_TOTAL_BYTES: the Demo tab asks on selection."""
    names, upstream = code_file_names(folder, auto_map)
    files = []
    hashed = 0
    for name in names:
        path = os.path.join(folder, *name.split("/"))
        if hashed > MAX_CODE_TOTAL_BYTES:
            files.append(CodeFile(name=name, path=None, sha256=None, size=None, problem=(
                f"{name} was not read: this checkpoint's code is more than {MAX_CODE_TOTAL_BYTES // (1024 * 1024)} MiB in all, "
                "more than anyone can review, so consent cannot be given"
            )))
            continue
        try:
            sha, size = _sha256(path, name)
            hashed += size
            files.append(CodeFile(name=name, path=path, sha256=sha, size=size))
        except UnreadableFile as exc:
            problem = None if exc.missing else str(exc)
            files.append(CodeFile(name=name, path=None, sha256=None, size=None, problem=problem))
    return files, upstream


# --------------------------------------------------------------------------- the store


class ConsentStoreError(PermissionError):
    """The consent records cannot be changed (written by a newer version); the message says so."""


@dataclass(slots=True)
class _StoreFile:
    """What the store file holds: the whole document (unknown fields kept), its records, and what is wrong with it."""

    document: dict[str, Any]
    records: dict[str, Any]
    problem: str | None = None  # shown with every status: the records could not all be used
    newer: bool = False  # written by a newer version: read-only here
    damaged: bool = False  # set aside (never overwritten) at the next write
    identity: tuple | None = None  # of the file as read: a file another process replaced since is not set aside


class ConsentStore:
    """Consent records in a JSON file (default: the app's data dir), written atomically.

    A damaged file grants nothing and is set aside under a new name (never overwritten) when
    consent is next recorded. A file written by a newer version grants nothing here and is
    never rewritten: that version may record things this one does not know (a revocation).
    Fields this version does not know are kept when it rewrites a file of its own version.
    """

    def __init__(self, file: str | os.PathLike | None = None) -> None:
        self._file = Path(file) if file is not None else None

    @property
    def file(self) -> Path:
        return self._file if self._file is not None else paths.consent_file()

    def _read(self) -> _StoreFile:
        identity = file_identity(self.file)
        store = self._parse()
        store.identity = identity
        return store

    def _parse(self) -> _StoreFile:
        try:
            data = read_json(self.file, f"the consent records file {self.file}", MAX_STORE_BYTES)
        except UnreadableFile as exc:
            if exc.missing:
                return _StoreFile({}, {})
            return _StoreFile({}, {}, f"{exc}; no consent is in effect, and the file will be set aside when you next allow code", damaged=True)
        if not isinstance(data, dict):
            return _StoreFile({}, {}, f"the consent records file {self.file} is damaged (not a JSON object); no consent is in effect", damaged=True)
        version = data.get("version", 1)
        if type(version) is not int or version < 1:
            return _StoreFile({}, {}, f"the consent records file {self.file} is damaged (no valid version); no consent is in effect", damaged=True)
        if version > STORE_VERSION:
            return _StoreFile(
                data, {},
                f"the consent records in {self.file} were written by a newer version of Model Explorer (format {version}); "
                "this version does not use or change them",
                newer=True,
            )
        records = data.get("checkpoints")
        if not isinstance(records, dict):
            return _StoreFile(data, {}, f"the consent records file {self.file} is damaged (no records); no consent is in effect", damaged=True)
        return _StoreFile(data, records)

    def _load(self) -> dict[str, Any]:
        return self._read().records

    def _write(self, change) -> None:
        """Apply ``change(records)`` to the file's records and write the document back, unknown fields kept."""
        current = self._read()
        if current.newer:
            raise ConsentStoreError(current.problem or "the consent records were written by a newer version")
        if current.damaged and self.file.exists():
            aside = set_aside(self.file, current.identity, "damaged")
            if aside is None:
                raise ConsentStoreError(f"the damaged consent records file {self.file} could not be set aside; nothing was changed")
        document = dict(current.document)
        records = dict(current.records)
        change(records)
        document["version"] = STORE_VERSION
        document["checkpoints"] = records
        write_text_atomically(self.file, json.dumps(document, indent=2, sort_keys=True))

    @staticmethod
    def key(path: str | os.PathLike) -> str:
        return os.path.realpath(os.fspath(path))

    def status(self, path: str | os.PathLike, auto_map: dict | None = None) -> ConsentStatus:
        key = self.key(path)
        if auto_map is None:
            auto_map = _read_auto_map(key)
        files, upstream = code_files(key, auto_map)
        status = ConsentStatus(path=key, state=STATE_NOT_NEEDED, files=files, upstream_refs=upstream)
        status.missing_files = [f.name for f in files if f.path is None and f.problem is None]
        invalid = invalid_references(auto_map)
        status.problems += [
            f"auto_map names {ref!r}, which is not a module of this checkpoint ('module.Class') nor code of another "
            "repository ('org/name--module.Class'); it is never read or run"
            for ref in invalid
        ]
        status.problems += [f.problem for f in files if f.problem]
        status.problems += _python_files(key)[1]
        if not files and not upstream:
            status.state = STATE_NOT_NEEDED if not invalid else STATE_NOT_GRANTED
            return status
        store = self._read()
        if store.problem:
            status.problems.append(store.problem)
        record = store.records.get(key)
        if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
            status.state = STATE_NOT_GRANTED
            return status
        approved: dict = record["files"]
        granted_at = record.get("granted_at")
        status.granted_at = granted_at if type(granted_at) in (int, float) else None
        current = {f.name: f.sha256 for f in files if f.sha256 is not None}
        status.changed_files = sorted(
            {n for n, sha in current.items() if approved.get(n) != sha} | {n for n in approved if n not in current}
            | {f.name for f in files if f.problem}
        )
        same_upstream = sorted(record.get("upstream_refs") or []) == upstream if isinstance(record.get("upstream_refs") or [], list) else False
        granted = not status.changed_files and same_upstream and not invalid
        status.state = STATE_GRANTED if granted else STATE_CHANGED
        return status

    def trust_remote_code_for(self, path: str | os.PathLike) -> bool:
        """True only if the user consented to exactly the code files on disk now."""
        return self.status(path).state == STATE_GRANTED

    def grant(self, path: str | os.PathLike) -> ConsentStatus:
        """Record consent to the code files as they are now (hashes taken at this moment).

        Refused (ValueError) when some code cannot be read or auto_map points outside the
        checkpoint: consent to code nobody could review would mean nothing.
        """
        key = self.key(path)
        before = self.status(key)
        if not before.needs_code:
            raise ValueError(f"{key} has no custom code to consent to")
        blocking = [p for p in before.problems if "consent records" not in p]
        if blocking:
            raise ValueError(f"the code of {key} cannot be allowed: {blocking[0]}")
        files, upstream = code_files(key)

        def record(records: dict[str, Any]) -> None:
            records[key] = {
                "files": {f.name: f.sha256 for f in files if f.sha256 is not None},
                "upstream_refs": upstream,
                "granted_at": time.time(),
            }

        self._write(record)
        return self.status(key)

    def revoke(self, path: str | os.PathLike) -> None:
        key = self.key(path)
        current = self._read()
        if current.newer:  # the newer version may still grant it: say so rather than seem to revoke
            raise ConsentStoreError(current.problem or "the consent records were written by a newer version")
        if key in current.records:
            self._write(lambda records: records.pop(key, None))

    def granted_paths(self) -> list[str]:
        return sorted(self._load())

    def approved_files(self, path: str | os.PathLike) -> dict[str, str] | None:
        """name -> SHA-256 of the code the user approved for this checkpoint, when the approval holds now."""
        status = self.status(path)
        if status.state != STATE_GRANTED:
            return None
        return {f.name: f.sha256 for f in status.files if f.sha256 is not None}


def default_store() -> ConsentStore:
    """The store in the app's data dir (resolved at each call, so MODEL_EXPLORER_HOME applies)."""
    return ConsentStore()


def trust_remote_code_for(path: str | os.PathLike) -> bool:
    """Whether the user approved exactly the code on disk now (for display and scripts; loading goes through code_access)."""
    return default_store().trust_remote_code_for(path)


# --------------------------------------------------------------------------- doors to the code


@dataclass(frozen=True, slots=True)
class CodeAccess:
    """What to hand transformers for a checkpoint: the folder to load from and trust_remote_code."""

    path: str
    trust_remote_code: bool


def code_access(path: str | os.PathLike, store: ConsentStore | None = None) -> CodeAccess:
    """The checkpoint itself without trust, or, with consent, a view holding copies of exactly the approved code.

    Raises ConsentRequired when the code changed between the check and the copy.
    """
    path = os.fspath(path)
    approved = (store or default_store()).approved_files(path)
    if approved is None:
        return CodeAccess(path, False)
    try:
        return CodeAccess(build_code_view(os.path.realpath(path), approved), True)
    except CodeChanged as exc:
        raise ConsentRequired(str(exc)) from None


def _require_consent(path: str, store: ConsentStore | None) -> CodeAccess:
    """The view to load the approved code from; raises when the record does not allow the code on disk now."""
    store = store or default_store()
    status = store.status(path)
    if status.state == STATE_GRANTED:
        access = code_access(path, store)
        if access.trust_remote_code:
            return access
        raise ConsentRequired(f"the custom code of {path} changed since you allowed it; allow it again to run it")
    if status.state == STATE_CHANGED:
        raise ConsentRequired(
            f"the custom code of {path} changed since you allowed it ({', '.join(status.changed_files) or 'upstream code'}); allow it again to run it"
        )
    if status.state == STATE_NOT_NEEDED:
        raise ValueError(f"{path} has no custom code")
    raise ConsentRequired(f"{path} needs its own Python code to run; it runs only after you allow it in the Config tab")


def load_custom_config(path: str | os.PathLike, store: ConsentStore | None = None):
    """The checkpoint's config through its own configuration class; ConsentRequired without consent."""
    access = _require_consent(os.fspath(path), store)
    from explorer.core.torch_import import import_transformers

    import_transformers()  # first: it points HF_MODULES_CACHE at the app's cache
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(access.path, trust_remote_code=True, local_files_only=True)


def load_custom_class(path: str | os.PathLike, auto_class: str, store: ConsentStore | None = None):
    """The class ``auto_map[auto_class]`` names (not instantiated); ConsentRequired without consent."""
    access = _require_consent(os.fspath(path), store)
    auto_map = _read_auto_map(access.path)
    ref = auto_map.get(auto_class)
    if isinstance(ref, (list, tuple)):
        ref = next((r for r in reversed(ref) if isinstance(r, str) and r), None)
    if not isinstance(ref, str) or not ref:
        raise KeyError(f"auto_map has no entry for {auto_class}")
    from explorer.core.torch_import import import_transformers

    import_transformers()  # first: it points HF_MODULES_CACHE at the app's cache
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    return get_class_from_dynamic_module(ref, access.path, local_files_only=True)


__all__ = [
    "CodeAccess",
    "ConsentStoreError",
    "code_access",
    "invalid_references",
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
