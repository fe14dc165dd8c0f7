"""Explanation drift between two models explained on the same rows: do they rely on the same
features (or words)?

Global importance of a feature is its mean absolute attribution over the rows (as in SHAP's
summary plots, Lundberg & Lee 2017). Two models are compared by the Spearman rank correlation of
their global importances, the Jaccard overlap of their top-k features, a two-sample
Kolmogorov-Smirnov test per feature of its local attributions (Holm's correction for the number
of features), and the rows whose normalised attribution vectors moved most (L1 distance, each
vector scaled to unit L1 norm so a model's overall output scale does not count as drift).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FeatureShift:
    """One feature's local attributions under model A and model B."""

    feature: str
    importance_a: float
    importance_b: float
    ks: float
    p_value: float
    p_adjusted: float
    """Holm-adjusted over all features."""

    @property
    def shifted(self) -> bool:
        """Whether the distributions differ at the 5% family-wise level."""
        return self.p_adjusted < 0.05


@dataclass(frozen=True)
class Drift:
    """How far two models' explanations of the same rows are apart."""

    features: list[str]
    importance_a: np.ndarray
    importance_b: np.ndarray
    spearman: float
    top_k: int
    top_a: list[str]
    top_b: list[str]
    jaccard: float
    shifts: list[FeatureShift]
    changed_rows: list[tuple[int, float]]
    """(row, L1 distance of the normalised attribution vectors), largest first."""
    n_rows: int
    notes: list[str] = field(default_factory=list)

    @property
    def n_shifted(self) -> int:
        """Features whose attributions differ (Holm-adjusted p < 0.05)."""
        return sum(s.shifted for s in self.shifts)

    @property
    def score(self) -> float:
        """One drift number in [0, 1]: ``1 - Jaccard`` of the top-k features, the quantity a
        promotion gate compares with its threshold (0: the same top-k features)."""
        return 1.0 - self.jaccard

    def summary(self) -> dict[str, Any]:
        """The figures as plain JSON (metrics of the comparison run)."""
        return {
            "rows": self.n_rows,
            "features": len(self.features),
            "spearman": self.spearman,
            "top_k": self.top_k,
            "jaccard_top_k": self.jaccard,
            "drift": self.score,
            "features_shifted": self.n_shifted,
            "top_a": self.top_a,
            "top_b": self.top_b,
            "shifted": [s.feature for s in self.shifts if s.shifted],
            "changed_rows": [{"row": r, "distance": d} for r, d in self.changed_rows],
        }


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(spearmanr(a, b).statistic)


def _top(names: Sequence[str], importance: np.ndarray, k: int) -> list[str]:
    order = sorted(range(len(names)), key=lambda i: (-importance[i], names[i]))
    return [names[i] for i in order[:k] if importance[i] > 0]


def explanation_drift(
    attr_a: np.ndarray,
    attr_b: np.ndarray,
    features: Sequence[str],
    top_k: int = 5,
    n_rows: int = 5,
) -> Drift:
    """Compare the attributions ``attr_a`` and ``attr_b`` (rows x features, the same rows and
    features in the same order) of two models; see the module docstring."""
    from scipy.stats import ks_2samp

    a, b = np.asarray(attr_a, dtype=np.float64), np.asarray(attr_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != len(features):
        raise ValueError(
            f"attributions must both be rows x {len(features)} features; got {a.shape}, {b.shape}"
        )
    if a.shape[0] == 0:
        raise ValueError("no rows to compare")
    names = list(features)
    imp_a, imp_b = np.abs(a).mean(0), np.abs(b).mean(0)
    k = min(top_k, len(names))
    top_a, top_b = _top(names, imp_a, k), _top(names, imp_b, k)
    union = set(top_a) | set(top_b)
    jaccard = len(set(top_a) & set(top_b)) / len(union) if union else 1.0
    raw = []
    for j in range(len(names)):
        if np.array_equal(a[:, j], b[:, j]):
            raw.append((0.0, 1.0))
        else:
            test = ks_2samp(a[:, j], b[:, j])
            raw.append((float(test.statistic), float(test.pvalue)))
    adjusted = holm([p for _, p in raw])
    shifts = [
        FeatureShift(
            names[j], float(imp_a[j]), float(imp_b[j]), raw[j][0], raw[j][1], float(adjusted[j])
        )  # fmt: skip
        for j in range(len(names))
    ]
    shifts.sort(key=lambda s: (s.p_adjusted, -s.ks, s.feature))

    def unit(m: np.ndarray) -> np.ndarray:
        norm = np.abs(m).sum(1, keepdims=True)
        return np.divide(m, norm, out=np.zeros_like(m), where=norm > 0)

    distance = np.abs(unit(a) - unit(b)).sum(1)
    rows = np.argsort(-distance, kind="stable")[:n_rows]
    return Drift(
        features=names,
        importance_a=imp_a,
        importance_b=imp_b,
        spearman=_spearman(imp_a, imp_b),
        top_k=k,
        top_a=top_a,
        top_b=top_b,
        jaccard=float(jaccard),
        shifts=shifts,
        changed_rows=[(int(r), float(distance[r])) for r in rows],
        n_rows=a.shape[0],
    )


def word_matrix(
    words_a: Sequence[Sequence[tuple[str, float]]],
    words_b: Sequence[Sequence[tuple[str, float]]],
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Text models with different tokenizers, on a common footing: each text's (word, score)
    pairs (word pieces already merged, see ``Highlighted.shown``) become a row over the union of
    words (lower-cased; a word's scores summed within a text, 0 where absent)."""
    if len(words_a) != len(words_b):
        raise ValueError(f"{len(words_a)} texts explained by A but {len(words_b)} by B")
    vocab = sorted({w.lower() for text in (*words_a, *words_b) for w, _ in text})
    index = {w: j for j, w in enumerate(vocab)}

    def fill(texts: Sequence[Sequence[tuple[str, float]]]) -> np.ndarray:
        m = np.zeros((len(texts), len(vocab)))
        for i, text in enumerate(texts):
            for w, s in text:
                m[i, index[w.lower()]] += s
        return m

    return fill(words_a), fill(words_b), vocab
