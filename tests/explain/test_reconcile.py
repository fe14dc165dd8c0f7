"""Global explanations reconciled with an exact decomposition: word scores move onto the
exact model's tokens without losing mass, spans add their words, and the comparison finds
agreement, sign flips and planted disagreements."""

from __future__ import annotations

import numpy as np
import pytest

from glassworks.explain.reconcile import covered, reconcile, span_scores, to_tokens


def test_to_tokens_merges_pieces_and_reports_dropped_punctuation() -> None:
    words = [("it", 1.0), ("'", 0.5), ("s", 0.25), ("thrill", 2.0), ("ing", 1.0), (",", 3.0),
             ("bad", 1.0), ("-", -1.0), ("ass", 1.0), ("[UNK]", 4.0)]  # fmt: skip
    tokens, scores, dropped = to_tokens("It's thrilling, bad-ass!", words)
    assert tokens == ["it's", "thrilling", "bad", "ass"]
    np.testing.assert_allclose(scores, [1.25, 3.0, 1.0, 1.0])
    # the lone apostrophe, the comma, the hyphen and [UNK] match no token character
    assert dropped == pytest.approx(0.5 + 3.0 + 1.0 + 4.0)


def test_to_tokens_splits_a_word_over_the_tokens_it_spans() -> None:
    tokens, scores, dropped = to_tokens("not bad", [("notbad", 6.0)])
    assert tokens == ["not", "bad"]
    np.testing.assert_allclose(scores, [3.0, 3.0])  # 3 of 6 characters each
    assert dropped == 0.0


def test_tokens_past_the_explainers_reach_are_left_out_on_both_sides() -> None:
    text = "good film but awful awful ending"
    assert covered(text, [("good", 1.0), ("fil", 1.0)]) == 2  # a truncated last word counts
    assert covered(text, []) == 0
    exact = [[(w, 1.0) for w in text.split()]]
    truncated = [[("good", 1.0), ("film", 1.0), ("but", 1.0)]]  # a model that read 3 words
    r = reconcile([text], exact, {"ig": truncated}, max_order=1, min_count=1, n_boot=0)["ig"]
    assert r.ngrams == ["but", "film", "good"]  # "awful", "ending": unseen by the explainer
    assert r.sign_agreement == 1.0


def test_span_scores_add_their_words() -> None:
    stats = span_scores([(["a", "b", "a"], np.array([1.0, -2.0, 3.0]))], max_order=2)
    assert stats.count == {"a": 2, "b": 1, "a b": 1, "b a": 1}
    assert stats.mean["a"] == pytest.approx(2.0)
    assert stats.mean_abs["a b"] == pytest.approx(1.0)
    assert stats.occurrences["b a"] == {(0, 1): pytest.approx(1.0)}
    with pytest.raises(ValueError, match="max_order"):
        span_scores([], max_order=0)


def _corpus(n: int = 60, seed: int = 0) -> tuple[list[str], list[list[tuple[str, float]]]]:
    rng = np.random.default_rng(seed)
    weights = {"great": 2.0, "good": 1.0, "bad": -1.5, "awful": -2.5, "the": 0.05, "film": 0.1,
               "plot": -0.2, "dull": -1.0, "fun": 0.8, "a": 0.0}  # fmt: skip
    vocab = list(weights)
    texts, scores = [], []
    for _ in range(n):
        words = list(rng.choice(vocab, 6))
        texts.append(" ".join(words))
        scores.append([(w, weights[w]) for w in words])
    return texts, scores


def test_an_explainer_equal_to_the_exact_scores_agrees_fully() -> None:
    texts, exact = _corpus()
    flipped = [[(w, -s) for w, s in t] for t in exact]
    out = reconcile(texts, exact, {"same": exact, "flipped": flipped}, top_k=5, n_boot=50)
    same, neg = out["same"], out["flipped"]
    assert same.spearman == pytest.approx(1.0)
    assert same.spearman_ci95[0] == pytest.approx(1.0)
    assert same.jaccard == 1.0
    assert same.sign_agreement == 1.0
    assert same.disagreements[0].rank_exact == same.disagreements[0].rank_posthoc
    # importance is unsigned: a sign flip ranks alike, but never points the same way
    assert neg.spearman == pytest.approx(1.0)
    assert neg.sign_agreement == 0.0


def test_a_planted_disagreement_is_listed_first() -> None:
    texts, exact = _corpus(n=80, seed=1)
    # the explainer ignores "great" (the exact model's strongest positive word)
    blind = [[(w, 0.0 if w == "great" else s) for w, s in t] for t in exact]
    r = reconcile(texts, exact, {"blind": blind}, max_order=1, top_k=3, n_boot=0)["blind"]
    worst = r.disagreements[0]
    assert worst.ngram == "great"
    assert worst.rank_posthoc == len(r.ngrams)
    assert worst.rank_exact <= 2
    assert "great" in r.top_exact
    assert "great" not in r.top_posthoc
    assert r.jaccard < 1.0
    assert r.spearman < 1.0
    assert np.isnan(r.spearman_ci95[0])  # no bootstrap asked


def test_random_scores_sit_near_zero_correlation() -> None:
    """The random floor is at 0 even with bigrams: correlations are taken within each n-gram
    order (a 2-word span sums two scores, which alone would correlate any two explainers)."""
    texts, exact = _corpus(n=200, seed=2)
    rng = np.random.default_rng(3)
    noise = [[(w, float(rng.uniform())) for w, _ in t] for t in exact]  # as the random explainer
    r = reconcile(texts, exact, {"random": noise}, max_order=2, n_boot=100)["random"]
    lo, hi = r.spearman_ci95
    assert lo < 0 < hi
    assert set(r.spearman_by_order) == {1, 2}
    assert r.top_k == min(20, len(r.ngrams) // 2)


def test_min_count_and_bad_input() -> None:
    texts, exact = _corpus(n=10)
    r = reconcile(texts, exact, {"same": exact}, min_count=10_000)["same"]
    assert r.ngrams == []
    assert np.isnan(r.spearman)
    assert r.disagreements == []
    with pytest.raises(ValueError, match="explained texts"):
        reconcile(texts, exact[:-1], {"same": exact})
    with pytest.raises(ValueError, match="min_count"):
        reconcile(texts, exact, {}, min_count=0)
