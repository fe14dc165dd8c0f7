"""Pick a regularisation strength on the validation split (fit on train, score on valid)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

M = TypeVar("M")


def select_on_valid(
    make: Callable[[float], M],
    grid: Sequence[float],
    fit: Callable[[M], Any],
    score: Callable[[M], float],
) -> tuple[M, float, dict[float, float]]:
    """Fit ``make(c)`` for each ``c`` in ``grid``; return the best model, its c and all scores.

    Ties go to the first (smallest) value in ``grid``.
    """
    if not grid:
        raise ValueError("empty regularisation grid")
    best: tuple[M, float, float] | None = None
    scores: dict[float, float] = {}
    for c in grid:
        model = make(c)
        fit(model)
        s = float(score(model))
        scores[float(c)] = s
        if best is None or s > best[2]:
            best = (model, float(c), s)
    assert best is not None
    return best[0], best[1], scores
