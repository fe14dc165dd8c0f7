"""Content-addressed embedding cache shared by every dataset and run.

Layout: ``<root>/<namespace>/`` per encoder identity (model weights hash + pooling + layer + ...),
holding ``identity.json`` and append-only shards ``<shard>.npy`` (float32 rows) +
``<shard>.keys.parquet`` (the n-gram of each row, and in its metadata the SHA-256 of the ``.npy``
file and of the keys). A shard is written to temp files and renamed, the key table last: a shard is
complete iff its key table exists, so a process killed at any point leaves no corrupt shard and a
rerun embeds only what is missing. A shard whose bytes no longer match its checksum (disk or copy
damage) is moved aside (``*.corrupt``) the first time it is read, and its keys are embedded again.

Writers take an exclusive lock on ``<namespace>/.lock`` (``flock``: released by the kernel when a
process dies, even by ``kill -9``) around "look up what is missing, encode it, write the shard", so
processes filling the same namespace at once store every key exactly once.
:meth:`EmbeddingCache.fill` encodes outside the lock and takes it only to write what is still
missing (still once per key), so writers with disjoint keys, e.g. a cluster's workers, encode in
parallel. Readers never lock.
Vectors are read through memory maps.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from glassworks.io import atomic_path

log = logging.getLogger(__name__)

SHA_KEY = "glassworks.vectors_sha256"
KEYS_SHA_KEY = "glassworks.keys_sha256"


class TextEncoder(Protocol):
    """What the cache needs from an encoder."""

    @property
    def identity(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedStats:
    """Accounting of one :meth:`EmbeddingCache.embed` call."""

    requested: int
    unique: int
    cache_hits: int
    newly_embedded: int
    seconds_encoding: float


@dataclass
class VerifyReport:
    """What :meth:`EmbeddingCache.verify` found."""

    shards: int = 0
    keys: int = 0
    duplicate_keys: int = 0
    sealed: int = 0
    corrupt: list[str] = field(default_factory=list)
    temp_files_removed: int = 0

    @property
    def ok(self) -> bool:
        """No corrupt shard and no key stored twice."""
        return not self.corrupt and not self.duplicate_keys


@dataclass
class _Shard:
    name: str
    keys: list[str]
    vectors: np.ndarray | None
    sha256: str | None
    verified: bool = False


def _keys_digest(keys: Sequence[str]) -> str:
    return hashlib.sha256("\0".join(keys).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class EmbeddingCache:
    """Append-only, memory-mapped, checksummed store of vectors for one encoder identity."""

    def __init__(self, root: str | Path, identity: str, *, verify: bool = True) -> None:
        self.root = Path(root)
        self.identity = identity
        self.verify_reads = verify
        self.namespace = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.dir = self.root / self.namespace
        self._index: dict[str, tuple[int, int]] = {}
        self._shards: list[_Shard] = []
        self._seen: set[str] = set()
        self.quarantined: list[str] = []
        self.temp_files_removed = 0

    @classmethod
    def open_dir(cls, folder: str | Path, *, verify: bool = True) -> EmbeddingCache:
        """The cache of an existing namespace folder (``<root>/<namespace>``)."""
        folder = Path(folder)
        ident = folder / "identity.json"
        if not ident.is_file():
            raise FileNotFoundError(f"{folder}: no identity.json (not a cache namespace)")
        cache = cls(folder.parent, ident.read_text(), verify=verify)
        cache.namespace, cache.dir = folder.name, folder
        return cache

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the namespace's writer lock; temp files found under it are a dead writer's."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                for stale in self.dir.glob(".*.tmp"):
                    log.info("embedding cache: removing %s (left by a killed writer)", stale.name)
                    stale.unlink(missing_ok=True)
                    self.temp_files_removed += 1
                ident = self.dir / "identity.json"
                if not ident.exists():
                    with atomic_path(ident) as tmp:
                        tmp.write_text(json.dumps(json.loads(self.identity), indent=2) + "\n")
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def refresh(self) -> None:
        """Index shards written since the last look (by this or another process)."""
        if not self.dir.is_dir():
            return
        for keys_path in sorted(self.dir.glob("*.keys.parquet")):
            name = keys_path.name[: -len(".keys.parquet")]
            if name in self._seen:
                continue
            self._seen.add(name)
            try:
                keys = pl.read_parquet(keys_path).get_column("key").to_list()
                meta = pl.read_parquet_metadata(keys_path)
                vectors = np.load(self.dir / f"{name}.npy", mmap_mode="r")
            except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
                log.warning("embedding cache: skipping unreadable shard %s (%s)", name, exc)
                continue
            if vectors.ndim != 2 or vectors.shape[0] != len(keys):
                log.warning("embedding cache: skipping shard %s (rows do not match keys)", name)
                continue
            if KEYS_SHA_KEY in meta and meta[KEYS_SHA_KEY] != _keys_digest(keys):
                self._quarantine(name, "its keys do not match their checksum")
                continue
            self._shards.append(_Shard(name, keys, vectors, meta.get(SHA_KEY)))
            self._index_shard(len(self._shards) - 1)

    def _index_shard(self, shard: int) -> None:
        """Serve the keys of ``shard`` that no earlier shard serves."""
        for row, key in enumerate(self._shards[shard].keys):
            self._index.setdefault(key, (shard, row))

    def _quarantine(self, name: str, why: str) -> None:
        """Move a damaged shard aside (another process may have done so already)."""
        log.warning("embedding cache: shard %s is corrupt (%s); moved aside", name, why)
        self.quarantined.append(name)
        for suffix in (".keys.parquet", ".npy"):
            src = self.dir / f"{name}{suffix}"
            with contextlib.suppress(FileNotFoundError):
                os.replace(src, src.with_name(f"{src.name}.corrupt"))

    def _check(self, shard: int) -> bool:
        """Verify one shard's checksum once per process; drop it from the index if damaged."""
        s = self._shards[shard]
        if s.vectors is None:
            return False
        if s.verified or s.sha256 is None:
            return True
        if _file_digest(self.dir / f"{s.name}.npy") == s.sha256:
            s.verified = True
            return True
        self._quarantine(s.name, "its vectors do not match their checksum")
        s.vectors = None
        self._index = {}
        for i, other in enumerate(self._shards):
            if other.vectors is not None:
                self._index_shard(i)
        return False

    def _check_keys(self, keys: Sequence[str]) -> None:
        """Verify every shard that ``keys`` are read from (until none is found damaged)."""
        if not self.verify_reads:
            return
        while True:
            shards = {self._index[k][0] for k in keys if k in self._index}
            if all(self._check(s) for s in sorted(shards)):
                return

    def __len__(self) -> int:
        self.refresh()
        return len(self._index)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """Vectors of ``keys`` (all must be cached) as a float32 array."""
        self.refresh()
        self._check_keys(keys)
        if not keys:
            live = [s.vectors for s in self._shards if s.vectors is not None]
            return np.zeros((0, live[0].shape[1] if live else 0), dtype=np.float32)
        missing = [k for k in keys if k not in self._index]
        if missing:
            raise KeyError(f"{len(missing)} keys not cached, e.g. {missing[0]!r}")
        locs = np.array([self._index[k] for k in keys], dtype=np.int64)
        first = self._shards[locs[0, 0]].vectors
        assert first is not None
        out = np.empty((len(keys), first.shape[1]), dtype=np.float32)
        for shard in np.unique(locs[:, 0]):
            sel = np.flatnonzero(locs[:, 0] == shard)
            vectors = self._shards[shard].vectors
            assert vectors is not None
            out[sel] = vectors[locs[sel, 1]]
        return out

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> int:
        """Append the keys not stored yet as one shard (under the writer lock); how many were."""
        if len(keys) != len(vectors):
            raise ValueError("keys and vectors differ in length")
        with self.write_lock():
            self.refresh()
            new = [i for i, k in enumerate(keys) if k not in self._index]
            self._write_shard([keys[i] for i in new], np.asarray(vectors)[new])
        return len(new)

    def _write_shard(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Write one shard: vectors, then the key table with both checksums (caller holds the
        lock)."""
        if not len(keys):
            return
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        npy = self.dir / f"{name}.npy"
        with atomic_path(npy) as tmp, tmp.open("wb") as f:
            np.save(f, np.ascontiguousarray(vectors, dtype=np.float32))
        self._write_keys(name, keys, _file_digest(npy))
        self.refresh()

    def _write_keys(self, name: str, keys: Sequence[str], vectors_sha256: str) -> None:
        """The key table that completes shard ``name``, with both checksums in its metadata."""
        meta = {SHA_KEY: vectors_sha256, KEYS_SHA_KEY: _keys_digest(keys)}
        with atomic_path(self.dir / f"{name}.keys.parquet") as tmp:
            frame = pl.DataFrame({"key": list(keys)}, schema={"key": pl.String})
            frame.write_parquet(tmp, metadata=meta)

    def embed(
        self,
        keys: Sequence[str],
        encoder: TextEncoder,
        *,
        shard_size: int = 4096,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, EmbedStats]:
        """Vectors for ``keys``; the encoder runs only on keys not cached yet, shard by shard.

        Each shard is looked up, encoded and written under the writer lock, so keys another
        process stored meanwhile are not encoded again."""
        stats = self._store_missing(keys, encoder, shard_size, progress, encode_locked=True)
        return self.get(list(keys)), stats

    def fill(
        self,
        keys: Sequence[str],
        encoder: TextEncoder,
        *,
        shard_size: int = 4096,
        progress: Callable[[int], None] | None = None,
    ) -> EmbedStats:
        """Store the vectors of the ``keys`` not cached yet, encoding them outside the writer lock;
        returns the accounting, not the vectors.

        :meth:`embed` holds the lock while it encodes, so writers of one namespace take turns;
        here only "write what is still missing" (:meth:`add`) is under the lock, so writers with
        disjoint keys (the chunks of a cluster) encode at the same time. Each key is still stored
        once: a key another writer stored meanwhile is not written again (the vector computed here
        is dropped; the encoder computes a text's vector from the text alone, so it is the same).
        ``newly_embedded`` counts the keys this call stored, ``cache_hits`` the others."""
        return self._store_missing(keys, encoder, shard_size, progress, encode_locked=False)

    def _store_missing(
        self,
        keys: Sequence[str],
        encoder: TextEncoder,
        shard_size: int,
        progress: Callable[[int], None] | None,
        *,
        encode_locked: bool,
    ) -> EmbedStats:
        """Encode and store the keys not cached yet, shard by shard: with ``encode_locked`` each
        shard is looked up, encoded and written under the writer lock (:meth:`embed`), else only
        written under it (:meth:`fill`)."""
        self.refresh()
        unique = list(dict.fromkeys(keys))
        self._check_keys(unique)
        missing = [k for k in unique if k not in self._index]
        if progress is not None and len(unique) > len(missing):
            progress(len(unique) - len(missing))
        seconds, stored = 0.0, 0
        for start in range(0, len(missing), shard_size):
            chunk = missing[start : start + shard_size]
            with self.write_lock() if encode_locked else contextlib.nullcontext():
                self.refresh()
                todo = [k for k in chunk if k not in self._index]
                if progress is not None and len(todo) < len(chunk):
                    progress(len(chunk) - len(todo))
                if not todo:
                    continue
                t0 = time.perf_counter()
                vectors = encoder.encode(todo, progress=progress)
                seconds += time.perf_counter() - t0
                if encode_locked:
                    self._write_shard(todo, vectors)
                    stored += len(todo)
                else:
                    stored += self.add(todo, vectors)
        return EmbedStats(
            requested=len(keys),
            unique=len(unique),
            cache_hits=len(unique) - stored,
            newly_embedded=stored,
            seconds_encoding=seconds,
        )

    def verify(self, *, seal: bool = True) -> VerifyReport:
        """Check every shard's checksums (moving damaged ones aside), count keys stored twice,
        remove temp files of killed writers, and with ``seal`` record checksums for shards written
        before checksums existed."""
        report = VerifyReport()
        if not self.dir.is_dir():
            return report
        with self.write_lock():
            self.refresh()
            counts: dict[str, int] = {}
            for i, s in enumerate(self._shards):
                if s.vectors is None:
                    continue
                if s.sha256 is None and seal:
                    s.sha256 = _file_digest(self.dir / f"{s.name}.npy")
                    self._write_keys(s.name, s.keys, s.sha256)
                    report.sealed += 1
                s.verified = False
                if not self._check(i):
                    continue
                report.shards += 1
                for key in s.keys:
                    counts[key] = counts.get(key, 0) + 1
            report.keys = len(counts)
            report.duplicate_keys = sum(1 for c in counts.values() if c > 1)
        report.corrupt = list(dict.fromkeys(self.quarantined))
        report.temp_files_removed = self.temp_files_removed
        return report

    def describe(self) -> dict[str, Any]:
        """What a stage records as its reference to this cache."""
        self.refresh()
        return {
            "root": str(self.root),
            "namespace": self.namespace,
            "identity": json.loads(self.identity),
            "keys": len(self._index),
            "shards": sum(s.vectors is not None for s in self._shards),
        }


class CachedEmbedder:
    """Embed n-grams through the cache, running ``encoder`` only for missing ones.

    ``add_table`` registers vectors already in memory (e.g. the ``embed`` stage's output) so a
    lookup needs neither the model nor the disk cache. Pickling keeps only the configuration: a
    loaded model can embed n-grams it never saw, with the same encoder, on any machine.
    """

    def __init__(self, encoder: TextEncoder, cache_root: str | Path | None = None) -> None:
        self.encoder = encoder
        self.cache_root = None if cache_root is None else str(cache_root)
        self._table: dict[str, np.ndarray] = {}
        self._cache: EmbeddingCache | None = None
        self.last_stats: EmbedStats | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "cache_root": self.cache_root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["encoder"], state["cache_root"])  # type: ignore[misc]

    @property
    def cache(self) -> EmbeddingCache | None:
        """The disk cache for this encoder's identity (None when no root was given)."""
        if self._cache is None and self.cache_root is not None:
            self._cache = EmbeddingCache(self.cache_root, self.encoder.identity)
        return self._cache

    def add_table(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Serve ``keys`` from memory from now on."""
        self._table.update(zip(keys, vectors, strict=True))

    def embed(
        self, keys: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors for ``keys`` (float32, ``(len(keys), dim)``)."""
        keys = list(keys)
        rest = list(dict.fromkeys(k for k in keys if k not in self._table))
        if rest:
            if self.cache is not None:
                vectors, self.last_stats = self.cache.embed(rest, self.encoder, progress=progress)
            else:
                vectors = self.encoder.encode(rest, progress=progress)
            self.add_table(rest, vectors)
        if not keys:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([self._table[k] for k in keys]).astype(np.float32, copy=False)
