"""Train and score one text classifier (a ``train_text`` run, one seed): the splits it trains and
stops on, then validation and test metrics of the fitted model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import TextRun
from glassworks.data.schema import PreparedDataset
from glassworks.data.split import at_least_words, stratified_cap
from glassworks.errors import ConfigError
from glassworks.models.text_classifier import TextClassifier
from glassworks.train.evaluate import classification_metrics


@dataclass(frozen=True)
class TextSplits:
    """What every seed of a run sees: train (after ``min_words``; each seed caps it to
    ``max_train`` itself), validation (capped once, the same for every seed) and test."""

    train: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame


def text_splits(prepared: PreparedDataset, run: TextRun, seed: int, where: str) -> TextSplits:
    """The splits of ``run``: train texts of at least ``run.min_words`` words, validation
    stratified-capped to ``run.max_valid`` rows with ``seed`` (the first seed: the seeds' valid
    scores stay comparable), test whole. ``where`` names the run in errors (a non-text dataset,
    no training text left)."""
    if prepared.modality != "text":
        raise ConfigError(f"{where}.dataset: {run.dataset!r} is not a text dataset")
    train = at_least_words(prepared.splits["train"], run.min_words)
    if run.min_words and train.height == 0:
        raise ConfigError(f"{where}.min_words: no training text has {run.min_words} words or more")
    valid = stratified_cap(prepared.splits["valid"], run.max_valid, seed)
    return TextSplits(train, valid, prepared.splits["test"])


@dataclass(frozen=True)
class TextScores:
    """A fitted model's validation and test metrics, test predictions and training counts."""

    valid: dict[str, Any]
    test: dict[str, Any]
    predicted: np.ndarray
    counts: dict[str, int]


def fit_and_score_text(
    model: TextClassifier,
    train: pl.DataFrame,
    splits: TextSplits,
    task: str,
    label_names: Sequence[str],
    on_step: Callable[[int], None] | None = None,
) -> TextScores:
    """Fit ``model`` on ``train`` (early stopping on ``splits.valid``), then score it on
    validation and test; ``counts``: best epoch, epochs run, training texts, truncated ones."""
    valid, test = splits.valid, splits.test
    y_valid, y_test = valid["label"].to_numpy(), test["label"].to_numpy()
    model.fit(
        train["text"].to_list(),
        train["label"].to_numpy(),
        valid["text"].to_list(),
        y_valid,
        n_classes=len(label_names),
        on_step=on_step,
        label_names=label_names,
    )
    pred_valid = model.predict(valid["text"].to_list())
    pred = model.predict(test["text"].to_list())
    names = list(label_names)
    return TextScores(
        classification_metrics(y_valid, pred_valid, task, names),
        classification_metrics(y_test, pred, task, names),
        pred,
        {
            "best_epoch": model.best_epoch_,
            "epochs_run": len(model.history_),
            "n_train": train.height,
            "n_truncated_train": model.n_truncated_,
        },
    )


def majority_accuracy(y_train: np.ndarray, y_valid: np.ndarray) -> float:
    """Validation accuracy of always predicting the training split's most frequent class (the
    smallest label on ties)."""
    labels, counts = np.unique(np.asarray(y_train), return_counts=True)
    if not len(labels):
        raise ValueError("majority_accuracy: no training labels")
    return float(np.mean(np.asarray(y_valid) == labels[int(np.argmax(counts))]))


def choose_on_valid(
    scores: Sequence[TextScores], select_on: str, floor: float | None = None
) -> int:
    """Index of the candidate with the highest validation ``select_on`` score (the first on
    ties); test is not read. With ``floor`` (a validation accuracy, e.g. the majority class's),
    only candidates whose validation accuracy is above it compete; if none is, the most
    accurate candidate wins."""
    if len(scores) == 1:
        return 0
    if select_on not in {"accuracy", "macro_f1", "qwk"}:
        raise ConfigError(f"select_on: candidates cannot be compared on {select_on!r}")
    accuracy = [float(s.valid["accuracy"]) for s in scores] if floor is not None else []
    eligible = [i for i in range(len(scores)) if floor is None or accuracy[i] > floor]
    if not eligible:
        return max(range(len(scores)), key=lambda i: (accuracy[i], -i))
    values = [float(s.valid[select_on]) for s in scores]
    return max(eligible, key=lambda i: (values[i], -i))
