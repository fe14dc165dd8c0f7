"""Scale-out on a real Dask engine (a ``LocalCluster`` of two worker processes): the embedding
cache filled by two workers holds each n-gram once with the single-process values; grid cells fan
out in order and a failing cell is named."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from distributed import Client

from flows.scale import (
    ChunkFailed,
    GridError,
    cluster,
    embed_chunk,
    embed_on_cluster,
    map_grid,
    resolve_address,
    tabular_cell,
    tabular_cells,
)
from glassworks.embed.cache import CachedEmbedder, EmbeddingCache
from tests.fakes import HashEncoder, toy_tabular

WORDS = ["good", "bad", "film", "plot", "actor", "slow", "funny", "dull", "warm", "cold",
         "script", "score", "twist", "long", "short", "bright", "dark", "sweet", "sharp",
         "flat"]  # fmt: skip


def corpus(n_texts: int = 120, seed: int = 0) -> list[str]:
    """Unigrams and bigrams of random sentences: a few hundred distinct n-grams, most repeated."""
    rng = np.random.default_rng(seed)
    grams = []
    for _ in range(n_texts):
        words = list(rng.choice(WORDS, size=rng.integers(3, 7)))
        grams += words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return grams


class SlowHashEncoder(HashEncoder):
    """``HashEncoder`` that takes a moment per call, so two workers' writes overlap in time."""

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None):  # noqa: ANN201
        time.sleep(0.02)
        return super().encode(texts, progress)


class SleepyEncoder(HashEncoder):
    """Takes 0.3 s per call without using the CPU: model time that overlaps only if the workers
    encode at the same time, whatever else loads the machine."""

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None):  # noqa: ANN201
        time.sleep(0.3)
        return super().encode(texts, progress)


class FailingEncoder(HashEncoder):
    """Refuses any text containing ``poison``."""

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None):  # noqa: ANN201
        bad = [t for t in texts if "poison" in t]
        if bad:
            raise ValueError(f"cannot encode {bad[0]!r}")
        return super().encode(texts, progress)


def shard_rows(cache_dir: Path) -> tuple[list[str], int]:
    """Every key over the complete shards of a namespace folder, and the vector rows stored."""
    keys: list[str] = []
    rows = 0
    for keys_path in sorted(cache_dir.glob("*.keys.parquet")):
        keys += pl.read_parquet(keys_path).get_column("key").to_list()
        rows += np.load(str(keys_path).removesuffix(".keys.parquet") + ".npy").shape[0]
    return keys, rows


def warm_up() -> None:
    """Run on each worker: importing this module imports the library, so no test times it."""
    import glassworks.data.prepare  # noqa: F401


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with cluster("local", n_workers=2, threads_per_worker=1) as c:
        c.wait_for_workers(2, timeout=120)
        c.run(warm_up)
        yield c


def test_two_workers_store_each_ngram_once_with_single_process_values(
    client: Client, tmp_path: Path
) -> None:
    keys = corpus()
    unique = list(dict.fromkeys(keys))
    assert 200 <= len(unique) < len(keys)
    encoder = SlowHashEncoder(dim=8)
    done: list[int] = []
    stats = embed_on_cluster(client, encoder, tmp_path / "cluster", keys, 16, progress=done.append)

    assert (stats.requested, stats.unique) == (len(keys), len(unique))
    assert stats.chunks == -(-len(unique) // 16)
    assert sum(done) == len(unique)
    assert stats.newly_embedded == len(unique)
    assert stats.cache_hits == 0
    assert len(stats.workers) == 2, stats.workers  # both workers took chunks
    assert sum(w["newly_embedded"] for w in stats.workers.values()) == len(unique)

    cache = EmbeddingCache(tmp_path / "cluster", encoder.identity)
    stored, rows = shard_rows(cache.dir)
    assert rows == len(stored) == len(unique)
    assert sorted(stored) == sorted(unique)  # each n-gram exactly once
    report = cache.verify()
    assert report.ok
    assert report.keys == len(unique)

    single = CachedEmbedder(HashEncoder(dim=8), tmp_path / "single").embed(unique)
    np.testing.assert_array_equal(cache.get(unique), single)

    again = embed_on_cluster(client, encoder, tmp_path / "cluster", keys[::-1], 50)
    assert (again.newly_embedded, again.cache_hits) == (0, len(unique))
    assert shard_rows(cache.dir)[1] == len(unique)


def test_overlapping_chunks_race_through_the_lock(client: Client, tmp_path: Path) -> None:
    """Both workers embed the same keys at once (chunks overlap by half): the cache's writer lock
    still stores each key once."""
    unique = list(dict.fromkeys(corpus(seed=1)))
    encoder = SlowHashEncoder(dim=8)
    root = str(tmp_path / "race")
    half = len(unique) // 2
    chunks = [unique, unique[half:] + unique[:half], unique[::-1], unique]
    futures = [client.submit(embed_chunk, encoder, root, chunk, 8, pure=False) for chunk in chunks]
    parts = client.gather(futures)
    assert sum(p["newly_embedded"] for p in parts) == len(unique)
    assert len({p["worker"] for p in parts}) == 2
    stored, rows = shard_rows(EmbeddingCache(root, encoder.identity).dir)
    assert rows == len(stored) == len(unique)
    assert set(stored) == set(unique)
    single = CachedEmbedder(HashEncoder(dim=8), tmp_path / "single").embed(unique)
    np.testing.assert_array_equal(EmbeddingCache(root, encoder.identity).get(unique), single)


def test_workers_encode_at_the_same_time(client: Client, tmp_path: Path) -> None:
    """The model runs outside the cache's write lock: two workers' model time overlaps (with the
    lock held while encoding, the wall time would be at least the summed model time)."""
    keys = [f"gram {i}" for i in range(80)]
    stats = embed_on_cluster(client, SleepyEncoder(dim=4), tmp_path, keys, 10)
    assert stats.newly_embedded == 80
    assert stats.seconds_encoding >= 8 * 0.3
    assert stats.seconds_wall < 0.8 * stats.seconds_encoding, stats


def test_failed_chunk_is_named_and_the_rest_is_cached(client: Client, tmp_path: Path) -> None:
    keys = [f"word{i}" for i in range(40)] + ["poison pill"] + [f"more{i}" for i in range(19)]
    encoder = FailingEncoder(dim=4)
    with pytest.raises(
        ChunkFailed, match=r"(?s)1 of 6 .*chunk 4 \(10 keys from 'poison pill'\)"
    ) as err:
        embed_on_cluster(client, encoder, tmp_path, keys, 10, shard_size=10)
    assert "ValueError: cannot encode 'poison pill'" in str(err.value)
    cache = EmbeddingCache(tmp_path, encoder.identity)
    assert len(cache) == 50
    assert "poison pill" not in cache


def square(x: int, offset: int = 0) -> int:
    return x * x + offset


def picky(x: int) -> int:
    if x % 3 == 2:
        raise ValueError(f"no {x}")
    return x


def test_map_grid_keeps_the_cells_order(client: Client) -> None:
    cells = [{"x": x, "offset": 1} for x in range(12)]
    assert map_grid(client, square, cells) == [x * x + 1 for x in range(12)]
    assert map_grid(client, square, []) == []


def test_map_grid_names_each_failing_cell(client: Client) -> None:
    with pytest.raises(GridError, match=r"2 of 6 cells of picky failed") as err:
        map_grid(client, picky, [{"x": x} for x in range(6)])
    message = str(err.value)
    assert "- cell 2 (x=2): ValueError: no 2" in message
    assert "- cell 5 (x=5): ValueError: no 5" in message
    assert [f.index for f in err.value.failures] == [2, 5]
    assert err.value.results == [0, 1, None, 3, 4, None]
    assert isinstance(err.value.__cause__, ValueError)


def test_tabular_grid_on_the_cluster_matches_in_process(client: Client, tmp_path: Path) -> None:
    from glassworks.data.prepare import write_prepared
    from glassworks.data.schema import PreparedDataset

    frame = toy_tabular(150)
    splits = {"train": frame[:90], "valid": frame[90:120], "test": frame[120:]}
    write_prepared(
        PreparedDataset("toy", "toy", "tabular", "binary", ["no", "yes"], splits, {}, {}),
        tmp_path / "prepared" / "toy",
    )
    params = tmp_path / "params.yaml"
    params.write_text(
        "train_tabular:\n  seeds: [0, 1]\n  datasets: [toy]\n"
        "  methods: [logistic_regression, decision_tree]\n"
    )
    cells = tabular_cells(params, tmp_path / "prepared")
    assert [(c["method"], c["seed"]) for c in cells] == [
        ("logistic_regression", 0), ("logistic_regression", 1),
        ("decision_tree", 0), ("decision_tree", 1),
    ]  # fmt: skip
    remote = map_grid(client, tabular_cell, cells)
    local = [tabular_cell(**c) for c in cells]
    timing = {"train_time", "inference_time"}
    for r, lo in zip(remote, local, strict=True):
        assert {k: v for k, v in r.items() if k not in timing} == {
            k: v for k, v in lo.items() if k not in timing
        }
        assert 0.0 <= r["test_auroc"] <= 1.0


def test_address_comes_from_the_argument_then_the_environment(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLASSWORKS_DASK", raising=False)
    assert resolve_address(None, from_env=True) == "local"
    monkeypatch.setenv("GLASSWORKS_DASK", client.scheduler.address)
    assert resolve_address(None) == "local"  # only when asked
    assert resolve_address("tcp://other:8786", from_env=True) == "tcp://other:8786"
    with cluster(None, from_env=True) as remote:  # connects to the running scheduler
        assert remote.scheduler.address == client.scheduler.address
        assert map_grid(remote, square, [{"x": 3}]) == [9]
