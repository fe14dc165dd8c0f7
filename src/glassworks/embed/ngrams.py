"""Word tokenisation and n-gram extraction for Emb-GAM (Singh & Gao 2022, arXiv 2107.09145).

The paper sums the embeddings of every n-gram of a text, with either all orders up to ``k`` or
exactly order ``k``. Tokens are lower-cased words (letters/digits, inner apostrophes kept, and
clitics such as ``'s``); punctuation is dropped.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|'[^\W_]+")


@functools.cache
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, imported on first use (importing scikit-learn takes
    about a second, which the stages that never drop stop words should not pay at start-up)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``."""
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class NgramSpec:
    """How texts are cut into n-grams."""

    order: int = 2
    mode: Literal["all", "exact"] = "all"
    """``all``: orders 1..order (the paper's default); ``exact``: only ``order``."""
    stopwords: bool = False
    """Drop n-grams made only of English stop words (scikit-learn's list)."""
    min_frequency: int = 1
    """Keep n-grams seen at least this often in the fitting texts (1 keeps all, unseen too)."""

    def __post_init__(self) -> None:
        if self.order < 1:
            raise ValueError(f"ngram order must be >= 1, got {self.order}")
        if self.min_frequency < 1:
            raise ValueError(f"min_frequency must be >= 1, got {self.min_frequency}")


def ngrams(text: str, spec: NgramSpec) -> list[str]:
    """Every n-gram occurrence of ``text`` (repeats kept: they count in the sum)."""
    tokens = tokenize(text)
    orders = range(1, spec.order + 1) if spec.mode == "all" else (spec.order,)
    stop = stop_words() if spec.stopwords else frozenset()
    out: list[str] = []
    for n in orders:
        for i in range(len(tokens) - n + 1):
            gram = tokens[i : i + n]
            if spec.stopwords and all(t in stop for t in gram):
                continue
            out.append(" ".join(gram))
    return out


def count_ngrams(texts: Iterable[str], spec: NgramSpec) -> list[Counter[str]]:
    """Per-text n-gram counts."""
    return [Counter(ngrams(t, spec)) for t in texts]


def frequent(counts: Sequence[Counter[str]], min_frequency: int) -> set[str] | None:
    """N-grams whose total count reaches ``min_frequency``; None when nothing is pruned."""
    if min_frequency <= 1:
        return None
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return {g for g, n in total.items() if n >= min_frequency}
