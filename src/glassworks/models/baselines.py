"""Baselines for text models: bag-of-n-grams logistic regression and the majority class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from glassworks.embed.ngrams import NgramSpec, ngrams
from glassworks.models.selection import select_on_valid


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
    """Logistic regression on n-gram counts (Emb-GAM without the LM), C chosen on valid."""

    def make(c: float) -> Pipeline:
        return Pipeline(
            [
                ("counts", CountVectorizer(analyzer=_Analyzer(spec), min_df=spec.min_frequency)),
                ("lr", LogisticRegression(C=c, max_iter=max_iter, class_weight=class_weight)),
            ]
        )

    model, best_c, _ = select_on_valid(
        make,
        list(Cs),
        lambda m: m.fit(list(train[0]), np.asarray(train[1])),
        lambda m: m.score(list(valid[0]), np.asarray(valid[1])),
    )
    return model, best_c


def majority(y: Sequence[Any]) -> DummyClassifier:
    """Always predicts the most frequent training class."""
    return DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y), 1)), np.asarray(y))
