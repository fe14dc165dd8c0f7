"""Pick a regularisation strength on the validation split (fit on train, score on valid), by
the project's one selection rule (:data:`glassworks.selection.RULE`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from glassworks.selection import TIE_TOL, choose

M = TypeVar("M")


def select_on_valid(
    make: Callable[[float], M],
    grid: Sequence[float],
    fit: Callable[[M], Any],
    score: Callable[[M], float],
    tie_tol: float = TIE_TOL,
) -> tuple[M, float, dict[float, float]]:
    """Fit ``make(c)`` for each ``c`` in ``grid``; return the best model, its c and all scores.

    ``score`` must score on validation. Ties (within ``tie_tol``) go to the first value in ``grid``.
    """
    if not grid:
        raise ValueError("empty regularisation grid")
    models: dict[float, M] = {}
    scores: dict[float, float] = {}
    for c in grid:
        model = make(c)
        fit(model)
        models[float(c)] = model
        scores[float(c)] = float(score(model))
    best = choose(scores, metric="valid_score", tie_tol=tie_tol)
    return models[best], best, scores
