"""Builders for the checkpoint formats besides transformers folders, shared by core, task and UI tests.

Each writes real files with the library that owns the format: a LoRA adapter with ``peft`` on a
tiny base the tests built with ``save_pretrained``, GGUF files with ``gguf.GGUFWriter``, and the
on-disk layouts of Ollama's model store and LM Studio's models folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

GGUF_TOKENS = ["<unk>", "<s>", "</s>", "a", "b", "ab"]
GGUF_CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
GGUF_LONG_SCORES = [float(i) for i in range(40)]


def write_lora_adapter(
    base_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    target_modules: tuple[str, ...] = ("c_attn",),
    modules_to_save: tuple[str, ...] | None = None,
    r: int = 4,
    lora_alpha: int = 8,
    base_model: str | None = None,
    task_type: str | None = "CAUSAL_LM",
    seed: int = 0,
) -> Path:
    """A LoRA adapter for the causal LM at ``base_dir``, with weights that change its output.

    peft starts LoRA's B matrices at zero (an adapter that changes nothing); ``init_lora_weights=False``
    gives both matrices random values, as a trained adapter has. ``base_model`` rewrites
    ``base_model_name_or_path`` (a hub id, a missing folder) after peft wrote the real path.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(
        r=r,
        lora_alpha=lora_alpha,
        lora_dropout=0.05,
        target_modules=list(target_modules),
        modules_to_save=list(modules_to_save) if modules_to_save else None,
        init_lora_weights=False,
        task_type=task_type,
        # GPT-2's Conv1D layers store weights transposed; peft would warn and set this itself.
        fan_in_fan_out=model.config.model_type == "gpt2",
    )
    out = Path(out_dir)
    with warnings.catch_warnings():
        # peft asks transformers' deprecated is_gradient_checkpointing (a FutureWarning between the two libraries).
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        peft_model = get_peft_model(model, config)
        peft_model.save_pretrained(out)
    if base_model is not None:
        config_path = out / "adapter_config.json"
        written = json.loads(config_path.read_text(encoding="utf-8"))
        written["base_model_name_or_path"] = base_model
        config_path.write_text(json.dumps(written, indent=2), encoding="utf-8")
    return out


def write_gguf(path: str | os.PathLike, *, split_max_tensors: int = 0, architecture: str = "llama") -> Path:
    """A small GGUF with F32, F16 and Q8_0 tensors, a tokenizer, a chat template and model facts.

    ``split_max_tensors`` splits it into ``-0000N-of-0000M.gguf`` parts as llama.cpp's gguf-split does.
    Not loadable as a model by transformers (three tensors only): for listing, counting and the tabs.
    """
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize

    writer = GGUFWriter(os.fspath(path), architecture, split_max_tensors=split_max_tensors)
    writer.add_name("Tiny Llama")
    writer.add_context_length(128)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_block_count(1)
    writer.add_rope_freq_base(10000.0)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(GGUF_TOKENS)
    writer.add_array("test.long_scores", GGUF_LONG_SCORES)
    writer.add_chat_template(GGUF_CHAT_TEMPLATE)
    writer.add_quantization_version(2)
    writer.add_bool("test.flag", True)
    rng = np.random.default_rng(0)
    # numpy shapes are PyTorch order (rows, columns); the writer reverses them into ggml's ne[].
    writer.add_tensor("token_embd.weight", rng.standard_normal((6, 64), dtype=np.float32))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(64, dtype=np.float16))
    q8 = quantize(rng.standard_normal((8, 64), dtype=np.float32), GGMLQuantizationType.Q8_0)
    writer.add_tensor("blk.0.attn_q.weight", q8, raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)


OLLAMA_MODEL = "application/vnd.ollama.image.model"
OLLAMA_TEMPLATE = "application/vnd.ollama.image.template"
OLLAMA_PARAMS = "application/vnd.ollama.image.params"
OLLAMA_LICENSE = "application/vnd.ollama.image.license"


def _ollama_blob(root: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    blob = root / "blobs" / f"sha256-{digest}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not blob.exists():
        blob.write_bytes(data)
    return f"sha256:{digest}", len(data)


def write_ollama_model(
    root: str | os.PathLike,
    name: str,
    tag: str,
    gguf_path: str | os.PathLike,
    *,
    host: str = "registry.ollama.ai",
    namespace: str = "library",
    template: str | None = "{{ .Prompt }}",
    params: dict | None = None,
) -> Path:
    """One ``name:tag`` in an Ollama model store at ``root``, as ``ollama pull`` lays it out.

    ``manifests/<host>/<namespace>/<name>/<tag>`` is a Docker-style manifest whose layers name
    blobs by digest; each blob is ``blobs/sha256-<hex>``. Returns the manifest's path.
    """
    root = Path(root)
    layers = []
    digest, size = _ollama_blob(root, Path(gguf_path).read_bytes())
    layers.append({"mediaType": OLLAMA_MODEL, "digest": digest, "size": size})
    if template is not None:
        digest, size = _ollama_blob(root, template.encode())
        layers.append({"mediaType": OLLAMA_TEMPLATE, "digest": digest, "size": size})
    if params is not None:
        digest, size = _ollama_blob(root, json.dumps(params).encode())
        layers.append({"mediaType": OLLAMA_PARAMS, "digest": digest, "size": size})
    config_digest, config_size = _ollama_blob(root, json.dumps({"model_format": "gguf", "model_family": "llama"}).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    }
    manifest_path = root / "manifests" / host / namespace / name / tag
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    return manifest_path


def write_lm_studio_model(root: str | os.PathLike, publisher: str, repo: str, file_name: str = "tiny-Q8_0.gguf") -> Path:
    """``<root>/<publisher>/<repo>/<file>.gguf``, the layout of LM Studio's models folder."""
    path = Path(root) / publisher / repo / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_gguf(path)
