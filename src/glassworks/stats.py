"""Seeds and intervals: how every stated comparison is summarised (DESIGN.md, evaluation protocol).

- :func:`summarise` — mean ± sd over seeds and a 95% percentile-bootstrap interval of the mean.
- :func:`bootstrap_mean_ci` — percentile bootstrap interval of a mean (Efron & Tibshirani 1993).
- :func:`paired_difference` — "A beats B" only when the paired bootstrap interval of the mean
  difference excludes 0; otherwise :data:`NO_DIFFERENCE`.

All functions are pure NumPy, seeded, and deterministic for the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

LEVEL = 0.95
N_BOOT = 2000
NO_DIFFERENCE = "no significant difference"


@dataclass(frozen=True)
class Summary:
    """Mean, sample sd (ddof=1; 0 for one value), bootstrap interval and count of some values."""

    mean: float
    sd: float
    lo: float
    hi: float
    n: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ``{mean, sd, ci95: [lo, hi], n}``."""
        d = asdict(self)
        return {"mean": d["mean"], "sd": d["sd"], "ci95": [d["lo"], d["hi"]], "n": d["n"]}

    def fmt(self, digits: int = 3) -> str:
        """``0.812 ± 0.004 [0.806, 0.817]`` (mean ± sd [95% interval])."""
        f = f"{{:.{digits}f}}"
        if self.n == 1:
            return f.format(self.mean) + " (1 seed)"
        mean, sd, lo, hi = (f.format(v) for v in (self.mean, self.sd, self.lo, self.hi))
        return f"{mean} ± {sd} [{lo}, {hi}]"


def _clean(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{what}: no values to summarise")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: non-finite value in {arr.tolist()}")
    return arr


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement).

    With one value the interval is that value. With few values (3 seeds) the percentile interval is
    narrow by construction; it is what the protocol asks for, and sd is reported beside it.
    """
    arr = _clean(values, "bootstrap")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if arr.size == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    means = arr[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def summarise(
    values: Sequence[float] | np.ndarray,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Summary:
    """Mean ± sd and the bootstrap interval of the mean (e.g. one test score per seed)."""
    arr = _clean(values, "summarise")
    lo, hi = bootstrap_mean_ci(arr, level=level, n_boot=n_boot, seed=seed)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return Summary(mean=float(arr.mean()), sd=sd, lo=lo, hi=hi, n=int(arr.size))


@dataclass(frozen=True)
class Difference:
    """The paired difference A − B: its summary and the verdict the protocol allows."""

    a: str
    b: str
    diff: Summary

    @property
    def verdict(self) -> str:
        """``'A beats B'``, ``'B beats A'`` or :data:`NO_DIFFERENCE` (interval contains 0)."""
        if self.diff.n > 1 and self.diff.lo > 0.0:
            return f"{self.a} beats {self.b}"
        if self.diff.n > 1 and self.diff.hi < 0.0:
            return f"{self.b} beats {self.a}"
        return NO_DIFFERENCE

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready difference and verdict."""
        return {
            "a": self.a,
            "b": self.b,
            "difference": self.diff.as_dict(),
            "verdict": self.verdict,
        }


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    names: tuple[str, str] = ("A", "B"),
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Difference:
    """Paired bootstrap of ``mean(a − b)``; pairs are the same seed (or the same test example).

    A single pair never gives a verdict: one seed cannot separate two methods.
    """
    xa, xb = _clean(a, "paired_difference a"), _clean(b, "paired_difference b")
    if xa.shape != xb.shape:
        raise ValueError(f"paired_difference: {xa.size} values of A but {xb.size} of B")
    return Difference(names[0], names[1], summarise(xa - xb, level=level, n_boot=n_boot, seed=seed))


def bootstrap_metric_ci(
    per_example: Sequence[float] | np.ndarray,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Summary:
    """Mean of a per-example score (e.g. correctness 0/1, a faithfulness curve's area) with the
    bootstrap interval over examples; ``sd`` is the examples' sd."""
    return summarise(per_example, level=level, n_boot=n_boot, seed=seed)
