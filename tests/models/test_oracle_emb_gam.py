"""Emb-GAM (Singh & Gao 2022) against scikit-learn fitted by hand on the standardised sums of
n-gram embeddings: the folded ``coef_``/``intercept_`` must reproduce the unfolded model, and
the per-n-gram contributions plus the intercept must sum to its decision function.

The test texts are lower-case words separated by single spaces, so their n-grams (all orders up
to 2) are written out here without the library's tokeniser.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge

from glassworks.models.emb_gam import EmbGAMClassifier, EmbGAMRegressor
from tests.fakes import HashEncoder

POS = ["good", "great", "fun", "superb", "lovely"]
NEG = ["bad", "awful", "dull", "boring", "poor"]
FILL = ["the", "movie", "plot", "acting", "was", "a", "film", "story"]
C = 0.5


class FakeEmbedder:
    """The tiny fake language model of the unit tests, without a cache."""

    def __init__(self, dim: int = 12) -> None:
        self.encoder = HashEncoder(dim=dim)

    def embed(self, keys: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(keys))


def _texts(n: int, seed: int, classes: int = 2) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(classes))
        words = list(rng.choice(FILL, 4))
        if classes == 2:
            words += list(rng.choice(POS if y else NEG, 1)) + list(rng.choice(POS + NEG, 1))
        else:
            words += [["bad", "awful"], ["okay", "fine"], ["great", "superb"]][y][:1]
            words += list(rng.choice(POS + NEG, 1))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(y)
    return texts, np.array(labels)


def _ngrams(text: str) -> list[str]:
    """Unigrams and bigrams of a space-separated lower-case text (repeats kept)."""
    words = text.split()
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _summed(texts: Sequence[str], embedder: FakeEmbedder) -> np.ndarray:
    """Sum of the embeddings of every n-gram occurrence, one row per text."""
    return np.stack([np.asarray(embedder.embed(_ngrams(t)), np.float64).sum(0) for t in texts])


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu, sd = train.mean(0), train.std(0)
    sd[sd == 0] = 1.0
    return [(a - mu) / sd for a in (train, *others)]


@pytest.mark.parametrize("classes", [2, 3])
def test_decision_function_equals_sklearn_on_standardised_sums(classes: int) -> None:
    emb = FakeEmbedder()
    x, y = _texts(150, 0, classes)
    xt, _ = _texts(40, 1, classes)
    xt.append("never seen words here")  # unseen n-grams are embedded too
    model = EmbGAMClassifier(emb, ngram_order=2, Cs=(C,), max_iter=5000).fit(x, y)
    z_train, z_test = _standardise(_summed(x, emb), _summed(xt, emb))
    ref = LogisticRegression(C=C, max_iter=5000).fit(z_train, y)
    expected = ref.decision_function(z_test)
    np.testing.assert_allclose(model.decision_function(xt), expected, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(model.predict_proba(xt), ref.predict_proba(z_test), atol=1e-7)
    assert np.abs(expected).max() > 0.5  # the model is not trivial


def test_regressor_equals_ridge_on_standardised_sums() -> None:
    emb = FakeEmbedder()
    x, labels = _texts(120, 2)
    y = labels * 2.0 + np.random.default_rng(0).normal(size=len(labels)) + 3.0
    xt, _ = _texts(30, 3)
    model = EmbGAMRegressor(emb, Cs=(C,)).fit(x, y)
    z_train, z_test = _standardise(_summed(x, emb), _summed(xt, emb))
    ref = Ridge(alpha=1 / C).fit(z_train, y)  # C is an inverse strength, as for the classifier
    np.testing.assert_allclose(model.predict(xt), ref.predict(z_test), rtol=1e-9, atol=1e-9)


def test_ngram_contributions_and_intercept_sum_to_the_decision_function() -> None:
    emb = FakeEmbedder()
    x, y = _texts(150, 4)
    model = EmbGAMClassifier(emb, Cs=(C,), max_iter=5000).fit(x, y)
    (z_train,) = _standardise(_summed(x, emb))
    ref = LogisticRegression(C=C, max_iter=5000).fit(z_train, y)
    mu, sd = _summed(x, emb).mean(0), _summed(x, emb).std(0)
    xt, _ = _texts(10, 5)
    for text in [*xt, "good good good", "zzz qqq"]:
        table = model.explain(text)
        grams = _ngrams(text)
        counts = {g: grams.count(g) for g in grams}
        assert dict(zip(table["ngram"], table["count"], strict=True)) == counts
        # one n-gram's contribution: count * (w / sd) . emb(g), by hand from sklearn's fit
        w = ref.coef_[0] / sd
        by_hand = {
            g: n * float(np.asarray(emb.embed([g]), np.float64)[0] @ w) for g, n in counts.items()
        }
        got = dict(zip(table["ngram"], table["contribution_1"], strict=True))
        for g in counts:
            assert got[g] == pytest.approx(by_hand[g], rel=1e-6, abs=1e-8)
        intercept = float(ref.intercept_[0] - w @ mu)
        assert model.intercept_[0] == pytest.approx(intercept, rel=1e-6, abs=1e-8)
        total = table["contribution_1"].sum() + model.intercept_[0]
        assert total == pytest.approx(float(model.decision_function([text])[0]), abs=1e-10)
        (z_text,) = _standardise(_summed(x, emb), _summed([text], emb))[1:]
        assert total == pytest.approx(float(ref.decision_function(z_text)[0]), abs=1e-7)


def _counts(texts: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
    """Occurrences of each training n-gram per text, written out by hand."""
    index = {g: j for j, g in enumerate(vocab)}
    out = np.zeros((len(texts), len(vocab)))
    for i, t in enumerate(texts):
        for g in _ngrams(t):
            if g in index:
                out[i, index[g]] += 1
    return out


@pytest.mark.parametrize("classes", [2, 3])
def test_residuals_equal_sklearn_on_sums_and_scaled_counts(classes: int) -> None:
    """With residual scale r the model is logistic regression on [standardised sums, r * counts];
    each n-gram's contribution is its embedding's plus r times its own weight."""
    emb, r = FakeEmbedder(), 0.7
    x, y = _texts(150, 6, classes)
    xt, _ = _texts(40, 7, classes)
    xt.append("never seen words here")
    model = EmbGAMClassifier(emb, Cs=(C,), max_iter=5000, residuals=(r,)).fit(x, y)
    vocab = sorted({g for t in x for g in _ngrams(t)})
    assert model.vocabulary_ == vocab
    z_train, z_test = _standardise(_summed(x, emb), _summed(xt, emb))
    # the same solver on the same (sparse) design, so both stop at the same iterate
    design = sp.csr_matrix(np.hstack([z_train, r * _counts(x, vocab)]))
    ref = LogisticRegression(C=C, max_iter=5000).fit(design, y)
    expected = ref.decision_function(np.hstack([z_test, r * _counts(xt, vocab)]))
    np.testing.assert_allclose(model.decision_function(xt), expected, rtol=1e-7, atol=1e-7)
    # the n-gram "good": its embedding's part plus r times its own weight, per occurrence
    sd = _summed(x, emb).std(0)
    j = vocab.index("good")
    w_emb = ref.coef_[:, : sd.size] / sd
    by_hand = (
        np.asarray(emb.embed(["good"]), np.float64)[0] @ w_emb.T + r * ref.coef_[:, sd.size + j]
    )
    np.testing.assert_allclose(model.ngram_contributions_[j], by_hand, rtol=1e-3, atol=1e-3)
    assert np.abs(model.residual_coef_).max() > 0.01  # the residual weights are used
