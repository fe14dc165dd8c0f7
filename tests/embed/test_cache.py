import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.embed.cache import CachedEmbedder, EmbeddingCache
from tests.fakes import HashEncoder

REPO = Path(__file__).resolve().parents[2]


def test_each_key_embedded_once_across_calls(tmp_path: Path) -> None:
    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.identity)
    vecs, stats = cache.embed(["a", "b", "a", "c"], enc, shard_size=2)
    assert (stats.unique, stats.newly_embedded, stats.cache_hits) == (3, 3, 0)
    np.testing.assert_array_equal(vecs[0], vecs[2])
    np.testing.assert_allclose(vecs, enc.encode(["a", "b", "a", "c"]))
    # a second dataset sharing keys only embeds what is new; a new process sees the shards
    other = EmbeddingCache(tmp_path, enc.identity)
    enc.encoded = 0
    _, stats = other.embed(["c", "d"], enc)
    assert (stats.cache_hits, stats.newly_embedded, enc.encoded) == (1, 1, 1)
    enc.calls = 0
    _, stats = EmbeddingCache(tmp_path, enc.identity).embed(["a", "b", "c", "d"], enc)
    assert (stats.newly_embedded, enc.calls) == (0, 0)


def test_namespaces_by_identity(tmp_path: Path) -> None:
    a, b = HashEncoder(name="m1"), HashEncoder(name="m2")
    EmbeddingCache(tmp_path, a.identity).embed(["x"], a)
    _, stats = EmbeddingCache(tmp_path, b.identity).embed(["x"], b)
    assert stats.newly_embedded == 1
    assert len(list(tmp_path.iterdir())) == 2


class Dies(HashEncoder):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def encode(self, texts, progress=None):  # noqa: ANN001, ANN201
        if self.calls >= self.after:
            raise KeyboardInterrupt("killed")
        return super().encode(texts, progress)


def test_interrupted_run_resumes_without_redoing_finished_shards(tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(10)]
    enc = Dies(after=2)
    with pytest.raises(KeyboardInterrupt):
        EmbeddingCache(tmp_path, enc.identity).embed(keys, enc, shard_size=3)
    ns = next(tmp_path.iterdir())
    assert len(list(ns.glob("*.keys.parquet"))) == 2
    assert not list(ns.glob("*.tmp"))
    fresh = HashEncoder()
    vecs, stats = EmbeddingCache(tmp_path, fresh.identity).embed(keys, fresh, shard_size=3)
    assert (stats.cache_hits, stats.newly_embedded) == (6, 4)
    np.testing.assert_allclose(vecs, fresh.encode(keys))


def test_orphan_and_corrupt_shards_are_ignored(tmp_path: Path) -> None:
    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.identity)
    cache.embed(["a", "b"], enc)
    np.save(cache.dir / "zz-orphan.npy", np.zeros((3, enc.dim), np.float32))  # no key table
    (cache.dir / "zz-bad.keys.parquet").write_bytes(b"not parquet")
    np.save(cache.dir / "zz-bad.npy", np.zeros((1, enc.dim), np.float32))
    again = EmbeddingCache(tmp_path, enc.identity)
    assert len(again) == 2
    np.testing.assert_allclose(again.get(["b"]), enc.encode(["b"]))
    with pytest.raises(KeyError, match="not cached"):
        again.get(["nope"])


WRITER = """
import sys
from glassworks.embed.cache import EmbeddingCache
from tests.fakes import HashEncoder
enc = HashEncoder()
keys = [f"k{i}" for i in range(int(sys.argv[2]), int(sys.argv[3]))]
_, stats = EmbeddingCache(sys.argv[1], enc.identity).embed(keys, enc, shard_size=50)
print("encoded", stats.newly_embedded)
"""


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    """Overlapping key sets written at once: both finish, each key is stored (and encoded) once,
    and the vectors equal a single-process run."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), lo, hi],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for lo, hi in (("0", "600"), ("300", "900"))
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sum(int(o.split()[-1]) for o in outs) == 900  # encoded once in all
    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.identity)
    assert len(cache) == 900
    stored = sum(len(pl.read_parquet(f)) for f in cache.dir.glob("*.keys.parquet"))
    assert stored == 900
    report = cache.verify()
    assert report.ok
    assert (report.keys, report.duplicate_keys) == (900, 0)
    keys = [f"k{i}" for i in range(900)]
    single = EmbeddingCache(tmp_path / "single", enc.identity).embed(keys, enc)[0]
    np.testing.assert_array_equal(cache.get(keys), single)


def _shard(cache: EmbeddingCache, key: str) -> str:
    return next(
        f.name[: -len(".keys.parquet")]
        for f in cache.dir.glob("*.keys.parquet")
        if key in pl.read_parquet(f).get_column("key").to_list()
    )


def test_damaged_vectors_are_moved_aside_and_embedded_again(tmp_path: Path) -> None:
    enc = HashEncoder()
    keys = [f"k{i}" for i in range(10)]
    EmbeddingCache(tmp_path, enc.identity).embed(keys, enc, shard_size=4)
    cache = EmbeddingCache(tmp_path, enc.identity)
    name = _shard(cache, "k5")
    npy = cache.dir / f"{name}.npy"
    data = bytearray(npy.read_bytes())
    data[-3] ^= 0xFF  # one flipped byte in the last vector
    npy.write_bytes(bytes(data))
    fresh = HashEncoder()
    vecs, stats = cache.embed(keys, fresh, shard_size=4)
    assert (stats.newly_embedded, stats.cache_hits) == (4, 6)  # the damaged shard only
    np.testing.assert_array_equal(vecs, fresh.encode(keys))
    assert (cache.dir / f"{name}.npy.corrupt").exists()
    assert not npy.exists()
    assert cache.quarantined == [name]
    assert EmbeddingCache(tmp_path, enc.identity).verify().ok


def test_damaged_key_table_is_moved_aside(tmp_path: Path) -> None:
    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.identity)
    cache.embed(["a", "b"], enc)
    keys_file = next(cache.dir.glob("*.keys.parquet"))
    meta = pl.read_parquet_metadata(keys_file)
    # a valid table whose keys were swapped: vectors would be served under the wrong n-grams
    pl.DataFrame({"key": ["b", "a"]}).write_parquet(keys_file, metadata=meta)
    again = EmbeddingCache(tmp_path, enc.identity)
    assert len(again) == 0
    assert again.quarantined == [keys_file.name[: -len(".keys.parquet")]]
    vecs, stats = again.embed(["a", "b"], enc)
    assert stats.newly_embedded == 2
    np.testing.assert_array_equal(vecs, enc.encode(["a", "b"]))


def test_verify_seals_legacy_shards_and_removes_dead_writers_temp_files(tmp_path: Path) -> None:
    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.identity)
    cache.embed(["a", "b", "c"], enc)
    # a shard from before checksums existed, and a temp file of a writer killed mid-write
    np.save(cache.dir / "00-legacy.npy", enc.encode(["d"]))
    pl.DataFrame({"key": ["d"]}).write_parquet(cache.dir / "00-legacy.keys.parquet")
    (cache.dir / ".00-x.npy.abc.tmp").write_bytes(b"half a shard")
    report = EmbeddingCache(tmp_path, enc.identity).verify()
    assert report.ok
    assert (report.shards, report.keys, report.sealed, report.temp_files_removed) == (2, 4, 1, 1)
    assert not list(cache.dir.glob("*.tmp"))
    meta = pl.read_parquet_metadata(cache.dir / "00-legacy.keys.parquet")
    assert "glassworks.vectors_sha256" in meta
    assert EmbeddingCache(tmp_path, enc.identity).verify().sealed == 0


def test_cached_embedder_table_and_pickle(tmp_path: Path) -> None:
    import pickle

    enc = HashEncoder()
    emb = CachedEmbedder(enc, tmp_path)
    emb.add_table(["pre"], np.ones((1, enc.dim), np.float32))
    out = emb.embed(["pre", "x", "x"])
    np.testing.assert_array_equal(out[0], np.ones(enc.dim))
    assert enc.encoded == 1
    clone = pickle.loads(pickle.dumps(emb))
    assert clone.cache_root == str(tmp_path)
    assert "pre" not in clone._table
    np.testing.assert_allclose(clone.embed(["x"]), out[1:2])


def test_verify_cache_command(tmp_path: Path) -> None:
    from rich.console import Console

    from glassworks import cli

    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.identity)
    cache.embed([f"k{i}" for i in range(6)], enc, shard_size=3)
    out = Console(record=True, width=200)
    assert cli.verify_cache(tmp_path, out) == 0
    npy = next(cache.dir.glob("*.npy"))
    npy.write_bytes(npy.read_bytes()[:-4] + b"\x00\x00\x80\x7f")
    assert cli.verify_cache(tmp_path, out) == 1
    assert npy.with_name(npy.name + ".corrupt").exists()
    assert cli.verify_cache(tmp_path, out) == 0  # the damaged shard is gone, the rest verifies
