"""Checkpoints the seed tutorials use that the samples do not cover, built tiny on disk.

Each builder writes a folder the way the tutorial's checkpoint is laid out: the old
``config.json`` + ``pytorch_model.bin`` save, a BERT body without a task head, custom code
with ``auto_map`` (ChatGLM, LTG-BERT), the tutorials' exact config.json files, a hub cache
snapshot. Tokenizers are copied from the samples (real tokenizers, tiny vocabularies).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import itertools
import json
import os
import shutil
import sys
from pathlib import Path

TOKENIZER_FILE_NAMES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

# Seed 001: the bert-base-uncased config.json as the tutorial prints it (it predates model_type).
BERT_BASE_UNCASED_CONFIG = {
    "architectures": ["BertForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "type_vocab_size": 2,
    "vocab_size": 30522,
}

# Seed 003: GPT-2's config.json as the tutorial prints it.
GPT2_CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1,
    "bos_token_id": 50256,
    "embd_pdrop": 0.1,
    "eos_token_id": 50256,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2",
    "n_ctx": 1024,
    "n_embd": 768,
    "n_head": 12,
    "n_layer": 12,
    "n_positions": 1024,
    "resid_pdrop": 0.1,
    "summary_activation": None,
    "summary_first_dropout": 0.1,
    "summary_proj_to_labels": True,
    "summary_type": "cls_index",
    "summary_use_proj": True,
    "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
    "vocab_size": 50257,
}


def copy_tokenizer(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILE_NAMES:
        if (source / name).is_file():
            shutil.copy(source / name, dest / name)


def vocab_size_of(tokenizer_folder: Path) -> int:
    data = json.loads((tokenizer_folder / "tokenizer.json").read_text(encoding="utf-8"))
    return len(data["model"]["vocab"]) + sum(1 for t in data.get("added_tokens", []) if t["id"] >= len(data["model"]["vocab"]))


def tiny_bert_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, pad_token_id=0, **extra,
    )


def save_as_pytorch_bin(model, folder: Path) -> Path:
    """What ``save_pretrained`` wrote in the tutorials' days: config.json and pytorch_model.bin."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def build_bert_body(folder: Path, tokenizer_source: Path, as_bin: bool = False) -> Path:
    """Seed 000's bert-base-cased stand-in: the bare BertModel (pooler included), no task head."""
    import torch
    from transformers import BertModel

    torch.manual_seed(0)
    model = BertModel(tiny_bert_config(vocab_size_of(tokenizer_source)))
    if as_bin:
        save_as_pytorch_bin(model, folder)
    else:
        model.save_pretrained(folder)
    copy_tokenizer(tokenizer_source, folder)
    return folder


def build_head_model(folder: Path, tokenizer_source: Path, class_name: str, **config_extra) -> Path:
    """A tiny BERT/DistilBERT/Marian/XLNet with a given head class, saved with a copied tokenizer."""
    import torch
    import transformers

    vocab = vocab_size_of(tokenizer_source)
    torch.manual_seed(0)
    if class_name.startswith("DistilBert"):
        config = transformers.DistilBertConfig(
            vocab_size=vocab, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128, pad_token_id=0, **config_extra
        )
    elif class_name.startswith("Marian"):
        config = transformers.MarianConfig(
            vocab_size=vocab, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
            pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1, **config_extra,
        )
    elif class_name.startswith("XLNet"):
        config = transformers.XLNetConfig(vocab_size=vocab, d_model=32, n_layer=2, n_head=2, d_inner=64, pad_token_id=0, **config_extra)
    else:
        config = tiny_bert_config(vocab, **config_extra)
    model = getattr(transformers, class_name)(config)
    model.save_pretrained(folder)
    copy_tokenizer(tokenizer_source, folder)
    return folder


def write_config_only(folder: Path, config: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- ChatGLM-style custom code (seed 000)

CHATGLM_CONFIGURATION = '''\
from transformers import PretrainedConfig


class ChatGLMConfig(PretrainedConfig):
    model_type = "chatglm"

    def __init__(self, vocab_size=64, hidden_size=16, num_layers=2, num_attention_heads=2, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_attention_heads = num_attention_heads
        super().__init__(**kwargs)
'''

CHATGLM_MODELING = '''\
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_chatglm import ChatGLMConfig


class GLMBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size)
        self.mlp = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return hidden + self.mlp(self.input_layernorm(hidden))


class ChatGLMModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([GLMBlock(config) for _ in range(config.num_layers)])
        self.final_layernorm = nn.LayerNorm(config.hidden_size)

    def forward(self, input_ids):
        hidden = self.word_embeddings(input_ids)
        for layer in self.layers:
            hidden = layer(hidden)
        return self.final_layernorm(hidden)


class ChatGLMForConditionalGeneration(PreTrainedModel):
    config_class = ChatGLMConfig
    base_model_prefix = "transformer"

    def __init__(self, config):
        super().__init__(config)
        self.transformer = ChatGLMModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.transformer.word_embeddings

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        return CausalLMOutput(logits=self.lm_head(self.transformer(input_ids)))
'''

CHATGLM_AUTO_MAP = {
    "AutoConfig": "configuration_chatglm.ChatGLMConfig",
    "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
    "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
}


def build_chatglm(folder: Path, work: Path) -> Path:
    """Seed 000's ChatGLM layout: no built-in class, auto_map points at the checkpoint's own code.

    As in THUDM/chatglm-6b, config.json names ChatGLMModel while AutoModel builds
    ChatGLMForConditionalGeneration, whose weights (transformer.*, lm_head) are the ones stored.
    """
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    sources = {"configuration_chatglm.py": CHATGLM_CONFIGURATION, "modeling_chatglm.py": CHATGLM_MODELING}
    for name, text in sources.items():
        (folder / name).write_text(text, encoding="utf-8")
    with imported_package(work, "chatglm", sources) as modules:
        config = modules["configuration_chatglm"].ChatGLMConfig()
        torch.manual_seed(0)
        model = modules["modeling_chatglm"].ChatGLMForConditionalGeneration(config)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    config = {
        "architectures": ["ChatGLMModel"],
        "auto_map": CHATGLM_AUTO_MAP,
        "model_type": "chatglm",
        "vocab_size": 64,
        "hidden_size": 16,
        "num_layers": 2,
        "num_attention_heads": 2,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


_package_numbers = itertools.count()


@contextlib.contextmanager
def imported_package(work: Path, stem: str, sources: dict[str, str]):
    """Import checkpoint-style code (relative imports) as a throwaway package; forget it afterwards."""
    # A fresh name per build: importlib caches finders per path, so a reused name could see old code.
    package_name = f"{stem}_src_{next(_package_numbers)}"
    package = work / package_name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    for name, text in sources.items():
        (package / name).write_text(text, encoding="utf-8")
    sys.path.insert(0, str(work))
    try:
        yield {name[:-3]: importlib.import_module(f"{package_name}.{name[:-3]}") for name in sources}
    finally:
        sys.path.remove(str(work))
        for name in [n for n in sys.modules if n == package_name or n.startswith(package_name + ".")]:
            del sys.modules[name]


# --------------------------------------------------------------------------- LTG-BERT custom code (seed 002)

LTGBERT_CONFIGURATION = '''\
from transformers import PretrainedConfig


class LtgBertConfig(PretrainedConfig):
    """Configuration class to store the configuration of a `LtgBertModel`."""

    model_type = "LtgBert"

    def __init__(
        self,
        vocab_size=16384,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        output_all_encoded_layers=False,
        require_all_hidden_states=True,
        batch_first=True,
        force_full_auto_map=False,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.hidden_act = hidden_act
        self.intermediate_size = intermediate_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.output_all_encoded_layers = output_all_encoded_layers
        self.require_all_hidden_states = require_all_hidden_states
        self.batch_first = batch_first
        self.force_full_auto_map = force_full_auto_map
        super().__init__(**kwargs)
        if force_full_auto_map:
            # The tutorial's workaround for an incomplete auto_map: set every entry in __init__.
            self.auto_map = {
                "AutoConfig": "configuration_ltgbert.LtgBertConfig",
                "AutoModelForMaskedLM": "modeling_ltgbert.LtgBertForMaskedLM",
                "AutoModelForSequenceClassification": "modeling_ltgbert.LtgBertForSequenceClassification",
                "AutoModelForCausalLM": "modeling_ltgbert.LtgBertForCausalLM",
            }
'''

LTGBERT_MODELING = '''\
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput, MaskedLMOutput, SequenceClassifierOutput

from .configuration_ltgbert import LtgBertConfig


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm = nn.LayerNorm(config.hidden_size)
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden):
        return hidden + self.down(F.gelu(self.up(self.norm(hidden))))


class Bert(nn.Module):
    """Works sequence-first, (seq, batch, hidden), like the original LTG-BERT."""

    def __init__(self, config):
        super().__init__()
        self.word_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.layers = nn.ModuleList([Layer(config) for _ in range(config.num_hidden_layers)])
        self.classifier = nn.Linear(config.hidden_size, config.vocab_size)

    def get_contextualized(self, input_ids, attention_mask=None):
        positions = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None]
        hidden = self.word_embedding(input_ids) + self.position_embedding(positions)
        for layer in self.layers:
            hidden = layer(hidden)
        return hidden

    def forward(self, input_ids, attention_mask=None, masked_lm_labels=None):
        return self.classifier(self.get_contextualized(input_ids, attention_mask))


class LtgBertPreTrainedModel(PreTrainedModel):
    config_class = LtgBertConfig
    base_model_prefix = "model"

    def get_input_embeddings(self):
        return self.model.word_embedding


class LtgBertForMaskedLM(LtgBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = Bert(config)
        self.batch_first = config.batch_first
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        if self.batch_first:
            input_ids = input_ids.transpose(0, 1)
        logits = self.model(input_ids, attention_mask)
        if self.batch_first:
            logits = logits.transpose(0, 1)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        return MaskedLMOutput(loss=loss, logits=logits)


class LtgBertForSequenceClassification(LtgBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = Bert(config)
        self.batch_first = config.batch_first
        self.head = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        if self.batch_first:
            input_ids = input_ids.transpose(0, 1)
        contextualized = self.model.get_contextualized(input_ids, attention_mask)
        if self.batch_first:
            contextualized = contextualized.transpose(0, 1)
        return SequenceClassifierOutput(logits=self.head(contextualized[:, 0, :]))


class LtgBertForCausalLM(LtgBertForMaskedLM):
    pass
'''

LTGBERT_AUTO_CLASSES = {
    "LtgBertForMaskedLM": "AutoModelForMaskedLM",
    "LtgBertForSequenceClassification": "AutoModelForSequenceClassification",
    "LtgBertForCausalLM": "AutoModelForCausalLM",
}


def build_ltgbert(folder: Path, tokenizer_source: Path, work: Path, force_full_auto_map: bool = False) -> Path:
    """Seed 002's recipe: register the custom classes for Auto classes, save, ship pytorch_model.bin.

    The code lives in a package (relative imports, __init__.py) as the tutorial advises;
    ``save_pretrained`` copies it into the checkpoint and writes ``auto_map`` itself.
    """
    import torch

    sources = {"configuration_ltgbert.py": LTGBERT_CONFIGURATION, "modeling_ltgbert.py": LTGBERT_MODELING}
    with imported_package(work, "ltgbert", sources) as modules:
        configuration, modeling = modules["configuration_ltgbert"], modules["modeling_ltgbert"]
        configuration.LtgBertConfig.register_for_auto_class()
        for class_name, auto_class in LTGBERT_AUTO_CLASSES.items():
            getattr(modeling, class_name).register_for_auto_class(auto_class)
        config = configuration.LtgBertConfig(
            vocab_size=vocab_size_of(tokenizer_source), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=128, force_full_auto_map=force_full_auto_map,
            architectures=["LtgBertForMaskedLM"],
        )
        torch.manual_seed(0)
        model = modeling.LtgBertForMaskedLM(config)
        model.save_pretrained(folder)
    # The tutorial's checkpoint stores its weights as pytorch_model.bin.
    from safetensors.torch import load_file

    weights = folder / "model.safetensors"
    torch.save(load_file(str(weights)), folder / "pytorch_model.bin")
    weights.unlink()
    copy_tokenizer(tokenizer_source, folder)
    return folder


# --------------------------------------------------------------------------- hub cache (seed 001)


def add_to_hub_cache(cache: Path, repo_id: str, folder: Path, commit: str = "0" * 40) -> Path:
    """Lay ``folder`` out as huggingface_hub does: blobs by hash, refs/main, snapshot links."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        content = path.read_bytes()
        if path.name.endswith((".safetensors", ".bin")):
            digest = hashlib.sha256(content).hexdigest()
        else:
            digest = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        blob = repo / "blobs" / digest
        blob.write_bytes(content)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / path.name)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


# --------------------------------------------------------------------------- RoBERTa/BART family (seed 004's pipeline table)


def roberta_style_tokenizer(corpus: str):
    """Byte-level BPE with <s> … </s> around every text and a <mask> token, as RoBERTa and BART use."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, show_progress=False, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus.splitlines(), trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=128,
    )


def build_roberta_family(folder: Path, class_name: str, **config_extra) -> Path:
    """distilroberta-base (RobertaForMaskedLM), bart-large-mnli (BartForSequenceClassification),
    distilbart-cnn (BartForConditionalGeneration): tiny, with a RoBERTa-style tokenizer."""
    import torch
    import transformers
    from explorer.core.samples import CORPUS

    tokenizer = roberta_style_tokenizer(CORPUS)
    ids = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    if class_name.startswith("Roberta"):
        config = transformers.RobertaConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=130, **ids, **config_extra,
        )
    else:
        config = transformers.BartConfig(
            vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
            decoder_start_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id, **ids, **config_extra,
        )
    getattr(transformers, class_name)(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_generation_config(folder: Path, values: dict) -> Path:
    """generation_config.json as a checkpoint on the Hub carries it (transformers reads it as it is)."""
    (folder / "generation_config.json").write_text(json.dumps(values, indent=2), encoding="utf-8")
    return folder


def build_old_bert_layout(folder: Path, sample_folder: Path) -> Path:
    """A BERT folder as the 2020 tutorials downloaded it: config.json, pytorch_model.bin, vocab.txt."""
    import torch
    from safetensors.torch import load_file

    folder.mkdir(parents=True, exist_ok=True)
    vocab = json.loads((sample_folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    (folder / "vocab.txt").write_text("".join(token + "\n" for token, _ in sorted(vocab.items(), key=lambda kv: kv[1])), encoding="utf-8")
    torch.save(load_file(str(sample_folder / "model.safetensors")), folder / "pytorch_model.bin")
    shutil.copy(sample_folder / "config.json", folder / "config.json")
    return folder
