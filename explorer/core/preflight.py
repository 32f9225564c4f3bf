"""Before a checkpoint is handed to transformers: what would make the load hang, crash or mislead.

transformers, tokenizers and safetensors open a checkpoint's files with blocking reads, parse
them with their own limits, and report trouble in their own words (a Rust deserializer's
column number, torch's advice to turn safety off). The explorer's readers are bounded, never
block, and say what is wrong in terms a user can act on; so a load first asks them. When they
find nothing, transformers loads as usual and its own errors still reach the user.
"""

from __future__ import annotations

import os

from explorer.core.config_limits import implausible_size, number_problems
from explorer.core.safe_io import blocking_entries


def load_blocker(path: str, need_weights: bool = True, overrides: dict | None = None) -> str | None:
    """The first reason not to hand ``path`` to transformers, as one line for the user; None when there is none.

    ``overrides`` are the config values the user sets at load time (checked for absurd sizes too).
    Reads headers and config.json only: cheap next to the load it guards.
    """
    blocking = blocking_entries(path)
    if blocking:
        return (
            f"{', '.join(blocking[:3])} in this checkpoint {'is' if len(blocking) == 1 else 'are'} not a regular file "
            "(a FIFO, socket or device): transformers would wait on it forever, so nothing is loaded"
        )
    if overrides:
        too_large = implausible_size(dict(overrides), "your config override")
        if too_large:
            return too_large
    config_problem = _config_blocker(path) or _generation_config_blocker(path) or _chat_template_blocker(path)
    if config_problem:
        return config_problem
    if need_weights:
        return _weights_blocker(path)
    return None


def _config_blocker(path: str) -> str | None:
    from explorer.core.discovery import read_config_file

    try:
        config = read_config_file(os.path.join(path, "config.json"))
    except FileNotFoundError:
        return None  # transformers says that itself, with the files it looked for
    except (OSError, ValueError) as exc:
        return str(exc)
    numbers = number_problems(config)
    if numbers:
        return numbers[0]
    return implausible_size(config)


# A real generation_config.json holds tens of values (a few thousand with long bad-word lists);
# transformers copies the whole config at every generate() call and never returns from a huge one.
GENERATION_CONFIG_BYTES = 1024 * 1024
GENERATION_CONFIG_VALUES = 20_000


def _generation_config_blocker(path: str) -> str | None:
    from explorer.core.safe_io import UnreadableFile, read_json

    file = os.path.join(path, "generation_config.json")
    if not os.path.lexists(file):
        return None
    try:
        read_json(file, "generation_config.json", GENERATION_CONFIG_BYTES, max_values=GENERATION_CONFIG_VALUES)
    except UnreadableFile as exc:
        if "not valid JSON" in str(exc) or "not UTF-8" in str(exc):
            return None  # transformers falls back to config.json's generation values, and so does the app
        return str(exc)
    return None


def _chat_template_blocker(path: str) -> str | None:
    """A template file past the bound: AutoTokenizer would read the whole of it, before any of our checks."""
    from explorer.core.chat_templates import MAX_TEMPLATE_BYTES, TEMPLATE_DIR
    from explorer.core.safe_io import human_size

    candidates = [os.path.join(path, "chat_template.jinja")]
    folder = os.path.join(path, TEMPLATE_DIR)
    if os.path.isdir(folder):
        try:
            candidates += [os.path.join(folder, name) for name in sorted(os.listdir(folder))[:1000] if name.endswith(".jinja")]
        except OSError:
            return None  # transformers says why it cannot list it
    for file in candidates:
        try:
            size = os.stat(file).st_size
        except OSError:
            continue
        if size > MAX_TEMPLATE_BYTES:
            name = os.path.relpath(file, path)
            return f"{name} is {human_size(size)}, more than the {human_size(MAX_TEMPLATE_BYTES)} a chat template can sensibly hold; nothing is loaded"
    return None


def _weights_blocker(path: str) -> str | None:
    """A weight file the explorer's own reader refuses (a forged header, a pickle bomb, a truncated zip)."""
    from explorer.core.tensors_on_disk import read_disk_tensors

    disk = read_disk_tensors(path)
    if disk.format is None:
        # No weights transformers could load: the reader says why (links that loop, no files at all).
        return disk.problems[0] if disk.problems else None
    if disk.unreadable:
        first = next((p for p in disk.problems if p.startswith(disk.unreadable[0])), None)
        return first or f"{disk.unreadable[0]} cannot be read"
    return None


__all__ = ["load_blocker"]
