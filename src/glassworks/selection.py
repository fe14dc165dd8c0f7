"""The project's one selection rule: every choice is made on validation results only.

Rule (stated once, used everywhere — C grids, encoder layer, CDEP's λ, early stopping, champions,
dataset settings): **the candidate with the best validation score wins (the highest; the lowest
for an error such as RMSE); scores within ``tie_tol`` of the best are ties, and a tie goes to the
earliest candidate in the order given** (grids list the simplest model first: strongest
regularisation, smallest λ, fewest epochs). :func:`higher_is_better` knows which way a metric's
name points (:data:`LOWER_IS_BETTER`).

Selection functions take validation scores only. A score whose metric name mentions the test split
(``test_accuracy``, ``test/auroc``, ``auroc_test``) raises :class:`SelectionLeak`, so no code path
can choose on test by accident; test is read once, at the chosen setting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

TIE_TOL = 1e-9
"""Default tie tolerance: differences below it are float noise, not evidence."""

_TEST_NAME = re.compile(r"(^|[^a-z])test([^a-z]|$)", re.IGNORECASE)
RULE = (
    "best validation score (highest; lowest for an error such as RMSE); scores within the tie "
    "tolerance of the best are ties, broken in favour of the earliest (simplest) candidate in "
    "grid order; test is never read"
)

LOWER_IS_BETTER = ("rmse", "mse", "mae", "loss", "error")
"""Metric name parts (between ``_``, ``/`` or ``.``) that mark an error: lower is better."""


def higher_is_better(metric: str) -> bool:
    """False for an error metric (a name part in :data:`LOWER_IS_BETTER`: ``valid_rmse``,
    ``val/loss``), else True (accuracy, AUROC, F1, QWK, scikit-learn's ``neg_*`` errors)."""
    parts = re.split(r"[_/.\-]", metric.lower())
    if parts[0] == "neg":  # scikit-learn's negated errors (neg_mean_squared_error): higher wins
        return True
    return not any(p in LOWER_IS_BETTER for p in parts)


class SelectionLeak(ValueError):
    """A selection was asked to read a test-split metric."""


def check_metric_name(metric: str) -> str:
    """Return ``metric`` if it names a validation metric; raise :class:`SelectionLeak` on test."""
    if _TEST_NAME.search(metric.replace("/", "_").replace(".", "_")):
        raise SelectionLeak(
            f"selection on {metric!r}: choices are made on validation only (test is read once, "
            "at the chosen setting)"
        )
    return metric


def choose(
    scores: Mapping[K, float] | Sequence[tuple[K, float]],
    *,
    metric: str,
    higher_is_better: bool = True,
    tie_tol: float = TIE_TOL,
) -> K:
    """The winning candidate under :data:`RULE`.

    ``scores`` maps each candidate to its validation score, in candidate order (a mapping keeps
    insertion order). ``metric`` names the score and must not be a test metric. NaN scores never
    win; if all are NaN the first candidate is returned.
    """
    check_metric_name(metric)
    items = list(scores.items()) if isinstance(scores, Mapping) else list(scores)
    if not items:
        raise ValueError(f"selection on {metric!r}: no candidates")
    if tie_tol < 0:
        raise ValueError(f"tie_tol must be >= 0, got {tie_tol}")
    sign = 1.0 if higher_is_better else -1.0
    finite = [(k, sign * float(v)) for k, v in items if not math.isnan(float(v))]
    if not finite:
        return items[0][0]
    best = max(v for _, v in finite)
    for key, value in finite:
        if value >= best - tie_tol:
            return key
    raise AssertionError("unreachable")  # pragma: no cover


def choose_record(
    records: Sequence[Mapping[str, object]],
    *,
    metric: str,
    higher_is_better: bool = True,
    tie_tol: float = TIE_TOL,
) -> Mapping[str, object]:
    """The winning record (a row of a results table) by its validation column ``metric``.

    Only ``metric`` is read from each record, so a record's test columns cannot sway the choice.
    """
    check_metric_name(metric)
    if not records:
        raise ValueError(f"selection on {metric!r}: no candidates")
    for i, r in enumerate(records):
        if metric not in r:
            raise KeyError(f"selection on {metric!r}: record {i} has no such column ({list(r)})")
    index = choose(
        [(i, float(r[metric])) for i, r in enumerate(records)],  # type: ignore[arg-type]
        metric=metric,
        higher_is_better=higher_is_better,
        tie_tol=tie_tol,
    )
    return records[index]
