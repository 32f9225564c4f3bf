"""Checkpoints the Config tests build on disk: custom code, composite, broken files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

CUSTOM_CONFIG_SOURCE = '''\
from pathlib import Path

from transformers import PretrainedConfig

Path({marker!r}).write_text("configuration code ran")


class TinyCustomConfig(PretrainedConfig):
    model_type = "tiny-custom"

    def __init__(self, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, vocab_size=50, **kwargs):
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.vocab_size = vocab_size
        super().__init__(**kwargs)
'''

CUSTOM_MODEL_SOURCE = '''\
from pathlib import Path

Path({marker!r}).write_text("modeling code ran")


class TinyCustomModel:
    pass


class TinyCustomForCausalLM:
    pass
'''


def write_custom_code_checkpoint(folder: Path, marker: Path) -> Path:
    """A checkpoint whose configuration_x.py and modeling_x.py write ``marker`` when imported."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "configuration_x.py").write_text(CUSTOM_CONFIG_SOURCE.format(marker=str(marker)))
    (folder / "modeling_x.py").write_text(CUSTOM_MODEL_SOURCE.format(marker=str(marker)))
    config = {
        "model_type": "tiny-custom",
        "architectures": ["TinyCustomForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_x.TinyCustomConfig",
            "AutoModel": "modeling_x.TinyCustomModel",
            "AutoModelForCausalLM": "modeling_x.TinyCustomForCausalLM",
        },
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "vocab_size": 50,
        "transformers_version": "5.23.0",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder


def write_config(folder: Path, config) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = config if isinstance(config, str) else json.dumps(config, indent=2)
    (folder / "config.json").write_text(text)
    return folder


def copy_sample(source: Path, dest: Path, edit=None) -> Path:
    """A writable copy of a sample, its config.json passed through ``edit(dict) -> dict``."""
    shutil.copytree(source, dest)
    if edit is not None:
        config = json.loads((dest / "config.json").read_text())
        (dest / "config.json").write_text(json.dumps(edit(config), indent=2))
    return dest


def write_encoder_decoder(folder: Path) -> Path:
    from transformers import BertConfig, EncoderDecoderConfig

    part = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(part, part, architectures=["EncoderDecoderModel"])
    config.save_pretrained(folder)
    return folder


def write_llama_gqa(folder: Path) -> Path:
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rope_scaling={"rope_type": "linear", "factor": 4.0},
        architectures=["LlamaForCausalLM"],
    ).save_pretrained(folder)
    return folder
