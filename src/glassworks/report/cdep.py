"""CDEP's comparison (Rieger et al., ICML 2020, Fig. 4) under the evaluation protocol.

- The lambda of each (variant, arm) is chosen on **validation accuracy** of the seed-0 grid
  (:func:`choose_lambda`, :data:`glassworks.selection.RULE`); both variants keep validation clean
  (decoy: no decoy words; gender: original words), so this is the clean accuracy the penalty tries
  to recover — no test number is read to choose.
- Test is reported only at the chosen lambda, over seeds: mean ± sd and a 95% bootstrap interval.
- "A beats B" needs the paired interval over seeds *and* the paired interval over test examples
  (per-example correctness averaged over seeds) to exclude 0 on the same side; otherwise
  :data:`~glassworks.stats.NO_DIFFERENCE`. The example interval is what a small test split (117
  gendered sentences) cannot narrow.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import PENALIZED
from glassworks.errors import DataError
from glassworks.report.plots import pyplot, save_figure
from glassworks.selection import RULE, choose_record
from glassworks.stats import NO_DIFFERENCE, Difference, paired_difference, summarise

SELECT_METRIC = "valid_accuracy"
"""Validation metric the lambda is chosen on."""
SMALL_TEST = 300
"""Test splits smaller than this get a note: one accuracy's 95% interval is wider than ±5.5 pt."""


def choose_lambda(rows: Sequence[Mapping[str, Any]], metric: str = SELECT_METRIC) -> float:
    """The lambda of one arm's grid (rows in grid order, one seed) with the best validation score
    under :data:`~glassworks.selection.RULE`; only ``lambda`` and ``metric`` are read."""
    grid = [{"lambda": float(r["lambda"]), metric: float(r[metric])} for r in rows]
    return float(choose_record(grid, metric=metric)["lambda"])


def _grid(rows: pl.DataFrame) -> pl.DataFrame:
    """The grid rows of one arm (``in_grid``; all rows of records without that column)."""
    return rows.filter(pl.col("in_grid")) if "in_grid" in rows.columns else rows


def chosen_lambdas(
    records: pl.DataFrame, metric: str = SELECT_METRIC
) -> dict[tuple[str, str], float]:
    """``(variant, arm) -> lambda`` chosen on ``metric`` (validation) from each arm's grid."""
    out = {}
    for (variant, arm), rows in records.group_by(["variant", "arm"], maintain_order=True):
        out[(str(variant), str(arm))] = choose_lambda(_grid(rows).to_dicts(), metric)
    return out


def _seed_rows(records: pl.DataFrame, variant: str, arm: str, lam: float) -> list[dict[str, Any]]:
    rows = records.filter(
        (pl.col("variant") == variant) & (pl.col("arm") == arm) & (pl.col("lambda") == lam)
    )
    by_seed = {int(r.get("seed", 0) or 0): r for r in rows.to_dicts()}
    return [by_seed[s] for s in sorted(by_seed)]


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def summary_of(values: Sequence[Any]) -> dict[str, Any] | None:
    """:func:`~glassworks.stats.summarise` of the finite values as a dict (None if none)."""
    vals = _finite(values)
    return summarise(vals).as_dict() if vals else None


def _correct(rows: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """Per-example correctness averaged over seeds (None if a row lacks it)."""
    lists = [r.get("test_correct") for r in rows]
    if not lists or any(v is None for v in lists):
        return None
    arr = np.asarray([list(v) for v in lists], dtype=np.float64)  # type: ignore[arg-type]
    return arr.mean(axis=0)


def compare_arms(
    a: Sequence[Mapping[str, Any]],
    b: Sequence[Mapping[str, Any]],
    names: tuple[str, str],
    metric: str = "test_accuracy",
) -> dict[str, Any]:
    """``A − B`` at each arm's chosen lambda: paired over seeds and over test examples."""
    sa = {int(r["seed"]): float(r[metric]) for r in a}
    sb = {int(r["seed"]): float(r[metric]) for r in b}
    common = sorted(set(sa) & set(sb))
    by_seed = paired_difference([sa[s] for s in common], [sb[s] for s in common], names=names)
    ca, cb = _correct(a), _correct(b)
    by_example: Difference | None = None
    if ca is not None and cb is not None and ca.shape == cb.shape:
        by_example = paired_difference(ca, cb, names=names)
    verdict = by_seed.verdict
    if by_example is None or by_example.verdict != verdict:
        verdict = NO_DIFFERENCE
    return {
        "a": names[0],
        "b": names[1],
        "seeds": by_seed.as_dict(),
        "examples": by_example.as_dict() if by_example else None,
        "verdict": verdict,
    }


def summary(records: pl.DataFrame, metric: str = "test_accuracy") -> dict[str, Any]:
    """Per ``<variant>.<model>``: each arm at its chosen lambda (test ``metric`` over seeds) and
    the paired comparisons (each penalty vs ``none``, penalties with each other, ``clean`` vs
    ``none``). ``selection`` states the rule once."""
    out: dict[str, Any] = {"selection": {"metric": SELECT_METRIC, "rule": RULE}}
    chosen = chosen_lambdas(records)
    models: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for (variant, arm), lam in chosen.items():
        model, _, penalty = arm.rpartition("-")
        models.setdefault((variant, model), {})[penalty] = _seed_rows(records, variant, arm, lam)
    for (variant, model), arms in models.items():
        entry: dict[str, Any] = {}
        for penalty, rows in arms.items():
            entry[penalty] = {
                "lambda": float(rows[0]["lambda"]),
                "seeds": [int(r.get("seed", 0) or 0) for r in rows],
                SELECT_METRIC: summary_of([r.get(SELECT_METRIC) for r in rows]),
                metric: summary_of([r.get(metric) for r in rows]),
                "ig_mass": summary_of([r.get("ig_mass") for r in rows]),
                "n_test": int(rows[0].get("n_test", 0) or 0),
            }
        pairs = [(p, "none") for p in (*PENALIZED, "clean") if p in arms and "none" in arms]
        pairs += [
            (p, q) for p, q in itertools.combinations(PENALIZED, 2) if p in arms and q in arms
        ]
        entry["comparisons"] = [
            compare_arms(arms[p], arms[q], (f"{model}-{p}", f"{model}-{q}"), metric)
            for p, q in pairs
        ]
        out[f"{variant}.{model}"] = entry
    return out


def _fmt(d: Mapping[str, Any] | None, digits: int = 3) -> str:
    if not d:
        return "–"
    f = f"{{:.{digits}f}}"
    if d["n"] == 1:
        return f.format(d["mean"]) + " (1 seed)"
    lo, hi = d["ci95"]
    return f"{f.format(d['mean'])} ± {f.format(d['sd'])} [{f.format(lo)}, {f.format(hi)}]"


def _fmt_ci(d: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``mean [lo, hi]`` (an interval over test examples: their sd is not the mean's)."""
    if not d:
        return "–"
    f = f"{{:+.{digits}f}}"
    lo, hi = d["ci95"]
    return f"{f.format(d['mean'])} [{f.format(lo)}, {f.format(hi)}]"


def comparison_markdown(
    result: Mapping[str, Any], metric: str = "test_accuracy", state_rule: bool = True
) -> str:
    """Tables of :func:`summary`: arms at their chosen lambda, then the paired comparisons
    (``state_rule``: spell out the selection rule, for a page that does not already)."""
    rule = f" ({RULE})" if state_rule else ""
    lines = [
        f"Lambda chosen per arm on `{SELECT_METRIC}` of the seed-0 grid{rule}. Validation is "
        "clean in both variants (decoy: no decoy word; gender: the original gendered words), so "
        "the choice targets clean accuracy without the spurious feature present. Test is read "
        "only at the chosen lambda: mean ± sd [95% bootstrap interval] over seeds. A verdict needs "
        "the paired interval over seeds and over test examples to exclude 0.",
        "",
    ]
    for key, entry in result.items():
        if key == "selection":
            continue
        arms = {k: v for k, v in entry.items() if k != "comparisons"}
        n_test = max((int(v.get("n_test", 0)) for v in arms.values()), default=0)
        lines += [
            f"### {key.replace('.', ' · ')}",
            "",
            f"| penalty | λ (valid) | valid acc | clean {metric.replace('_', ' ')} | "
            "IG mass on spurious | seeds |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for penalty, v in arms.items():
            lines.append(
                f"| {penalty} | {v['lambda']:g} | {_fmt(v.get(SELECT_METRIC))} | "
                f"{_fmt(v.get(metric))} | {_fmt(v.get('ig_mass'))} | {len(v['seeds'])} |"
            )
        lines += [
            "",
            "| A − B | Δ over seeds | Δ over test examples | verdict |",
            "|---|---:|---:|---|",
        ]
        for c in entry.get("comparisons", []):
            ex = c["examples"]["difference"] if c.get("examples") else None
            lines.append(
                f"| {c['a']} − {c['b']} | {_fmt(c['seeds']['difference'])} | "
                f"{_fmt_ci(ex)} | "
                f"{c['verdict']} |"
            )
        if 0 < n_test < SMALL_TEST:
            half = 1.96 * 0.5 / math.sqrt(n_test)
            lines += [
                "",
                f"Note: this test split holds {n_test} texts; one accuracy's 95% interval is up to "
                f"±{100 * half:.0f} points, too wide to separate arms a few points apart "
                f"(hence the example interval in every verdict).",
            ]
        lines.append("")
    return "\n".join(lines)


def curves(
    records: pl.DataFrame, metric: str = "test_accuracy"
) -> dict[tuple[str, str, str], pl.DataFrame]:
    """``(variant, model, penalty) -> lambda, valid_accuracy, metric, ig_mass, probe_accuracy``
    over the seed-0 grid, starting with the vanilla model of the same variant and model at
    lambda 0 (what the choice was made on, and the test reading beside it)."""
    out = {}
    cols = [c for c in ("lambda", SELECT_METRIC, metric, "ig_mass", "probe_accuracy")
            if c in records.columns]  # fmt: skip
    for (variant, arm), rows in records.group_by(["variant", "arm"], maintain_order=True):
        model, _, penalty = str(arm).rpartition("-")
        if penalty not in PENALIZED:
            continue
        vanilla = _grid(
            records.filter((pl.col("variant") == variant) & (pl.col("arm") == f"{model}-none"))
        )
        frame = pl.concat([vanilla.select(cols), _grid(rows).select(cols)], how="vertical_relaxed")
        out[(str(variant), model, penalty)] = frame.sort("lambda")
    return out


def lambda_plot(
    records: pl.DataFrame, variant: str, path: Path, metric: str = "test_accuracy"
) -> None:
    """Two panels for one variant: validation accuracy vs lambda (the seed-0 grid the choice is
    made on) with test ``metric`` at the chosen lambda (mean ± sd over seeds), and IG mass on
    spurious words vs lambda (symlog x axis so lambda 0 shows)."""
    plt = pyplot()
    fig, (ax, ax_mass) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {
        "cdep": "o-",
        "cdep_ref": "D:",
        "cdep_int": "v-",
        "clp": "P--",
        "rrr": "s--",
        "eg": "^-.",
    }
    colors: dict[str, str] = {}
    result = summary(records, metric)
    for (v, model, penalty), frame in curves(records, metric).items():
        if v != variant:
            continue
        color = colors.setdefault(model, f"C{len(colors)}")
        label = f"{model} {penalty}"
        if SELECT_METRIC in frame.columns:
            ax.plot(frame["lambda"], frame[SELECT_METRIC], styles[penalty], color=color,
                    label=f"{label} (valid)", alpha=0.6)  # fmt: skip
        chosen = result.get(f"{variant}.{model}", {}).get(penalty, {}).get(metric)
        if chosen:
            lam = result[f"{variant}.{model}"][penalty]["lambda"]
            ax.errorbar([lam], [chosen["mean"]], yerr=[chosen["sd"]], fmt=styles[penalty][0],
                        color=color, markersize=9, markerfacecolor="none",
                        label=f"{label}: test at chosen λ")  # fmt: skip
        ax_mass.plot(frame["lambda"], frame["ig_mass"], styles[penalty], color=color, label=label)
    for model, color in colors.items():
        ref = result.get(f"{variant}.{model}", {}).get("clean", {}).get(metric)
        if ref:
            ax.axhline(ref["mean"], linestyle=":", color=color, linewidth=1,
                       label=f"{model} no shortcut (test)")  # fmt: skip
    top = float(records["lambda"].max() or 1.0)
    for a in (ax, ax_mass):
        a.set_xscale("symlog", linthresh=0.1)
        a.set_xlim(-0.01, top * 1.5)  # lambda >= 0: no empty negative half
        a.set_xlabel("lambda (penalty weight)")
        a.grid(alpha=0.3)
    ax.set_ylabel("clean accuracy")
    ax.axhline(0.5, color="grey", linewidth=0.6)
    ax_mass.set_ylabel("share of |IG| on spurious words")
    ax.set_title(f"SST-2 {variant}: valid accuracy vs lambda; test at the chosen lambda")
    ax_mass.set_title(f"SST-2 {variant}: attribution on spurious words (seed 0)")
    ax.legend(fontsize=6)
    save_figure(fig, path)


def _mass(value: float | None) -> str:
    """A CD mass for the grid table ('' where CD is not defined)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.3f}"


def markdown(records: pl.DataFrame) -> str:
    """One grid table per variant (seed 0): every arm and lambda with validation accuracy, the
    chosen lambda marked, attribution mass; test accuracy only at the chosen lambda. No training
    seconds: a run fact, in each ``train_cdep`` run's MLflow metrics, not in this DVC output."""
    chosen = chosen_lambdas(records)
    lines = []
    for variant in records["variant"].unique(maintain_order=True).to_list():
        rows = _grid(records.filter(pl.col("variant") == variant))
        lines += [
            f"### {variant}: lambda grid (seed 0)",
            "",
            "| model | penalty | lambda | valid acc | chosen | clean test acc | probe acc | "
            "IG mass on spurious | CD mass | CD mass with interactions |",
            "|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows.iter_rows(named=True):
            model, _, penalty = r["arm"].rpartition("-")
            is_chosen = chosen.get((variant, r["arm"])) == float(r["lambda"])
            cd_text, cd_int_text = (_mass(r.get(k)) for k in ("cd_mass", "cd_int_mass"))
            test = f"{r['test_accuracy']:.3f}" if is_chosen else ""
            probe = f"{r['probe_accuracy']:.3f}" if is_chosen else ""
            lines.append(
                f"| {model} | {penalty} | {r['lambda']:g} | {r.get(SELECT_METRIC, math.nan):.3f} | "
                f"{'✓' if is_chosen else ''} | {test} | {probe} | "
                f"{r['ig_mass']:.3f} | {cd_text} | {cd_int_text} |"
            )
        lines.append("")
    return "\n".join(lines)


SUMMARISED = ("valid_accuracy", "test_accuracy", "test_macro_f1", "probe_accuracy", "ig_mass")
"""Per-seed values of a ``train_cdep`` arm summarised (mean ± sd, 95% bootstrap interval) at
the chosen lambda."""


def arm_result(rows: list[dict[str, Any]], chosen: float, grid_seed: int) -> dict[str, Any]:
    """A ``train_cdep`` metrics file: the choice (``selection``), the summaries over seeds at the
    chosen lambda (``chosen``) and every run's row (``runs``, each marked ``chosen`` here)."""
    for row in rows:
        row["chosen"] = row["lambda"] == chosen
    at_chosen = [r for r in rows if r["chosen"]]
    return {
        "selection": {
            "metric": SELECT_METRIC,
            "rule": RULE,
            "lambda": chosen,
            "grid_seed": grid_seed,
        },
        "chosen": {
            "lambda": chosen,
            "seeds": [r["seed"] for r in at_chosen],
            **{k: summary_of([r.get(k) for r in at_chosen]) for k in SUMMARISED},
        },
        "runs": rows,
    }


def runs_table(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """The runs' rows without the per-example ``test_correct`` (the DVC plot source)."""
    return pl.DataFrame([{k: v for k, v in r.items() if k != "test_correct"} for r in rows])


def read_records(results: Path, variants: Sequence[str], arms: Sequence[str]) -> pl.DataFrame:
    """Every run's row of every listed arm's ``<results>/<variant>/<arm>.json``; a missing or
    damaged one raises :class:`DataError`."""
    rows = []
    for variant in variants:
        for arm in arms:
            path = results / variant / f"{arm}.json"
            if not path.is_file():
                raise DataError(path, "no train_cdep results (run `dvc repro train_cdep`)")
            try:
                rows += json.loads(path.read_text())["runs"]
            except (json.JSONDecodeError, KeyError) as exc:
                raise DataError(path, f"not a train_cdep metrics file ({exc})") from None
    return pl.DataFrame(rows, infer_schema_length=None)


def report_page(result: Mapping[str, Any], records: pl.DataFrame, metric: str) -> str:
    """``cdep.md``: the comparison at the chosen lambdas, then the lambda grids."""
    return "\n".join(
        ["# CDEP on SST-2 variants", "", comparison_markdown(result, metric),
         "## Lambda grids", "", markdown(records)]
    )  # fmt: skip
