"""Fit Emb-GAM (Singh & Gao 2022) on one text dataset and score it on test beside its baselines:
bag-of-n-grams logistic regression (Emb-GAM without the language model) and the majority class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import TrainEmbGAMParams
from glassworks.embed.ngrams import NgramSpec
from glassworks.models.baselines import bag_of_ngrams, majority
from glassworks.models.emb_gam import Embedder, EmbGAMClassifier
from glassworks.train.evaluate import classification_metrics, paired_accuracy


def _xy(frame: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    return frame.get_column("text").to_list(), frame.get_column("label").to_numpy()


def fit_and_score_embgam(
    embedder: Embedder,
    spec: NgramSpec,
    splits: Mapping[str, pl.DataFrame],
    task: str,
    label_names: Sequence[str],
    params: TrainEmbGAMParams,
) -> tuple[EmbGAMClassifier, dict[str, Any]]:
    """Emb-GAM and bag-of-n-grams fit on ``splits["train"]`` (regularisation chosen on
    ``valid``), the majority class; returns the fitted Emb-GAM and the ``train_embgam`` metrics:
    per model the test metrics, validation accuracy and chosen ``C``, a paired bootstrap interval
    of Emb-GAM's test accuracy minus bag-of-n-grams', and the split sizes."""
    train, valid, (x_test, y_test) = _xy(splits["train"]), _xy(splits["valid"]), _xy(splits["test"])
    x_valid, y_valid = valid
    model = EmbGAMClassifier.from_spec(
        embedder,
        spec,
        normalize=params.normalize,
        Cs=params.Cs,
        max_iter=params.max_iter,
        class_weight=params.class_weight,
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
