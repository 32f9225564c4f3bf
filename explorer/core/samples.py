"""Tiny random-weight sample checkpoints, made locally with transformers and tokenizers.

They let a new user (and every test) try each part of the app without a download. Each has
a working tokenizer trained here on a small corpus, a model card that says plainly that the
weights are random, and labels where the head has them. Imports torch and transformers
lazily: only creating samples needs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from explorer.core.jobs import CancelToken, Job, Progress

CORPUS = """\
Paris is the capital of France. Berlin is the capital of Germany. Rome is the capital of Italy.
The quick brown fox jumps over the lazy dog. Hugging Face makes the transformers library.
My name is Sarah and I live in London. John works for Google in New York.
The movie was great and I loved it. The food was terrible and the service was slow.
I have been waiting for a course like this my whole life. This is a happy day.
Translate English to German: the house is wonderful. Summarize: the report describes the results.
What is the capital of France? Who wrote the book? Where does John work?
Here is some text to encode. Machine learning models learn from data.
A checkpoint holds the weights and the configuration of a model.
The weather is nice today. I am sad because it is raining. We went to the beach.
Apple released a new phone. Amazon opened an office in Seattle. Marie Curie was a scientist.
Hello world. Good morning. Thank you very much. The cat sat on the mat.
"""

NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
SENTIMENT_LABELS = ["NEGATIVE", "POSITIVE"]
NLI_LABELS = ["contradiction", "neutral", "entailment"]

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@dataclass(frozen=True)
class SampleSpec:
    name: str
    description: str
    pipeline_tag: str
    architecture: str


SAMPLES: tuple[SampleSpec, ...] = (
    SampleSpec("tiny-bert-mlm", "BERT masked language model", "fill-mask", "BertForMaskedLM"),
    SampleSpec("tiny-gpt2-lm", "GPT-2 causal language model (with a chat template)", "text-generation", "GPT2LMHeadModel"),
    SampleSpec("tiny-distilbert-sentiment", "DistilBERT sentiment classifier (NEGATIVE/POSITIVE)", "text-classification", "DistilBertForSequenceClassification"),
    SampleSpec("tiny-bert-ner", "BERT token classifier with CoNLL NER labels", "token-classification", "BertForTokenClassification"),
    SampleSpec("tiny-bert-qa", "BERT extractive question answering", "question-answering", "BertForQuestionAnswering"),
    SampleSpec("tiny-t5", "T5 encoder-decoder (text-to-text)", "text2text-generation", "T5ForConditionalGeneration"),
    SampleSpec("tiny-bert-nli", "BERT natural language inference classifier (for zero-shot)", "zero-shot-classification", "BertForSequenceClassification"),
)
SAMPLE_NAMES = tuple(s.name for s in SAMPLES)


def _wordpiece_tokenizer(tokenizer_cls_name: str = "BertTokenizer"):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=600, show_progress=False, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(CORPUS.splitlines(), trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


def _bytelevel_bpe_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700, show_progress=False, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer)
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=128,
        chat_template=CHAT_TEMPLATE,
    )


def _t5_tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=400, show_progress=False, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tok.train_from_iterator(CORPUS.splitlines(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=128
    )


def _bert_config_kwargs(vocab_size: int) -> dict:
    return dict(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )


def _labels(names: list[str]) -> dict:
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def _build(spec: SampleSpec):
    """Return (model, tokenizer) for one sample, with fixed seeds so samples are reproducible."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    if spec.name == "tiny-gpt2-lm":
        tokenizer = _bytelevel_bpe_tokenizer()
        eos = tokenizer.eos_token_id
        config = tf.GPT2Config(
            vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
            bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
        )
        return tf.GPT2LMHeadModel(config), tokenizer
    if spec.name == "tiny-t5":
        tokenizer = _t5_tokenizer()
        config = tf.T5Config(
            vocab_size=len(tokenizer), d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
            task_specific_params={"summarization": {"prefix": "summarize: "}, "translation_en_to_de": {"prefix": "translate English to German: "}},
        )
        return tf.T5ForConditionalGeneration(config), tokenizer
    tokenizer = _wordpiece_tokenizer()
    kwargs = _bert_config_kwargs(len(tokenizer))
    kwargs["pad_token_id"] = tokenizer.pad_token_id
    if spec.name == "tiny-bert-mlm":
        return tf.BertForMaskedLM(tf.BertConfig(**kwargs)), tokenizer
    if spec.name == "tiny-bert-ner":
        return tf.BertForTokenClassification(tf.BertConfig(**kwargs, **_labels(NER_LABELS))), tokenizer
    if spec.name == "tiny-bert-qa":
        return tf.BertForQuestionAnswering(tf.BertConfig(**kwargs)), tokenizer
    if spec.name == "tiny-bert-nli":
        return tf.BertForSequenceClassification(tf.BertConfig(**kwargs, **_labels(NLI_LABELS))), tokenizer
    if spec.name == "tiny-distilbert-sentiment":
        config = tf.DistilBertConfig(
            vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128,
            pad_token_id=tokenizer.pad_token_id, **_labels(SENTIMENT_LABELS),
        )
        return tf.DistilBertForSequenceClassification(config), tokenizer
    raise ValueError(f"unknown sample {spec.name!r}")


def _model_card(spec: SampleSpec) -> str:
    return f"""---
license: apache-2.0
pipeline_tag: {spec.pipeline_tag}
library_name: transformers
tags:
- random-weights
- model-explorer-sample
---

# {spec.name} (random weights)

**This checkpoint has random weights.** It was created locally by Model Explorer to try the app
without downloading anything: its outputs are meaningless, but its files, configuration, tokenizer
and task head are real.

- Architecture: `{spec.architecture}`
- Task: {spec.description}
"""


def create_samples(dest: str | os.PathLike, names: Iterable[str] | None = None, cancel: CancelToken | None = None) -> Job[list[Path]]:
    """Write sample checkpoints under ``dest``; yields Progress; returns their folders."""
    cancel = cancel or CancelToken()
    wanted = [s for s in SAMPLES if names is None or s.name in set(names)]
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    yield Progress(0, len(wanted), "Importing torch and transformers")
    from explorer.core.torch_import import import_transformers

    import_transformers()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    for index, spec in enumerate(wanted):
        cancel.raise_if_cancelled()
        yield Progress(index, len(wanted), f"Creating {spec.name}")
        model, tokenizer = _build(spec)
        folder = dest / spec.name
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        if spec.name == "tiny-gpt2-lm":
            model.generation_config.save_pretrained(folder)
        (folder / "README.md").write_text(_model_card(spec), encoding="utf-8")
        created.append(folder)
    yield Progress(len(wanted), len(wanted), "Samples ready")
    return created


def create_samples_now(dest: str | os.PathLike, names: Iterable[str] | None = None) -> list[Path]:
    from explorer.core.jobs import run_to_end

    return run_to_end(create_samples(dest, names))


def is_sample(folder: str | os.PathLike) -> bool:
    """Whether the folder is one of the app's random-weight samples (its model card says so)."""
    from explorer.core.safe_io import UnreadableFile, read_bounded

    try:
        return b"model-explorer-sample" in read_bounded(Path(folder) / "README.md", "README.md", 1024 * 1024)
    except UnreadableFile:
        return False


__all__ = ["SAMPLES", "SAMPLE_NAMES", "create_samples", "create_samples_now", "is_sample", "NER_LABELS", "SENTIMENT_LABELS", "NLI_LABELS"]
