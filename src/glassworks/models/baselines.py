"""Baselines for text models: bag-of-n-grams logistic regression and the majority class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassworks.embed.ngrams import NgramSpec, ngrams
from glassworks.models.selection import select_on_valid

if TYPE_CHECKING:
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline


class _Analyzer:
    """Picklable n-gram analyzer for ``CountVectorizer`` (the same n-grams as Emb-GAM)."""

    def __init__(self, spec: NgramSpec) -> None:
        self.spec = spec

    def __call__(self, text: str) -> list[str]:
        return ngrams(text, self.spec)


def bag_of_ngrams(
    spec: NgramSpec,
    train: tuple[Sequence[str], Sequence[Any]],
    valid: tuple[Sequence[str], Sequence[Any]],
    Cs: Sequence[float],  # noqa: N803
    max_iter: int = 2000,
    class_weight: str | None = None,
) -> tuple[Pipeline, float]:
    """Logistic regression on n-gram counts (Emb-GAM without the LM), C chosen on valid.

    The counts are computed once (train and valid) and shared by every C of the grid: the same
    fitted pipeline as refitting ``CountVectorizer`` per C, without tokenising the corpus again
    for each value (essays: 4 of the 5 passes saved)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    counts = CountVectorizer(analyzer=_Analyzer(spec), min_df=spec.min_frequency)
    x_train = counts.fit_transform(list(train[0]))
    x_valid = counts.transform(list(valid[0]))
    y_train, y_valid = np.asarray(train[1]), np.asarray(valid[1])
    lr, best_c, _ = select_on_valid(
        lambda c: LogisticRegression(C=c, max_iter=max_iter, class_weight=class_weight),
        list(Cs),
        lambda m: m.fit(x_train, y_train),
        lambda m: m.score(x_valid, y_valid),
    )
    return Pipeline([("counts", counts), ("lr", lr)]), best_c


def majority(y: Sequence[Any]) -> DummyClassifier:
    """Always predicts the most frequent training class."""
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y), 1)), np.asarray(y))
