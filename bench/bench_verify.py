"""Verify's hashing speed against sha256sum on the same blobs of a synthetic hub cache.

The cache holds real random bytes (written once, not sparse files): a few hundred MB of LFS
blobs plus small git-sha1 files, as a downloaded model has. Page caches cannot be dropped here,
so both sides run warm: one read of everything first, then each side REPEATS times in turns;
medians are printed in MB/s, with the ratio (goal: explorer at least 0.9x of sha256sum).
`cat` to /dev/null gives the speed of reading alone, and `openssl dgst -sha256` (where installed)
that of OpenSSL's sha256, which hashlib uses (with the CPU's SHA instructions where it has them):
coreutils' sha256sum may not.

    .venv/bin/python bench/bench_verify.py [--megabytes 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from explorer.core.jobs import run_to_end  # noqa: E402
from explorer.core.verify import verify_job  # noqa: E402
from explorer.core.verify_targets import cache_targets  # noqa: E402
from tests.core.hub_layout import HubRepo, age_tree, commit_hash  # noqa: E402

SHARD_BYTES = 50 * 1000 * 1000


def build_cache(root: str, megabytes: int) -> list[str]:
    """Repos of 50 MB shards and a few small files; returns the blob paths."""
    shards = max(1, megabytes * 1000 * 1000 // SHARD_BYTES)
    for index in range(shards):
        repo = HubRepo(root, f"bench/model-{index // 4}")
        commit = commit_hash(f"model-{index // 4}")
        repo.add(commit, f"model-{index % 4:05d}.safetensors", os.urandom(SHARD_BYTES))
        if index % 4 == 0:
            repo.add(commit, "config.json", b'{"model_type": "llama"}')
            repo.add(commit, "tokenizer.json", os.urandom(2_000_000))
    age_tree(root)
    return sorted(
        os.path.join(directory, name) for directory, _, names in os.walk(root) if directory.endswith("blobs") for name in names
    )


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        print("sha256sum is not installed: nothing to compare with")
        return 1
    root = tempfile.mkdtemp(prefix="bench-verify-")
    try:
        blobs = build_cache(root, options.megabytes)
        total = sum(os.path.getsize(p) for p in blobs)
        targets = cache_targets(root)
        assert sorted(t.path for t in targets) == blobs

        def explorer() -> None:
            report = run_to_end(verify_job(targets))  # no memory: every blob is read and hashed
            assert report.counts["ok"] == len(blobs) and report.bytes_hashed == total, report.counts

        def coreutils() -> None:
            out = subprocess.run([sha256sum, *blobs], capture_output=True, text=True, check=True).stdout
            assert len(out.splitlines()) == len(blobs)

        def read_only() -> None:
            subprocess.run(["cat", *blobs], stdout=subprocess.DEVNULL, check=True)

        openssl = shutil.which("openssl")

        def with_openssl() -> None:
            out = subprocess.run([openssl, "dgst", "-sha256", *blobs], capture_output=True, text=True, check=True).stdout
            assert len(out.splitlines()) == len(blobs)

        read_only()  # warm: every side then reads from the page cache
        runs: dict[str, list[float]] = {"explorer": [], "sha256sum": [], "cat": []}
        for _ in range(options.repeats):
            runs["explorer"].append(timed(explorer))
            runs["sha256sum"].append(timed(coreutils))
            runs["cat"].append(timed(read_only))
            if openssl:
                runs.setdefault("openssl", []).append(timed(with_openssl))
        speeds = {name: total / statistics.median(seconds) / 1e6 for name, seconds in runs.items()}
        version = subprocess.run([sha256sum, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        print(f"{len(blobs)} blobs, {total / 1e6:,.0f} MB (warm page cache), median of {options.repeats} runs each:")
        print(f"  explorer verify  {speeds['explorer']:8,.0f} MB/s")
        print(f"  sha256sum        {speeds['sha256sum']:8,.0f} MB/s   ({version})")
        if openssl:
            print(f"  openssl dgst     {speeds['openssl']:8,.0f} MB/s")
        print(f"  cat (read only)  {speeds['cat']:8,.0f} MB/s")
        print(f"  ratio explorer / sha256sum: {speeds['explorer'] / speeds['sha256sum']:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
