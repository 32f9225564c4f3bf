"""What one checkpoint is, from the files a listing found: config.json, safetensors headers, markers.

``read_config_file`` reads config.json as transformers does (UTF-8, no byte-order mark) and
under the one reading rule (bounded, non-blocking); ``describe_checkpoint`` fills a scan's
record from the listing. Nothing imports torch or transformers.
"""

from __future__ import annotations

import codecs
import os
import stat as stat_module

from explorer.core.adapters import ADAPTER_CONFIG, adapter_config_from, MAX_ADAPTER_CONFIG_BYTES, MAX_ADAPTER_CONFIG_VALUES
from explorer.core.checkpoint import FORMAT_ADAPTER, TOKENIZER_FILES, Checkpoint
from explorer.core.safe_io import UnreadableFile, parse_json
from explorer.core.safetensors_index import summarize_safetensors
from explorer.core.transformers_tables import known_model_types

MAX_CONFIG_BYTES = 16 * 1024 * 1024
# The largest real configs hold label tables of some 20,000 classes (id2label and label2id,
# 40,000 values); ten times that is still a model config, 850,000 keys is not.
MAX_CONFIG_VALUES = 400_000
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf")


# Never block on a FIFO or device that someone named config.json.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _read_small_file(path: str, limit: int) -> bytes:
    """Up to ``limit`` bytes (at most 16 MiB) of a regular file, with the fewest system calls.

    One read: a regular file's read comes back short only at its end, so reading again to
    hear "nothing more" would double the reads of a scan (a ref and a config per revision).
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


_BYTE_ORDER_MARKS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # UTF-32 LE starts like UTF-16 LE


class ConfigUnreadable(ValueError):
    """config.json exists but cannot be used; the message says why, for the user."""


def read_config_file(path: str) -> dict:
    """A checkpoint's config.json read as the scan reads it: never blocking on a FIFO, bounded, validated.

    Raises FileNotFoundError when there is none, ConfigUnreadable for everything else.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigUnreadable(f"config.json cannot be read ({exc.strerror or exc})") from None
    if not stat_module.S_ISREG(st.st_mode):
        raise ConfigUnreadable("config.json is not a regular file (a folder, FIFO, socket or device); not read")
    problems: list[str] = []
    config = _read_config(path, st.st_size, problems)
    if config is None:
        raise ConfigUnreadable(problems[0] if problems else "config.json cannot be read")
    return config


def _read_config(path: str, size: int | None, problems: list[str]) -> dict | None:
    if size is not None and size > MAX_CONFIG_BYTES:
        problems.append(f"config.json is {size // (1024 * 1024)} MiB, too large to be a model config; not read")
        return None
    try:
        # The listing gave the size: asking for that (+1 to see growth) avoids a 16 MiB buffer per read.
        raw = _read_small_file(path, size + 1 if size is not None else MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        problems.append(f"config.json cannot be read ({exc.strerror or exc})")
        return None
    if len(raw) > MAX_CONFIG_BYTES:
        problems.append("config.json is larger than 16 MiB, too large to be a model config; not read")
        return None
    if not raw.strip():
        problems.append("config.json is empty (or not a regular file)")
        return None
    if raw.startswith(_BYTE_ORDER_MARKS):
        # json.loads would read these; transformers, which reads the file as UTF-8 text, refuses them.
        encoding = "UTF-8 with a byte-order mark" if raw.startswith(codecs.BOM_UTF8) else "UTF-16 or UTF-32 text"
        problems.append(f"config.json is {encoding}, which transformers cannot read: save it as plain UTF-8")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"config.json is not UTF-8 text, which transformers requires ({exc.reason} at byte {exc.start})")
        return None
    try:
        config = parse_json(text, "config.json", max_values=MAX_CONFIG_VALUES)
    except UnreadableFile as exc:
        problems.append(str(exc))
        return None
    if not isinstance(config, dict):
        problems.append("config.json is not a JSON object")
        return None
    return config


# How describe_checkpoint sorts a checkpoint's top-level files: one dict lookup by name, then
# one by extension, instead of a chain of endswith tests per file (a scan sees thousands).
_SAFETENSORS, _OTHER_WEIGHTS, _TOKENIZER, _CONFIG, _JSON, _CODE, _CARD, _ADAPTER_CONFIG = range(8)
_KIND_BY_NAME = {
    **dict.fromkeys(TOKENIZER_FILES, _TOKENIZER), "config.json": _CONFIG, "README.md": _CARD, ADAPTER_CONFIG: _ADAPTER_CONFIG
}
_KIND_BY_EXTENSION = {
    **dict.fromkeys(WEIGHT_SUFFIXES, _OTHER_WEIGHTS),
    ".safetensors": _SAFETENSORS,
    ".json": _JSON,
    ".py": _CODE,
}


def identity_of(config: dict) -> tuple[str | None, list[str], list[str]]:
    """(model_type, architectures, problems) as every reader of config.json takes them.

    model_type must be text; architectures a list of class names, of which only the text
    entries count. Anything else is said as a problem rather than passed on.
    """
    problems: list[str] = []
    model_type = config.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        problems.append(f"config.json: model_type should be a string, found {type(model_type).__name__}")
        model_type = None
    raw_architectures = config.get("architectures")
    architectures: list[str] = []
    if isinstance(raw_architectures, list):
        architectures = [a for a in raw_architectures if isinstance(a, str) and a]
        if len(architectures) != len(raw_architectures):
            problems.append("config.json: architectures should list class names; some entries are empty or not text")
    elif raw_architectures is not None:
        problems.append(f"config.json: architectures should be a list of class names, found {type(raw_architectures).__name__}")
    return model_type, architectures, problems


def describe_checkpoint(ckpt: Checkpoint, check_model_type: bool = True, read_once: dict | None = None) -> Checkpoint:
    """Fill model facts from the files already listed on ``ckpt`` (config, headers, markers).

    ``read_once``, a dict kept by the caller over one scan, lets weight files whose content
    (device, inode, size) was already read for another revision be counted from memory.
    """
    weights: dict[str, str] = {}  # safetensors files and indexes whose content is there -> readable path
    # Sizes and content identities only for the files the weights summary reads.
    sizes: dict[str, int] = {}
    contents: dict[str, tuple] = {}
    remote_code: list[str] = []
    pickle_files: dict[str, str] = {}  # .bin weights and their index, counted when there are no safetensors
    pickle_contents: dict[str, tuple] = {}
    has_tokenizer = has_weights = has_model_card = False
    config_entry = adapter_entry = None
    kind_by_name = _KIND_BY_NAME.get
    kind_by_extension = _KIND_BY_EXTENSION.get
    for f in ckpt.files:
        name = f.name
        kind = kind_by_name(name)
        if kind is None:
            dot = name.rfind(".")
            if dot < 0 or "/" in name:
                continue
            kind = kind_by_extension(name[dot:])
            if kind == _JSON and name.endswith(".bin.index.json") and f.size is not None:
                pickle_files[name] = f.path
                continue
            if kind is None or (kind == _JSON and not name.endswith(".safetensors.index.json")):
                continue
        if kind == _SAFETENSORS or kind == _JSON:  # weights, or the index of sharded weights
            has_weights = has_weights or kind == _SAFETENSORS
            size = f.size
            if size is not None:
                weights[name] = f.path
                sizes[name] = size
                if f.content is not None:
                    contents[name] = (*f.content, size)
        elif kind == _TOKENIZER:
            has_tokenizer = True
        elif kind == _CONFIG:
            config_entry = f
        elif kind == _OTHER_WEIGHTS:
            has_weights = True
            if name.endswith(".bin") and f.size is not None:
                pickle_files[name] = f.path
                if f.content is not None:
                    pickle_contents[name] = (*f.content, f.size)
        elif kind == _CODE:
            remote_code.append(name)
        elif kind == _ADAPTER_CONFIG:
            adapter_entry = f
        else:
            has_model_card = True
    ckpt.has_tokenizer = has_tokenizer
    ckpt.has_model_card = has_model_card
    if config_entry is None and adapter_entry is not None:
        return _describe_adapter(ckpt, adapter_entry, weights, sizes, contents, read_once, pickle_files)
    if config_entry is None:
        ckpt.problems.append("no config.json: the Auto classes cannot resolve this checkpoint")
    elif config_entry.size is None:
        # The listing has already said why when config.json is there but is no regular file (a FIFO, a link loop).
        if not any(p.startswith("config.json:") for p in ckpt.problems):
            ckpt.problems.append("config.json is missing its content (broken link or interrupted download)")
    else:
        config = _read_config(config_entry.path, config_entry.size, ckpt.problems)
        if config is not None:
            ckpt.model_type, ckpt.architectures, found = identity_of(config)
            ckpt.problems.extend(found)
            if isinstance(config.get("auto_map"), dict):
                ckpt.needs_remote_code = True
            if ckpt.model_type is None:
                ckpt.problems.append("config.json has no model_type")
            elif check_model_type:
                known = known_model_types()
                if known is not None and ckpt.model_type not in known and not ckpt.needs_remote_code:
                    ckpt.problems.append(
                        f"model_type '{ckpt.model_type}' is unknown to the installed transformers and the checkpoint has no auto_map"
                    )
    ckpt.remote_code_files = sorted(remote_code)
    if remote_code:
        ckpt.needs_remote_code = True
    summary = summarize_safetensors(weights, sizes=sizes, contents=contents, read_once=read_once)
    ckpt.problems.extend(summary.problems)
    ckpt.num_parameters = summary.num_parameters
    ckpt.dtypes = summary.dtypes
    if summary.num_parameters is None and any(name.endswith(".bin") for name in pickle_files):
        from explorer.core.pickle_counts import count_pickle_weights

        counted = count_pickle_weights(pickle_files, pickle_contents)
        ckpt.problems.extend(counted.problems)
        if counted.num_parameters is not None:
            ckpt.num_parameters, ckpt.dtypes = counted.num_parameters, counted.dtypes
    if not has_weights:
        ckpt.problems.append("no weight files (config only)")
    if not ckpt.size_bytes:
        ckpt.size_bytes = sum(f.size or 0 for f in ckpt.files)
    return ckpt


def _describe_adapter(ckpt: Checkpoint, config_entry, weights: dict, sizes: dict, contents: dict, read_once, pickle_files: dict) -> Checkpoint:
    """A PEFT adapter folder: its base model, and the parameter count of its own tensors.

    The base is named as written; whether it is on this machine is the tabs' question (the scan
    has not seen every place yet when it meets an adapter).
    """
    ckpt.format = FORMAT_ADAPTER
    if config_entry.size is None:
        ckpt.problems.append(f"{ADAPTER_CONFIG} is missing its content (broken link or interrupted download)")
    elif config_entry.size > MAX_ADAPTER_CONFIG_BYTES:
        ckpt.problems.append(f"{ADAPTER_CONFIG} is {config_entry.size // 1024} KiB, too large to be an adapter's config; not read")
    else:
        try:
            raw = parse_json(_read_small_file(config_entry.path, config_entry.size + 1), ADAPTER_CONFIG, max_values=MAX_ADAPTER_CONFIG_VALUES)
            adapter = adapter_config_from(raw)
        except OSError as exc:
            ckpt.problems.append(f"{ADAPTER_CONFIG} cannot be read ({exc.strerror or exc})")
        except UnreadableFile as exc:
            ckpt.problems.append(str(exc))
        else:
            ckpt.base_model = adapter.base_model
            if adapter.base_model is None:
                ckpt.problems.append(f"{ADAPTER_CONFIG} names no base model (base_model_name_or_path): peft cannot load it on its own")
    summary = summarize_safetensors(weights, sizes=sizes, contents=contents, read_once=read_once, adapter=True)
    ckpt.problems.extend(summary.problems)
    ckpt.num_parameters, ckpt.dtypes = summary.num_parameters, summary.dtypes
    if summary.num_parameters is None and "adapter_model.bin" in pickle_files:
        from explorer.core.pickle_counts import count_pickle_file

        counted = count_pickle_file(pickle_files["adapter_model.bin"], "adapter_model.bin")
        ckpt.problems.extend(counted.problems)
        ckpt.num_parameters, ckpt.dtypes = counted.num_parameters, counted.dtypes
    elif summary.num_parameters is None and not summary.problems:
        ckpt.problems.append("no adapter weights (adapter_model.safetensors or adapter_model.bin)")
    if not ckpt.size_bytes:
        ckpt.size_bytes = sum(f.size or 0 for f in ckpt.files)
    return ckpt
