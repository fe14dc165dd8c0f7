"""The embed stage's index: read back, and the embedder rebuilt from its metadata."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import polars as pl

from glassworks.embed.cache import CachedEmbedder, EmbedStats
from glassworks.embed.index import (
    cache_metrics,
    embedder_from_index,
    index_metrics,
    ngram_spec,
    ngram_table,
    read_index,
    spec_dict,
    write_index,
)
from glassworks.embed.ngrams import NgramSpec


def _index(tmp_path: Path) -> Path:
    spec = NgramSpec(order=2, mode="all", stopwords=False, min_frequency=1)
    table = ngram_table(["good film", "bad film"], spec)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(table.height, 4)).astype(np.float32)
    meta = {
        "encoder": {"model": "default", "layer": 2, "max_length": 16},
        "ngrams": spec_dict(spec),
        "cache": {"namespace": "x", "dir": ".cache/embeddings"},
    }
    texts = pl.DataFrame({"id": ["a", "b"], "split": ["train", "test"]})
    write_index(tmp_path / "idx", table, vectors, texts, meta)
    return tmp_path / "idx"


def test_embedder_from_index_serves_the_index_vectors(tmp_path: Path) -> None:
    keys, vectors, _, meta = read_index(_index(tmp_path))
    embedder = embedder_from_index(keys, vectors, meta)
    assert isinstance(embedder, CachedEmbedder)
    # served from memory: the (lazily loaded) encoder never runs
    np.testing.assert_array_equal(embedder.embed(keys[::-1]), np.asarray(vectors)[::-1])
    assert embedder.encoder.layer == 2
    assert embedder.encoder.max_length == 16
    assert embedder.cache_root == ".cache/embeddings"  # as recorded, not resolved
    # pickled (inside model.pkl) it keeps the configuration only
    state = pickle.loads(pickle.dumps(embedder))
    assert state.cache_root == ".cache/embeddings"
    assert state._table == {}


def test_ngram_spec_is_the_rule_written(tmp_path: Path) -> None:
    _, _, _, meta = read_index(_index(tmp_path))
    assert ngram_spec(meta) == NgramSpec(order=2, mode="all", stopwords=False, min_frequency=1)


def test_index_and_cache_metrics() -> None:
    table = pl.DataFrame({"ngram": ["a", "b", "a b"], "count": [5, 3, 2]})
    stats = EmbedStats(requested=3, unique=3, cache_hits=1, newly_embedded=2, seconds_encoding=0.5)
    assert index_metrics(4, table, stats) == {
        "texts": 4,
        "ngrams_total": 10,
        "ngrams_unique": 3,
        "unique_ratio": 0.3,
    }
    assert cache_metrics(stats, 1) == {
        "newly_embedded": 2,
        "cache_hits": 1,
        "truncated_newly_embedded": 1,
        "ngrams_per_second": 4.0,
    }
    warm = EmbedStats(requested=3, unique=3, cache_hits=3, newly_embedded=0, seconds_encoding=0.0)
    assert cache_metrics(warm, 0)["ngrams_per_second"] is None
    empty = pl.DataFrame({"ngram": [], "count": []}, schema={"ngram": pl.String, "count": pl.Int64})
    assert index_metrics(0, empty, warm)["unique_ratio"] == 3.0  # no division by zero
