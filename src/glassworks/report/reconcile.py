"""Global explanations reconciled across methods in files, the report and the cards: the
``reconcile_text`` tables (per explainer against Emb-GAM's exact n-gram contributions, the n-gram
importances side by side, where they disagree most) and its rank-scatter figure
(:mod:`glassworks.explain.reconcile`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from glassworks.io import write_csv
from glassworks.report.plots import pyplot, save_figure

if TYPE_CHECKING:  # the report stage reads metrics only (no tokenizer code as its dependency)
    from glassworks.explain.reconcile import Reconciliation

EXACT = "embgam"
"""Column name of Emb-GAM's exact importances."""
FLOOR = "random"
"""The explainer that scores tokens at random: the chance level of every figure."""

HEADER = [
    "model",
    "explainer",
    "Spearman vs Emb-GAM [95%]",
    "top-k overlap (Jaccard)",
    "sign agreement",
    "n-grams",
    "texts",
]


def reconciliation_table(results: Mapping[str, Reconciliation]) -> pl.DataFrame:
    """One row per explainer: its agreement with the exact decomposition."""
    return pl.DataFrame(
        [
            {
                "explainer": m,
                "texts": r.n_texts,
                "ngrams_compared": len(r.ngrams),
                "spearman": r.spearman,
                "spearman_lo": r.spearman_ci95[0],
                "spearman_hi": r.spearman_ci95[1],
                "top_k": r.top_k,
                "jaccard_top_k": r.jaccard,
                "sign_agreement": r.sign_agreement,
                "dropped_share": r.dropped_share,
            }
            for m, r in results.items()
        ]
    )


def importance_table(results: Mapping[str, Reconciliation]) -> pl.DataFrame:
    """The compared n-grams with Emb-GAM's exact global importance and every explainer's (mean
    absolute occurrence score), largest Emb-GAM importance first."""
    first = next(iter(results.values()), None)
    if first is None:
        return pl.DataFrame({"ngram": [], EXACT: []})
    columns: dict[str, Any] = {"ngram": first.ngrams, EXACT: first.importance_exact}
    for m, r in results.items():
        if r.ngrams != first.ngrams:
            raise ValueError(f"{m} compares other n-grams than {first.method}")
        columns[m] = r.importance_posthoc
    return pl.DataFrame(columns).sort([EXACT, "ngram"], descending=[True, False])


def disagreement_table(results: Mapping[str, Reconciliation]) -> pl.DataFrame:
    """Per explainer (the random floor left out), the n-grams whose two ranks differ most."""
    rows = [
        {
            "explainer": m,
            "ngram": d.ngram,
            "count": d.count,
            "rank_embgam": d.rank_exact,
            "rank_explainer": d.rank_posthoc,
            "importance_embgam": d.importance_exact,
            "importance_explainer": d.importance_posthoc,
            "sign_agreement": d.sign_agreement,
        }
        for m, r in results.items()
        if m != FLOOR
        for d in r.disagreements
    ]
    return pl.DataFrame(rows) if rows else pl.DataFrame({"explainer": [], "ngram": []})


def reconciliation_plot(
    results: Mapping[str, Reconciliation], path: Path, title: str, n_labels: int = 6
) -> None:
    """Per explainer (the random floor left out), each compared n-gram's importance rank under
    Emb-GAM (x) against under the explainer (y): on the diagonal they agree; the n-grams they
    disagree on most are labelled."""
    shown = [(m, r) for m, r in results.items() if m != FLOOR and r.ngrams]
    plt = pyplot()
    fig, axes = plt.subplots(
        1, max(len(shown), 1), figsize=(4.2 * max(len(shown), 1), 4.2), squeeze=False
    )
    for ax, (m, r) in zip(axes[0], shown, strict=False):
        rank_e = _ranks(r.importance_exact)
        rank_p = _ranks(r.importance_posthoc)
        ax.scatter(rank_e, rank_p, s=8, alpha=0.5, color="#2471a3")
        n = len(r.ngrams)
        ax.plot([1, n], [1, n], color="black", linewidth=0.8, linestyle="--")
        index = {g: i for i, g in enumerate(r.ngrams)}
        for d in r.disagreements[:n_labels]:
            i = index[d.ngram]
            ax.annotate(d.ngram, (rank_e[i], rank_p[i]), fontsize=7, color="#c0392b")
        lo, hi = r.spearman_ci95
        ax.set_title(f"{m}: Spearman {r.spearman:.2f} [{lo:.2f}, {hi:.2f}]", fontsize=9)
        ax.set_xlabel("rank under Emb-GAM (exact, 1 = most important)")
        ax.set_ylabel(f"rank under {m}")
        ax.invert_xaxis()
        ax.invert_yaxis()
    if not shown:
        axes[0][0].text(0.5, 0.5, "no n-gram seen often enough", ha="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def write_reconciliation(results: Mapping[str, Reconciliation], out: Path, title: str) -> None:
    """Into ``out``: ``reconciliation.csv``, ``global_ngrams.csv``, ``disagreements.csv`` and
    ``reconciliation.png``."""
    write_csv(out / "reconciliation.csv", reconciliation_table(results))
    write_csv(out / "global_ngrams.csv", importance_table(results))
    write_csv(out / "disagreements.csv", disagreement_table(results))
    reconciliation_plot(results, out / "reconciliation.png", title)


def metrics_of(results: Mapping[str, Reconciliation]) -> dict[str, Any]:
    """The stage's metrics: per explainer its :meth:`Reconciliation.summary`."""
    return {m: r.summary() for m, r in results.items()}


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def reconciliation_rows(name: str, metrics: Mapping[str, Any]) -> list[list[str]]:
    """Table rows (see :data:`HEADER`) of one model's ``reconcile_text`` metrics."""
    rows = []
    for method, m in metrics.items():
        if not isinstance(m, Mapping) or "spearman" not in m:
            continue
        lo, hi = m.get("spearman_ci95", [float("nan")] * 2)
        rows.append(
            [
                name,
                method,
                f"{_fmt(m['spearman'])} [{_fmt(lo)}, {_fmt(hi)}]",
                f"{_fmt(m['jaccard_top_k'])} (top {m['top_k']})",
                _fmt(m["sign_agreement"]),
                str(m["ngrams_compared"]),
                str(m["n_texts"]),
            ]
        )
    return rows


NOTE = (
    "Post-hoc word scores of each text model (explain_text: IG, EG, LIME, occlusion, random) "
    "aggregated to n-grams (a span scores the sum of its words; global importance = mean "
    "absolute score over the explained test texts) against the exact n-gram contributions of "
    "the Emb-GAM trained on the same data, on the same texts and class. Spearman over the "
    "n-grams both saw often enough, [95% bootstrap interval over texts]; random scores give "
    "the chance level. Two different models: agreement means the black box relies on the "
    "n-grams the glass box weighs."
)


def reconciliation_section(metrics_dir: Path) -> list[str]:
    """``summary.md``'s section: every ``metrics/reconcile_text`` file (nothing before one)."""
    rows: list[list[str]] = []
    for path in sorted((Path(metrics_dir) / "reconcile_text").glob("*.json")):
        try:
            rows += reconciliation_rows(path.stem, json.loads(path.read_text()))
        except json.JSONDecodeError:
            continue  # the metrics tables name a damaged file
    if not rows:
        return []
    return [
        "## Global explanations reconciled with Emb-GAM",
        "",
        NOTE,
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def card_tables(
    run: str, folder: Path, metrics: Path, limit: int = 20
) -> list[tuple[str, list[str], list[list[str]]]]:
    """The card's tables of one text model: the reconciliation and the global n-gram
    importances (Emb-GAM's exact beside each explainer's; the top ``limit`` by IG when present)."""
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    if metrics.is_file():
        try:
            rows = reconciliation_rows(run, json.loads(metrics.read_text()))
        except json.JSONDecodeError:
            rows = []
        if rows:
            title = "Global explanations against Emb-GAM's exact contributions"
            tables.append((title, HEADER, rows))
    ngrams = folder / "global_ngrams.csv"
    if ngrams.is_file():
        frame = pl.read_csv(ngrams)
        key = "ig" if "ig" in frame.columns else EXACT
        frame = frame.sort(key, descending=True).head(limit)
        header = ["n-gram", *(c for c in frame.columns if c != "ngram")]
        body = [[str(r[0]), *(f"{float(v):.4g}" for v in r[1:])] for r in frame.iter_rows()]
        tables.append(
            (
                f"Global n-gram importances (mean |score| over the explained test texts; top "
                f"{len(body)} by {key})",
                header,
                body,
            )
        )
    return tables
