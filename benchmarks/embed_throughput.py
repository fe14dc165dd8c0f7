"""Embedding throughput of one worker: real SST-2 n-grams through the offline MiniLM on this CPU.

    .venv/bin/python benchmarks/embed_throughput.py [--n 2000] [--repeats 3] [--threads 1 2]

The input for the scale-out arithmetic in ``docs/scale-out.md`` (how long a 10-million-n-gram
corpus takes on N workers). Measured side by side in one run, median of ``--repeats``:

1. Model throughput with the pipeline's encoder (``params.yaml`` ``embed.encoder``: MiniLM pooled
   at layer 2, so 2 of its 6 blocks run) and with all 6 blocks (``layer: -1``), for each torch
   thread count in ``--threads`` (a 1-thread Dask worker vs a 2-thread one).
   ``ngrams_per_s`` is what this sample gets; ``rows_per_s`` counts the rows the model actually
   computes (the encoder fills the last batch of each token-length bucket by repeating rows, to
   keep vectors independent of their batch-mates). On a large corpus nearly every batch is full,
   so ``rows_per_s`` is the per-worker throughput to plan with.
2. The cache's write path (``EmbeddingCache.add``: ``.npy`` + SHA-256 + key table, under the
   lock) for the same n-grams' vectors, in MB/s.

The n-grams are a seeded uniform sample of the distinct n-grams the ``embed`` stage builds for
SST-2 (``data/prepared/sst2``, ``embed.datasets.sst2``). Writes
``benchmarks/results/embed_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glassworks.config import EmbedParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import texts_used
from glassworks.embed.cache import EmbeddingCache
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import ngram_table
from glassworks.embed.ngrams import NgramSpec

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "embed_throughput.json"


def sst2_ngrams(n: int, seed: int = 0) -> tuple[list[str], int]:
    """A seeded sample of ``n`` distinct SST-2 n-grams (the ``embed`` stage's rule), and how many
    distinct n-grams there are."""
    params = load_section(ROOT / "params.yaml", "embed", EmbedParams)
    ds = params.dataset("sst2")
    spec = NgramSpec(
        order=ds.ngram_order, mode=ds.ngram_mode, stopwords=ds.stopwords,
        min_frequency=ds.min_frequency,
    )  # fmt: skip
    prepared = read_prepared(ROOT / "data" / "prepared" / "sst2")
    texts = texts_used(prepared.splits, ds.train_subsample, params.seed)
    table = ngram_table(texts.get_column("text").to_list(), spec)
    grams = table.get_column("ngram").to_list()
    return random.Random(seed).sample(grams, min(n, len(grams))), len(grams)


def computed_rows(encoder: Encoder, texts: list[str]) -> int:
    """Rows the encoder's forward passes process (full batches per token-length bucket)."""
    tokenizer = encoder._loaded[0]
    lengths = [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]
    clipped = np.minimum(lengths, encoder.max_length)
    _, counts = np.unique(clipped, return_counts=True)
    return int(sum(-(-c // encoder.batch_size) * encoder.batch_size for c in counts))


def time_encode(encoder: Encoder, texts: list[str]) -> float:
    t0 = time.perf_counter()
    encoder.encode(texts)
    return time.perf_counter() - t0


def time_cache_writes(identity: str, keys: list[str], vectors: np.ndarray, repeats: int) -> list:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cache = EmbeddingCache(tmp, identity)
            t0 = time.perf_counter()
            cache.add(keys, vectors)
            runs.append(time.perf_counter() - t0)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000, help="n-grams sampled from SST-2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()

    texts, n_distinct = sst2_ngrams(args.n)
    params = load_section(ROOT / "params.yaml", "embed", EmbedParams)
    configs = {
        "pipeline": params.encoder.model_dump() | {"device": "cpu"},
        "full_depth": params.encoder.model_dump() | {"device": "cpu", "layer": -1},
    }
    result: dict[str, Any] = {
        "n_ngrams": len(texts),
        "sst2_distinct_ngrams": n_distinct,
        "repeats": args.repeats,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "encoders": {},
    }
    encoders = {name: Encoder(**config) for name, config in configs.items()}
    runs: dict[tuple[str, int], list[float]] = {}
    for encoder in encoders.values():
        encoder.encode(texts[: encoder.batch_size])  # warm-up: load, first-call allocations
    result["loadavg_before"] = os.getloadavg()
    for _ in range(args.repeats):  # interleaved, so a change of load hits every setting alike
        for name, encoder in encoders.items():
            for threads in args.threads:
                torch.set_num_threads(threads)
                runs.setdefault((name, threads), []).append(time_encode(encoder, texts))
    result["loadavg_after"] = os.getloadavg()
    for name, encoder in encoders.items():
        rows = computed_rows(encoder, texts)
        entry: dict[str, Any] = {"encoder": configs[name], "computed_rows": rows, "threads": {}}
        for threads in args.threads:
            median = statistics.median(runs[name, threads])
            entry["threads"][str(threads)] = {
                "runs_s": runs[name, threads],
                "median_s": median,
                "ngrams_per_s": len(texts) / median,
                "rows_per_s": rows / median,
            }
            print(f"{name:10s} {threads} thread(s): {len(texts) / median:7.0f} n-grams/s "
                  f"({rows / median:7.0f} rows/s, median {median:.2f} s)")  # fmt: skip
        by_threads = entry["threads"]
        if "1" in by_threads and "2" in by_threads:
            entry["speedup_2_vs_1_threads"] = (
                by_threads["1"]["median_s"] / by_threads["2"]["median_s"]
            )
        result["encoders"][name] = entry

    pipeline = encoders["pipeline"]
    vectors, identity = pipeline.encode(texts), pipeline.identity
    writes = time_cache_writes(identity, texts, vectors, args.repeats)
    median = statistics.median(writes)
    megabytes = vectors.nbytes / 1e6
    result["cache_write"] = {
        "runs_s": writes,
        "median_s": median,
        "megabytes": megabytes,
        "mb_per_s": megabytes / median,
        "ngrams_per_s": len(texts) / median,
        "bytes_per_ngram": vectors.nbytes / len(texts),
    }
    print(f"cache write: {megabytes / median:.0f} MB/s ({len(texts) / median:.0f} n-grams/s)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
