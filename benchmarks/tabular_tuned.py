"""INN against fairly tuned baselines: every tabular method searched with the same budget
(``--trials`` Optuna TPE trials on validation AUROC, :mod:`glassworks.experiments.tuning`), then
each method refit at its best setting over ``train_tabular.seeds`` and scored on test once.

    .venv/bin/python benchmarks/tabular_tuned.py [--datasets openml-31 openml-37 ...]
        [--trials 20] [--methods inn catboost ...] [--merge]

Needs ``data/prepared/<dataset>`` (``dvc repro prepare``). Encoding, ``max_train`` and the
untuned settings come from ``params.yaml`` (``train_tabular``), as in the stage; each method is
also refit at those untuned settings, so the table shows what tuning gained per method. Writes
``benchmarks/results/tabular_tuned.json`` after every dataset: per dataset and method the best
setting, its validation AUROC, test AUROC per seed (tuned and untuned); over all datasets the
mean test AUROC per method and INN minus the best other method, paired over dataset x seed,
with its 95% interval and the verdict against -0.01 (issue 20's bar); the command and wall time.
``--merge`` keeps the saved (dataset, method) results (same trials, seeds and ``max_train``
required), so a large set or one method's new search space can run on its own; a redone result
is replaced when its dataset finishes, so a run that stops early loses nothing (``complete`` is
false and ``redoing`` names what is still old).
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
from glassworks.experiments.tuning import tune
from glassworks.models.tabular import TABULAR_METHODS
from glassworks.report.claims import INN_MARGIN, verdict
from glassworks.stats import paired_difference, summarise

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "tabular_tuned.json"
SMALL = ["openml-31", "openml-37", "openml-1464", "openml-1466"]


def run_dataset(
    params: TrainTabularParams, dataset: str, methods: list[str], trials: int
) -> dict[str, Any]:
    prepared = read_prepared(REPO / "data/prepared" / dataset)
    data = encode_as_configured(prepared, params)
    n_classes = len(prepared.label_names)
    out: dict[str, Any] = {}
    for method in methods:
        base = params.method_params(method)
        threads = params.threads if method in ("inn", "tabresnet") else None
        start = time.perf_counter()
        with torch_threads(threads):
            found = tune(method, base, data, n_classes, trials, seed=params.seeds[0])
            tuned = [
                fit_and_score(method, found.params, s, data, n_classes)[1] for s in params.seeds
            ]
            untuned = [fit_and_score(method, base, s, data, n_classes)[1] for s in params.seeds]
        out[method] = {
            "best": {k: v for k, v in found.params.items() if k != "device"},
            "best_valid_auroc": found.valid_auroc,
            "test_auroc": [i["test_auroc"] for i in tuned],
            "untuned_test_auroc": [i["test_auroc"] for i in untuned],
            "trials": found.trials,
            "seconds": round(time.perf_counter() - start, 1),
        }
        t = np.mean(out[method]["test_auroc"])
        u = np.mean(out[method]["untuned_test_auroc"])
        print(f"{dataset} {method}: valid {found.valid_auroc:.4f}, test {t:.4f} (untuned {u:.4f}), "
              f"{out[method]['seconds']} s", flush=True)  # fmt: skip
    return out


def summary(results: dict[str, dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Mean test AUROC per method; INN minus the best other method, paired over dataset x seed.
    The best other method is chosen on validation (mean best validation AUROC of the search),
    never on test; per dataset likewise."""
    per = {m: [x for ds in results.values() for x in ds[m]["test_auroc"]] for m in methods}
    untuned = {
        m: [x for ds in results.values() for x in ds[m]["untuned_test_auroc"]] for m in methods
    }
    valid = {
        m: float(np.mean([ds[m]["best_valid_auroc"] for ds in results.values()])) for m in methods
    }
    out: dict[str, Any] = {
        "mean_test_auroc": {m: float(np.mean(v)) for m, v in per.items()},
        "mean_untuned_test_auroc": {m: float(np.mean(v)) for m, v in untuned.items()},
        "mean_best_valid_auroc": valid,
        "tuning_gain": {m: summarise(np.subtract(per[m], untuned[m])).as_dict() for m in methods},
    }
    if "inn" in per and len(per) > 1:
        best = max((m for m in per if m != "inn"), key=lambda m: valid[m])
        diff = paired_difference(per["inn"], per[best], names=("inn", best))
        bar_verdict = verdict([diff.diff.lo, diff.diff.hi], -INN_MARGIN)
        out["inn_vs_best"] = {**diff.as_dict(), "best": best, "chosen_on": "validation",
                              "bar": -INN_MARGIN, "bar_verdict": bar_verdict}  # fmt: skip
        per_dataset = {}
        for ds, r in results.items():
            b = max((m for m in methods if m != "inn"), key=lambda m, r=r: r[m]["best_valid_auroc"])
            gap = summarise(np.subtract(r["inn"]["test_auroc"], r[b]["test_auroc"])).as_dict()
            per_dataset[ds] = {"best": b, "inn_minus_best": gap}
        out["per_dataset"] = per_dataset
    return out


def _common_methods(results: dict[str, dict[str, Any]]) -> list[str]:
    """The methods every dataset has, in ``TABULAR_METHODS`` order (INN first), then others."""
    common = [m for m in next(iter(results.values())) if all(m in r for r in results.values())]
    return sorted(common, key=lambda m: (TABULAR_METHODS.index(m) if m in TABULAR_METHODS
                                         else len(TABULAR_METHODS), m))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", nargs="+", default=SMALL)
    ap.add_argument("--methods", nargs="+", default=None, help="default: train_tabular.methods")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument(
        "--merge", action="store_true", help="keep the saved results this run does not redo"
    )
    ap.add_argument(
        "--resummarize", action="store_true", help="recompute the summary of the saved results"
    )
    args = ap.parse_args()
    if args.resummarize:
        saved = json.loads(OUT.read_text())
        saved["summary"] = summary(saved["datasets"], _common_methods(saved["datasets"]))
        OUT.write_text(json.dumps(saved, indent=2, default=float) + "\n")
        print(json.dumps(saved["summary"]["inn_vs_best"], indent=2))
        return
    params = load_section(REPO / "params.yaml", "train_tabular", TrainTabularParams)
    methods = list(args.methods or params.methods)
    command = " ".join(["python benchmarks/tabular_tuned.py", *sys.argv[1:]]).strip()
    results: dict[str, dict[str, Any]] = {}
    commands, planned, seconds = [command], list(args.datasets), 0.0
    if args.merge and OUT.exists():
        saved = json.loads(OUT.read_text())
        same = {"trials_per_method": args.trials, "seeds": list(params.seeds),
                "max_train": params.max_train}  # fmt: skip
        for key, want in same.items():
            if saved[key] != want:
                raise SystemExit(f"--merge: {OUT} has {key}={saved[key]}, this run {want}")
        # a redone (dataset, method) is replaced when its dataset is done, not before: a run
        # that stops early leaves the saved results, and "redoing" says which are still old
        results = saved["datasets"]
        commands = [*(c.strip() for c in saved.get("commands", [saved["command"]])), command]
        planned = [*[d for d in saved["datasets_planned"] if d not in planned], *planned]
        seconds = float(saved["seconds"])
    start = time.perf_counter()
    redoing = list(args.datasets)
    for dataset in args.datasets:
        results[dataset] = {
            **results.get(dataset, {}),
            **run_dataset(params, dataset, methods, args.trials),
        }
        redoing.remove(dataset)
        result = {
            "command": "; ".join(commands),
            "commands": commands,
            "trials_per_method": args.trials,
            "datasets_planned": planned,
            "complete": not redoing and all(d in results for d in planned),
            "redoing": {"datasets": redoing, "methods": methods} if redoing else None,
            "seeds": list(params.seeds),
            "max_train": params.max_train,
            "datasets": results,
            "summary": summary(results, _common_methods(results)),
            "seconds": round(seconds + time.perf_counter() - start, 1),
        }
        OUT.parent.mkdir(parents=True, exist_ok=True)
        tmp = OUT.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
        tmp.replace(OUT)
    print(json.dumps(result["summary"], indent=2, default=float)[:3000])


if __name__ == "__main__":
    main()
