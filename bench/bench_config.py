"""Time to build the Config tab's data for a dozen checkpoints, against AutoConfig.from_pretrained alone.

Run: python bench/bench_config.py
Goal: at most 2x the AutoConfig baseline, and under 100 ms per checkpoint once transformers is
imported. "First" is the first report for a config class (docstrings parsed, defaults built);
"again" is a later one (the Tab revisits checkpoints, and classes repeat across a cache).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPEATS = 20


def build_configs(root: Path) -> list[Path]:
    import transformers as tf

    from explorer.core.samples import create_samples_now

    folders = list(create_samples_now(root / "samples"))
    small = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, vocab_size=1000)
    extra = {
        "llama-gqa": tf.LlamaConfig(**small, num_key_value_heads=2, architectures=["LlamaForCausalLM"]),
        "mistral": tf.MistralConfig(**small, num_key_value_heads=1, architectures=["MistralForCausalLM"]),
        "qwen2": tf.Qwen2Config(**small, num_key_value_heads=2, architectures=["Qwen2ForCausalLM"]),
        "roberta": tf.RobertaConfig(**small, architectures=["RobertaForMaskedLM"]),
        "bart": tf.BartConfig(vocab_size=1000, d_model=64, encoder_layers=2, decoder_layers=2, architectures=["BartForConditionalGeneration"]),
        "vit": tf.ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, architectures=["ViTForImageClassification"]),
    }
    for name, config in extra.items():
        config.save_pretrained(root / name)
        folders.append(root / name)
    return folders


def median_seconds(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MODEL_EXPLORER_HOME"] = str(Path(tmp) / "home")
        start = time.perf_counter()
        import transformers  # noqa: F401  (both sides pay this once; not part of the comparison)
        from transformers import AutoConfig

        from explorer.core.config import auto_model_classes, build_config_report

        auto_model_classes()  # the Auto mapping tables: imported once per app session
        print(f"import transformers + Auto tables: {time.perf_counter() - start:.2f} s (once per session)")
        folders = build_configs(Path(tmp))
        print(f"{'checkpoint':28} {'AutoConfig':>11} {'report first':>13} {'report again':>13} {'ratio':>6}")
        ratios, firsts, agains = [], [], []
        for folder in folders:
            path = str(folder)
            AutoConfig.from_pretrained(path, local_files_only=True)  # config module import: not measured
            baseline = median_seconds(lambda: AutoConfig.from_pretrained(path, local_files_only=True))
            t0 = time.perf_counter()
            build_config_report(path)
            first = time.perf_counter() - t0
            again = median_seconds(lambda: build_config_report(path))
            ratio = again / baseline
            ratios.append(ratio)
            firsts.append(first)
            agains.append(again)
            print(f"{folder.name:28} {baseline * 1000:9.2f}ms {first * 1000:11.2f}ms {again * 1000:11.2f}ms {ratio:6.2f}x")
        print(
            f"\nmedian ratio report/AutoConfig: {statistics.median(ratios):.2f}x (max {max(ratios):.2f}x); "
            f"worst first report {max(firsts) * 1000:.1f} ms, worst later report {max(agains) * 1000:.1f} ms "
            f"(goal: <= 2x and < 100 ms)"
        )


if __name__ == "__main__":
    main()
