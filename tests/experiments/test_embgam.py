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
    test = splits["test"]
    accuracy = float(np.mean(model.predict(test["text"].to_list()) == test["label"].to_numpy()))
    assert m["embgam"]["accuracy"] == pytest.approx(accuracy)
    assert m["embgam"]["accuracy"] > 0.9 > m["majority"]["accuracy"]
    assert m["bag_of_ngrams"]["accuracy"] > 0.9
    assert 0 <= m["embgam"]["valid_accuracy"] <= 1
    assert m["test_intervals"]  # the paired Emb-GAM vs bag-of-n-grams interval
