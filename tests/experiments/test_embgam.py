"""Emb-GAM against its baselines on one split set (synthetic texts, hash embeddings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.config import TrainEmbGAMParams
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.ngrams import NgramSpec
from glassworks.experiments.embgam import fit_and_score_embgam
from glassworks.models.emb_gam import EmbGAMClassifier
from tests.fakes import HashEncoder

POS, NEG = ["good", "great", "fun"], ["bad", "dull", "awful"]
FILL = ["the", "film", "plot", "was", "a", "story"]


def _split(n: int, seed: int, prefix: str) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = [
        " ".join(rng.permutation([*rng.choice(FILL, 3), rng.choice(POS if y else NEG)]))
        for y in labels
    ]
    ids = [f"{prefix}{i}" for i in range(n)]
    return pl.DataFrame({"id": ids, "text": texts, "label": labels.astype(np.int64)})


def test_fit_and_score_embgam_scores_every_model_on_test(tmp_path: Path) -> None:
    splits = {"train": _split(160, 0, "t"), "valid": _split(40, 1, "v"), "test": _split(60, 2, "s")}
    params = TrainEmbGAMParams(Cs=(0.1, 1.0), baseline_Cs=(1.0,), seed=3)
    embedder = CachedEmbedder(HashEncoder(dim=16), tmp_path / "cache")
    model, m = fit_and_score_embgam(
        embedder, NgramSpec(order=1), splits, "binary", ["neg", "pos"], params
    )
    assert isinstance(model, EmbGAMClassifier)
    assert model.spec == NgramSpec(order=1)
    assert set(m) == {
        "embgam", "bag_of_ngrams", "test_intervals", "majority", "n_train", "n_test",
    }  # fmt: skip
    assert (m["n_train"], m["n_test"]) == (160, 60)
    assert m["embgam"]["C"] in (0.1, 1.0)
    assert m["bag_of_ngrams"]["C"] == 1.0
    assert m["embgam"]["vocabulary"] == len(model.vocabulary_)
    assert m["embgam"]["residual"] == 0.0  # the default: the paper's Emb-GAM
    test = splits["test"]
    accuracy = float(np.mean(model.predict(test["text"].to_list()) == test["label"].to_numpy()))
    assert m["embgam"]["accuracy"] == pytest.approx(accuracy)
    assert m["embgam"]["accuracy"] > 0.9 > m["majority"]["accuracy"]
    assert m["bag_of_ngrams"]["accuracy"] > 0.9
    assert 0 <= m["embgam"]["valid_accuracy"] <= 1
    assert m["test_intervals"]  # the paired Emb-GAM vs bag-of-n-grams interval


# ---------------------------------------------------------------- regression
VALUES = {"sunny": 2.0, "warm": 1.0, "cold": -1.0, "storm": -2.0}
"""Each word's part of the target; the filler words carry 0."""


def _regression_split(
    n: int, seed: int, prefix: str, noise: float = 0.2, shuffled: bool = False
) -> pl.DataFrame:
    """Texts whose target (Float64 ``label``) is the sum of its words' values plus noise; with
    ``shuffled`` the targets are permuted across texts (no signal left)."""
    rng = np.random.default_rng(seed)
    texts, y = [], []
    for _ in range(n):
        words = [*rng.choice(list(VALUES), int(rng.integers(1, 3))), *rng.choice(FILL, 3)]
        texts.append(" ".join(rng.permutation(words)))
        y.append(sum(VALUES.get(w, 0.0) for w in words) + noise * rng.standard_normal())
    target = rng.permutation(y) if shuffled else np.array(y)
    ids = [f"{prefix}{i}" for i in range(n)]
    return pl.DataFrame({"id": ids, "text": texts, "label": pl.Series(target, dtype=pl.Float64)})


def _regression_splits(shuffled_valid: bool = False) -> dict[str, pl.DataFrame]:
    return {
        "train": _regression_split(160, 10, "t"),
        "valid": _regression_split(60, 11, "v", shuffled=shuffled_valid),
        "test": _regression_split(80, 12, "s"),
    }


def test_regression_scores_every_model_on_test(tmp_path: Path) -> None:
    from glassworks.models.emb_gam import EmbGAMRegressor

    splits = _regression_splits()
    params = TrainEmbGAMParams(Cs=(0.01, 1.0, 100.0), baseline_Cs=(0.1, 10.0), seed=3)
    embedder = CachedEmbedder(HashEncoder(dim=16), tmp_path / "cache")
    model, m = fit_and_score_embgam(embedder, NgramSpec(order=1), splits, "regression", [], params)
    assert isinstance(model, EmbGAMRegressor)
    assert set(m) == {
        "embgam", "bag_of_ngrams", "test_intervals", "train_mean", "n_train", "n_test",
    }  # fmt: skip
    assert set(m["embgam"]) == {
        "rmse", "mae", "r2", "valid_rmse", "C", "alpha", "residual", "vocabulary"
    }  # fmt: skip
    assert set(m["bag_of_ngrams"]) == {"rmse", "mae", "r2", "valid_rmse", "C", "alpha"}
    assert set(m["train_mean"]) == {"rmse", "mae", "r2", "valid_rmse"}
    assert (m["n_train"], m["n_test"]) == (160, 80)
    assert m["embgam"]["alpha"] == pytest.approx(1 / m["embgam"]["C"])
    assert m["bag_of_ngrams"]["alpha"] == pytest.approx(1 / m["bag_of_ngrams"]["C"])
    test = splits["test"]
    y = test["label"].to_numpy()
    pred = model.predict(test["text"].to_list())
    assert m["embgam"]["rmse"] == pytest.approx(float(np.sqrt(np.mean((pred - y) ** 2))))
    assert m["embgam"]["rmse"] < 0.5 * m["train_mean"]["rmse"]  # beats the train mean
    assert m["bag_of_ngrams"]["rmse"] < 0.5 * m["train_mean"]["rmse"]
    assert m["embgam"]["r2"] > 0.8
    train_mean = float(splits["train"]["label"].mean())
    assert m["train_mean"]["rmse"] == pytest.approx(float(np.sqrt(np.mean((y - train_mean) ** 2))))
    intervals = m["test_intervals"]
    assert set(intervals["rmse"]) == {"embgam", "bag_of_ngrams"}
    assert intervals["rmse"]["embgam"]["mean"] == pytest.approx(m["embgam"]["rmse"])
    (diff,) = intervals["differences"]
    assert (diff["a"], diff["b"]) == ("embgam", "bag_of_ngrams")
    expected = m["embgam"]["rmse"] - m["bag_of_ngrams"]["rmse"]
    assert diff["difference"]["mean"] == pytest.approx(expected)
    lo, hi = diff["difference"]["ci95"]
    assert lo <= expected <= hi


def test_regression_chooses_c_on_valid_not_test(tmp_path: Path) -> None:
    """Valid targets are shuffled (no signal), test keeps it: on valid the strongest ridge
    penalty (the smallest C, predicting near the mean) wins, on test the weakest would. A choice
    made on test would pick the last C."""
    splits = _regression_splits(shuffled_valid=True)
    grid = (0.001, 1.0, 100.0)
    params = TrainEmbGAMParams(Cs=grid, baseline_Cs=grid, seed=0)
    embedder = CachedEmbedder(HashEncoder(dim=16), tmp_path / "cache")
    spec = NgramSpec(order=1)
    model, m = fit_and_score_embgam(embedder, spec, splits, "regression", [], params)
    train, valid, test = (
        (splits[s]["text"].to_list(), splits[s]["label"].to_numpy()) for s in splits
    )

    def rmse_at(c: float, x: list[str], y: np.ndarray) -> float:
        from glassworks.models.emb_gam import EmbGAMRegressor

        one = EmbGAMRegressor.from_spec(embedder, spec, Cs=(c,)).fit(*train)
        return float(np.sqrt(np.mean((one.predict(x) - y) ** 2)))

    on_valid = {c: rmse_at(c, *valid) for c in grid}
    on_test = {c: rmse_at(c, *test) for c in grid}
    assert min(on_valid, key=on_valid.get) == 0.001
    assert min(on_test, key=on_test.get) == 100.0
    assert m["embgam"]["C"] == 0.001
    assert m["embgam"]["valid_rmse"] == pytest.approx(on_valid[0.001])
    assert m["bag_of_ngrams"]["C"] == 0.001  # the baseline chooses on valid too


def test_regression_rejects_missing_targets(tmp_path: Path) -> None:
    splits = _regression_splits()
    splits["valid"] = splits["valid"].with_columns(
        pl.when(pl.col("id") == "v3").then(None).otherwise(pl.col("label")).alias("label")
    )
    embedder = CachedEmbedder(HashEncoder(dim=16), tmp_path / "cache")
    with pytest.raises(ValueError, match="valid split: 1 missing or non-finite"):
        fit_and_score_embgam(
            embedder, NgramSpec(order=1), splits, "regression", [], TrainEmbGAMParams()
        )
