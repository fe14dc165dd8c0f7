"""Embedding cache benchmark: ratios measured side by side in one run (median of repeats).

    .venv/bin/python benchmarks/embed.py [--n 2000] [--repeats 3]

1. Cache overhead: cold ``EmbeddingCache.embed`` on N unique n-grams vs the bare encoder on the
   same n-grams (goal <= 1.25x).
2. Fully cached rerun from a fresh cache object (as a new process would): model calls (goal 0) and
   time relative to cold (goal <= 5%).
3. Dedup-and-batch vs the reference's scheme (imodelsx embeds every n-gram occurrence of each
   sentence in padded batches of 8) on the same sentences.
4. Unique / total n-gram ratio per text dataset (where Emb-GAM's cost goes down).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from glassworks.config import PrepareParams, SplitParams, load_section
from glassworks.data import prepare_dataset
from glassworks.embed.cache import EmbeddingCache
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import ngram_table
from glassworks.embed.ngrams import NgramSpec, ngrams

REPO = Path(__file__).resolve().parents[1]


class Counting:
    """Wraps an encoder and counts model calls."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.calls = 0

    @property
    def identity(self) -> str:
        return self.encoder.identity

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, texts, progress=None):  # noqa: ANN001, ANN201
        self.calls += 1
        return self.encoder.encode(texts, progress)


def raw_dir() -> Path:
    local = REPO / "data" / "raw"
    if (local / "sst2" / "train.tsv").exists():
        return local

    shared = REPO.parent / "shared" / "data"
    tmp = Path(tempfile.mkdtemp())
    (tmp / "sst2").symlink_to(shared / "sst2")
    (tmp / "amazon").symlink_to(shared / "amazon")
    (tmp / "essays").symlink_to(shared / "asap")
    return tmp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="unique n-grams for the overhead test")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sentences", type=int, default=150, help="sentences for the imodelsx test")
    args = ap.parse_args()
    torch.manual_seed(0)
    raw = raw_dir()
    params = load_section(REPO / "params.yaml", "prepare", PrepareParams)
    sst2 = prepare_dataset("sst2", params.dataset("sst2"), SplitParams(), raw)
    texts = sst2.splits["train"].get_column("text").to_list()
    spec = NgramSpec(order=2)
    keys = ngram_table(texts[:20000], spec).get_column("ngram").to_list()
    rng = np.random.default_rng(0)
    keys = [keys[i] for i in rng.choice(len(keys), size=args.n, replace=False)]
    encoder = Encoder(batch_size=256, max_length=32)
    encoder.encode(keys[:64])  # load weights, warm up

    bare, cold, warm, warm_calls = [], [], [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        encoder.encode(keys)
        bare.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as d:
            counting = Counting(encoder)
            t = time.perf_counter()
            EmbeddingCache(d, encoder.identity).embed(keys, counting)
            cold.append(time.perf_counter() - t)
            counting.calls = 0
            t = time.perf_counter()
            EmbeddingCache(d, encoder.identity).embed(keys, counting)
            warm.append(time.perf_counter() - t)
            warm_calls.append(counting.calls)
    b, c, w = (statistics.median(x) for x in (bare, cold, warm))
    print(
        f"[1] cache overhead, cold / bare encoder on {args.n} unique n-grams: "
        f"{c / b:.3f}x (goal <= 1.25)"
    )
    print(
        f"[2] cached rerun: {max(warm_calls)} model calls (goal 0), "
        f"{100 * w / c:.2f}% of cold time (goal <= 5%)"
    )

    sentences = texts[: args.sentences]
    occurrences = [ngrams(s, spec) for s in sentences]
    naive_enc = Encoder(batch_size=8, max_length=32)
    naive_enc.encode(["warm up"])
    naive, ours = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        for occ in occurrences:  # imodelsx: every occurrence, per sentence, batches of 8
            for i in range(0, len(occ), 8):
                naive_enc.encode(occ[i : i + 8])
        naive.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            unique = list(dict.fromkeys(g for occ in occurrences for g in occ))
            EmbeddingCache(d, encoder.identity).embed(unique, encoder)
            ours.append(time.perf_counter() - t)
    n_occ = sum(len(o) for o in occurrences)
    print(
        f"[3] {len(sentences)} SST-2 sentences ({n_occ} n-gram occurrences, {len(unique)} "
        f"unique): per-occurrence batches of 8 / dedup+sorted batches = "
        f"{statistics.median(naive) / statistics.median(ours):.1f}x"
    )

    print("[4] unique / total n-grams per dataset (all splits):")
    for name in ("sst2", "amazon-beauty", "amazon-fashion", "amazon-appliances", "essays"):
        ds = (
            sst2
            if name == "sst2"
            else prepare_dataset(name, params.dataset(name), SplitParams(), raw)
        )
        all_texts = [t for f in ds.splits.values() for t in f.get_column("text").to_list()]
        for order in (1, 2):
            table = ngram_table(all_texts, NgramSpec(order=order))
            total = int(table.get_column("count").sum())
            print(
                f"    {name:18s} n<={order}: {table.height:>8,} unique / {total:>10,} total "
                f"= {table.height / total:.3f}"
            )


if __name__ == "__main__":
    main()
