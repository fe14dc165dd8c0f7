"""CDEP's headline comparison (Rieger et al., ICML 2020, Fig. 4): clean test accuracy against the
penalty weight lambda, one curve per penalty, with the vanilla model (lambda 0) and the model
trained without the shortcut as references; plus the attribution mass left on the spurious words.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl

from glassworks.report.plots import plt, save_figure

PENALIZED = ("cdep", "rrr", "eg")


def curves(
    records: pl.DataFrame, metric: str = "test_accuracy"
) -> dict[tuple[str, str, str], pl.DataFrame]:
    """``(variant, model, penalty) -> lambda, metric, ig_mass`` rows, starting with the vanilla
    model of the same variant and model at lambda 0."""
    out = {}
    cols = ["lambda", metric, "ig_mass", "probe_accuracy"]
    for (variant, arm), rows in records.group_by(["variant", "arm"], maintain_order=True):
        model, _, penalty = str(arm).rpartition("-")
        if penalty not in PENALIZED:
            continue
        vanilla = records.filter(
            (pl.col("variant") == variant) & (pl.col("arm") == f"{model}-none")
        )
        frame = pl.concat([vanilla.select(cols), rows.select(cols)], how="vertical_relaxed")
        out[(str(variant), model, penalty)] = frame.sort("lambda")
    return out


def _reference(records: pl.DataFrame, variant: str, arm: str, metric: str) -> float:
    rows = records.filter((pl.col("variant") == variant) & (pl.col("arm") == arm))
    return float(rows[metric][0]) if rows.height else math.nan


def lambda_plot(
    records: pl.DataFrame, variant: str, path: Path, metric: str = "test_accuracy"
) -> None:
    """Two panels for one variant: ``metric`` vs lambda and IG mass on spurious words vs lambda
    (symlog x axis so lambda 0 shows), per model and penalty."""
    fig, (ax, ax_mass) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"cdep": "o-", "rrr": "s--", "eg": "^-."}
    colors = {}
    for (v, model, penalty), frame in curves(records, metric).items():
        if v != variant:
            continue
        color = colors.setdefault(model, f"C{len(colors)}")
        label = f"{model} {penalty}"
        ax.plot(frame["lambda"], frame[metric], styles[penalty], color=color, label=label)
        ax_mass.plot(frame["lambda"], frame["ig_mass"], styles[penalty], color=color, label=label)
    for model, color in colors.items():
        for arm, style in ((f"{model}-clean", ":"),):
            ref = _reference(records, variant, arm, metric)
            if not math.isnan(ref):
                ax.axhline(
                    ref, linestyle=style, color=color, linewidth=1, label=f"{model} no shortcut"
                )
    top = float(records["lambda"].max() or 1.0)
    for a in (ax, ax_mass):
        a.set_xscale("symlog", linthresh=0.1)
        a.set_xlim(-0.01, top * 1.5)  # lambda >= 0: no empty negative half
        a.set_xlabel("lambda (penalty weight)")
        a.grid(alpha=0.3)
    ax.set_ylabel(f"clean {metric.replace('_', ' ')}")
    ax.axhline(0.5, color="grey", linewidth=0.6)
    ax_mass.set_ylabel("share of |IG| on spurious words")
    ax.set_title(f"SST-2 {variant}: accuracy vs lambda")
    ax_mass.set_title(f"SST-2 {variant}: attribution on spurious words")
    ax.legend(fontsize=7)
    save_figure(fig, path)


def markdown(records: pl.DataFrame) -> str:
    """One table per variant: every arm and lambda with accuracy and attribution mass."""
    lines = []
    for variant in records["variant"].unique(maintain_order=True).to_list():
        rows = records.filter(pl.col("variant") == variant)
        lines += [
            f"### {variant}",
            "",
            "| model | penalty | lambda | clean test acc | probe acc | IG mass on spurious | "
            "CD mass | train s |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows.iter_rows(named=True):
            model, _, penalty = r["arm"].rpartition("-")
            cd = r.get("cd_mass")
            cd_text = (
                "" if cd is None or (isinstance(cd, float) and math.isnan(cd)) else f"{cd:.3f}"
            )
            lines.append(
                f"| {model} | {penalty} | {r['lambda']:g} | {r['test_accuracy']:.3f} | "
                f"{r['probe_accuracy']:.3f} | {r['ig_mass']:.3f} | {cd_text} | "
                f"{r['train_seconds']:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def summary(records: pl.DataFrame, metric: str = "test_accuracy") -> dict[str, Any]:
    """Per variant and model: vanilla, no-shortcut reference and the best lambda of each penalty
    (best clean accuracy: the figure's reading, chosen on test as in the paper)."""
    out: dict[str, Any] = {}
    for (variant, model, penalty), frame in curves(records, metric).items():
        key = f"{variant}.{model}"
        entry = out.setdefault(
            key,
            {
                "vanilla": _reference(records, variant, f"{model}-none", metric),
                "no_shortcut": _reference(records, variant, f"{model}-clean", metric),
            },
        )
        penalized = frame.filter(pl.col("lambda") > 0)
        best = penalized.sort(metric, descending=True).row(0, named=True)
        entry[penalty] = {
            "best_lambda": best["lambda"],
            metric: best[metric],
            "ig_mass": best["ig_mass"],
        }
    return out
