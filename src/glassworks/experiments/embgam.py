"""Fit Emb-GAM (Singh & Gao 2022) on one text dataset and score it on test beside its baselines:
bag-of-n-grams (Emb-GAM without the language model: logistic regression, or ridge for a
regression target) and a constant (the majority class, or the training mean)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import TrainEmbGAMParams
from glassworks.embed.ngrams import NgramSpec
from glassworks.models.baselines import bag_of_ngrams, bag_of_ngrams_ridge, majority, train_mean
from glassworks.models.emb_gam import Embedder, EmbGAMClassifier, EmbGAMRegressor, ridge_alpha
from glassworks.train.evaluate import (
    classification_metrics,
    paired_accuracy,
    paired_rmse,
    regression_metrics,
    rmse,
)


def _xy(frame: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    return frame.get_column("text").to_list(), frame.get_column("label").to_numpy()


def _xy_real(splits: Mapping[str, pl.DataFrame], name: str) -> tuple[list[str], np.ndarray]:
    """Texts and real-valued targets of one split; a missing or infinite target is an error."""
    x, y = _xy(splits[name])
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
        bad = int((~np.isfinite(y)).sum())
        raise ValueError(f"{name} split: {bad} missing or non-finite regression target(s)")
    return x, y


def fit_and_score_embgam(
    embedder: Embedder,
    spec: NgramSpec,
    splits: Mapping[str, pl.DataFrame],
    task: str,
    label_names: Sequence[str],
    params: TrainEmbGAMParams,
) -> tuple[EmbGAMClassifier | EmbGAMRegressor, dict[str, Any]]:
    """Emb-GAM and bag-of-n-grams fit on ``splits["train"]`` (regularisation chosen on
    ``valid``), the majority class; returns the fitted Emb-GAM and the ``train_embgam`` metrics:
    per model the test metrics, validation accuracy and chosen ``C``, a paired bootstrap interval
    of Emb-GAM's test accuracy minus bag-of-n-grams', and the split sizes. A ``regression`` task
    goes to :func:`fit_and_score_embgam_regression`."""
    if task == "regression":
        return fit_and_score_embgam_regression(embedder, spec, splits, params)
    train, valid, (x_test, y_test) = _xy(splits["train"]), _xy(splits["valid"]), _xy(splits["test"])
    x_valid, y_valid = valid
    model = EmbGAMClassifier.from_spec(
        embedder,
        spec,
        normalize=params.normalize,
        Cs=params.Cs,
        max_iter=params.max_iter,
        class_weight=params.class_weight,
        residuals=params.residuals,
    ).fit(*train, *valid)
    bag, bag_c = bag_of_ngrams(
        spec, train, valid, params.baseline_Cs, params.max_iter, params.class_weight
    )
    dummy = majority(train[1])
    names = label_names
    pred = {"embgam": model.predict(x_test), "bag_of_ngrams": bag.predict(x_test)}
    metrics: dict[str, Any] = {
        "embgam": {
            **classification_metrics(y_test, pred["embgam"], task, names),
            "valid_accuracy": float(np.mean(model.predict(x_valid) == y_valid)),
            "C": model.C_,
            "residual": model.residual_,
            "vocabulary": len(model.vocabulary_),
        },
        "bag_of_ngrams": {
            **classification_metrics(y_test, pred["bag_of_ngrams"], task, names),
            "valid_accuracy": float(np.mean(bag.predict(x_valid) == y_valid)),
            "C": bag_c,
        },
        "test_intervals": paired_accuracy(
            y_test, pred, [("embgam", "bag_of_ngrams")], seed=params.seed
        ),
        "majority": classification_metrics(
            y_test, dummy.predict(np.zeros((len(x_test), 1))), task, names
        ),
        "n_train": len(train[0]),
        "n_test": len(x_test),
    }
    return model, metrics


def fit_and_score_embgam_regression(
    embedder: Embedder,
    spec: NgramSpec,
    splits: Mapping[str, pl.DataFrame],
    params: TrainEmbGAMParams,
) -> tuple[EmbGAMRegressor, dict[str, Any]]:
    """The regression counterpart (``label`` is the real-valued target): Emb-GAM with ridge and
    bag-of-n-grams ridge, each ``alpha = 1/C`` with C from ``params.Cs`` / ``baseline_Cs``
    chosen on validation RMSE, and the training mean. Per model: test RMSE, MAE and R², validation
    RMSE, the chosen ``C`` and ``alpha``; ``test_intervals``: each model's test RMSE with a 95%
    bootstrap interval and the paired interval of Emb-GAM's RMSE minus bag-of-n-grams'.
    ``params.class_weight`` and ``max_iter`` are for classifiers and are not used."""
    train, valid, (x_test, y_test) = (_xy_real(splits, s) for s in ("train", "valid", "test"))
    x_valid, y_valid = valid
    model = EmbGAMRegressor.from_spec(
        embedder, spec, normalize=params.normalize, Cs=params.Cs, residuals=params.residuals
    ).fit(*train, *valid)
    bag, bag_c = bag_of_ngrams_ridge(spec, train, valid, params.baseline_Cs)
    dummy = train_mean(train[1])
    pred = {"embgam": model.predict(x_test), "bag_of_ngrams": bag.predict(x_test)}
    metrics: dict[str, Any] = {
        "embgam": {
            **regression_metrics(y_test, pred["embgam"]),
            "valid_rmse": rmse(y_valid, model.predict(x_valid)),
            "C": model.C_,
            "alpha": model.alpha_,
            "residual": model.residual_,
            "vocabulary": len(model.vocabulary_),
        },
        "bag_of_ngrams": {
            **regression_metrics(y_test, pred["bag_of_ngrams"]),
            "valid_rmse": rmse(y_valid, bag.predict(x_valid)),
            "C": bag_c,
            "alpha": ridge_alpha(bag_c),
        },
        "test_intervals": paired_rmse(
            y_test, pred, [("embgam", "bag_of_ngrams")], seed=params.seed
        ),
        "train_mean": {
            **regression_metrics(y_test, dummy.predict(np.zeros((len(x_test), 1)))),
            "valid_rmse": rmse(y_valid, dummy.predict(np.zeros((len(x_valid), 1)))),
        },
        "n_train": len(train[0]),
        "n_test": len(x_test),
    }
    return model, metrics
