"""Pages, figures and tables of the ``explain_text`` study: every explainer's token scores per
text (HTML), token x token Integrated Hessians, the mean deletion and insertion curves, and which
explainer wins under which replacement."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.explain.metrics import ReplacementStudy, mean_curves
from glassworks.explain.summary import TextComparison
from glassworks.io import write_csv, write_parquet
from glassworks.report.explained_text import ExplainedText, explanation_page, hidden_tokens
from glassworks.report.plots import bar_interaction_plot, curves_plot, matrix_interaction_plot

CURVES = ((1, "deletion"), (2, "insertion"))
"""Index in :func:`~glassworks.explain.metrics.mean_curves` and name of each curve."""


def explained_texts(
    comp: TextComparison, label_names: Sequence[str], tokenizer: Any = None
) -> list[ExplainedText]:
    """One page item per text and explainer: prediction, token scores, completeness (IG: against
    ``f(x) - f(baseline)``, EG: against ``f(x)`` minus its drawn baselines' mean) and the
    deletion AUC."""
    items: list[ExplainedText] = []
    for i, tokens in enumerate(comp.enc.tokens):
        n = len(tokens)
        label = label_names[int(comp.target[i])]
        hidden = hidden_tokens(tokenizer, tokens) if tokenizer is not None else None
        for m, s in comp.scores.items():
            scores = s[i, :n].tolist()
            delta = float(comp.deltas[m][i]) if m in comp.deltas else None
            gap, reference = None, "f(x) − f(baseline)"
            if m == "ig":
                gap = float(comp.output_gap[i])
            elif delta is not None:  # EG: the gap to its own drawn baselines
                gap, reference = sum(scores) - delta, "f(x) − mean f(drawn baselines)"
            items.append(
                ExplainedText(
                    label=str(label),
                    probability=float(comp.probability[i]),
                    tokens=list(tokens),
                    scores=scores,
                    method=m,
                    delta=delta,
                    output_gap=gap,
                    reference=reference,
                    name=f"text {i}",
                    extra=f"deletion AUC {comp.faithfulness[m][i].deletion_auc:.3f}",
                    hidden=hidden,
                    words=list(comp.enc.word_ids[i]) if comp.enc.word_ids else None,
                )
            )
    return items


MAX_INTERACTION_FIGURES = 3
"""Texts whose token x token heatmap and top pairs are drawn (each card embeds them)."""


def write_pages(
    comp: TextComparison,
    label_names: Sequence[str],
    out: Path,
    title: str,
    tokenizer: Any = None,
) -> None:
    """HTML highlights (one block per text and explainer) and interaction plots (for the first
    :data:`MAX_INTERACTION_FIGURES` texts with interactions; pair deletion uses them all)."""
    note = (
        "Token scores for the predicted class at the embedding layer. IG, LIME and occlusion "
        "start from the same baseline; EG averages over random-token baselines."
    )
    page = explanation_page(title, explained_texts(comp, label_names, tokenizer), note)
    (out / "highlights.html").write_text(page, encoding="utf-8")
    pairs = list(zip(comp.interaction_rows, comp.interactions, strict=True))
    for j, (i, ih) in enumerate(pairs[:MAX_INTERACTION_FIGURES]):
        labels = comp.enc.tokens[i]
        matrix_interaction_plot(
            ih.numpy(), labels, out / f"interactions_{j}.png", f"{title}: text {i}"
        )
        bar_interaction_plot(
            ih.numpy(), labels, out / f"top_pairs_{j}.png", title=f"{title}: text {i}"
        )


WORD_SCORES = "word_scores.parquet"
"""The ``explain_text`` output with every explainer's word scores per text (for reconciliation)."""


def word_score_table(
    comp: TextComparison, texts: Sequence[str], tokenizer: Any = None
) -> pl.DataFrame:
    """Every explainer's word scores of every text, as the pages show them (word pieces merged,
    special tokens left out): columns ``row``, ``text``, ``target`` (the explained class),
    ``method``, ``position`` (word index), ``word`` and ``score``."""
    if len(texts) != len(comp.enc.tokens):
        raise ValueError(f"{len(texts)} texts for {len(comp.enc.tokens)} explained")
    items = explained_texts(comp, [str(k) for k in range(int(comp.target.max()) + 1)], tokenizer)
    columns: dict[str, list[Any]] = {
        k: [] for k in ("row", "text", "target", "method", "position", "word", "score")
    }
    per_text = len(comp.scores)
    for j, item in enumerate(items):
        row = j // per_text
        for position, (word, score) in enumerate(item.highlighted().shown()):
            for key, value in zip(
                columns,
                (row, texts[row], int(comp.target[row]), item.method, position, word, score),
                strict=True,
            ):
                columns[key].append(value)
    return pl.DataFrame(
        columns,
        schema={
            "row": pl.Int64,
            "text": pl.Utf8,
            "target": pl.Int64,
            "method": pl.Utf8,
            "position": pl.Int64,
            "word": pl.Utf8,
            "score": pl.Float64,
        },
    )


def write_text_study(
    comp: TextComparison,
    faithfulness: ReplacementStudy,
    label_names: Sequence[str],
    out: Path,
    title: str,
    tokenizer: Any = None,
    texts: Sequence[str] | None = None,
) -> None:
    """Into ``out``: :func:`write_pages`, ``faithfulness_comparison.csv`` (per replacement x
    metric the best explainer and the verdict), ``deletion.png`` / ``insertion.png`` (every
    explainer's mean curve over the texts, under the explainers' baseline) and, given the
    ``texts``, :data:`WORD_SCORES` (:func:`word_score_table`)."""
    write_pages(comp, label_names, out, title, tokenizer)
    if texts is not None:
        write_parquet(out / WORD_SCORES, word_score_table(comp, texts, tokenizer))
    write_csv(out / "faithfulness_comparison.csv", pl.DataFrame(faithfulness.table()))
    curves = {m: mean_curves(r) for m, r in comp.faithfulness.items()}
    fractions = next(iter(curves.values()))[0]
    for j, name in CURVES:
        curves_plot(
            fractions,
            {m: c[j] for m, c in curves.items()},
            out / f"{name}.png",
            f"{title}: {name} curve (mean over {len(comp.enc.tokens)} test texts)",
            "fraction of tokens " + ("removed" if j == 1 else "inserted"),
            "probability of the predicted class",
        )


def write_curve_tables(comp: TextComparison, out: Path) -> None:
    """``deletion.csv`` and ``insertion.csv`` in ``out`` (DVC plots): the fraction of tokens
    (rounded to 4 digits), then each explainer's mean curve."""
    curves = {m: mean_curves(r) for m, r in comp.faithfulness.items()}
    fractions = next(iter(curves.values()))[0]
    for j, name in CURVES:
        table = {"fraction": np.round(fractions, 4)} | {m: c[j] for m, c in curves.items()}
        write_csv(out / f"{name}.csv", pl.DataFrame(table))
