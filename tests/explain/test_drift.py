"""Explanation drift: identical explanations show none, a model that moved its reliance to
another feature is caught (rank correlation, top-k overlap, KS with Holm), and text models with
different tokenizers compare over words."""

from __future__ import annotations

import numpy as np
import pytest

from glassworks.explain.drift import explanation_drift, holm, word_matrix


def _attr(seed: int, weights: np.ndarray, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, len(weights))) * weights


FEATURES = [f"f{i}" for i in range(8)]
WEIGHTS = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.2, 0.1])


def test_identical_explanations_show_no_drift() -> None:
    a = _attr(0, WEIGHTS)
    d = explanation_drift(a, a.copy(), FEATURES, top_k=3)
    assert d.spearman == pytest.approx(1.0)
    assert d.jaccard == 1.0
    assert d.score == 0.0
    assert d.n_shifted == 0
    assert d.top_a == d.top_b == ["f0", "f1", "f2"]
    assert all(dist == 0.0 for _, dist in d.changed_rows)


def test_a_moved_reliance_is_caught() -> None:
    """Model B leans on f7 (a shortcut) instead of f0; the rest is unchanged up to noise."""
    a = _attr(0, WEIGHTS)
    moved = WEIGHTS.copy()
    moved[0], moved[7] = 0.1, 6.0
    b = _attr(1, moved)
    d = explanation_drift(a, b, FEATURES, top_k=3)
    assert d.top_b[0] == "f7"
    assert "f0" not in d.top_b
    assert d.jaccard == pytest.approx(2 / 4)  # {f1, f2} shared of {f0, f1, f2, f7}
    shifted = {s.feature for s in d.shifts if s.shifted}
    assert shifted == {"f0", "f7"}  # the unchanged features are not flagged (Holm)
    assert d.spearman < 0.9
    assert d.summary()["shifted"][:2] in (["f0", "f7"], ["f7", "f0"])


def test_holm_matches_the_textbook_step_down() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone: 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert holm([0.9, 0.8]).max() <= 1.0


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="rows x 8 features"):
        explanation_drift(np.zeros((3, 8)), np.zeros((3, 7)), FEATURES)
    with pytest.raises(ValueError, match="no rows"):
        explanation_drift(np.zeros((0, 8)), np.zeros((0, 8)), FEATURES)


def test_text_models_compare_over_words() -> None:
    a = [[("Great", 1.0), ("film", 0.1)], [("dull", -2.0), ("film", 0.0), ("film", 0.5)]]
    b = [[("great", 0.2), ("film", 0.9)], [("dull", -0.1)]]
    ma, mb, vocab = word_matrix(a, b)
    assert vocab == ["dull", "film", "great"]
    np.testing.assert_allclose(ma, [[0.0, 0.1, 1.0], [-2.0, 0.5, 0.0]])
    np.testing.assert_allclose(mb, [[0.0, 0.9, 0.2], [-0.1, 0.0, 0.0]])
    with pytest.raises(ValueError, match="2 texts explained by A but 1 by B"):
        word_matrix(a, b[:1])
