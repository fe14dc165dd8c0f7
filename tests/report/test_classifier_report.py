from pathlib import Path

import polars as pl

from glassworks.report.classifier import (
    FIGURES,
    classifier_figures,
    history_table,
    predictions_table,
)
from glassworks.train.evaluate import classification_metrics


def test_predictions_and_history_tables() -> None:
    table = predictions_table([0, 2, 1], [0, 1, 1], ["a", "b", "c"])
    assert table.to_dicts() == [
        {"actual": "a", "predicted": "a"},
        {"actual": "c", "predicted": "b"},
        {"actual": "b", "predicted": "b"},
    ]
    history = history_table([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}])
    assert history.columns == ["epoch", "train_loss"]
    assert history["epoch"].to_list() == [1, 2]


def test_classifier_figures_write_both_pngs(tmp_path: Path) -> None:
    y, pred, names = [0, 1, 1, 0], [0, 1, 0, 0], ["neg", "pos"]
    metrics = classification_metrics(y, pred, "binary", names)
    classifier_figures(y, pred, metrics, names, tmp_path, "toy")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FIGURES)
    assert all((tmp_path / f).stat().st_size > 1000 for f in FIGURES)
    assert isinstance(predictions_table(y, pred, names), pl.DataFrame)
