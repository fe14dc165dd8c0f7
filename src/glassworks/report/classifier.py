"""A classifier's test-split figures (confusion matrix, per-class scores) and the tables behind
``train_text``'s DVC plots (predictions, training history)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from glassworks.report.plots import confusion_plot, per_class_bars
from glassworks.train.evaluate import confusion

FIGURES = ("confusion.png", "per_class.png")
"""What :func:`classifier_figures` writes."""


def classifier_figures(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    test_metrics: Mapping[str, Any],
    label_names: list[str],
    folder: Path,
    title: str,
) -> None:
    """``confusion.png`` (counts, rows = true class) and ``per_class.png`` (precision, recall
    and F1 per class, from ``test_metrics``) in ``folder``."""
    matrix = confusion(y_true, y_pred, len(label_names))
    confusion_plot(matrix, label_names, folder / "confusion.png", title)
    per_class_bars(
        {
            "precision": test_metrics["precision_per_class"],
            "recall": test_metrics["recall_per_class"],
            "F1": test_metrics["f1_per_class"],
        },
        folder / "per_class.png",
        title,
    )


def predictions_table(
    y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str]
) -> pl.DataFrame:
    """``actual, predicted`` class names per example (DVC's confusion-plot source)."""
    return pl.DataFrame(
        {
            "actual": [label_names[i] for i in y_true],
            "predicted": [label_names[i] for i in y_pred],
        }
    )


def history_table(history: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per training epoch (DVC's loss-curve source)."""
    return pl.DataFrame(list(history))
