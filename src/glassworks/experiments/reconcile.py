"""Reconcile a text model's post-hoc explanations (the ``explain_text`` word scores) with the
exact n-gram contributions of the Emb-GAM trained on the same dataset: the ``reconcile_text``
study (:mod:`glassworks.explain.reconcile`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from glassworks.config import ReconcileTextParams
from glassworks.explain.reconcile import Reconciliation, WordScores, reconcile


def exact_word_scores(
    model: Any, texts: Sequence[str], targets: Sequence[int]
) -> list[list[tuple[str, float]]]:
    """Emb-GAM's exact word scores of each text for class ``targets[i]``
    (:meth:`~glassworks.models.emb_gam.EmbGAMClassifier.token_scores`). A binary Emb-GAM has one
    output, the log-odds of class 1; class 0's scores are their negatives (the log-odds of
    class 0)."""
    n_outputs = len(model.classes_)
    out: list[list[tuple[str, float]]] = []
    for text, target in zip(texts, targets, strict=True):
        if n_outputs == 2:
            tokens, scores = model.token_scores(text, 0)
            sign = 1.0 if int(target) == 1 else -1.0
            scores = [sign * s for s in scores]
        else:
            tokens, scores = model.token_scores(text, int(target))
        out.append(list(zip(tokens, scores, strict=True)))
    return out


def posthoc_word_scores(table: pl.DataFrame) -> tuple[list[str], list[int], dict[str, list]]:
    """The texts, explained classes and per-explainer :data:`WordScores` of an ``explain_text``
    word-score table (:func:`~glassworks.report.text_study.word_score_table`)."""
    rows = table.select("row", "text", "target").unique("row").sort("row")
    texts, targets = rows["text"].to_list(), rows["target"].to_list()
    index = {r: i for i, r in enumerate(rows["row"].to_list())}
    methods: dict[str, list[list[tuple[str, float]]]] = {}
    for method in table["method"].unique(maintain_order=True).to_list():
        per_text: list[list[tuple[str, float]]] = [[] for _ in texts]
        part = table.filter(pl.col("method") == method).sort("row", "position")
        for r, word, score in part.select("row", "word", "score").iter_rows():
            per_text[index[r]].append((word, float(score)))
        methods[method] = per_text
    return texts, targets, methods


def reconcile_with_embgam(
    embgam: Any, table: pl.DataFrame, params: ReconcileTextParams
) -> tuple[dict[str, Reconciliation], list[WordScores], list[str]]:
    """Every explainer of ``table`` against ``embgam``'s exact decomposition of the same texts
    (each for the class the explainers explained); returns the reconciliations, the exact word
    scores and the texts."""
    texts, targets, posthoc = posthoc_word_scores(table)
    exact = exact_word_scores(embgam, texts, targets)
    result = reconcile(
        texts,
        exact,
        posthoc,
        max_order=params.max_order,
        min_count=params.min_count,
        top_k=params.top_k,
        n_disagreements=params.n_disagreements,
        n_boot=params.n_boot,
        seed=params.seed,
    )
    return result, exact, texts
