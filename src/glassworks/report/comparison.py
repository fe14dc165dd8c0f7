"""The tabular comparison of the INN paper (Kadra et al. 2023): test AUROC per method and dataset
(mean +- std over seeds), AUROC normalised by a reference method (the decision tree), mean rank
across datasets with the Nemenyi critical difference (Demsar 2006), as tables and plots.

No timings: training seconds are run facts (each ``train_tabular`` seed logs them to its MLflow
run), so they stay out of these DVC outputs; the training-cost claim (INN over TabResNet) is
measured side by side by ``benchmarks/inn_cost.py`` (:data:`COST_BENCHMARK`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.errors import DataError
from glassworks.report.plots import pyplot, save_figure
from glassworks.stats import paired_difference

# Nemenyi q_0.05 (two-tailed, studentised range / sqrt 2) for k = 2..10 methods (Demsar 2006)
_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}

COST_BENCHMARK = "benchmarks/results/inn_cost.json"
"""Where the training and explanation cost of INN (against TabResNet) is measured."""


@dataclass(frozen=True)
class Comparison:
    """Per-(dataset, method) table, per-method summary and the critical difference of ranks."""

    table: pl.DataFrame
    """dataset, method, auroc_mean, auroc_std, normalized_mean, n_seeds, rank."""
    summary: pl.DataFrame
    """method, mean_auroc, mean_normalized, mean_rank; best rank first."""
    critical_difference: float
    n_datasets: int


def compare(records: pl.DataFrame, reference: str = "decision_tree") -> Comparison:
    """``records``: one row per (dataset, method, seed) with ``test_auroc``.

    Normalised AUROC divides by the ``reference`` method's AUROC on the same dataset and seed.
    Ranks are per dataset over mean AUROC (1 = best, ties share the average rank) and only
    over datasets every method has results for.
    """
    need = {"dataset", "method", "seed", "test_auroc"}
    missing = need - set(records.columns)
    if missing:
        raise ValueError(f"comparison records lack columns {sorted(missing)}")
    if reference not in records.get_column("method").to_list():
        raise ValueError(f"reference method {reference!r} has no results")
    ref = records.filter(pl.col("method") == reference).select(
        "dataset", "seed", pl.col("test_auroc").alias("ref_auroc")
    )
    rec = records.join(ref, on=["dataset", "seed"], how="left").with_columns(
        (pl.col("test_auroc") / pl.col("ref_auroc")).alias("normalized")
    )
    table = (
        rec.group_by("dataset", "method")
        .agg(
            pl.col("test_auroc").mean().alias("auroc_mean"),
            pl.col("test_auroc").std(ddof=1).fill_null(0.0).alias("auroc_std"),
            pl.col("normalized").mean().alias("normalized_mean"),
            pl.len().alias("n_seeds"),
        )
        .sort("dataset", "method")
    )
    methods = table.get_column("method").unique().to_list()
    complete = (
        table.group_by("dataset").agg(pl.len().alias("n")).filter(pl.col("n") == len(methods))
    ).get_column("dataset")
    table = table.with_columns(
        pl.when(pl.col("dataset").is_in(complete.implode()))
        .then(pl.col("auroc_mean").rank("average", descending=True).over("dataset"))
        .otherwise(None)
        .alias("rank")
    )
    summary = (
        table.group_by("method")
        .agg(
            pl.col("auroc_mean").mean().alias("mean_auroc"),
            pl.col("normalized_mean").mean().alias("mean_normalized"),
            pl.col("rank").mean().alias("mean_rank"),
        )
        .sort("mean_rank", "method", nulls_last=True)
    )
    k, n = len(methods), len(complete)
    cd = _Q05.get(k, float("nan")) * float(np.sqrt(k * (k + 1) / (6 * n))) if n else float("nan")
    return Comparison(table, summary, cd, n)


def markdown(comp: Comparison, methods: Sequence[str] | None = None) -> str:
    """Markdown: AUROC mean +- std per dataset (best in bold), the per-method summary and where
    training cost is measured (:data:`COST_BENCHMARK`; no timings here)."""
    order = list(methods or comp.summary.get_column("method").to_list())
    datasets = sorted(comp.table.get_column("dataset").unique().to_list())
    lines = ["| dataset | " + " | ".join(order) + " |", "|---|" + "---:|" * len(order)]
    for d in datasets:
        rows = {
            r["method"]: r for r in comp.table.filter(pl.col("dataset") == d).iter_rows(named=True)
        }
        best = max(r["auroc_mean"] for r in rows.values())
        cells = []
        for m in order:
            if m not in rows:
                cells.append("–")
                continue
            r = rows[m]
            text = f"{r['auroc_mean']:.4f} ± {r['auroc_std']:.4f}"
            cells.append(f"**{text}**" if r["auroc_mean"] == best else text)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Mean over {len(datasets)} datasets; ranks over {comp.n_datasets} complete datasets "
        f"(Nemenyi critical difference at 0.05: {comp.critical_difference:.2f}).",
        "",
        "| method | mean AUROC | mean normalised AUROC | mean rank |",
        "|---|---:|---:|---:|",
    ]
    for r in comp.summary.iter_rows(named=True):
        rank = "–" if r["mean_rank"] is None else f"{r['mean_rank']:.2f}"
        lines.append(
            f"| {r['method']} | {r['mean_auroc']:.4f} | {r['mean_normalized']:.4f} | {rank} |"
        )
    lines += [
        "",
        "Training cost is not compared here (seconds depend on the machine and on what runs "
        "beside it; each seed's MLflow run logs its train and inference seconds): INN's training "
        f"time over TabResNet's, measured side by side, is in `{COST_BENCHMARK}` "
        "(`benchmarks/inn_cost.py`).",
    ]
    return "\n".join(lines) + "\n"


def rank_plot(comp: Comparison, path: Path) -> None:
    """Mean rank per method on one axis (1 = best, left) with the critical-difference bar."""
    s = comp.summary.filter(pl.col("mean_rank").is_not_null())
    names = s.get_column("method").to_list()
    ranks = s.get_column("mean_rank").to_numpy()
    k = max(len(names), 2)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.6))
    ax.hlines(range(len(names)), 1, ranks, color="#bbbbbb", lw=1)
    ax.plot(ranks, range(len(names)), "o", color="#1f77b4")
    for i, (n, r) in enumerate(zip(names, ranks, strict=True)):
        ax.annotate(
            f"{n} ({r:.2f})",
            (r, i),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    cd = comp.critical_difference
    if np.isfinite(cd):
        y = len(names) - 0.3
        ax.plot([1, 1 + cd], [y, y], color="#d62728", lw=3)
        ax.annotate(
            f"CD = {cd:.2f}",
            (1 + cd / 2, y),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            color="#d62728",
            fontsize=9,
        )
    ax.set_xlim(0.8, k + 1.5)
    ax.set_ylim(-0.7, len(names) + 0.2)
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.set_xlabel(f"mean rank of test AUROC over {comp.n_datasets} datasets (1 = best)")
    ax.set_title("Tabular methods: mean rank (Nemenyi CD at 0.05)")
    save_figure(fig, path)


def normalized_plot(records: pl.DataFrame, reference: str, path: Path) -> None:
    """Box plot of AUROC / reference AUROC per method (every dataset and seed)."""
    ref = records.filter(pl.col("method") == reference).select(
        "dataset", "seed", pl.col("test_auroc").alias("ref")
    )
    rec = records.join(ref, on=["dataset", "seed"]).with_columns(
        (pl.col("test_auroc") / pl.col("ref")).alias("normalized")
    )
    order = (
        (
            rec.group_by("method")
            .agg(pl.col("normalized").median())
            .sort("normalized", descending=True)
        )
        .get_column("method")
        .to_list()
    )
    data = [rec.filter(pl.col("method") == m).get_column("normalized").to_numpy() for m in order]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.boxplot(data, tick_labels=order, vert=True)
    ax.axhline(1.0, color="#888888", ls="--", lw=1)
    ax.set_ylabel(f"test AUROC / {reference} AUROC")
    ax.set_title("Normalised test AUROC (every dataset and seed)")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    save_figure(fig, path)


def goals(comp: Comparison, records: pl.DataFrame) -> dict[str, Any]:
    """The issue's goals in numbers: INN's mean AUROC against TabResNet, CatBoost, logistic
    regression and EBM, and INN's paired comparisons. The training-time goal (INN over
    TabResNet) is a benchmark's, not a DVC metric: :data:`COST_BENCHMARK`."""
    mean = dict(comp.summary.select("method", "mean_auroc").iter_rows())
    out: dict[str, Any] = {"mean_auroc": mean}
    if "inn" in mean:
        black = [mean[m] for m in ("tabresnet", "catboost") if m in mean]
        if black:
            out["inn_minus_best_black_box"] = mean["inn"] - max(black)
        for m in ("logistic_regression", "ebm"):
            if m in mean:
                out[f"inn_minus_{m}"] = mean["inn"] - mean[m]
    if "inn" in mean:
        out["inn_vs"] = paired_vs(records, "inn")
    return out


def paired_vs(records: pl.DataFrame, method: str, metric: str = "test_auroc") -> dict[str, Any]:
    """``method`` against every other method: the paired bootstrap interval of the mean ``metric``
    difference over (dataset, seed) pairs, and the verdict ("a beats b" only when it excludes 0).
    The comparison is stated, not chosen on: no selection reads it."""
    wide = records.pivot(on="method", index=["dataset", "seed"], values=metric).drop_nulls()
    out: dict[str, Any] = {}
    for other in sorted(c for c in wide.columns if c not in {"dataset", "seed", method}):
        d = paired_difference(
            wide.get_column(method).to_numpy(), wide.get_column(other).to_numpy(),
            names=(method, other),
        )  # fmt: skip
        out[other] = {**d.as_dict(), "pairs": wide.height}
    return out


RECORD_FIELDS = ("dataset", "method", "seed", "test_auroc")
"""What the comparison reads of each ``output_info.json`` (and writes to ``records.csv``)."""


def read_records(results: Path, methods: Sequence[str], datasets: Sequence[str]) -> pl.DataFrame:
    """One row (:data:`RECORD_FIELDS`) per ``<results>/<method>/<dataset>/<seed>/output_info.json``
    of the listed methods and datasets; a missing or damaged one raises :class:`DataError`."""
    rows = []
    for m in methods:
        for d in datasets:
            folder = results / m / d
            files = sorted(folder.glob("*/output_info.json"))
            if not files:
                raise DataError(folder, "no train_tabular results (run `dvc repro train_tabular`)")
            for f in files:
                try:
                    info = json.loads(f.read_text())
                    rows.append({k: info[k] for k in RECORD_FIELDS})
                except (json.JSONDecodeError, KeyError) as exc:
                    raise DataError(f, f"not a train_tabular output_info.json ({exc})") from None
    return pl.DataFrame(rows)


def comparison_metrics(comp: Comparison, records: pl.DataFrame, reference: str) -> dict[str, Any]:
    """The ``compare_tabular`` metrics: the reference method, the critical difference, mean ranks
    and normalised AUROC per method, and the :func:`goals`."""
    return {
        "reference": reference,
        "critical_difference": comp.critical_difference,
        "n_datasets": comp.n_datasets,
        "mean_rank": dict(comp.summary.select("method", "mean_rank").iter_rows()),
        "mean_normalized_auroc": dict(comp.summary.select("method", "mean_normalized").iter_rows()),
        **goals(comp, records),
    }
