"""Global explanations reconciled across methods: post-hoc word attributions (IG, LIME, ...) of a
black box, aggregated to n-grams over a corpus, against the exact n-gram contributions of an
Emb-GAM trained on the same data (Singh & Gao 2022, arXiv 2107.09145).

Both sides are put on one footing first. Every explainer's (word, score) pairs of a text are
mapped onto the text's Emb-GAM word tokens (:func:`~glassworks.embed.ngrams.tokenize`) by their
characters, so tokenisers that split ``it's`` or ``thrills`` differently still meet; a word's score
is shared among the tokens it overlaps in proportion to the shared characters, and a word with no
letters or digits (punctuation, special tokens) drops out (its share of the attribution is
reported). Emb-GAM's side is its exact decomposition of the same texts, each n-gram's
contribution shared equally by its words (:meth:`EmbGAM.token_scores`), so its word scores sum to
the logit exactly.

An n-gram occurrence then scores the sum of its words' scores (spans of up to ``max_order`` words;
the same rule for both sides), and an n-gram's global importance is the mean absolute score over
its occurrences (as SHAP's summary plots do, Lundberg & Lee 2017). Two explainers agree when the
Spearman rank correlation of the importances of the n-grams both saw at least ``min_count`` times
is high, their top-k n-grams overlap (Jaccard), and their signed scores of the same occurrence
point the same way (sign agreement: both explain the same class of the same text).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassworks.embed.ngrams import tokenize

WordScores = Sequence[tuple[str, float]]
"""One text's (word, score) pairs, in text order."""


def _chars(word: str) -> str:
    return "".join(tokenize(word)).replace("'", "")


def covered(text: str, words: WordScores) -> int:
    """How many of ``text``'s leading Emb-GAM tokens ``words`` reach (the rest were cut off, e.g.
    by the model's ``max_length``): one past the last token sharing a character with a word."""
    tokens = [t.replace("'", "") for t in tokenize(text)]
    b = "".join(tokens)
    a = "".join(_chars(w) for w, _ in words)
    ends = np.cumsum([len(t) for t in tokens])
    last = -1
    for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        if block.size:
            last = max(last, block.b + block.size - 1)
    return int(np.searchsorted(ends, last, side="right")) + 1 if last >= 0 else 0


def to_tokens(text: str, words: WordScores) -> tuple[list[str], np.ndarray, float]:
    """``words``' scores moved onto ``text``'s Emb-GAM tokens: ``(tokens, scores, dropped)`` where
    ``dropped`` is the summed absolute score of words that share no character with any token.

    The words' letters and digits (lower-cased, apostrophes ignored) are matched to the tokens'
    with :class:`difflib.SequenceMatcher`; each word gives every token a share of its score equal
    to the fraction of the word's characters that matched inside that token.
    """
    tokens = tokenize(text)
    token_chars = [t.replace("'", "") for t in tokens]
    b = "".join(token_chars)
    owner_b = np.repeat(np.arange(len(tokens)), [len(t) for t in token_chars])
    pieces = [(_chars(w), float(s)) for w, s in words]
    a = "".join(p for p, _ in pieces)
    owner_a = np.repeat(np.arange(len(pieces)), [len(p) for p, _ in pieces])
    scores = np.zeros(len(tokens))
    matched = np.zeros(len(pieces))
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            w, t = owner_a[block.a + k], owner_b[block.b + k]
            score, n = pieces[w][1], len(pieces[w][0])
            scores[t] += score / n
            matched[w] += 1
    dropped = sum(
        abs(s) * (1.0 - (matched[j] / len(p) if p else 0.0)) for j, (p, s) in enumerate(pieces)
    )
    return tokens, scores, float(dropped)


@dataclass(frozen=True)
class NgramStats:
    """One explainer's n-gram occurrences over a corpus."""

    count: dict[str, int]
    mean_abs: dict[str, float]
    """Global importance: mean absolute occurrence score."""
    mean: dict[str, float]
    """Mean signed occurrence score (towards each text's explained class)."""
    occurrences: dict[str, dict[tuple[int, int], float]]
    """n-gram -> (text, start) -> that occurrence's score."""


def span_scores(
    token_scores: Sequence[tuple[Sequence[str], np.ndarray]], max_order: int = 2
) -> NgramStats:
    """Every n-gram occurrence (``n <= max_order``) of every text scored as the sum of its tokens'
    scores, with each n-gram's count, mean and mean absolute score."""
    if max_order < 1:
        raise ValueError(f"max_order must be >= 1, got {max_order}")
    sums: dict[str, float] = defaultdict(float)
    abs_sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    occurrences: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    for row, (tokens, scores) in enumerate(token_scores):
        cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(scores, dtype=np.float64))])
        for n in range(1, max_order + 1):
            for i in range(len(tokens) - n + 1):
                gram = " ".join(tokens[i : i + n])
                value = float(cumulative[i + n] - cumulative[i])
                sums[gram] += value
                abs_sums[gram] += abs(value)
                counts[gram] += 1
                occurrences[gram][(row, i)] = value
    return NgramStats(
        count=dict(counts),
        mean_abs={g: abs_sums[g] / counts[g] for g in counts},
        mean={g: sums[g] / counts[g] for g in counts},
        occurrences=dict(occurrences),
    )


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _orders(names: Sequence[str]) -> np.ndarray:
    return np.array([g.count(" ") + 1 for g in names], dtype=int)


def _by_order(a: np.ndarray, b: np.ndarray, orders: np.ndarray) -> dict[int, float]:
    """Spearman within each n-gram order (a span of n words sums n scores, so mixing orders
    would correlate any two explainers, random ones too, through length alone)."""
    return {int(o): _spearman(a[orders == o], b[orders == o]) for o in np.unique(orders)}


def _stratified(a: np.ndarray, b: np.ndarray, orders: np.ndarray) -> float:
    """The per-order correlations averaged, weighted by how many n-grams each order has."""
    per = _by_order(a, b, orders)
    weights = {o: int((orders == o).sum()) for o in per if np.isfinite(per[o])}
    total = sum(weights.values())
    return sum(per[o] * w for o, w in weights.items()) / total if total else float("nan")


def _top(names: Sequence[str], values: np.ndarray, k: int) -> list[str]:
    order = sorted(range(len(names)), key=lambda i: (-values[i], names[i]))
    return [names[i] for i in order[:k] if values[i] > 0]


@dataclass(frozen=True)
class Disagreement:
    """An n-gram the two explainers rank far apart."""

    ngram: str
    count: int
    rank_exact: int
    rank_posthoc: int
    importance_exact: float
    importance_posthoc: float
    sign_agreement: float
    """Share of its occurrences where both scores point the same way."""


@dataclass(frozen=True)
class Reconciliation:
    """One post-hoc explainer against the exact decomposition, over the same texts."""

    method: str
    n_texts: int
    ngrams: list[str]
    """N-grams both sides saw at least ``min_count`` times (the compared set)."""
    importance_exact: np.ndarray
    importance_posthoc: np.ndarray
    spearman: float
    """Spearman correlation of the importances within each n-gram order, averaged weighted by
    the orders' sizes."""
    spearman_ci95: tuple[float, float]
    """Percentile bootstrap over texts (texts resampled, importances and correlation recomputed
    on the compared n-grams)."""
    spearman_by_order: dict[int, float]
    top_k: int
    top_exact: list[str]
    top_posthoc: list[str]
    jaccard: float
    sign_agreement: float
    """Share of compared n-gram occurrences (both scores non-zero) with the same sign."""
    dropped_share: float
    disagreements: list[Disagreement] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The figures as plain JSON (the stage's metrics)."""
        return {
            "n_texts": self.n_texts,
            "ngrams_compared": len(self.ngrams),
            "spearman": self.spearman,
            "spearman_ci95": list(self.spearman_ci95),
            "spearman_by_order": {str(o): v for o, v in self.spearman_by_order.items()},
            "top_k": self.top_k,
            "jaccard_top_k": self.jaccard,
            "sign_agreement": self.sign_agreement,
            "dropped_share": self.dropped_share,
        }


def reconcile(
    texts: Sequence[str],
    exact: Sequence[WordScores],
    posthoc: Mapping[str, Sequence[WordScores]],
    max_order: int = 2,
    min_count: int = 3,
    top_k: int = 20,
    n_disagreements: int = 10,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Reconciliation]:
    """Each explainer of ``posthoc`` (name -> one :data:`WordScores` per text) against
    ``exact`` (Emb-GAM's word scores of the same texts, for the same class as each post-hoc
    explanation), n-grams of up to ``max_order`` words seen at least ``min_count`` times (both
    sides are mapped onto the same tokens, so they count the same occurrences; tokens past what
    every explainer reached, e.g. a model's truncation, are left out on both sides)."""
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    for name, per_text in {"exact": exact, **posthoc}.items():
        if len(per_text) != len(texts):
            raise ValueError(f"{name}: {len(per_text)} explained texts for {len(texts)} texts")
    # only the tokens every explainer reached: words past a model's truncation have no
    # post-hoc score, and would otherwise count as unimportant to it (but not to Emb-GAM)
    reach = [
        min((covered(t, per_text[i]) for per_text in posthoc.values()), default=None)
        for i, t in enumerate(texts)
    ]
    exact_stats, _ = _stats(texts, exact, max_order, reach)
    out: dict[str, Reconciliation] = {}
    for method, words in posthoc.items():
        stats, dropped = _stats(texts, words, max_order, reach)
        names = sorted(
            g
            for g, n in exact_stats.count.items()
            if n >= min_count and stats.count.get(g, 0) >= min_count
        )
        imp_e = np.array([exact_stats.mean_abs[g] for g in names])
        imp_p = np.array([stats.mean_abs[g] for g in names])
        ci = _bootstrap_spearman(exact_stats, stats, names, len(texts), n_boot, seed)
        orders = _orders(names)
        k = min(top_k, len(names) // 2)  # at most half: else the overlap is near 1 by design
        top_e, top_p = _top(names, imp_e, k), _top(names, imp_p, k)
        union = set(top_e) | set(top_p)
        jaccard = len(set(top_e) & set(top_p)) / len(union) if union else 1.0
        agree, total = _sign_agreement(exact_stats, stats, names)
        out[method] = Reconciliation(
            method=method,
            n_texts=len(texts),
            ngrams=names,
            importance_exact=imp_e,
            importance_posthoc=imp_p,
            spearman=_stratified(imp_e, imp_p, orders),
            spearman_ci95=ci,
            spearman_by_order=_by_order(imp_e, imp_p, orders),
            top_k=k,
            top_exact=top_e,
            top_posthoc=top_p,
            jaccard=float(jaccard),
            sign_agreement=agree / total if total else float("nan"),
            dropped_share=dropped,
            disagreements=_disagreements(names, imp_e, imp_p, exact_stats, stats, n_disagreements),
        )
    return out


def _stats(
    texts: Sequence[str],
    words: Sequence[WordScores],
    max_order: int,
    reach: Sequence[int | None],
) -> tuple[NgramStats, float]:
    mapped = [to_tokens(t, w) for t, w in zip(texts, words, strict=True)]
    total = sum(abs(float(s)) for text in words for _, s in text)
    dropped = sum(d for _, _, d in mapped)
    stats = span_scores(
        [(tok[:n], sc[:n]) for (tok, sc, _), n in zip(mapped, reach, strict=True)], max_order
    )
    share = dropped / total if total > 0 else 0.0
    return stats, share


def _sign_agreement(a: NgramStats, b: NgramStats, names: Iterable[str]) -> tuple[int, int]:
    """(occurrences of ``names`` where both scores are non-zero and share a sign, such
    occurrences)."""
    agree = total = 0
    for gram in names:
        other = b.occurrences.get(gram, {})
        for key, va in a.occurrences.get(gram, {}).items():
            vb = other.get(key)
            if vb is None or va == 0 or vb == 0:
                continue
            total += 1
            agree += (va > 0) == (vb > 0)
    return agree, total


def _per_text(stats: NgramStats, names: Sequence[str], n_texts: int) -> tuple[np.ndarray, ...]:
    """(texts x names) sums of absolute occurrence scores, and occurrence counts."""
    abs_sum = np.zeros((n_texts, len(names)))
    count = np.zeros((n_texts, len(names)))
    for j, gram in enumerate(names):
        for (row, _), value in stats.occurrences.get(gram, {}).items():
            abs_sum[row, j] += abs(value)
            count[row, j] += 1
    return abs_sum, count


def _bootstrap_spearman(
    exact: NgramStats,
    posthoc: NgramStats,
    names: Sequence[str],
    n_texts: int,
    n_boot: int,
    seed: int,
) -> tuple[float, float]:
    """95% percentile interval of the Spearman correlation, texts resampled with replacement
    (n-grams a resample never sees are left out of that resample's correlation)."""
    if n_boot < 1 or len(names) < 3 or n_texts < 2:
        return float("nan"), float("nan")
    abs_e, count = _per_text(exact, names, n_texts)
    abs_p, _ = _per_text(posthoc, names, n_texts)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_texts, np.full(n_texts, 1.0 / n_texts), size=n_boot).astype(float)
    n = weights @ count
    seen = n > 0
    imp_e = np.divide(weights @ abs_e, n, out=np.zeros_like(n), where=seen)
    imp_p = np.divide(weights @ abs_p, n, out=np.zeros_like(n), where=seen)
    orders = _orders(names)
    draws = [
        _stratified(imp_e[b, seen[b]], imp_p[b, seen[b]], orders[seen[b]]) for b in range(n_boot)
    ]
    values = np.array([d for d in draws if np.isfinite(d)])
    if not len(values):
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def _disagreements(
    names: list[str],
    imp_e: np.ndarray,
    imp_p: np.ndarray,
    exact: NgramStats,
    posthoc: NgramStats,
    n: int,
) -> list[Disagreement]:
    """The ``n`` n-grams with the largest gap between their two importance ranks (ties: the one
    either side ranks higher first)."""
    if not names:
        return []
    r_e, r_p = _ranks(imp_e), _ranks(imp_p)
    gap = np.abs(r_e - r_p)
    order = sorted(range(len(names)), key=lambda i: (-gap[i], min(r_e[i], r_p[i]), names[i]))
    out: list[Disagreement] = []
    for i in order[:n]:
        g = names[i]
        agree, total = _sign_agreement(exact, posthoc, [g])
        out.append(
            Disagreement(
                ngram=g,
                count=exact.count[g],
                rank_exact=int(r_e[i]),
                rank_posthoc=int(r_p[i]),
                importance_exact=float(imp_e[i]),
                importance_posthoc=float(imp_p[i]),
                sign_agreement=agree / total if total else float("nan"),
            )
        )
    return out
