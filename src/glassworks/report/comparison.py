"""The tabular comparison of the INN paper (Kadra et al. 2023): test AUROC per method and dataset
(mean +- std over seeds), AUROC normalised by a reference method (the decision tree), mean rank
across datasets with the Nemenyi critical difference (Demsar 2006), as tables and plots.

Regression datasets get the same comparison on test RMSE (:data:`RMSE`: lower is better; RMSE
normalised by the reference's, ranks with 1 = lowest RMSE), always in a table and section of its
own: AUROC and RMSE numbers are never mixed in one table, mean or rank.

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
class Metric:
    """The test score a comparison is made on, and its direction."""

    column: str
    """Its column in the records (``test_auroc``, ``test_rmse``)."""
    short: str
    """Its name in the table's and summary's columns (``auroc_mean``, ``mean_rmse``)."""
    label: str
    """Its name in headers (``AUROC``, ``RMSE``)."""
    higher_is_better: bool

    @property
    def direction(self) -> str:
        """``higher is better`` or ``lower is better``."""
        return "higher is better" if self.higher_is_better else "lower is better"


AUROC = Metric("test_auroc", "auroc", "AUROC", True)
"""Classification datasets: test AUROC."""
RMSE = Metric("test_rmse", "rmse", "RMSE", False)
"""Regression datasets: test RMSE (the target's units; lower is better)."""
METRICS = {"classification": AUROC, "regression": RMSE}
"""The comparison metric per kind of target (:func:`read_records_by_task`'s keys)."""


@dataclass(frozen=True)
class Comparison:
    """Per-(dataset, method) table, per-method summary and the critical difference of ranks."""

    table: pl.DataFrame
    """dataset, method, auroc_mean, auroc_std, normalized_mean, n_seeds, rank (``rmse_mean``,
    ``rmse_std`` for :data:`RMSE`)."""
    summary: pl.DataFrame
    """method, mean_auroc (``mean_rmse``), mean_normalized, mean_rank; best rank first."""
    critical_difference: float
    n_datasets: int
    metric: Metric = AUROC


def compare(
    records: pl.DataFrame, reference: str = "decision_tree", metric: Metric = AUROC
) -> Comparison:
    """``records``: one row per (dataset, method, seed) with ``metric.column`` (``test_auroc``).

    The normalised score divides by the ``reference`` method's on the same dataset and seed
    (AUROC / reference AUROC; for :data:`RMSE`, RMSE / reference RMSE: below 1 beats the
    reference). Ranks are per dataset over the mean score (1 = best: highest AUROC, lowest RMSE;
    ties share the average rank) and only over datasets every method has results for.
    """
    col, short = metric.column, metric.short
    need = {"dataset", "method", "seed", col}
    missing = need - set(records.columns)
    if missing:
        raise ValueError(f"comparison records lack columns {sorted(missing)}")
    if reference not in records.get_column("method").to_list():
        raise ValueError(f"reference method {reference!r} has no results")
    ref = records.filter(pl.col("method") == reference).select(
        "dataset", "seed", pl.col(col).alias(f"ref_{short}")
    )
    rec = records.join(ref, on=["dataset", "seed"], how="left").with_columns(
        (pl.col(col) / pl.col(f"ref_{short}")).alias("normalized")
    )
    table = (
        rec.group_by("dataset", "method")
        .agg(
            pl.col(col).mean().alias(f"{short}_mean"),
            pl.col(col).std(ddof=1).fill_null(0.0).alias(f"{short}_std"),
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
        .then(
            pl.col(f"{short}_mean")
            .rank("average", descending=metric.higher_is_better)
            .over("dataset")
        )
        .otherwise(None)
        .alias("rank")
    )
    summary = (
        table.group_by("method")
        .agg(
            pl.col(f"{short}_mean").mean().alias(f"mean_{short}"),
            pl.col("normalized_mean").mean().alias("mean_normalized"),
            pl.col("rank").mean().alias("mean_rank"),
        )
        .sort("mean_rank", "method", nulls_last=True)
    )
    k, n = len(methods), len(complete)
    cd = _Q05.get(k, float("nan")) * float(np.sqrt(k * (k + 1) / (6 * n))) if n else float("nan")
    return Comparison(table, summary, cd, n, metric)


COST_NOTE = (
    "Training cost is not compared here (seconds depend on the machine and on what runs "
    "beside it; each seed's MLflow run logs its train and inference seconds): INN's training "
    f"time over TabResNet's, measured side by side, is in `{COST_BENCHMARK}` "
    "(`benchmarks/inn_cost.py`)."
)


def _headers(comp: Comparison, reference: str) -> tuple[str, str, str, str]:
    """(dataset column, mean, normalised, rank) headers; RMSE's state their direction."""
    m = comp.metric
    if m == AUROC:  # the classification page, as it has always read
        return "dataset", "mean AUROC", "mean normalised AUROC", "mean rank"
    return (
        f"dataset (test {m.label}, {m.direction})",
        f"mean {m.label} ({m.direction})",
        f"mean {m.label} / {reference} {m.label} ({m.direction})",
        f"mean rank (1 = {'highest' if m.higher_is_better else 'lowest'} {m.label})",
    )


def markdown(
    comp: Comparison,
    methods: Sequence[str] | None = None,
    *,
    reference: str = "decision_tree",
    cost_note: bool = True,
) -> str:
    """Markdown: the score's mean +- std per dataset (best in bold: highest AUROC, lowest RMSE),
    the per-method summary and where training cost is measured (:data:`COST_BENCHMARK`; no
    timings here). ``reference`` names the normaliser in RMSE headers."""
    m = comp.metric
    order = list(methods or comp.summary.get_column("method").to_list())
    datasets = sorted(comp.table.get_column("dataset").unique().to_list())
    head_dataset, head_mean, head_norm, head_rank = _headers(comp, reference)
    pick = max if m.higher_is_better else min
    lines = [f"| {head_dataset} | " + " | ".join(order) + " |", "|---|" + "---:|" * len(order)]
    for d in datasets:
        rows = {
            r["method"]: r for r in comp.table.filter(pl.col("dataset") == d).iter_rows(named=True)
        }
        best = pick(r[f"{m.short}_mean"] for r in rows.values())
        cells = []
        for method in order:
            if method not in rows:
                cells.append("–")
                continue
            r = rows[method]
            text = f"{r[f'{m.short}_mean']:.4f} ± {r[f'{m.short}_std']:.4f}"
            cells.append(f"**{text}**" if r[f"{m.short}_mean"] == best else text)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Mean over {len(datasets)} datasets; ranks over {comp.n_datasets} complete datasets "
        f"(Nemenyi critical difference at 0.05: {comp.critical_difference:.2f}).",
        "",
        f"| method | {head_mean} | {head_norm} | {head_rank} |",
        "|---|---:|---:|---:|",
    ]
    for r in comp.summary.iter_rows(named=True):
        rank = "–" if r["mean_rank"] is None else f"{r['mean_rank']:.2f}"
        lines.append(
            f"| {r['method']} | {r[f'mean_{m.short}']:.4f} | {r['mean_normalized']:.4f} | {rank} |"
        )
    if cost_note:
        lines += ["", COST_NOTE]
    return "\n".join(lines) + "\n"


SECTIONS = {
    "classification": "Classification datasets: test AUROC (higher is better)",
    "regression": "Regression datasets: test RMSE (lower is better)",
}


def page(
    comps: dict[str, Comparison], methods: Sequence[str] | None = None, reference: str = ""
) -> str:
    """``comparison.md``: classification datasets only: :func:`markdown` as it is; otherwise a
    section per kind of target (:data:`SECTIONS`, classification first), then the cost note."""
    if set(comps) == {"classification"}:
        return markdown(comps["classification"], methods)
    parts = []
    for task in ("classification", "regression"):
        if task in comps:
            body = markdown(comps[task], methods, reference=reference, cost_note=False)
            parts += [f"## {SECTIONS[task]}", "", body]
    return "\n".join([*parts, COST_NOTE]) + "\n"


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
    m = comp.metric
    best = "best" if m == AUROC else f"{'highest' if m.higher_is_better else 'lowest'} {m.label}"
    ax.set_xlabel(f"mean rank of test {m.label} over {comp.n_datasets} datasets (1 = {best})")
    kind = "" if m == AUROC else f" on test {m.label}"
    ax.set_title(f"Tabular methods{kind}: mean rank (Nemenyi CD at 0.05)")
    save_figure(fig, path)


def normalized_plot(
    records: pl.DataFrame, reference: str, path: Path, metric: Metric = AUROC
) -> None:
    """Box plot of AUROC / reference AUROC (or RMSE / reference RMSE) per method (every dataset
    and seed), best median first."""
    col = metric.column
    ref = records.filter(pl.col("method") == reference).select(
        "dataset", "seed", pl.col(col).alias("ref")
    )
    rec = records.join(ref, on=["dataset", "seed"]).with_columns(
        (pl.col(col) / pl.col("ref")).alias("normalized")
    )
    order = (
        (
            rec.group_by("method")
            .agg(pl.col("normalized").median())
            .sort("normalized", descending=metric.higher_is_better)
        )
        .get_column("method")
        .to_list()
    )
    data = [rec.filter(pl.col("method") == m).get_column("normalized").to_numpy() for m in order]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.boxplot(data, tick_labels=order, vert=True)
    ax.axhline(1.0, color="#888888", ls="--", lw=1)
    label = metric.label
    direction = "" if metric == AUROC else f" ({metric.direction})"
    ax.set_ylabel(f"test {label} / {reference} {label}{direction}")
    ax.set_title(f"Normalised test {label} (every dataset and seed)")
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


def paired_vs(
    records: pl.DataFrame, method: str, metric: str = "test_auroc", higher_is_better: bool = True
) -> dict[str, Any]:
    """``method`` against every other method: the paired bootstrap interval of the mean ``metric``
    difference over (dataset, seed) pairs, and the verdict ("a beats b" only when it excludes 0).
    The difference is ``a - b`` (``method`` minus the other); for a lower-is-better ``metric``
    (RMSE) it is ``b - a``, so a positive difference favours ``a`` either way (``difference_of``
    says which). The comparison is stated, not chosen on: no selection reads it."""
    wide = records.pivot(on="method", index=["dataset", "seed"], values=metric).drop_nulls()
    out: dict[str, Any] = {}
    for other in sorted(c for c in wide.columns if c not in {"dataset", "seed", method}):
        a, b = wide.get_column(method).to_numpy(), wide.get_column(other).to_numpy()
        if higher_is_better:
            d = paired_difference(a, b, names=(method, other))
            out[other] = {**d.as_dict(), "pairs": wide.height}
            continue
        d = paired_difference(-a, -b, names=(method, other))  # -a - (-b) = b - a
        out[other] = {**d.as_dict(), "pairs": wide.height,
                      "difference_of": f"{metric} of b - a (lower is better)"}  # fmt: skip
    return out


RECORD_FIELDS = ("dataset", "method", "seed", "test_auroc")
"""What the comparison reads of each classification ``output_info.json`` (and writes to
``records.csv``)."""
REGRESSION_RECORD_FIELDS = ("dataset", "method", "seed", "test_rmse")
"""What it reads of each regression one (``records_regression.csv``)."""


def _read_infos(
    results: Path, methods: Sequence[str], datasets: Sequence[str]
) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for m in methods:
        for d in datasets:
            folder = results / m / d
            files = sorted(folder.glob("*/output_info.json"))
            if not files:
                raise DataError(folder, "no train_tabular results (run `dvc repro train_tabular`)")
            for f in files:
                try:
                    info = json.loads(f.read_text())
                except json.JSONDecodeError as exc:
                    raise DataError(f, f"not a train_tabular output_info.json ({exc})") from None
                if not isinstance(info, dict):
                    raise DataError(f, "not a train_tabular output_info.json (not an object)")
                out.append((f, info))
    return out


def _record(path: Path, info: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    try:
        return {k: info[k] for k in fields}
    except KeyError as exc:
        raise DataError(path, f"not a train_tabular output_info.json ({exc})") from None


def read_records(results: Path, methods: Sequence[str], datasets: Sequence[str]) -> pl.DataFrame:
    """One row (:data:`RECORD_FIELDS`) per ``<results>/<method>/<dataset>/<seed>/output_info.json``
    of the listed methods and datasets; a missing or damaged one raises :class:`DataError`
    (so does a regression result: :func:`read_records_by_task` reads both kinds)."""
    return pl.DataFrame(
        [_record(f, i, RECORD_FIELDS) for f, i in _read_infos(results, methods, datasets)]
    )


def read_records_by_task(
    results: Path, methods: Sequence[str], datasets: Sequence[str]
) -> dict[str, pl.DataFrame]:
    """:func:`read_records` split by the kind of target: ``classification`` rows
    (:data:`RECORD_FIELDS`) and ``regression`` rows (:data:`REGRESSION_RECORD_FIELDS`, the files
    that hold ``test_rmse``); a kind without datasets is left out. A dataset whose results mix
    both kinds raises :class:`DataError`."""
    rows: dict[str, list[dict[str, Any]]] = {}
    kinds: dict[str, str] = {}
    for f, info in _read_infos(results, methods, datasets):
        kind = "regression" if "test_rmse" in info else "classification"
        fields = REGRESSION_RECORD_FIELDS if kind == "regression" else RECORD_FIELDS
        row = _record(f, info, fields)
        if kinds.setdefault(str(row["dataset"]), kind) != kind:
            raise DataError(
                f, f"a {kind} result, but other results of {row['dataset']} are "
                f"{kinds[str(row['dataset'])]} ones: rerun train_tabular for that dataset",
            )  # fmt: skip
        rows.setdefault(kind, []).append(row)
    return {k: pl.DataFrame(rows[k]) for k in ("classification", "regression") if k in rows}


def comparison_metrics(comp: Comparison, records: pl.DataFrame, reference: str) -> dict[str, Any]:
    """The ``compare_tabular`` metrics: the reference method, the critical difference, mean ranks
    and normalised AUROC per method, and the :func:`goals` (for an :data:`RMSE` comparison:
    :func:`regression_metrics`)."""
    if comp.metric != AUROC:
        return regression_metrics(comp, records, reference)
    return {
        "reference": reference,
        "critical_difference": comp.critical_difference,
        "n_datasets": comp.n_datasets,
        "mean_rank": dict(comp.summary.select("method", "mean_rank").iter_rows()),
        "mean_normalized_auroc": dict(comp.summary.select("method", "mean_normalized").iter_rows()),
        **goals(comp, records),
    }


def regression_metrics(comp: Comparison, records: pl.DataFrame, reference: str) -> dict[str, Any]:
    """The regression datasets' comparison (test RMSE, lower is better): the reference, the
    critical difference, mean ranks (1 = lowest RMSE), mean RMSE and RMSE / reference RMSE per
    method, and INN's paired comparisons (:func:`paired_vs` on RMSE)."""
    out: dict[str, Any] = {
        "metric": "test_rmse",
        "direction": RMSE.direction,
        "reference": reference,
        "critical_difference": comp.critical_difference,
        "n_datasets": comp.n_datasets,
        "mean_rank": dict(comp.summary.select("method", "mean_rank").iter_rows()),
        "mean_rmse": dict(comp.summary.select("method", "mean_rmse").iter_rows()),
        "mean_normalized_rmse": dict(comp.summary.select("method", "mean_normalized").iter_rows()),
    }
    if "inn" in out["mean_rmse"]:
        out["inn_vs"] = paired_vs(records, "inn", "test_rmse", higher_is_better=False)
    return out


def metrics_by_task(
    comps: dict[str, Comparison], records: dict[str, pl.DataFrame], reference: str
) -> dict[str, Any]:
    """``metrics/compare_tabular.json``: the classification comparison's
    :func:`comparison_metrics` at the top level (as before regression existed), and the
    regression datasets' :func:`regression_metrics` under ``regression``: never mixed."""
    out: dict[str, Any] = {"reference": reference}
    if "classification" in comps:
        out.update(comparison_metrics(comps["classification"], records["classification"],
                                      reference))  # fmt: skip
    if "regression" in comps:
        out["regression"] = regression_metrics(comps["regression"], records["regression"],
                                               reference)  # fmt: skip
    return out
