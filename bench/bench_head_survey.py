"""Which weights every Auto class loads from a 70B Llama checkpoint: the explorer's survey against the do-it-yourself way.

The checkpoint is 30 sparse safetensors shards (headers written, data a hole) plus the public
Llama-3-70B config. The baseline is what a user writes without the explorer: for each Auto
class, read the checkpoint's tensor names with safe_open, build the class under accelerate's
init_empty_weights() and compare key sets. That baseline is also less exact (no key renaming,
tying or ignore rules), so the survey should cost about the same, not less. Goal: at most
~0.3 s per class and a ratio near 1x. Both are measured after a warm-up in this process.
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

REPEATS = 5


def write_checkpoint(folder: str) -> None:
    from bench_headers import write_checkpoint as write_shards
    from transformers import LlamaConfig

    write_shards(folder)
    LlamaConfig(
        vocab_size=128256, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
        num_key_value_heads=8, max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
        tie_word_embeddings=False, dtype="bfloat16", architectures=["LlamaForCausalLM"],
    ).save_pretrained(folder)


def baseline(folder: str) -> dict[str, tuple[set, set]]:
    import json

    import transformers
    from accelerate import init_empty_weights
    from safetensors import safe_open

    with open(os.path.join(folder, "model.safetensors.index.json")) as handle:
        shards = sorted(set(json.load(handle)["weight_map"].values()))
    saved = set()
    for shard in shards:
        with safe_open(os.path.join(folder, shard), framework="pt") as handle:
            saved.update(handle.keys())
    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    answers = {}
    for auto_class in AUTO_CLASSES:
        with init_empty_weights():
            model = getattr(transformers, auto_class).from_config(config)
        built = set(model.state_dict())
        answers[auto_class] = (built - saved, saved - built)
    return answers


def ours(folder: str):
    from explorer.core.head_survey import survey_heads_now

    return survey_heads_now(folder, AUTO_CLASSES)


AUTO_CLASSES = [
    "AutoModel", "AutoModelForCausalLM", "AutoModelForQuestionAnswering",
    "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
]


def timed(function, folder: str) -> float:
    from bench_headers import timed as median_time

    return median_time(function, folder, REPEATS)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_checkpoint(folder)
        naive, exact = baseline(folder), ours(folder)  # warm-up, and a look at both answers
        base = timed(baseline, folder)
        mine = timed(ours, folder)
    per_class = mine / len(AUTO_CLASSES)
    print(f"{len(AUTO_CLASSES)} Auto classes of a 70B Llama (723 tensors in 30 shards)")
    print(f"safe_open + init_empty_weights + key sets: {base * 1000:7.1f} ms")
    print(f"explorer head survey:                      {mine * 1000:7.1f} ms ({per_class * 1000:.0f} ms per class; goal <= 300)")
    print(f"ratio: {mine / base:.2f}x")
    for auto_class in AUTO_CLASSES:
        missing, unexpected = naive[auto_class]
        check = exact[auto_class]
        print(f"  {auto_class:<36} naive: {len(missing)} new, {len(unexpected)} dropped | survey: {check.summary}")


if __name__ == "__main__":
    main()
