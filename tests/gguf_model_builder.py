"""A GGUF that transformers can load: a tiny Llama built with ``save_pretrained``, written as llama.cpp would.

``write_loadable_gguf`` trains a byte-level BPE tokenizer with ``tokenizers``, builds a tiny
``LlamaForCausalLM`` from a seed, and writes both with ``gguf.GGUFWriter`` under llama.cpp's tensor
names (``gguf.get_tensor_name_map``) and metadata keys, with the query and key rows permuted the
way llama.cpp's converter does (transformers undoes it when it loads). Tensors are F32, F16 and
Q8_0, so loading really dequantises. Returns the GGUF's path and the folder of the original model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TRAINING_TEXT = [
    "the cat sat on the mat and the dog sat on the log",
    "a tiny model writes tiny words about cats and dogs",
    "hello world, hello model, hello explorer",
] * 20


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(TRAINING_TEXT, trainer)
    return tokenizer


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's converter reorders query/key rows for its rotary layout (transformers reverses it)."""
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def write_loadable_gguf(out_dir: str | os.PathLike, name: str = "tiny-llama-Q8_0.gguf", seed: int = 0) -> tuple[Path, Path]:
    import gguf
    import torch
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer()
    vocab = tokenizer.get_vocab()
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    eos = vocab["<|endoftext|>"]
    config = LlamaConfig(
        vocab_size=len(tokens), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        bos_token_id=eos, eos_token_id=eos, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    original = out / "original"
    model.save_pretrained(original)

    path = out / name
    writer = GGUFWriter(os.fspath(path), "llama")
    writer.add_name("Tiny Llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_quantization_version(2)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token == "<|endoftext|>" else 1 for token in tokens])
    writer.add_token_merges([" ".join(pair) for pair in _merges(tokenizer)])
    writer.add_bos_token_id(eos)
    writer.add_eos_token_id(eos)
    writer.add_add_bos_token(False)
    writer.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        base, suffix = hf_name.rsplit(".", 1)
        gguf_name = names.get_name(base) + "." + suffix
        data = tensor.detach().float().numpy()
        if gguf_name.endswith("attn_q.weight"):
            data = _permute(data, config.num_attention_heads)
        elif gguf_name.endswith("attn_k.weight"):
            data = _permute(data, config.num_key_value_heads)
        if data.ndim == 1:
            writer.add_tensor(gguf_name, data.astype(np.float32))
        elif ".ffn_" in gguf_name:
            writer.add_tensor(gguf_name, data.astype(np.float16))
        else:  # rows of 32 or 64 values: whole Q8_0 blocks
            writer.add_tensor(gguf_name, quantize(data, GGMLQuantizationType.Q8_0), raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, original


def _merges(tokenizer) -> list[tuple[str, str]]:
    import json

    model = json.loads(tokenizer.to_str())["model"]
    return [tuple(pair) if isinstance(pair, list) else tuple(pair.split(" ")) for pair in model["merges"]]
