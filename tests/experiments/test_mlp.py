"""The explainers' target MLP: encoder fitted on train, bundle and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from glassworks.config import TrainMLPParams
from glassworks.experiments.mlp import fit_and_score_mlp
from glassworks.models.mlp import MLPClassifier
from glassworks.models.tabular import TabularEncoder
from tests.experiments.test_tabular import _prepared


def test_fit_and_score_mlp_bundle_and_metrics() -> None:
    prepared = _prepared()
    params = TrainMLPParams(hidden=(8,), epochs=40, patience=40, lr=1e-2, seed=0)
    bundle, metrics = fit_and_score_mlp(prepared, params)
    assert set(bundle) == {"encoder", "model", "label_names"}
    assert isinstance(bundle["encoder"], TabularEncoder)
    assert isinstance(bundle["model"], MLPClassifier)
    assert bundle["label_names"] == prepared.label_names
    assert (metrics["n_train"], metrics["n_features"]) == (300, 3)
    test = prepared.splits["test"]
    pred = bundle["model"].predict(bundle["encoder"].transform(test))
    accuracy = float(np.mean(pred == test["label"].to_numpy()))
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert accuracy > 0.9 > float(test["label"].mean())  # beats the majority class (0.8)
