"""Hostile and broken checkpoints, built from scratch as an attacker or an unlucky user would.

Each builder writes one case into a folder and returns the path the user would open. The
tests of each reader use them one by one; ``tests/test_hostile_cli.py`` runs ``scan``,
``inspect`` and ``run`` on every one of them and checks that each exits with a one-line
message, in seconds, without a traceback, writing nothing into what it read.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Callable

# A config transformers reads and builds in milliseconds; the weights cases put their bad file beside it.
TINY_GPT2_CONFIG = {
    "model_type": "gpt2",
    "architectures": ["GPT2LMHeadModel"],
    "n_embd": 8,
    "n_layer": 1,
    "n_head": 2,
    "n_positions": 16,
    "vocab_size": 11,
    "bos_token_id": 0,
    "eos_token_id": 0,
}

_WORDS = ["<|endoftext|>", "the", "capital", "of", "france", "is", "paris", "hi", "a", "b", "[UNK]"]


def write_tokenizer(folder: Path) -> None:
    """A real 11-word tokenizer (the tokenizers library), so that demos get as far as the weights."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({word: index for index, word in enumerate(_WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>", "unk_token": "[UNK]", "model_max_length": 16})
    )


def write_config(folder: Path, config: dict | None = None, **changes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({**(config or TINY_GPT2_CONFIG), **changes}), encoding="utf-8")
    if not (folder / "tokenizer.json").exists():
        write_tokenizer(folder)
    return folder


def safetensors_bytes(entries: dict, data: bytes, raw_header: bytes | None = None) -> bytes:
    """A safetensors file: u64 header length, the header JSON (``raw_header`` verbatim if given), the data."""
    header = raw_header if raw_header is not None else json.dumps(entries, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def _weights_case(folder: Path, entries: dict | None, data: bytes, raw_header: bytes | None = None) -> Path:
    write_config(folder)
    (folder / "model.safetensors").write_bytes(safetensors_bytes(entries or {}, data, raw_header))
    return folder


# --------------------------------------------------------------------------- safetensors headers


def huge_digit_dimensions(folder: Path) -> Path:
    """Two 4,000-digit dimensions in an 8 KB file."""
    big = "9" * 4000
    raw = ('{"w":{"dtype":"F32","shape":[' + big + "," + big + '],"data_offsets":[0,8]}}').encode()
    return _weights_case(folder, None, bytes(8), raw)


def huge_dimensions_tiny_data(folder: Path) -> Path:
    """[2**40, 2**40] over 16 bytes of data: the fast path once counted 4 parameters."""
    return _weights_case(folder, {"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 16]}}, bytes(16))


def negative_dimension(folder: Path) -> Path:
    return _weights_case(folder, {"w": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}}, bytes(16))


def zero_padded_dimension(folder: Path) -> Path:
    """``[0002,2]`` is not JSON (leading zeros), but a byte search reads it as 2."""
    raw = b'{"w":{"dtype":"F32","shape":[0002,2],"data_offsets":[0,16]}}'
    return _weights_case(folder, None, bytes(16), raw)


def overlapping_offsets(folder: Path) -> Path:
    entries = {
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "c": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]},
    }
    return _weights_case(folder, entries, bytes(32))


def unknown_dtype(folder: Path) -> Path:
    return _weights_case(folder, {"w": {"dtype": "F33", "shape": [4], "data_offsets": [0, 16]}}, bytes(16))


def gap_between_tensors(folder: Path) -> Path:
    """Data the header does not account for, between two tensors (safetensors refuses holes)."""
    entries = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
    }
    return _weights_case(folder, entries, bytes(24))


def many_tensors_header(folder: Path, tensors: int = 1_400_000) -> Path:
    """A ~95 MB header of 1.4M one-element tensors."""
    parts = []
    for i in range(tensors):
        parts.append(f'"t{i}":{{"dtype":"F32","shape":[1],"data_offsets":[{4 * i},{4 * i + 4}]}}')
    raw = ("{" + ",".join(parts) + "}").encode()
    return _weights_case(folder, None, bytes(4 * tensors), raw)


def deep_header(folder: Path) -> Path:
    raw = b'{"w":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    return _weights_case(folder, None, b"", raw)


# --------------------------------------------------------------------------- config.json


def absurd_layers(folder: Path, layers: int = 10**12) -> Path:
    return write_config(folder, n_layer=layers)


def config_with_many_keys(folder: Path, keys: int = 850_000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder)
    body = ",".join(f'"k{i}":{i % 10}' for i in range(keys))  # ~13.6 MB for 850,000 keys, as in the report
    config = json.dumps(TINY_GPT2_CONFIG)[:-1] + "," + body + "}"
    (folder / "config.json").write_text(config, encoding="utf-8")
    return folder


def deeply_nested_config(folder: Path, depth: int = 100_000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder)
    nested = '{"a":' * depth + "1" + "}" * depth
    config = json.dumps(TINY_GPT2_CONFIG)[:-1] + ',"deep":' + nested + "}"
    (folder / "config.json").write_text(config, encoding="utf-8")
    return folder


def moderately_nested_config(folder: Path, depth: int = 900) -> Path:
    """Deep enough to pass the JSON parser, deep enough to break any recursive walk after it."""
    return deeply_nested_config(folder, depth)


def config_with_infinity(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder)
    text = json.dumps(TINY_GPT2_CONFIG)[:-1] + ', "n_embd": Infinity, "layer_norm_epsilon": NaN, "n_positions": -Infinity}'
    (folder / "config.json").write_text(text, encoding="utf-8")
    return folder


def huge_number_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder)
    text = json.dumps(TINY_GPT2_CONFIG)[:-1] + ', "vocab_size": ' + "9" * 4000 + ', "n_positions": 1e308}'
    (folder / "config.json").write_text(text, encoding="utf-8")
    return folder


def fifo_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder)
    os.mkfifo(folder / "config.json")
    (folder / "model.safetensors").write_bytes(safetensors_bytes({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)))
    return folder


def architectures_naming_no_class(folder: Path) -> Path:
    return write_config(folder, architectures=["GPT2ForTimeTravel", "", 42])


def symlink_loop_weights(folder: Path) -> Path:
    write_config(folder)
    os.symlink("model.safetensors", folder / "model.safetensors")
    return folder


def symlink_loop_folder(folder: Path) -> Path:
    """A subfolder linking to its parent, and a weight link that loops through two names."""
    write_config(folder)
    os.symlink(".", folder / "again")
    os.symlink("b.safetensors", folder / "a.safetensors")
    os.symlink("a.safetensors", folder / "b.safetensors")
    return folder


# --------------------------------------------------------------------------- custom code


def auto_map_outside(folder: Path) -> Path:
    """auto_map names ``../outside.Thing``: a file beside the checkpoint, not in it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / "outside.py").write_text("raise SystemExit('outside code ran')\n")
    return write_config(folder, auto_map={"AutoConfig": "../outside.Thing", "AutoModel": "..outside.Model"})


def fifo_code(folder: Path) -> Path:
    write_config(folder, auto_map={"AutoModel": "modeling_x.XModel"})
    os.mkfifo(folder / "modeling_x.py")
    return folder


def custom_generate_code(folder: Path, marker: Path) -> Path:
    """Top-level code plus custom_generate/generate.py, which transformers imports too."""
    write_config(folder, auto_map={"AutoConfig": "configuration_x.XConfig"})
    (folder / "configuration_x.py").write_text("from transformers import GPT2Config\n\nclass XConfig(GPT2Config):\n    model_type = 'gpt2'\n")
    (folder / "custom_generate").mkdir()
    (folder / "custom_generate" / "generate.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('generate ran')\n\ndef generate(model, **kwargs):\n    return None\n")
    return folder


def register_injection(folder: Path, marker: Path) -> Path:
    """Code with no auto_map whose model class names its config class with Python in a string."""
    write_config(folder, model_type="injected")
    (folder / "configuration_x.py").write_text(
        "from transformers import PreTrainedConfig\n\nclass InjectedConfig(PreTrainedConfig):\n    model_type = 'injected'\n"
    )
    payload = f"InjectedConfig, None); open({str(marker)!r}, 'w').write('ran'); print(("
    (folder / "modeling_x.py").write_text(
        "from transformers import PreTrainedModel\n\n"
        f"class InjectedModel(PreTrainedModel):\n    config_class = {payload!r}\n"
    )
    return folder


# --------------------------------------------------------------------------- pickles


def _zip_torch_file(path: Path, pickle_bytes: bytes, compress: bool = False) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        archive.writestr("archive/version", "3\n")


def memo_dag_pickle(folder: Path, levels: int = 40) -> Path:
    """A 1.5 KB pickle where each level holds the one below twice, through the memo: 2**40 paths."""
    write_config(folder)
    node: dict = {}
    for _ in range(levels):
        node = {"a": node, "b": node}
    _zip_torch_file(folder / "pytorch_model.bin", pickle.dumps(node, protocol=2))
    return folder


def zip_bomb_bin(folder: Path, inflated: int = 2 * 1024**3) -> Path:
    """A ~2 MB .bin whose data.pkl inflates to 2 GiB."""
    write_config(folder)
    zeros = bytes(64 * 1024 * 1024)
    with zipfile.ZipFile(folder / "pytorch_model.bin", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("archive/data.pkl", "w", force_zip64=True) as handle:
            for _ in range(inflated // len(zeros)):
                handle.write(zeros)
    return folder


def truncated_zip_bin(folder: Path) -> Path:
    write_config(folder)
    buffer = io.BytesIO()
    _zip_torch_file_into(buffer)
    (folder / "pytorch_model.bin").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return folder


def _zip_torch_file_into(buffer: io.BytesIO) -> None:
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": list(range(2000))}, protocol=2))
        archive.writestr("archive/data/0", bytes(4096))


class _Payload:
    """Pickles as a call to os.system: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def malicious_pickle_bin(folder: Path, marker: Path) -> Path:
    write_config(folder)
    _zip_torch_file(folder / "pytorch_model.bin", pickle.dumps({"w": _Payload(marker)}, protocol=2))
    return folder


# --------------------------------------------------------------------------- model cards


def card_device_image(folder: Path) -> Path:
    write_config(folder)
    os.mkfifo(folder / "fifo.png")
    (folder / "README.md").write_text("# Card\n\n![zero](/dev/zero)\n\n![fifo](fifo.png)\n\n![remote](https://example.com/x.png)\n")
    return folder


def card_big_table(folder: Path, size: int = 200 * 1024) -> Path:
    write_config(folder)
    rows = ["| a | b | c | d |", "|---|---|---|---|"]
    while sum(len(r) + 1 for r in rows) < size:
        n = len(rows)
        rows.append(f"| {n} | cell {n} | more {n} | end {n} |")
    (folder / "README.md").write_text("\n".join(rows) + "\n")
    return folder


def card_brackets(folder: Path, size: int = 1024 * 1024) -> Path:
    write_config(folder)
    (folder / "README.md").write_text("[" * size)
    return folder


# --------------------------------------------------------------------------- generation_config.json


def _loadable_model(folder: Path) -> Path:
    """The tiny config with real weights, so a run gets as far as generate()."""
    import transformers

    write_config(folder)
    config = transformers.AutoConfig.from_pretrained(folder)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


def generation_config_many_keys(folder: Path, keys: int = 600_000) -> Path:
    """An 11 MB generation_config.json: transformers copies it at every generate() and never returns."""
    _loadable_model(folder)
    (folder / "generation_config.json").write_text(json.dumps({f"k{i}": i for i in range(keys)}))
    return folder


def generation_config_wrong_types(folder: Path) -> Path:
    """Values of the wrong type and range: the form must still open, a run must say what failed in one line."""
    _loadable_model(folder)
    (folder / "generation_config.json").write_text(
        json.dumps({"temperature": "hot", "do_sample": "yes", "top_k": -5, "bad_words_ids": "x", "eos_token_id": [1e40]})
    )
    return folder


def generation_config_fifo(folder: Path) -> Path:
    _loadable_model(folder)
    (folder / "generation_config.json").unlink()
    os.mkfifo(folder / "generation_config.json")
    return folder


def huge_chat_template(folder: Path) -> Path:
    """A 2 MiB chat_template.jinja: AutoTokenizer reads all of it while loading."""
    _loadable_model(folder)
    (folder / "chat_template.jinja").write_text("{{ messages }}" + " " * (2 * 1024 * 1024))
    return folder


# --------------------------------------------------------------------------- the catalogue for the CLI matrix

# name -> builder(folder) for the cases the command line reads (scan, inspect, run).
CLI_CASES: dict[str, Callable[[Path], Path]] = {
    "huge-digit-dimensions": huge_digit_dimensions,
    "huge-dimensions-tiny-data": huge_dimensions_tiny_data,
    "negative-dimension": negative_dimension,
    "zero-padded-dimension": zero_padded_dimension,
    "overlapping-offsets": overlapping_offsets,
    "unknown-dtype": unknown_dtype,
    "gap-between-tensors": gap_between_tensors,
    "deep-header": deep_header,
    "layers-1e5": lambda f: absurd_layers(f, 10**5),
    "layers-1e12": absurd_layers,
    "deeply-nested-config": deeply_nested_config,
    "moderately-nested-config": moderately_nested_config,
    "config-infinity": config_with_infinity,
    "huge-number-config": huge_number_config,
    "fifo-config": fifo_config,
    "architectures-naming-no-class": architectures_naming_no_class,
    "symlink-loop-weights": symlink_loop_weights,
    "symlink-loop-folder": symlink_loop_folder,
    "auto-map-outside": auto_map_outside,
    "fifo-code": fifo_code,
    "memo-dag-pickle": memo_dag_pickle,
    "truncated-zip": truncated_zip_bin,
    "generation-config-wrong-types": generation_config_wrong_types,
    "generation-config-fifo": generation_config_fifo,
    "huge-chat-template": huge_chat_template,
}

# Cases that take seconds or hundreds of MB to build: run under the slow marker.
SLOW_CLI_CASES: dict[str, Callable[[Path], Path]] = {
    "many-tensors-header": many_tensors_header,
    "config-with-many-keys": config_with_many_keys,
    "zip-bomb-bin": zip_bomb_bin,
    "generation-config-many-keys": generation_config_many_keys,
}
