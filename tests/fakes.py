"""Tiny stand-ins for the language model (unit tests only)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import numpy as np


class HashEncoder:
    """Deterministic pseudo-embeddings: a function of the text alone, with a word structure
    (sum of per-word vectors plus a small per-text term) so linear models can learn from it."""

    def __init__(self, dim: int = 16, name: str = "hash") -> None:
        self.dim = dim
        self.name = name
        self.calls = 0
        self.encoded = 0

    @property
    def identity(self) -> str:
        return json.dumps({"model": self.name, "dim": self.dim})

    def _vec(self, key: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        out = (
            np.stack(
                [sum(self._vec(w) for w in t.split()) + 0.1 * self._vec("#" + t) for t in texts]
            )
            if texts
            else np.zeros((0, self.dim))
        )
        if progress is not None:
            progress(len(texts))
        return out.astype(np.float32)
