"""Test-split metrics shared by every model stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from glassworks.stats import NO_DIFFERENCE, Difference, bootstrap_metric_ci, paired_difference


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], task: str, label_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1 and, for ordinal tasks, quadratic weighted kappa."""
    from sklearn.metrics import (
        accuracy_score,
        cohen_kappa_score,
        f1_score,
        precision_recall_fscore_support,
    )

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = list(range(len(label_names)))
    out: dict[str, Any] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
    }
    if task == "ordinal":
        out["qwk"] = float(cohen_kappa_score(y_true, y_pred, labels=labels, weights="quadratic"))
    prec, rec, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    out["f1_per_class"] = {name: float(v) for name, v in zip(label_names, f1, strict=True)}
    out["precision_per_class"] = {n: float(v) for n, v in zip(label_names, prec, strict=True)}
    out["recall_per_class"] = {n: float(v) for n, v in zip(label_names, rec, strict=True)}
    out["support_per_class"] = {n: int(v) for n, v in zip(label_names, support, strict=True)}
    return out


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Confusion matrix, rows = true class, columns = predicted class."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))


def paired_accuracy(
    y_true: Sequence[int] | np.ndarray,
    predictions: dict[str, Sequence[int] | np.ndarray],
    pairs: Sequence[tuple[str, str]],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy of each model with a 95% bootstrap interval over the test examples, and for each
    ``(a, b)`` pair the paired bootstrap interval of ``acc(a) − acc(b)`` with its verdict
    (``"a beats b"`` only when the interval excludes 0). For deterministic models (fitted once on
    fixed data) the examples, not seeds, are the source of uncertainty."""
    y = np.asarray(y_true)
    correct = {k: (np.asarray(p) == y).astype(np.float64) for k, p in predictions.items()}
    return {
        "accuracy": {k: bootstrap_metric_ci(v, seed=seed).as_dict() for k, v in correct.items()},
        "differences": [
            paired_difference(correct[a], correct[b], names=(a, b), seed=seed).as_dict()
            for a, b in pairs
        ],
    }


def rmse(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error."""
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2)))


def neg_rmse(model: Any, x: Any, y: Sequence[float] | np.ndarray) -> float:
    """``-RMSE`` of ``model.predict(x)``: a validation score to maximise, as the project's
    selection rule (:func:`glassworks.selection.choose`) expects."""
    return -rmse(y, model.predict(x))


def regression_metrics(
    y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray
) -> dict[str, float]:
    """RMSE, MAE and R² (coefficient of determination; 0 for predicting the test mean)."""
    from sklearn.metrics import mean_absolute_error, r2_score

    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    return {
        "rmse": rmse(y, p),
        "mae": float(mean_absolute_error(y, p)),
        "r2": float(r2_score(y, p)),
    }


def rmse_pseudo_values(
    y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Per-example linearised RMSE (delta method): ``RMSE + (e_i² − MSE) / (2·RMSE)``.

    RMSE is not a mean over examples, but these values' mean is exactly the RMSE and, to first
    order, a bootstrap resample's mean is that resample's RMSE; so the project's mean bootstrap
    (:mod:`glassworks.stats`) gives RMSE intervals (Efron & Tibshirani 1993, ch. 21). A perfect fit
    (RMSE 0) gives zeros."""
    se = (np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)) ** 2
    mse = float(se.mean())
    root = float(np.sqrt(mse))
    if root == 0.0:
        return np.zeros_like(se)
    return root + (se - mse) / (2.0 * root)


def paired_rmse(
    y_true: Sequence[float] | np.ndarray,
    predictions: dict[str, Sequence[float] | np.ndarray],
    pairs: Sequence[tuple[str, str]],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """The regression counterpart of :func:`paired_accuracy`: each model's test RMSE with a 95%
    bootstrap interval over the test examples, and for each ``(a, b)`` pair the paired bootstrap
    interval of ``RMSE(a) − RMSE(b)`` with its verdict (lower is better: ``"a beats b"`` only when
    the interval lies below 0). The bootstrap runs on :func:`rmse_pseudo_values`: the point
    estimates are exact, the intervals first-order."""
    y = np.asarray(y_true, dtype=np.float64)
    pseudo = {k: rmse_pseudo_values(y, p) for k, p in predictions.items()}
    differences = []
    for a, b in pairs:
        d = paired_difference(pseudo[a], pseudo[b], names=(a, b), seed=seed)
        differences.append({**d.as_dict(), "verdict": _lower_is_better(d)})
    return {
        "rmse": {k: bootstrap_metric_ci(v, seed=seed).as_dict() for k, v in pseudo.items()},
        "differences": differences,
    }


def _lower_is_better(d: Difference) -> str:
    """The verdict on ``a − b`` of an error (lower is better): "a beats b" when the interval lies
    below 0 (:attr:`Difference.verdict` is for scores, where higher is better)."""
    if d.diff.n > 1 and d.diff.hi < 0.0:
        return f"{d.a} beats {d.b}"
    if d.diff.n > 1 and d.diff.lo > 0.0:
        return f"{d.b} beats {d.a}"
    return NO_DIFFERENCE
