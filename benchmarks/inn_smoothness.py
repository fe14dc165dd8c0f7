"""Does penalising how fast INN's ``W(x)`` changes with ``x`` cost or gain accuracy (issue 20)?
And does a piecewise-linear encoding of the numeric inputs (``--param numeric_bins``)?

    .venv/bin/python benchmarks/inn_smoothness.py [--datasets openml-31 ...]
        [--grid 0 0.1 1 10] [--sensitivity-rows 1000] [--audit-rows 100]
    .venv/bin/python benchmarks/inn_smoothness.py --param numeric_bins --grid 0 16

INN (:class:`~glassworks.models.inn.INNClassifier`) at the CPU profile's settings
(``train_tabular`` in ``params.yaml``: encoding, ``max_train``, hyperparameters, seeds, threads),
trained at every value of ``--param`` (``smoothness`` or ``numeric_bins``; the grid starts at 0,
the reference) on every seed. Per dataset the value is chosen
on mean validation AUROC over the seeds (the selection rule of :mod:`glassworks.selection`; test
is never read to choose). Reported per dataset and grid value: validation and test AUROC and
``weight_sensitivity`` (how fast the fitted ``W(x)`` changes, on up to ``--sensitivity-rows``
test rows) and how well Integrated Gradients (baseline 0, 64 steps, as ``audit_tabular``)
agrees with INN's own ``W(x) * x`` on the first ``--audit-rows`` test rows (mean per-row
Spearman; ``dW/dx`` is what separates the two) per seed. Over all datasets: each value's test
AUROC and IG agreement minus the unpenalised one's, paired over dataset x seed, with its 95%
interval, and the sensitivity ratio (geometric mean).
Writes ``benchmarks/results/inn_<param>.json`` after every dataset (temp file, then rename).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from glassworks.config import TrainTabularParams, load_section
from glassworks.data import read_prepared
from glassworks.device import torch_threads
from glassworks.experiments.tabular import encode_as_configured, fit_and_score
from glassworks.explain.audit import agreement, explained_output, tabular_attributions
from glassworks.selection import choose
from glassworks.stats import paired_difference, summarise

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PARAMS = {"smoothness": float, "numeric_bins": int}
"""What the grid may vary, and its type."""


def ig_agreement(model: Any, x: np.ndarray) -> float:
    """Mean per-row Spearman of IG (baseline 0) with INN's ``W(x) * x`` on its explained logit."""
    contrib = model.explain_raw(x)
    target = explained_output(contrib.output)
    zero = np.zeros(x.shape[1])
    ig = tabular_attributions(model.module_, x, x, target, zero, methods=("ig",))["ig"]
    return agreement(ig, contrib.for_output(target))["spearman"]


def run_dataset(
    params: TrainTabularParams,
    dataset: str,
    name: str,
    grid: list[float],
    rows: int,
    audit_rows: int,
) -> dict[str, Any]:
    prepared = read_prepared(REPO / "data/prepared" / dataset)
    data = encode_as_configured(prepared, params)
    n_classes = len(prepared.label_names)
    probe = data.x["test"][:rows]
    arms: dict[str, Any] = {}
    for lam in grid:
        record: dict[str, list[float]] = {
            "valid_auroc": [], "test_auroc": [], "sensitivity": [], "ig_spearman": []
        }  # fmt: skip
        start = time.perf_counter()
        with torch_threads(params.threads):
            for seed in params.seeds:
                model, info = fit_and_score(
                    "inn", {**params.method_params("inn"), name: lam}, seed, data, n_classes
                )
                record["valid_auroc"].append(info["valid_auroc"])
                record["test_auroc"].append(info["test_auroc"])
                record["sensitivity"].append(model.weight_sensitivity(probe))
                record["ig_spearman"].append(ig_agreement(model, data.x["test"][:audit_rows]))
        arms[str(lam)] = {**record, "seconds": round(time.perf_counter() - start, 1)}
        print(f"{dataset} {name} {lam}: valid {np.mean(record['valid_auroc']):.4f}, "
              f"test {np.mean(record['test_auroc']):.4f}, "
              f"sensitivity {np.mean(record['sensitivity']):.4g}, "
              f"IG Spearman {np.mean(record['ig_spearman']):.3f}, "
              f"{arms[str(lam)]['seconds']} s", flush=True)  # fmt: skip
    chosen = choose(
        {k: float(np.mean(v["valid_auroc"])) for k, v in arms.items()}, metric="valid_auroc"
    )
    return {"arms": arms, "chosen": chosen}


def summary(results: dict[str, dict[str, Any]], name: str, grid: list[float]) -> dict[str, Any]:
    """Per grid value against 0 (the first value: no penalty, no bins), paired over dataset x
    seed; and the per-dataset choice against 0."""
    base = str(grid[0])

    def cells(key: str, pick: Any) -> list[float]:
        return [x for r in results.values() for x in r["arms"][pick(r)][key]]

    out: dict[str, Any] = {"per_value": {}}
    for lam in grid[1:]:
        k = str(lam)
        diff = paired_difference(
            cells("test_auroc", lambda r, k=k: k), cells("test_auroc", lambda r: base),
            names=(f"{name} {k}", f"no {name}"),
        )  # fmt: skip
        log_ratio = np.log(cells("sensitivity", lambda r, k=k: k)) - np.log(
            cells("sensitivity", lambda r: base)
        )
        ratio = summarise(log_ratio).as_dict()
        ig = paired_difference(
            cells("ig_spearman", lambda r, k=k: k), cells("ig_spearman", lambda r: base),
            names=(f"{name} {k}", f"no {name}"),
        )  # fmt: skip
        out["per_value"][k] = {
            "test_auroc_minus_none": diff.as_dict(),
            "ig_spearman_minus_none": ig.as_dict(),
            "sensitivity_ratio": float(np.exp(ratio["mean"])),
            "sensitivity_ratio_ci95": [float(np.exp(v)) for v in ratio["ci95"]],
        }
    chosen = paired_difference(
        cells("test_auroc", lambda r: r["chosen"]), cells("test_auroc", lambda r: base),
        names=(f"{name} chosen on validation", f"no {name}"),
    )  # fmt: skip
    out["chosen"] = {
        "per_dataset": {ds: r["chosen"] for ds, r in results.items()},
        "test_auroc_minus_none": chosen.as_dict(),
        "mean_test_auroc": float(np.mean(cells("test_auroc", lambda r: r["chosen"]))),
        "mean_test_auroc_none": float(np.mean(cells("test_auroc", lambda r: base))),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", nargs="+", default=None, help="default: train_tabular.datasets")
    ap.add_argument("--param", choices=sorted(PARAMS), default="smoothness")
    ap.add_argument("--grid", nargs="+", type=float, default=[0.0, 0.1, 1.0, 10.0])
    ap.add_argument("--sensitivity-rows", type=int, default=1000)
    ap.add_argument("--audit-rows", type=int, default=100)
    args = ap.parse_args()
    if not args.grid or args.grid[0] != 0.0 or len(args.grid) < 2:
        raise SystemExit("--grid: start with 0 (the reference) and give one more value")
    grid = [PARAMS[args.param](v) for v in args.grid]
    out = RESULTS / f"inn_{args.param}.json"
    params = load_section(REPO / "params.yaml", "train_tabular", TrainTabularParams)
    datasets = list(args.datasets or params.datasets)
    start = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        results[dataset] = run_dataset(
            params, dataset, args.param, grid, args.sensitivity_rows, args.audit_rows
        )
        result = {
            "command": " ".join(["python benchmarks/inn_smoothness.py", *sys.argv[1:]]),
            "param": args.param,
            "grid": grid,
            "datasets_planned": datasets,
            "complete": len(results) == len(datasets),
            "seeds": list(params.seeds),
            "max_train": params.max_train,
            "inn": {k: v for k, v in params.method_params("inn").items() if k != "device"},
            "datasets": results,
            "summary": summary(results, args.param, grid),
            "seconds": round(time.perf_counter() - start, 1),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
        tmp.replace(out)
    print(json.dumps(result["summary"], indent=2, default=float)[:3000])


if __name__ == "__main__":
    main()
