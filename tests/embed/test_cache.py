import subprocess
import sys
from pathlib import Path

import numpy as np
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
EmbeddingCache(sys.argv[1], enc.identity).embed(keys, enc, shard_size=50)
"""


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), lo, hi], cwd=REPO)
        for lo, hi in (("0", "600"), ("300", "900"))
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.identity)
    assert len(cache) == 900
    keys = [f"k{i}" for i in range(900)]
    np.testing.assert_allclose(cache.get(keys), enc.encode(keys), rtol=1e-6)


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
