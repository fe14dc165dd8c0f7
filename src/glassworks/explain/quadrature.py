"""Quadrature rules on [0, 1] for path integrals, cached (Captum recomputes them every call).

- ``riemann_left/right/middle``, ``riemann_trapezoid``: Captum's rules.
- ``gauss_legendre``: exact for polynomials of degree 2n-1; smooth models converge much faster.
  Captum's spelling ``gausslegendre`` is accepted as an alias.
- :func:`log_weight_rule`: Gauss rule for the weight ``-ln t``. Integrated Hessians' double
  integral depends on the path only through ``t = alpha * beta``, and
  ``int_0^1 int_0^1 h(ab) da db = int_0^1 h(t) (-ln t) dt`` (Janizek et al. 2021 use a double
  Riemann sum instead).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np

Method = Literal[
    "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gauss_legendre"
]
METHODS: tuple[str, ...] = (
    "riemann_left",
    "riemann_right",
    "riemann_middle",
    "riemann_trapezoid",
    "gauss_legendre",
)
ALIASES: dict[str, str] = {"gausslegendre": "gauss_legendre"}
"""Other spellings of a rule (Captum's ``gausslegendre``) -> the name used here."""


def canonical_method(method: str) -> str:
    """The rule's name here: ``method`` itself or what an alias (:data:`ALIASES`) stands for."""
    return ALIASES.get(method, method)


@lru_cache(maxsize=256)
def _rule(method: str, n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if n < 1:
        raise ValueError(f"n_steps must be >= 1, got {n}")
    k = np.arange(n, dtype=np.float64)
    if method == "riemann_left":
        a, w = k / n, np.full(n, 1.0 / n)
    elif method == "riemann_right":
        a, w = (k + 1) / n, np.full(n, 1.0 / n)
    elif method == "riemann_middle":
        a, w = (k + 0.5) / n, np.full(n, 1.0 / n)
    elif method == "riemann_trapezoid":
        if n < 2:
            raise ValueError("riemann_trapezoid needs n_steps >= 2")
        a = k / (n - 1)
        w = np.full(n, 1.0 / (n - 1))
        w[[0, -1]] *= 0.5
    elif method == "gauss_legendre":
        x, wx = np.polynomial.legendre.leggauss(n)
        a, w = (x + 1) / 2, wx / 2
    else:
        known = ", ".join((*METHODS, *ALIASES))
        raise ValueError(f"unknown quadrature {method!r} (one of {known})")
    return tuple(a.tolist()), tuple(w.tolist())


def rule(method: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``method`` with ``n`` points on [0, 1] (weights sum to 1)."""
    a, w = _rule(canonical_method(method), n)
    return np.array(a), np.array(w)


@lru_cache(maxsize=64)
def _log_rule(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    import mpmath as mp

    if n < 1:
        raise ValueError(f"n_steps must be >= 1, got {n}")
    with mp.workdps(30 + 3 * n):
        # moments of w(t) = -ln t on [0, 1]: int t^k (-ln t) dt = 1 / (k + 1)^2
        mom = [mp.mpf(1) / (k + 1) ** 2 for k in range(2 * n + 1)]
        hankel = mp.matrix(n + 1, n + 1)
        for i in range(n + 1):
            for j in range(n + 1):
                hankel[i, j] = mom[i + j]
        r = mp.cholesky(hankel).T  # upper triangular, H = R^T R
        alpha = [r[0, 1] / r[0, 0]] + [
            r[k, k + 1] / r[k, k] - r[k - 1, k] / r[k - 1, k - 1] for k in range(1, n)
        ]
        beta = [r[k + 1, k + 1] / r[k, k] for k in range(n - 1)]
        jacobi = mp.matrix(n, n)
        for k in range(n):
            jacobi[k, k] = alpha[k]
            if k < n - 1:
                jacobi[k, k + 1] = jacobi[k + 1, k] = beta[k]
        nodes, vecs = mp.eigsy(jacobi)
        weights = [mom[0] * vecs[0, k] ** 2 for k in range(n)]
        pairs = sorted(zip(nodes, weights, strict=True))
        return tuple(float(p[0]) for p in pairs), tuple(float(p[1]) for p in pairs)


def log_weight_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss nodes/weights for ``int_0^1 h(t) (-ln t) dt`` (weights sum to 1)."""
    a, w = _log_rule(n)
    return np.array(a), np.array(w)


def double_grid_rule(n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """path_explain's Integrated Hessians grid as a rule in ``t = alpha * beta``.

    ``k = round(sqrt(n_samples))`` points ``i / (k - 1)`` for both alpha and beta, equal weights
    (``PathExplainerTorch.interactions`` with ``use_expectation=False``).
    """
    k = int(round(np.sqrt(n_samples)))
    if k < 2:
        raise ValueError(f"the double grid needs n_samples >= 3, got {n_samples}")
    a = np.arange(k, dtype=np.float64) / (k - 1)
    return np.outer(a, a).reshape(-1), np.full(k * k, 1.0 / (k * k))
