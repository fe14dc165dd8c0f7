import pickle

import numpy as np
import pytest

from glassworks.embed.cache import CachedEmbedder
from glassworks.models.emb_gam import EmbGAMClassifier, EmbGAMRegressor
from tests.fakes import HashEncoder

POS = ["good", "great", "fun", "superb", "lovely"]
NEG = ["bad", "awful", "dull", "boring", "poor"]
FILL = ["the", "movie", "plot", "acting", "was", "a", "film", "story"]


def _texts(n: int, seed: int, classes: int = 2) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(classes))
        words = list(rng.choice(FILL, 4))
        if classes == 2:
            words += list(rng.choice(POS if y else NEG, 2))
        else:
            words += [["bad", "awful"], ["okay", "fine"], ["great", "superb"]][y]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(y)
    return texts, np.array(labels)


@pytest.fixture
def embedder(tmp_path) -> CachedEmbedder:  # noqa: ANN001
    return CachedEmbedder(HashEncoder(dim=32), tmp_path / "cache")


def test_decomposition_is_exact_binary(embedder: CachedEmbedder) -> None:
    x, y = _texts(200, 0)
    xv, yv = _texts(60, 1)
    model = EmbGAMClassifier(embedder, ngram_order=2, Cs=(0.1, 1.0)).fit(x, y, xv, yv)
    xt, yt = _texts(80, 2)
    xt.append("never seen words here zzz qqq")  # unseen n-grams are embedded, not dropped
    fast = model.decision_function(xt)
    slow = model.decision_function_embeddings(xt)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9)
    assert model.score(xt[:-1], yt) > 0.9
    assert model.C_ in (0.1, 1.0)
    assert set(model.valid_scores_) == {0.1, 1.0}
    # per-text explanation sums to the logit, intercept included
    table = model.explain(xt[0])
    total = table["contribution_1"].sum() + model.intercept_[0]
    assert total == pytest.approx(fast[0], abs=1e-9)
    unseen = model.explain(xt[-1])
    assert not unseen["seen_in_training"].any()
    assert (unseen["contribution_1"] != 0).any()


def test_predict_proba_uses_intercept(embedder: CachedEmbedder) -> None:
    x, y = _texts(200, 3)
    model = EmbGAMClassifier(embedder, Cs=(1.0,)).fit(x, y)
    z = model.decision_function(x[:5])
    p = model.predict_proba(x[:5])
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(p.sum(1), 1.0)
    # an empty text is all intercept
    assert model.decision_function([""])[0] == pytest.approx(model.intercept_[0])


def test_multiclass_and_pickle(embedder: CachedEmbedder) -> None:
    x, y = _texts(300, 4, classes=3)
    model = EmbGAMClassifier(embedder, Cs=(1.0,)).fit(x, y)
    xt, yt = _texts(90, 5, classes=3)
    z = model.decision_function(xt)
    assert z.shape == (90, 3)
    np.testing.assert_allclose(z, model.decision_function_embeddings(xt), atol=1e-9)
    assert model.score(xt, yt) > 0.9
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(clone.predict_proba(xt), model.predict_proba(xt), atol=1e-12)
    table = model.explain(xt[0])
    assert [c for c in table.columns if c.startswith("contribution")] == [
        "contribution_0",
        "contribution_1",
        "contribution_2",
    ]


def test_regressor_decomposition(embedder: CachedEmbedder) -> None:
    x, y = _texts(200, 6, classes=3)
    model = EmbGAMRegressor(embedder, Cs=(1.0, 10.0)).fit(x, y.astype(float))
    np.testing.assert_allclose(model.predict(x), model.decision_function_embeddings(x), atol=1e-9)
    assert model.score(x, y) > 0.8


def test_min_frequency_prunes_consistently(embedder: CachedEmbedder) -> None:
    x, y = _texts(100, 7)
    x[0] += " rareword"  # once in training: below min_frequency
    model = EmbGAMClassifier(embedder, min_frequency=3, Cs=(1.0,)).fit(x, y)
    np.testing.assert_allclose(
        model.decision_function(x + ["zzz good"]),
        model.decision_function_embeddings(x + ["zzz good"]),
        atol=1e-9,
    )
    # min_frequency shapes the training vocabulary only: nothing is dropped at prediction time
    table = model.explain("zzz good")
    assert "zzz" in table["ngram"].to_list()
    contrib = model.output_column()
    assert table[contrib].sum() + model.intercept_[0] == pytest.approx(
        float(model.decision_function(["zzz good"])[0]), abs=1e-9
    )
    assert "rareword" not in model.vocabulary_index_
    with_rare = model.decision_function(["rareword good"])
    assert with_rare[0] != pytest.approx(float(model.decision_function(["good"])[0]), abs=1e-12)


def test_bad_input(embedder: CachedEmbedder) -> None:
    with pytest.raises(ValueError, match="3 texts but y has 2"):
        EmbGAMClassifier(embedder).fit(["a", "b", "c"], [0, 1])
    with pytest.raises(ValueError, match="no n-grams"):
        EmbGAMClassifier(embedder).fit(["", "  "], [0, 1])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EmbGAMClassifier(embedder).predict(["a"])


def test_token_scores_sum_to_logit(embedder: CachedEmbedder) -> None:
    x, y = _texts(200, 8)
    model = EmbGAMClassifier(embedder, ngram_order=3, Cs=(1.0,)).fit(x, y)
    text = x[0] + " " + x[0].split()[0] + " unseenword"
    tokens, scores = model.token_scores(text)
    assert tokens == text.split()
    assert sum(scores) + model.intercept_[0] == pytest.approx(model.decision_function([text])[0])


def test_from_spec_copies_the_ngram_rule(embedder: CachedEmbedder) -> None:
    from glassworks.embed.ngrams import NgramSpec

    spec = NgramSpec(order=3, mode="exact", stopwords=True, min_frequency=2)
    model = EmbGAMClassifier.from_spec(embedder, spec, Cs=(0.5,))
    assert model.spec == spec
    assert model.Cs == (0.5,)


def test_contributions_per_output_sum_to_that_logit(embedder: CachedEmbedder) -> None:
    x, y = _texts(300, 9, classes=3)
    model = EmbGAMClassifier(embedder, Cs=(1.0,)).fit(x, y)
    text = x[0] + " unseenword"
    z = model.decision_function([text])[0]
    for k in range(3):
        assert model.output_column(k) == f"contribution_{model.classes_[k]}"
        pairs = model.contributions(text, output=k)
        assert {g for g, _ in pairs} == set(model.explain(text)["ngram"])
        assert sum(v for _, v in pairs) + model.intercept_[k] == pytest.approx(z[k], abs=1e-9)
        sizes = [abs(v) for _, v in pairs]
        assert sizes == sorted(sizes, reverse=True)
    # outputs differ: each explains its own logit
    assert model.contributions(text, 0) != model.contributions(text, 2)


def test_binary_has_one_output_column(embedder: CachedEmbedder) -> None:
    x, y = _texts(200, 10)
    model = EmbGAMClassifier(embedder, Cs=(1.0,)).fit(x, y)
    assert model.output_column(0) == "contribution_1"
    with pytest.raises(IndexError):
        model.output_column(1)
    pairs = model.contributions(x[0])
    z = model.decision_function([x[0]])[0]
    assert sum(v for _, v in pairs) + model.intercept_[0] == pytest.approx(z, abs=1e-9)


# ---------------------------------------------------------------- regression
VALUES = {"sunny": 2.0, "warm": 1.5, "calm": 0.5, "cold": -1.0, "storm": -2.5, "grey": -0.7}


def _regression(n: int, seed: int, noise: float = 0.2) -> tuple[list[str], np.ndarray]:
    """Texts whose target is the sum of per-word values (filler words 0) plus noise."""
    rng = np.random.default_rng(seed)
    words = list(VALUES)
    texts, y = [], []
    for _ in range(n):
        picked = [*rng.choice(words, int(rng.integers(1, 4))), *rng.choice(FILL, 3)]
        rng.shuffle(picked)
        texts.append(" ".join(picked))
        y.append(sum(VALUES.get(w, 0.0) for w in picked) + noise * rng.standard_normal())
    return texts, np.array(y)


def test_regressor_decomposition_is_exact(embedder: CachedEmbedder) -> None:
    x, y = _regression(200, 11)
    xv, yv = _regression(60, 12)
    model = EmbGAMRegressor(embedder, ngram_order=2, Cs=(0.1, 1.0, 10.0)).fit(x, y, xv, yv)
    xt, yt = _regression(80, 13)
    xt.append("never seen words here zzz qqq")
    pred = model.predict(xt)
    np.testing.assert_allclose(pred, model.decision_function_embeddings(xt), atol=1e-8)
    np.testing.assert_array_equal(model.decision_function(xt), pred)
    for text, p in zip(xt, pred, strict=True):
        table = model.explain(text)
        assert table.columns == ["ngram", "count", "seen_in_training", "contribution"]
        assert table["contribution"].sum() + model.intercept_[0] == pytest.approx(p, abs=1e-8)
        _, scores = model.token_scores(text)
        assert sum(scores) + model.intercept_[0] == pytest.approx(p, abs=1e-8)
        pairs = model.contributions(text)
        assert sum(v for _, v in pairs) + model.intercept_[0] == pytest.approx(p, abs=1e-8)
    rmse = float(np.sqrt(np.mean((pred[:-1] - yt) ** 2)))
    assert rmse < 0.5 * float(np.sqrt(np.mean((yt - y.mean()) ** 2)))  # far better than the mean
    # the words' values are learnt: "storm" lowers the prediction most, "sunny" raises it most
    top = model.top_ngrams(2)
    assert top["direction"].to_list() == ["positive"] * 2 + ["negative"] * 2
    assert top["contribution"][1] > 0 > top["contribution"][2]
    per_word = {w: model.ngram_contributions_[model.vocabulary_index_[w], 0] for w in VALUES}
    assert max(per_word, key=per_word.get) == "sunny"
    assert min(per_word, key=per_word.get) == "storm"


def test_regressor_chooses_c_on_valid_rmse_with_alpha_one_over_c(
    embedder: CachedEmbedder,
) -> None:
    from sklearn.linear_model import Ridge

    x, y = _regression(150, 14)
    xv, yv = _regression(50, 15)
    grid = (0.001, 0.1, 10.0)
    model = EmbGAMRegressor(embedder, Cs=grid).fit(x, y, xv, yv)
    # the valid scores are -RMSE of the model fitted with that C, by hand
    for c in grid:
        one = EmbGAMRegressor(embedder, Cs=(c,)).fit(x, y)
        rmse = float(np.sqrt(np.mean((one.predict(xv) - yv) ** 2)))
        assert model.valid_scores_[c] == pytest.approx(-rmse, abs=1e-9)
    best = min(grid, key=lambda c: -model.valid_scores_[c])
    assert best == model.C_
    assert model.alpha_ == pytest.approx(1 / best)
    assert best != 0.001  # alpha 1000 over-smooths this signal: C is an inverse strength
    # without a validation split: RidgeCV over alpha = 1/C, reported back as C
    cv = EmbGAMRegressor(embedder, Cs=grid).fit(x, y)
    assert cv.C_ in grid
    assert isinstance(Ridge(alpha=cv.alpha_), Ridge)


def test_regressor_rejects_classifier_settings(embedder: CachedEmbedder) -> None:
    x, y = _regression(20, 16)
    with pytest.raises(ValueError, match="class_weight is for classifiers"):
        EmbGAMRegressor(embedder, class_weight="balanced").fit(x, y)
    with pytest.raises(ValueError, match="C must be > 0"):
        EmbGAMRegressor(embedder, Cs=(1.0, 0.0)).fit(x, y)


def test_regressor_pickles(embedder: CachedEmbedder) -> None:
    x, y = _regression(100, 17)
    model = EmbGAMRegressor(embedder, Cs=(1.0,)).fit(x, y)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(clone.predict(x), model.predict(x), atol=1e-12)


def _word_task(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """The label is carried by which of 40 made-up words a text holds: with 2-d embeddings the
    embedding cannot tell 20 positive words from 20 negative ones; per-word weights can."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(40)]
    texts, labels = [], []
    for _ in range(n):
        k = int(rng.integers(40))
        texts.append(" ".join([words[k], *rng.choice(FILL, 3)]))
        labels.append(int(k % 2))
    return texts, np.array(labels)


def test_residuals_learn_what_the_embedding_cannot_and_are_chosen_on_valid(
    tmp_path,  # noqa: ANN001
) -> None:
    embedder = CachedEmbedder(HashEncoder(dim=2), tmp_path / "cache")
    x, y = _word_task(600, 0)
    xv, yv = _word_task(200, 1)
    xt, yt = _word_task(300, 2)
    plain = EmbGAMClassifier(embedder, ngram_order=1, Cs=(0.1, 1.0, 10.0)).fit(x, y, xv, yv)
    model = EmbGAMClassifier(
        embedder, ngram_order=1, Cs=(0.1, 1.0, 10.0), residuals=(0.0, 1.0)
    ).fit(x, y, xv, yv)
    assert model.residual_ == 1.0
    assert model.residual_scores_[1.0] > model.residual_scores_[0.0]
    assert model.score(xt, yt) > 0.95
    assert plain.score(xt, yt) < 0.8
    # still an exact sum of per-n-gram contributions, checked against the slow path
    np.testing.assert_allclose(
        model.decision_function(xt), model.decision_function_embeddings(xt), atol=1e-9
    )
    table = model.explain(xt[0])
    assert table["contribution_1"].sum() + model.intercept_[0] == pytest.approx(
        model.decision_function(xt[:1])[0], abs=1e-9
    )
    assert model.contributions(xt[0])[0][0] == xt[0].split()[0]  # the label word leads


def test_residual_zero_is_plain_emb_gam(embedder: CachedEmbedder) -> None:
    """Scale 0 fits the dense standardised sums alone: the same model as scikit-learn's on them."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    x, y = _texts(200, 5)
    b = EmbGAMClassifier(embedder, Cs=(1.0,), residuals=(0.0,)).fit(x, y)
    assert clone(b).get_params()["residuals"] == (0.0,)
    assert not b.residual_coef_.any()
    assert b.residual_ == 0.0
    summed = np.asarray(b._summed(x))  # the slow path's sums (the same embeddings)
    z = (summed - summed.mean(0)) / np.where(summed.std(0) == 0, 1.0, summed.std(0))
    ref = LogisticRegression(C=1.0, max_iter=2000).fit(z, y)
    np.testing.assert_allclose(b.decision_function(x), ref.decision_function(z), atol=1e-7)


@pytest.mark.parametrize(
    ("residuals", "message"),
    [((), "at least one"), ((0.0, -1.0), ">= 0"), ((float("nan"),), ">= 0")],
)
def test_bad_residuals_are_refused(
    embedder: CachedEmbedder, residuals: tuple[float, ...], message: str
) -> None:
    x, y = _texts(50, 7)
    with pytest.raises(ValueError, match=message):
        EmbGAMClassifier(embedder, Cs=(1.0,), residuals=residuals).fit(x, y)
    with pytest.raises(ValueError, match=message):
        EmbGAMRegressor(embedder, Cs=(1.0,), residuals=residuals).fit(x, y * 1.0)


def test_a_residual_grid_needs_validation(embedder: CachedEmbedder) -> None:
    x, y = _texts(50, 8)
    with pytest.raises(ValueError, match="chosen on validation"):
        EmbGAMClassifier(embedder, Cs=(1.0,), residuals=(0.0, 1.0)).fit(x, y)


def test_regressor_with_residuals_decomposes_exactly(embedder: CachedEmbedder) -> None:
    x, labels = _texts(200, 9)
    y = labels * 2.0 + 1.0
    xv, lv = _texts(60, 10)
    model = EmbGAMRegressor(embedder, Cs=(1.0, 10.0), residuals=(0.0, 0.5)).fit(
        x, y, xv, lv * 2.0 + 1.0
    )
    xt, _ = _texts(20, 11)
    np.testing.assert_allclose(model.predict(xt), model.decision_function_embeddings(xt), atol=1e-9)
    assert set(model.residual_scores_) == {0.0, 0.5}
