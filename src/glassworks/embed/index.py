"""A dataset's n-gram index and its embedding matrix (the ``embed`` stage output).

``<dir>/ngrams.parquet`` (``ngram``, ``count`` over the texts used), ``<dir>/embeddings.npy``
(float32, one row per n-gram, memory-mappable), ``<dir>/texts.parquet`` (``id, split`` of the texts
used) and ``<dir>/embed.json`` (encoder identity, n-gram rule, cache reference). Written to a temp
directory and renamed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.embed.cache import CachedEmbedder, EmbedStats
from glassworks.embed.encoder import Encoder
from glassworks.embed.ngrams import NgramSpec, count_ngrams
from glassworks.errors import DataError
from glassworks.io import DAMAGED, atomic_dir, read_json, read_npy, read_parquet


def ngram_table(texts: Sequence[str], spec: NgramSpec) -> pl.DataFrame:
    """Every distinct n-gram of ``texts`` with its total count, most frequent first."""
    total: Counter[str] = Counter()
    for c in count_ngrams(texts, spec):
        total.update(c)
    if spec.min_frequency > 1:
        total = Counter({g: n for g, n in total.items() if n >= spec.min_frequency})
    frame = pl.DataFrame(
        {"ngram": list(total), "count": list(total.values())},
        schema={"ngram": pl.String, "count": pl.Int64},
    )
    return frame.sort(["count", "ngram"], descending=[True, False])


def write_index(
    out_dir: Path,
    table: pl.DataFrame,
    vectors: np.ndarray,
    texts: pl.DataFrame,
    meta: dict[str, Any],
) -> None:
    """Write the n-gram index, its embeddings and metadata atomically."""
    if len(table) != len(vectors):
        raise ValueError("n-gram table and embeddings differ in length")
    with atomic_dir(out_dir) as tmp:
        table.write_parquet(tmp / "ngrams.parquet")
        np.save(tmp / "embeddings.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        texts.write_parquet(tmp / "texts.parquet")
        (tmp / "embed.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_index(folder: Path) -> tuple[list[str], np.ndarray, pl.DataFrame, dict[str, Any]]:
    """N-grams, their (memory-mapped) embeddings, the texts used and the metadata."""
    folder = Path(folder)
    if not (folder / "embed.json").is_file():
        raise DataError(folder, "no embed.json: run the embed stage first (dvc repro embed)")
    keys = read_parquet(folder / "ngrams.parquet", ["ngram"]).get_column("ngram").to_list()
    vectors = read_npy(folder / "embeddings.npy")
    meta = read_json(folder / "embed.json")
    if not isinstance(meta, dict):
        raise DataError(folder / "embed.json", f"damaged (not an object); {DAMAGED}")
    if vectors.ndim != 2 or vectors.shape[0] != len(keys):
        raise DataError(
            folder / "embeddings.npy", f"shape {vectors.shape} for {len(keys)} n-grams; {DAMAGED}"
        )
    texts = read_parquet(folder / "texts.parquet", ["id", "split"])
    return keys, vectors, texts, meta


def spec_dict(spec: NgramSpec) -> dict[str, Any]:
    """The n-gram rule as JSON."""
    return asdict(spec)


def ngram_spec(meta: dict[str, Any]) -> NgramSpec:
    """The n-gram rule an index was built with (its ``embed.json``)."""
    return NgramSpec(**meta["ngrams"])


def embedder_from_index(
    keys: Sequence[str], vectors: np.ndarray, meta: dict[str, Any]
) -> CachedEmbedder:
    """The embedder an index was built with: its encoder (``meta["encoder"]``) through the shared
    cache it used (``meta["cache"]["dir"]``, as recorded), serving the index's own vectors from
    memory; n-grams the index lacks go through the cache (and the encoder if the cache lacks
    them too)."""
    embedder = CachedEmbedder(Encoder(**meta["encoder"]), meta["cache"]["dir"])
    embedder.add_table(keys, np.asarray(vectors))
    return embedder


def index_metrics(n_texts: int, table: pl.DataFrame, stats: EmbedStats) -> dict[str, Any]:
    """An index's facts (the ``embed`` stage's DVC metrics, the same on every machine): texts,
    n-gram occurrences, distinct n-grams and their ratio."""
    total = int(table.get_column("count").sum())
    return {
        "texts": n_texts,
        "ngrams_total": total,
        "ngrams_unique": stats.unique,
        "unique_ratio": round(stats.unique / max(total, 1), 4),
    }


def cache_metrics(stats: EmbedStats, n_truncated: int) -> dict[str, Any]:
    """One embedding run's machine state (cache warmth, speed; for MLflow, not DVC):
    ``ngrams_per_second`` is None when nothing was encoded."""
    return {
        "newly_embedded": stats.newly_embedded,
        "cache_hits": stats.cache_hits,
        "truncated_newly_embedded": n_truncated,
        "ngrams_per_second": round(stats.newly_embedded / stats.seconds_encoding, 1)
        if stats.seconds_encoding > 0
        else None,
    }
