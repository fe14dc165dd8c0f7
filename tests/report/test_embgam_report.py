"""Emb-GAM's top n-grams and explained test texts (train_embgam's model folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.embed.cache import CachedEmbedder
from glassworks.models.emb_gam import EmbGAMClassifier, EmbGAMRegressor
from glassworks.report.embgam import (
    N_DETAILS,
    explained_outputs,
    explained_regression_texts,
    explained_texts,
    file_safe,
    write_embgam_reports,
)
from tests.fakes import HashEncoder

WORDS = [["bad", "awful"], ["okay", "fine"], ["great", "superb"]]
FILL = ["the", "movie", "plot", "was", "a", "film", "story", "acting"]


def _data(n: int, seed: int, classes: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    texts = [
        " ".join(rng.permutation([*rng.choice(FILL, 5), *WORDS[-classes:][y]])) for y in labels
    ]
    return pl.DataFrame({"id": [f"t{i}" for i in range(n)], "text": texts, "label": labels})


def _model(tmp_path: Path, classes: int) -> tuple[EmbGAMClassifier, pl.DataFrame]:
    train = _data(200, 0, classes)
    embedder = CachedEmbedder(HashEncoder(dim=16), tmp_path / "cache")
    model = EmbGAMClassifier(embedder, Cs=(1.0,)).fit(train["text"].to_list(), train["label"])
    return model, _data(30, 1, classes)


def test_file_safe_and_outputs(tmp_path: Path) -> None:
    assert file_safe("very good/ok") == "very_good_ok"
    binary, _ = _model(tmp_path, 2)
    assert explained_outputs(binary) == [1]
    multi, _ = _model(tmp_path, 3)
    assert explained_outputs(multi) == [0, 1, 2]


def test_explained_texts_binary_explain_the_positive_logit(tmp_path: Path) -> None:
    model, test = _model(tmp_path, 2)
    names = ["neg", "pos"]
    items = explained_texts(model, names, test, n_explain=7, seed=0)
    assert len(items) == 7
    ids = [item.caption.split(" · ")[0].removeprefix("id ") for item in items]
    assert ids == sorted(ids, key=lambda i: int(i[1:]))  # in the split's order
    assert items == explained_texts(model, names, test, n_explain=7, seed=0)  # seeded
    for item in items:
        assert "scores explain 'pos'" in item.caption  # a binary model has one logit
        text = test.filter(pl.col("id") == item.caption.split(" · ")[0][3:])["text"][0]
        logit = float(model.decision_function([text])[0])
        assert sum(item.scores) + model.intercept_[0] == pytest.approx(logit, abs=1e-9)
        assert len(item.details) <= N_DETAILS
        sizes = [abs(v) for _, v in item.details]
        assert sizes == sorted(sizes, reverse=True)
    assert len(explained_texts(model, names, test, n_explain=100, seed=0)) == test.height


def test_explained_texts_multiclass_explain_the_predicted_class(tmp_path: Path) -> None:
    model, test = _model(tmp_path, 3)
    names = ["low", "mid", "high"]
    for item in explained_texts(model, names, test, n_explain=5, seed=1):
        predicted = item.caption.split("predicted: ")[1].split(" (")[0]
        assert f"scores explain '{predicted}'" in item.caption


def test_write_embgam_reports_writes_every_file(tmp_path: Path) -> None:
    model, test = _model(tmp_path, 3)
    out = tmp_path / "out"
    out.mkdir()
    write_embgam_reports(
        model, ["low", "mid", "high"], test, out, "toy", top_k=4, n_explain=3, seed=0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["examples.html"]
        + [f"top_ngrams_{c}.{ext}" for c in ("low", "mid", "high") for ext in ("csv", "png")]
    )
    top = pl.read_csv(out / "top_ngrams_high.csv")
    assert top.height == 8  # top_k positive and top_k negative
    page = (out / "examples.html").read_text(encoding="utf-8")
    assert "Emb-GAM explanations — toy" in page
    assert page.count("scores explain") == 3


# ---------------------------------------------------------------- regression
VALUES = {"sunny": 2.0, "warm": 1.0, "cold": -1.0, "storm": -2.0}


def _regression_data(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    texts, y = [], []
    for _ in range(n):
        words = [*rng.choice(list(VALUES), 2), *rng.choice(FILL, 4)]
        texts.append(" ".join(rng.permutation(words)))
        y.append(sum(VALUES.get(w, 0.0) for w in words) + 0.1 * rng.standard_normal())
    return pl.DataFrame(
        {"id": [f"t{i}" for i in range(n)], "text": texts, "label": pl.Series(y, dtype=pl.Float64)}
    )


def _regressor(tmp_path: Path) -> tuple[EmbGAMRegressor, pl.DataFrame]:
    train = _regression_data(200, 0)
    embedder = CachedEmbedder(HashEncoder(dim=16), tmp_path / "cache")
    model = EmbGAMRegressor(embedder, Cs=(1.0,)).fit(train["text"].to_list(), train["label"])
    return model, _regression_data(30, 1)


def test_explained_regression_texts_sum_to_the_prediction(tmp_path: Path) -> None:
    model, test = _regressor(tmp_path)
    items = explained_regression_texts(model, test, n_explain=7, seed=0)
    assert len(items) == 7
    assert items == explained_regression_texts(model, test, n_explain=7, seed=0)  # seeded
    ids = [item.caption.split(" · ")[0].removeprefix("id ") for item in items]
    assert ids == sorted(ids, key=lambda i: int(i[1:]))  # in the split's order
    for item, id_ in zip(items, ids, strict=True):
        row = test.filter(pl.col("id") == id_)
        predicted = float(model.predict([row["text"][0]])[0])
        assert sum(item.scores) + model.intercept_[0] == pytest.approx(predicted, abs=1e-8)
        assert f"predicted: {predicted:.4g}" in item.caption
        assert f"true: {row['label'][0]:.4g}" in item.caption
        assert "scores explain the predicted value" in item.caption
        assert 0 < len(item.details) <= N_DETAILS
        sizes = [abs(v) for _, v in item.details]
        assert sizes == sorted(sizes, reverse=True)


def test_write_embgam_reports_regression_has_one_top_list(tmp_path: Path) -> None:
    model, test = _regressor(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    write_embgam_reports(model, [], test, out, "toy", top_k=3, n_explain=4, seed=0)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["examples.html", "top_ngrams.csv", "top_ngrams.png"]
    top = pl.read_csv(out / "top_ngrams.csv")
    assert top["direction"].to_list() == ["positive"] * 3 + ["negative"] * 3
    values = top["contribution"].to_list()
    assert values[:3] == sorted(values[:3], reverse=True)
    assert values[0] > 0 > values[-1]
    assert "sunny" in top["ngram"][0]  # the word (or its bigram) with the largest value
    assert "storm" in top["ngram"][3]
    page = (out / "examples.html").read_text(encoding="utf-8")
    assert "Emb-GAM explanations — toy" in page
    assert page.count("scores explain the predicted value") == 4
    assert "logit" not in page  # the note and legend speak of the predicted value
