"""The Demo tab's last inputs, per checkpoint and task, kept between sessions.

A user comes back to a checkpoint to try the prompt they tried last time, so each run stores
the form's values for (checkpoint folder, task) and selecting that pair again restores them.
The store is a record like the settings: one JSON file in the config folder, written
atomically, bounded (the most recent ``MAX_CHECKPOINTS`` checkpoints; a value too large to be
worth keeping is not kept). Reading never raises: a damaged file or entry is nothing remembered,
and the next run writes a good file in its place. A file written by a newer version is left as
it is (as the settings are), so going back to an older version for a while loses nothing.

Only the shape is checked here (names to JSON values); whether a value still fits its field is
the form's to decide (``Field.convert``), since fields change between versions.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from explorer.core.atomic import write_text_atomically
from explorer.core.paths import config_dir
from explorer.core.safe_io import UnreadableFile, read_json

STORE_VERSION = 1
MAX_CHECKPOINTS = 50
MAX_TASKS_PER_CHECKPOINT = 20
MAX_FIELDS_PER_TASK = 100
# A prompt is a few hundred characters; a pasted book is not an input worth bringing back.
MAX_VALUE_CHARS = 20_000
MAX_TASK_CHARS = 100_000  # one task's values together: a checkpoint's entry stays well under the file's bound
MAX_STORE_BYTES = 4 * 1024 * 1024
MAX_STORE_VALUES = 200_000
MAX_VALUE_DEPTH = 4  # a conversation: a list of turns of text

# The read-modify-write of a run's inputs happens in a worker; two runs in quick succession must not
# lose one another's entry.
_LOCK = threading.Lock()


def inputs_file() -> Path:
    return config_dir() / "demo-inputs.json"


def _key(checkpoint_path: str) -> str:
    return os.path.abspath(checkpoint_path)


def _is_json_value(value: Any, depth: int = 0) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if depth >= MAX_VALUE_DEPTH:
        return False
    if isinstance(value, list):
        return all(_is_json_value(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_value(v, depth + 1) for k, v in value.items())
    return False


def _kept(values: dict[str, Any]) -> dict[str, Any]:
    """The values worth keeping: plain JSON, each and all together within their budgets."""
    kept, budget = {}, MAX_TASK_CHARS
    for name, value in list(values.items())[:MAX_FIELDS_PER_TASK]:
        if not isinstance(name, str) or not _is_json_value(value):
            continue
        size = len(json.dumps(value, ensure_ascii=False))
        if size <= MAX_VALUE_CHARS and size <= budget:
            kept[name] = value
            budget -= size
    return kept


def _valid_task_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and len(entry) <= MAX_FIELDS_PER_TASK
        and all(isinstance(name, str) and _is_json_value(value) for name, value in entry.items())
    )


def _read_store(path: Path) -> tuple[list[dict], bool]:
    """The checkpoints' entries (most recent first, damaged ones left out), and whether the file may be written."""
    try:
        data = read_json(path, "the demo inputs file", MAX_STORE_BYTES, max_values=MAX_STORE_VALUES)
    except UnreadableFile:
        return [], True  # missing or damaged: nothing remembered; the next run writes a good file
    if not isinstance(data, dict):
        return [], True
    version = data.get("version")
    if type(version) is int and version > STORE_VERSION:
        return [], False
    checkpoints = data.get("checkpoints")
    if not isinstance(checkpoints, list):
        return [], True
    entries = []
    for item in checkpoints[:MAX_CHECKPOINTS]:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not isinstance(item.get("tasks"), dict):
            continue
        tasks = {task: values for task, values in item["tasks"].items() if isinstance(task, str) and _valid_task_entry(values)}
        entries.append({"path": item["path"], "tasks": dict(list(tasks.items())[:MAX_TASKS_PER_CHECKPOINT])})
    return entries, True


def remembered_inputs(checkpoint_path: str, path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The last inputs of each task run on this checkpoint ({} when none, or when the store is unreadable)."""
    entries, _writable = _read_store(path or inputs_file())
    key = _key(checkpoint_path)
    for entry in entries:
        if entry["path"] == key:
            return entry["tasks"]
    return {}


def remember_inputs(checkpoint_path: str, task_id: str, values: dict[str, Any], path: Path | None = None) -> bool:
    """Keep ``values`` (a form's, by field name) as this checkpoint's last inputs for the task.

    Values that are not plain JSON or are too large are left out. False when nothing was written
    (the file belongs to a newer version of the app).
    """
    path = path or inputs_file()
    kept = _kept(values)
    key = _key(checkpoint_path)
    with _LOCK:
        entries, writable = _read_store(path)
        if not writable:
            return False
        previous = next((entry for entry in entries if entry["path"] == key), None)
        tasks = dict(previous["tasks"]) if previous else {}
        tasks.pop(task_id, None)
        tasks = {task_id: kept, **tasks}  # most recent first, so the oldest task is the one dropped
        entry = {"path": key, "tasks": dict(list(tasks.items())[:MAX_TASKS_PER_CHECKPOINT])}
        entries = [entry] + [other for other in entries if other["path"] != key]
        payload = json.dumps({"version": STORE_VERSION, "checkpoints": entries[:MAX_CHECKPOINTS]}, ensure_ascii=False, indent=1)
        while len(payload.encode("utf-8")) > MAX_STORE_BYTES and len(entries) > 1:
            entries = entries[:-1]
            payload = json.dumps({"version": STORE_VERSION, "checkpoints": entries[:MAX_CHECKPOINTS]}, ensure_ascii=False, indent=1)
        write_text_atomically(path, payload)
    return True


__all__ = ["MAX_CHECKPOINTS", "inputs_file", "remember_inputs", "remembered_inputs"]
