"""``EmbeddingCache.fill``: encodes outside the writer lock, still stores each key once."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from glassworks.embed.cache import EmbeddingCache
from tests.fakes import HashEncoder


class LockProbe(HashEncoder):
    """Records, at each call, whether the namespace's writer lock could be taken (it cannot while
    the cache holds it: ``flock`` locks conflict across open file descriptions)."""

    def __init__(self, lock: Path) -> None:
        super().__init__(dim=4)
        self.lock = lock
        self.lock_free: list[bool] = []

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None):  # noqa: ANN201
        with self.lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.lock_free.append(False)
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
                self.lock_free.append(True)
        return super().encode(texts, progress)


def test_fill_stores_what_is_missing_with_embeds_values(tmp_path: Path) -> None:
    enc = HashEncoder(dim=4)
    cache = EmbeddingCache(tmp_path / "fill", enc.identity)
    cache.embed(["a", "b"], enc)
    done: list[int] = []
    stats = cache.fill(["a", "c", "d", "c", "e", "b"], enc, shard_size=2, progress=done.append)
    assert (stats.requested, stats.unique) == (6, 5)
    assert (stats.cache_hits, stats.newly_embedded) == (2, 3)
    assert sum(done) == 5
    assert len(list(cache.dir.glob("*.keys.parquet"))) == 3  # a, b + shards [c, d] and [e]
    reference, _ = EmbeddingCache(tmp_path / "embed", enc.identity).embed(list("abcde"), enc)
    np.testing.assert_array_equal(
        EmbeddingCache(tmp_path / "fill", enc.identity).get(list("abcde")), reference
    )
    again = cache.fill(list("edcba"), enc)
    assert (again.newly_embedded, again.cache_hits) == (0, 5)


def test_fill_encodes_outside_the_lock_and_embed_inside(tmp_path: Path) -> None:
    probe = LockProbe(tmp_path / "unused")
    cache = EmbeddingCache(tmp_path, probe.identity)
    probe.lock = cache.dir / ".lock"
    cache.dir.mkdir(parents=True)
    cache.embed(["a", "b"], probe)
    cache.fill(["c", "d"], probe)
    assert probe.lock_free == [False, True]


class RacingWriter(HashEncoder):
    """While encoding, another writer (a second cache object, as another process would be)
    stores some of the same keys first."""

    def __init__(self, root: Path, stored_first: list[str]) -> None:
        super().__init__(dim=4)
        self.root = root
        self.stored_first = stored_first

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None):  # noqa: ANN201
        other = EmbeddingCache(self.root, self.identity)
        other.add(self.stored_first, HashEncoder(dim=4).encode(self.stored_first))
        return super().encode(texts, progress)


def test_a_key_stored_meanwhile_by_another_writer_is_not_written_twice(tmp_path: Path) -> None:
    enc = RacingWriter(tmp_path, ["b", "c"])
    cache = EmbeddingCache(tmp_path, enc.identity)
    stats = cache.fill(["a", "b", "c", "d"], enc)
    assert (stats.newly_embedded, stats.cache_hits) == (2, 2)
    report = EmbeddingCache(tmp_path, enc.identity).verify()
    assert report.ok
    assert report.keys == 4
    assert report.duplicate_keys == 0
    np.testing.assert_array_equal(
        EmbeddingCache(tmp_path, enc.identity).get(list("abcd")),
        HashEncoder(dim=4).encode(list("abcd")),
    )
