"""Test-split metrics shared by every model stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from glassworks.stats import bootstrap_metric_ci, paired_difference


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
