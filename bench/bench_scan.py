"""Scan speed: Model Explorer's discovery against `huggingface_hub.scan_cache_dir()`.

Builds synthetic hub caches of 100 and 1,000 model repos in a temporary folder, laid out the
way huggingface_hub writes them: blobs named by content hash, refs/main (and some tags),
snapshots/<commit>/ of relative links into ../../blobs, a second revision sharing most blobs
for some repos, sharded weights with an index for others, a few dataset repos beside them.
Weight files carry a real safetensors header of a few hundred tensors, distinct per repo; their
data is a hole (`truncate()` to the full size), so file sizes are realistic while the disk stays
empty. Every header is parsed and validated as the safetensors library validates it (a count
is never given for a file the library refuses), which costs a JSON parse per distinct header.

Both sides scan the same cache, several times, warm: the baseline lists files and sizes only,
Model Explorer also reads every config.json and every safetensors header (model type,
architectures, parameter counts and dtypes). Goal: 0.3x or less at 1,000 repos.

Three figures for the explorer: the first scan ever (a fresh Scanner, nothing saved: every
file stat-ed, every config and header read); a session's first scan when the previous
session saved its results (a fresh Scanner loading the scan index the app keeps, then
checking folder times and reading refs: what the window does at every start after the
first); and a rescan within a session (the same Scanner again, nothing changed).

The window's figure is what a user waits for at the first start: an offscreen main window
scanning the cache from nothing until its list is full (its scan streams checkpoints to the
list from a worker thread).

    python bench/bench_scan.py [--repos 100 1000] [--repeat 5] [--keep DIR] [--no-window]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.core.discovery import Scanner, ScanLocation  # noqa: E402
from explorer.core.checkpoint import SOURCE_HUB_CACHE  # noqa: E402
from explorer.core.jobs import run_to_end  # noqa: E402
from explorer.core.safetensors_header import forget_counted_headers  # noqa: E402

FAMILIES = [
    # model_type, architecture, layers, hidden, vocab
    ("bert", "BertForMaskedLM", 12, 768, 30522),
    ("roberta", "RobertaForSequenceClassification", 12, 768, 50265),
    ("gpt2", "GPT2LMHeadModel", 12, 768, 50257),
    ("llama", "LlamaForCausalLM", 32, 4096, 32000),
    ("mistral", "MistralForCausalLM", 32, 4096, 32000),
    ("qwen2", "Qwen2ForCausalLM", 24, 896, 151936),
    ("t5", "T5ForConditionalGeneration", 12, 768, 32128),
    ("distilbert", "DistilBertForSequenceClassification", 6, 768, 30522),
]


def _tensor_specs(model_type: str, layers: int, hidden: int, vocab: int) -> list[tuple[str, list[int]]]:
    specs = [("model.embed_tokens.weight", [vocab, hidden])]
    inner = hidden * 4
    for i in range(layers):
        prefix = f"model.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            specs.append((f"{prefix}.self_attn.{proj}.weight", [hidden, hidden]))
            if model_type in ("bert", "roberta", "gpt2", "distilbert", "qwen2"):
                specs.append((f"{prefix}.self_attn.{proj}.bias", [hidden]))
        for proj, shape in (("gate_proj", [inner, hidden]), ("up_proj", [inner, hidden]), ("down_proj", [hidden, inner])):
            specs.append((f"{prefix}.mlp.{proj}.weight", shape))
        specs.append((f"{prefix}.input_layernorm.weight", [hidden]))
        specs.append((f"{prefix}.post_attention_layernorm.weight", [hidden]))
    specs.append(("model.norm.weight", [hidden]))
    specs.append(("lm_head.weight", [vocab, hidden]))
    return specs


def _write_safetensors(path: Path, specs: list[tuple[str, list[int]]], dtype: str, itemsize: int) -> int:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in specs:
        nbytes = itemsize
        for d in shape:
            nbytes *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)))
        handle.write(raw)
        handle.truncate(8 + len(raw) + offset)  # a hole: realistic size, no disk used
    return offset


class RepoWriter:
    """Writes one repo the way huggingface_hub does: content in blobs/, names as links."""

    def __init__(self, cache: Path, repo_id: str, repo_type: str = "models") -> None:
        self.repo = cache / f"{repo_type}--{repo_id.replace('/', '--')}"
        (self.repo / "blobs").mkdir(parents=True)
        (self.repo / "refs").mkdir()

    def add_file(self, commit: str, name: str, content: bytes | None = None, source: Path | None = None) -> None:
        if source is not None:
            with open(source, "rb") as handle:  # the header identifies it; the rest is a hole
                digest = hashlib.sha256(handle.read(1 << 20) + str(source.stat().st_size).encode()).hexdigest()
        else:
            digest = hashlib.sha1(content).hexdigest()
        blob = self.repo / "blobs" / digest
        if not blob.exists():
            if source is not None:
                os.replace(source, blob)
            else:
                blob.write_bytes(content)
        elif source is not None:
            source.unlink()
        link = self.repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)

    def set_ref(self, ref: str, commit: str) -> None:
        path = self.repo / "refs" / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(commit)


def build_cache(cache: Path, repos: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    tmp = cache / ".build"
    tmp.mkdir(parents=True)
    for r in range(repos):
        model_type, arch, layers, hidden, vocab = FAMILIES[r % len(FAMILIES)]
        # Each repo a model of its own: a vocabulary of its own size makes every header distinct, as
        # on a real machine (the scanner remembers validated headers by their bytes; identical
        # headers across a thousand repos would flatter it).
        vocab += r
        # Smaller variants of each family keep a mix of header sizes (about 50 to 300 tensors).
        layers = rng.choice([max(4, layers // 2), layers])
        repo = RepoWriter(cache, f"org{r % 37}/{model_type}-model-{r}")
        commits = [hashlib.sha1(f"{r}-{i}".encode()).hexdigest() for i in range(2 if r % 5 == 0 else 1)]
        specs = _tensor_specs(model_type, layers, hidden, vocab)
        config = {
            "architectures": [arch],
            "model_type": model_type,
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": hidden // 64,
            "intermediate_size": hidden * 4,
            "vocab_size": vocab,
            "max_position_embeddings": 2048,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.46.0",
        }
        tokenizer_json = json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {f"t{i}": i for i in range(300)}}}).encode()
        for c_index, commit in enumerate(commits):
            config["_revision_note"] = c_index  # the second revision changes the config only
            repo.add_file(commit, "config.json", json.dumps(config, indent=2).encode())
            repo.add_file(commit, "generation_config.json", b'{"bos_token_id": 1, "eos_token_id": 2}')
            repo.add_file(commit, "tokenizer.json", tokenizer_json)
            repo.add_file(commit, "tokenizer_config.json", b'{"model_max_length": 2048, "padding_side": "left"}')
            repo.add_file(commit, "special_tokens_map.json", b'{"bos_token": "<s>", "eos_token": "</s>"}')
            repo.add_file(commit, "README.md", f"---\nlicense: apache-2.0\n---\n# {model_type} model {r}\n".encode())
            repo.add_file(commit, ".gitattributes", b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
            if r % 4 == 3:  # sharded, with an index
                half = len(specs) // 2
                weight_map = {}
                total = 0
                for shard_index, part in enumerate((specs[:half], specs[half:])):
                    shard = f"model-{shard_index + 1:05d}-of-00002.safetensors"
                    staged = tmp / f"{r}-{shard}"
                    total += _write_safetensors(staged, part, "BF16", 2)
                    repo.add_file(commit, shard, source=staged)
                    weight_map.update({name: shard for name, _ in part})
                index = {"metadata": {"total_size": total}, "weight_map": weight_map}
                repo.add_file(commit, "model.safetensors.index.json", json.dumps(index, indent=2).encode())
            else:
                staged = tmp / f"{r}-model.safetensors"
                _write_safetensors(staged, specs, "BF16" if r % 2 else "F32", 2 if r % 2 else 4)
                repo.add_file(commit, "model.safetensors", source=staged)
        repo.set_ref("main", commits[-1])
        if len(commits) > 1:
            repo.set_ref("v1.0", commits[0])
    for d in range(max(1, repos // 50)):
        dataset = RepoWriter(cache, f"org/dataset-{d}", "datasets")
        dataset.add_file("a" * 40, "data.csv", b"x,y\n1,2\n")
        dataset.set_ref("main", "a" * 40)
    shutil.rmtree(tmp)
    # As for a cache downloaded a while ago: the scanner re-reads anything touched in the
    # last seconds (folder mtimes are coarse), which would otherwise blur the rescan figure.
    past = time.time() - 3600
    for directory, dirnames, filenames in os.walk(cache, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(directory, name), (past, past), follow_symlinks=False)
        os.utime(directory, (past, past))


def bare_walk(cache: Path, read_headers: bool) -> int:
    """The least any scanner can do here: list each snapshot, stat each file, parse each
    config.json and (optionally) read each safetensors header's bytes without parsing them.
    Printed as a reference floor for this machine, not as a competitor."""
    seen = 0
    for repo in os.scandir(cache):
        if not repo.name.startswith("models--"):
            continue
        with os.scandir(os.path.join(repo.path, "snapshots")) as snapshots:
            for snapshot in snapshots:
                with os.scandir(snapshot.path) as it:
                    files = [(entry.name, entry.path, entry.stat().st_size) for entry in it]
                for name, path, _size in files:
                    if name == "config.json":
                        with open(path, "rb") as handle:
                            json.loads(handle.read())
                    elif read_headers and name.endswith(".safetensors"):
                        with open(path, "rb") as handle:
                            (length,) = struct.unpack("<Q", handle.read(8))
                            handle.read(length)
                seen += 1
    return seen


def time_runs(function, repeat: int) -> list[float]:
    return [wall for wall, _cpu in timed_runs(function, repeat)]


def timed_runs(function, repeat: int) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds of this process) per run. On a shared machine the CPU time
    is the steadier of the two: other processes stretch the wall clock, not our CPU time."""
    times = []
    for _ in range(repeat):
        gc.collect()  # each side starts without the other's garbage
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def window_scan_times(cache: Path, repeat: int) -> list[float]:
    """Seconds from a new window starting its first scan to its list being full, offscreen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["MODEL_EXPLORER_WARM_UP"] = "0"  # no torch import competing with the measurement
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from explorer.core.settings import LoadedSettings, Settings
    from explorer.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    times = []
    for _ in range(repeat + 1):  # the first run warms Qt's fonts and styles
        window = MainWindow(LoadedSettings(Settings(), None), locations=[ScanLocation(SOURCE_HUB_CACHE, str(cache))], persist_settings=False)
        window.show()
        app.processEvents()
        loop = QEventLoop()
        window.scan_finished.connect(loop.quit)
        gc.collect()
        started = time.perf_counter()
        window.start_scan()
        loop.exec()
        times.append(time.perf_counter() - started)
        window.close()
        window.deleteLater()
        app.processEvents()
    return times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", help="build the caches in this folder and keep them")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one explorer scan of the largest cache")
    parser.add_argument("--no-window", action="store_true", help="skip the window's figure (no Qt)")
    args = parser.parse_args()

    from huggingface_hub import scan_cache_dir

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-scan-"))
    print(
        f"{'repos':>6} {'checkpoints':>11} {'scan_cache_dir':>15} {'first scan':>11} {'ratio':>6} {'cpu ratio':>9}"
        f" {'start-up':>9} {'ratio':>6} {'rescan':>7} {'ratio':>6}" + ("" if args.no_window else f" {'window':>9} {'ratio':>6}")
    )
    worst_ratio = start_up_ratio = 0.0
    try:
        for repos in args.repos:
            cache = base / f"hub-{repos}"
            if not cache.exists():
                build_cache(cache, repos)
            location = [ScanLocation(SOURCE_HUB_CACHE, str(cache))]

            def explorer_scan():
                forget_counted_headers()  # as in a new process
                return run_to_end(Scanner().scan(location))

            # Warm the page cache and the one-time model-type table for both sides, then check
            # both saw the same repos and sizes before timing anything.
            info = scan_cache_dir(cache)
            found, _stats = explorer_scan()
            hub_sizes = {r.repo_id: r.size_on_disk for r in info.repos if r.repo_type == "model"}
            ours = {c.id: c.repo_size_bytes for c in found}
            assert ours == hub_sizes, "the explorer and scan_cache_dir disagree on repo sizes"
            assert all(c.num_parameters for c in found), "a checkpoint without a parameter count"

            baseline, explorer = [], []
            for _ in range(args.repeat):  # interleaved so drift hits both sides alike
                baseline += timed_runs(lambda: scan_cache_dir(cache), 1)
                explorer += timed_runs(explorer_scan, 1)
            cpu_ratio = statistics.median(c for _, c in explorer) / statistics.median(c for _, c in baseline)
            baseline = [w for w, _ in baseline]
            explorer = [w for w, _ in explorer]
            walk_configs = statistics.median(time_runs(lambda: bare_walk(cache, False), args.repeat))
            walk_headers = statistics.median(time_runs(lambda: bare_walk(cache, True), args.repeat))
            scanner = Scanner()
            run_to_end(scanner.scan(location))
            rescan = time_runs(lambda: run_to_end(scanner.scan(location)), args.repeat)
            index = base / f"scan-index-{repos}.json"
            found_before, _ = run_to_end(Scanner(index_path=index).scan(location))  # the previous session
            started = []

            def start_up_scan():
                started.append(run_to_end(Scanner(index_path=index).scan(location)))

            start_up = time_runs(start_up_scan, args.repeat)
            assert all(stats.reused == len(found_before) for _, stats in started), "a start-up scan re-read something"
            assert [c.to_json() for c in started[-1][0]] == [c.to_json() for c in found_before]
            b, e, r = statistics.median(baseline), statistics.median(explorer), statistics.median(rescan)
            u = statistics.median(start_up)
            w = None if args.no_window else statistics.median(window_scan_times(cache, args.repeat))
            ratio = e / b
            if repos == max(args.repos):
                worst_ratio, start_up_ratio = ratio, u / b
            window_column = "" if w is None else f" {w * 1000:>6.0f} ms {w / b:>5.2f}x"
            print(
                f"{repos:>6} {len(found):>11} {b * 1000:>12.0f} ms {e * 1000:>8.0f} ms {ratio:>5.2f}x {cpu_ratio:>8.2f}x"
                f" {u * 1000:>6.0f} ms {u / b:>5.2f}x {r * 1000:>4.0f} ms {r / b:>5.2f}x{window_column}"
                f"   (floor here: walk+configs {walk_configs / b:.2f}x, +header bytes {walk_headers / b:.2f}x)"
            )
            if args.profile and repos == max(args.repos):
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(explorer_scan)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(
        f"explorer / scan_cache_dir at {max(args.repos)} repos: first scan ever {worst_ratio:.2f}x, "
        f"a session's first scan with the last session's index {start_up_ratio:.2f}x (goal: 0.30x or less)"
    )
    print("(ratio = median wall times over scan_cache_dir's; cpu ratio = the same with CPU times of this process; "
          "first scan = a fresh Scanner with nothing saved, reading every config and safetensors header; "
          "start-up = a fresh Scanner loading the scan index a previous session saved, as the window does at start; "
          "rescan = the same Scanner again, nothing changed; window = a new window's first scan until its list is full; "
          "floor = a bare loop that stats every file "
          "and parses every config.json, then also reads every header's bytes unparsed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
