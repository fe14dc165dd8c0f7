"""Fit and score the small softplus MLP the tabular explainers are run on (``train_mlp``)."""

from __future__ import annotations

from typing import Any

from glassworks.config import TrainMLPParams
from glassworks.data.schema import PreparedDataset
from glassworks.models.mlp import MLPClassifier
from glassworks.models.tabular import TabularEncoder
from glassworks.train.evaluate import classification_metrics


def fit_and_score_mlp(
    prepared: PreparedDataset, params: TrainMLPParams
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit a :class:`TabularEncoder` on train and the MLP on its encoding (early stopping on
    valid); returns the ``model.pkl`` bundle (encoder, model, label names) and the metrics (test
    accuracy, macro-F1, ..., training rows, encoded features)."""
    encoder = TabularEncoder().fit(prepared.splits["train"])
    xy = {
        n: (encoder.transform(f), f.get_column("label").to_numpy())
        for n, f in prepared.splits.items()
    }
    model = MLPClassifier(**params.model_dump(exclude={"datasets"}))
    model.fit(*xy["train"], *xy["valid"])
    x_test, y_test = xy["test"]
    metrics = classification_metrics(
        y_test, model.predict(x_test), prepared.task, prepared.label_names
    )
    metrics["n_train"] = len(xy["train"][1])
    metrics["n_features"] = len(encoder.feature_names_)
    bundle = {"encoder": encoder, "model": model, "label_names": prepared.label_names}
    return bundle, metrics
