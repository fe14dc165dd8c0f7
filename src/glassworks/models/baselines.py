"""Baselines for text models (Singh & Gao 2022, Emb-GAM's comparisons): bag-of-n-grams linear
models (Emb-GAM without the language model: logistic regression, or ridge for a regression
target) and the constant predictors (the majority class, the training mean)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassworks.embed.ngrams import NgramSpec, ngrams
from glassworks.models.emb_gam import ridge_alpha
from glassworks.models.selection import select_on_valid
from glassworks.train.evaluate import neg_rmse

if TYPE_CHECKING:
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.pipeline import Pipeline


class _Analyzer:
    """Picklable n-gram analyzer for ``CountVectorizer`` (the same n-grams as Emb-GAM)."""

    def __init__(self, spec: NgramSpec) -> None:
        self.spec = spec

    def __call__(self, text: str) -> list[str]:
        return ngrams(text, self.spec)


def ngram_counts_model(
    spec: NgramSpec,
    train: tuple[Sequence[str], Sequence[Any]],
    valid: tuple[Sequence[str], Sequence[Any]],
    make: Callable[[float], Any],
    grid: Sequence[float],
    score: Callable[[Any, Any, np.ndarray], float],
    step: str,
) -> tuple[Pipeline, float]:
    """A linear model ``make(c)`` on n-gram counts, ``c`` chosen from ``grid`` by ``score(model,
    x_valid, y_valid)`` (higher is better); returns the ``counts → step`` pipeline and ``c``.

    The counts are computed once (train and valid) and shared by every value of the grid: the
    same fitted pipeline as refitting ``CountVectorizer`` per value, without tokenising the
    corpus again for each (essays: 4 of the 5 passes saved)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import Pipeline

    counts = CountVectorizer(analyzer=_Analyzer(spec), min_df=spec.min_frequency)
    x_train = counts.fit_transform(list(train[0]))
    x_valid = counts.transform(list(valid[0]))
    y_train, y_valid = np.asarray(train[1]), np.asarray(valid[1])
    model, best_c, _ = select_on_valid(
        make,
        list(grid),
        lambda m: m.fit(x_train, y_train),
        lambda m: score(m, x_valid, y_valid),
    )
    return Pipeline([("counts", counts), (step, model)]), best_c


def bag_of_ngrams(
    spec: NgramSpec,
    train: tuple[Sequence[str], Sequence[Any]],
    valid: tuple[Sequence[str], Sequence[Any]],
    Cs: Sequence[float],  # noqa: N803
    max_iter: int = 2000,
    class_weight: str | None = None,
) -> tuple[Pipeline, float]:
    """Logistic regression on n-gram counts (Emb-GAM without the LM), C chosen on valid
    accuracy."""
    from sklearn.linear_model import LogisticRegression

    return ngram_counts_model(
        spec,
        train,
        valid,
        lambda c: LogisticRegression(C=c, max_iter=max_iter, class_weight=class_weight),
        Cs,
        lambda m, x, y: m.score(x, y),
        "lr",
    )


def bag_of_ngrams_ridge(
    spec: NgramSpec,
    train: tuple[Sequence[str], Sequence[float]],
    valid: tuple[Sequence[str], Sequence[float]],
    Cs: Sequence[float],  # noqa: N803
) -> tuple[Pipeline, float]:
    """Ridge regression on n-gram counts (Emb-GAM without the LM, regression target), ``alpha =
    1/C`` (:func:`~glassworks.models.emb_gam.ridge_alpha`) with C chosen on valid RMSE (lowest
    wins; ties to the first C of the grid)."""
    from sklearn.linear_model import Ridge

    return ngram_counts_model(
        spec, train, valid, lambda c: Ridge(alpha=ridge_alpha(c)), Cs, neg_rmse, "ridge"
    )


def majority(y: Sequence[Any]) -> DummyClassifier:
    """Always predicts the most frequent training class."""
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y), 1)), np.asarray(y))


def train_mean(y: Sequence[float]) -> DummyRegressor:
    """Always predicts the training target's mean."""
    from sklearn.dummy import DummyRegressor

    y_arr = np.asarray(y, dtype=np.float64)
    return DummyRegressor(strategy="mean").fit(np.zeros((len(y_arr), 1)), y_arr)
