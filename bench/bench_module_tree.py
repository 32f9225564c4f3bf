"""Module tree of a 70B Llama-style model from its config, against init_empty_weights() + from_config alone.

Goal: at most 1.5x the baseline's time and under 50 MB of added memory. The config uses the
public Llama-3-70B numbers. Both runs are measured in this process after a warm-up (imports and
transformers' lazy module loading are paid once, as in the app).
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

REPEATS = 7


def write_config(folder: str) -> None:
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=128256, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
        num_key_value_heads=8, max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
        tie_word_embeddings=False, dtype="bfloat16", architectures=["LlamaForCausalLM"],
    ).save_pretrained(folder)


def baseline(folder: str):
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config)
    naive = sum(p.numel() for p in model.parameters())
    return model, naive


def ours(folder: str):
    from explorer.core.skeleton import build_skeleton

    return build_skeleton(folder)


def measure(function, folder: str) -> tuple[float, float]:
    times = []
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        result = function(folder)
        times.append(time.perf_counter() - start)
        del result
    gc.collect()
    tracemalloc.start()
    result = function(folder)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return statistics.median(times), peak / 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_config(folder)
        baseline(folder)  # warm-up: imports and lazy modules
        skeleton = ours(folder)
        print(f"tree: {skeleton.node_count()} nodes, {skeleton.total_params:,} parameters")
        base_time, base_peak = measure(baseline, folder)
        our_time, our_peak = measure(ours, folder)
    print(f"init_empty_weights + from_config: {base_time * 1000:7.1f} ms, peak traced {base_peak:6.1f} MB")
    print(f"explorer skeleton (tree included): {our_time * 1000:7.1f} ms, peak traced {our_peak:6.1f} MB")
    print(f"time ratio: {our_time / base_time:.2f}x (goal <= 1.5x); added memory vs baseline: {our_peak - base_peak:+.1f} MB (goal < 50 MB)")


if __name__ == "__main__":
    main()
