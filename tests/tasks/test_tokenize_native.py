"""The tokenize demo reads the Rust encoding directly once transformers' call has settled the backend:
the encoding must be the one ``tokenizer(text, pair)`` gives, for every kind of tokenizer and setting."""

from __future__ import annotations

import pytest

from explorer.tasks.tokenize import _encode_natively

TEXTS = [("Hello world, it's [MASK] time.", None), ("A question?", "A context, with words."), ("", None), ("  spaces  ", "x")]


def same(a, b) -> bool:
    return (a.ids, a.tokens, a.offsets, a.special_tokens_mask, a.sequence_ids, a.attention_mask) == (
        b.ids, b.tokens, b.offsets, b.special_tokens_mask, b.sequence_ids, b.attention_mask
    )


@pytest.mark.parametrize("checkpoint", ["tiny-gpt2-lm", "tiny-bert-mlm", "tiny-t5"])
@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_native_encoding_is_the_calls(checkpoint, add_special_tokens, sample):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(sample(checkpoint))
    for text, pair in TEXTS:
        ours = _encode_natively(tokenizer, text, pair, add_special_tokens)
        theirs = tokenizer(text, pair, add_special_tokens=add_special_tokens).encodings[0]
        assert same(ours, theirs), (checkpoint, text, pair)


def test_a_backend_saved_with_truncation_or_split_special_tokens_goes_through_the_call(sample, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(sample("tiny-bert-mlm"))
    tokenizer.backend_tokenizer.enable_truncation(max_length=3)  # as a tokenizer.json that saved truncation
    long_text = "one two three four five six"
    first = _encode_natively(tokenizer, long_text, None, True)
    assert len(first.ids) > 3  # the call turned the saved truncation off, as transformers does
    tokenizer.split_special_tokens = True
    split = _encode_natively(tokenizer, "[MASK] here", None, True)
    assert same(split, tokenizer("[MASK] here").encodings[0])
    assert tokenizer.mask_token_id not in split.ids
