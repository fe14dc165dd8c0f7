"""Content-addressed embedding cache shared by every dataset and run.

Layout: ``<root>/<namespace>/`` per encoder identity (model weights hash + pooling + layer + ...),
holding ``identity.json`` and append-only shards ``<shard>.npy`` (float32 rows) +
``<shard>.keys.parquet`` (the n-gram of each row). A shard is written to temp files and renamed,
the key table last: a shard is complete iff its key table exists, so a killed run leaves no
corrupt shard and a rerun embeds only what is missing. Writers never touch each other's shards, so
two processes may fill the same namespace at once (a key embedded by both is read from the first
shard in name order). Vectors are read through memory maps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from glassworks.io import atomic_path

log = logging.getLogger(__name__)


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


class EmbeddingCache:
    """Append-only, memory-mapped store of vectors for one encoder identity."""

    def __init__(self, root: str | Path, identity: str) -> None:
        self.root = Path(root)
        self.identity = identity
        self.namespace = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.dir = self.root / self.namespace
        self._index: dict[str, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self._seen: set[str] = set()

    def _ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        ident = self.dir / "identity.json"
        if not ident.exists():
            with atomic_path(ident) as tmp:
                tmp.write_text(json.dumps(json.loads(self.identity), indent=2) + "\n")

    def refresh(self) -> None:
        """Index shards written since the last look (by this or another process)."""
        if not self.dir.is_dir():
            return
        for keys_path in sorted(self.dir.glob("*.keys.parquet")):
            name = keys_path.name[: -len(".keys.parquet")]
            if name in self._seen:
                continue
            try:
                keys = pl.read_parquet(keys_path).get_column("key").to_list()
                vectors = np.load(self.dir / f"{name}.npy", mmap_mode="r")
            except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
                log.warning("embedding cache: skipping unreadable shard %s (%s)", name, exc)
                self._seen.add(name)
                continue
            if vectors.ndim != 2 or vectors.shape[0] != len(keys):
                log.warning("embedding cache: skipping shard %s (rows do not match keys)", name)
                self._seen.add(name)
                continue
            shard = len(self._shards)
            self._shards.append(vectors)
            self._seen.add(name)
            for row, key in enumerate(keys):
                self._index.setdefault(key, (shard, row))

    def __len__(self) -> int:
        self.refresh()
        return len(self._index)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """Vectors of ``keys`` (all must be cached) as a float32 array."""
        self.refresh()
        if not keys:
            dim = self._shards[0].shape[1] if self._shards else 0
            return np.zeros((0, dim), dtype=np.float32)
        missing = [k for k in keys if k not in self._index]
        if missing:
            raise KeyError(f"{len(missing)} keys not cached, e.g. {missing[0]!r}")
        locs = np.array([self._index[k] for k in keys], dtype=np.int64)
        out = np.empty((len(keys), self._shards[locs[0, 0]].shape[1]), dtype=np.float32)
        for shard in np.unique(locs[:, 0]):
            sel = np.flatnonzero(locs[:, 0] == shard)
            out[sel] = self._shards[shard][locs[sel, 1]]
        return out

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Append one shard atomically (vectors first, then the key table that completes it)."""
        if len(keys) != len(vectors):
            raise ValueError("keys and vectors differ in length")
        if not len(keys):
            return
        self._ensure_dir()
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with atomic_path(self.dir / f"{name}.npy") as tmp, tmp.open("wb") as f:
            np.save(f, np.ascontiguousarray(vectors, dtype=np.float32))
        with atomic_path(self.dir / f"{name}.keys.parquet") as tmp:
            pl.DataFrame({"key": list(keys)}, schema={"key": pl.String}).write_parquet(tmp)
        self.refresh()

    def embed(
        self,
        keys: Sequence[str],
        encoder: TextEncoder,
        *,
        shard_size: int = 4096,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, EmbedStats]:
        """Vectors for ``keys``; the encoder runs only on keys not cached yet, shard by shard."""
        self.refresh()
        unique = list(dict.fromkeys(keys))
        missing = [k for k in unique if k not in self._index]
        if progress is not None and len(unique) > len(missing):
            progress(len(unique) - len(missing))
        seconds = 0.0
        for start in range(0, len(missing), shard_size):
            chunk = missing[start : start + shard_size]
            t0 = time.perf_counter()
            vectors = encoder.encode(chunk, progress=progress)
            seconds += time.perf_counter() - t0
            self.add(chunk, vectors)
        stats = EmbedStats(
            requested=len(keys),
            unique=len(unique),
            cache_hits=len(unique) - len(missing),
            newly_embedded=len(missing),
            seconds_encoding=seconds,
        )
        return self.get(list(keys)), stats

    def describe(self) -> dict[str, Any]:
        """What a stage records as its reference to this cache."""
        self.refresh()
        return {
            "root": str(self.root),
            "namespace": self.namespace,
            "identity": json.loads(self.identity),
            "keys": len(self._index),
            "shards": len(self._shards),
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
