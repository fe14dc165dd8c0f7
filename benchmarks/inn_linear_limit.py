"""Why INN trails logistic regression on the small OpenML sets (issue 20, item 3): INN in its
linear limit against the pipeline's INN and against logistic regression.

    .venv/bin/python benchmarks/inn_linear_limit.py [--datasets openml-31 ...]
        [--smoothness 100] [--batch-size 32]

Arms, every ``train_tabular`` seed, the CPU profile's data and encoding (``params.yaml``):

- ``inn``: the pipeline's INN (``train_tabular.hyperparameters.inn``);
- ``inn_linear_limit``: the same with a strong smoothness penalty (``W(x)`` nearly constant, so
  INN tends to a linear model) and small batches (the pipeline's 256-row batches give credit-g
  3 optimiser steps an epoch, 120 in all: too few for even a linear model to converge);
- ``logistic_regression``: the pipeline's.

Per dataset the INN arm is chosen on mean validation AUROC over the seeds (the selection rule
of :mod:`glassworks.selection`; test never read to choose). With ``--cv-folds K``, datasets whose
validation split has fewer than ``--cv-below`` rows also choose by stratified K-fold
cross-validation over train and validation pooled (each fold's AUROC, mean over folds and
seeds; the encoder stays the one fitted on train; test never read): a steadier estimate than
46-80 validation rows. Reported: each arm's validation and test AUROC per dataset and seed,
``weight_sensitivity`` (how fast ``W(x)`` changes), the cross-validated AUROCs and over all
datasets the paired differences of test AUROC (dataset x seed pairs) with 95% intervals.
Writes ``benchmarks/results/inn_linear_limit.json`` (temp file, then rename) after every
dataset.
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
from glassworks.experiments.tabular import EncodedSplits, encode_as_configured, fit_and_score
from glassworks.io import write_json
from glassworks.selection import choose
from glassworks.stats import paired_difference

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "inn_linear_limit.json"
INN_ARMS = ("inn", "inn_linear_limit")


def cv_auroc(
    data: EncodedSplits,
    method: str,
    hyper: dict[str, Any],
    seeds: list[int],
    n_classes: int,
    folds: int,
) -> list[float]:
    """Each (seed, fold)'s held-out AUROC over train and validation pooled (stratified folds,
    split seed 0); the test split is not touched."""
    from sklearn.model_selection import StratifiedKFold

    x = np.concatenate([data.x["train"], data.x["valid"]])
    y = np.concatenate([data.y["train"], data.y["valid"]])
    out = []
    for train, held in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        fold = EncodedSplits(
            encoder=data.encoder,
            x={"train": x[train], "valid": x[held], "test": x[held]},
            y={"train": y[train], "valid": y[held], "test": y[held]},
            task=data.task,
        )
        for seed in seeds:
            _, info = fit_and_score(method, hyper, seed, fold, n_classes)
            out.append(float(info["valid_auroc"]))
    return out


def run_dataset(
    params: TrainTabularParams,
    dataset: str,
    limit: dict[str, Any],
    cv_folds: int = 0,
    cv_below: int = 500,
) -> dict[str, Any]:
    prepared = read_prepared(REPO / "data/prepared" / dataset)
    data = encode_as_configured(prepared, params)
    n_classes = len(prepared.label_names)
    inn = params.method_params("inn")
    arms = {
        "inn": ("inn", inn),
        "inn_linear_limit": ("inn", {**inn, **limit}),
        "logistic_regression": ("logistic_regression", params.method_params("logistic_regression")),
    }
    out: dict[str, Any] = {"n_train": int(data.x["train"].shape[0]),
                           "n_valid": int(data.x["valid"].shape[0]), "arms": {}}  # fmt: skip
    for arm, (method, hyper) in arms.items():
        record: dict[str, list[float]] = {"valid_auroc": [], "test_auroc": [], "sensitivity": []}
        start = time.perf_counter()
        with torch_threads(params.threads):
            for seed in params.seeds:
                model, info = fit_and_score(method, hyper, seed, data, n_classes)
                record["valid_auroc"].append(float(info["valid_auroc"]))
                record["test_auroc"].append(float(info["test_auroc"]))
                if method == "inn":
                    record["sensitivity"].append(model.weight_sensitivity(data.x["test"][:1000]))
        out["arms"][arm] = {**record, "seconds": round(time.perf_counter() - start, 1)}
        print(f"{dataset} {arm}: valid {np.mean(record['valid_auroc']):.4f}, "
              f"test {np.mean(record['test_auroc']):.4f}, "
              f"{out['arms'][arm]['seconds']} s", flush=True)  # fmt: skip
    scores = {a: float(np.mean(out["arms"][a]["valid_auroc"])) for a in INN_ARMS}
    out["chosen"] = choose(scores, metric="valid_auroc")
    out["chosen_cv"] = out["chosen"]  # large validation splits: the same choice
    if cv_folds and out["n_valid"] < cv_below:
        with torch_threads(params.threads):
            cv = {a: cv_auroc(data, *arms[a], list(params.seeds), n_classes, cv_folds)
                  for a in INN_ARMS}  # fmt: skip
        out["cv_auroc"] = cv
        out["chosen_cv"] = choose({a: float(np.mean(v)) for a, v in cv.items()}, metric="cv_auroc")
        print(f"{dataset} {cv_folds}-fold CV: "
              + ", ".join(f"{a} {np.mean(v):.4f}" for a, v in cv.items())
              + f" -> {out['chosen_cv']}", flush=True)  # fmt: skip
    return out


def summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean test AUROC per arm and the paired differences over dataset x seed."""

    def cells(pick: Any) -> list[float]:
        return [x for r in results.values() for x in r["arms"][pick(r)]["test_auroc"]]

    picks = {
        "inn": lambda r: "inn",
        "inn_linear_limit": lambda r: "inn_linear_limit",
        "inn_chosen_on_validation": lambda r: r["chosen"],
        "inn_chosen_by_cv": lambda r: r["chosen_cv"],
        "logistic_regression": lambda r: "logistic_regression",
    }
    pairs = [
        ("inn_linear_limit", "inn"),
        ("inn_chosen_on_validation", "inn"),
        ("inn_chosen_by_cv", "inn"),
        ("inn_chosen_by_cv", "logistic_regression"),
        ("inn_linear_limit", "logistic_regression"),
        ("inn", "logistic_regression"),
    ]
    return {
        "mean_test_auroc": {k: float(np.mean(cells(p))) for k, p in picks.items()},
        "differences": {
            f"{a} - {b}": paired_difference(
                cells(picks[a]), cells(picks[b]), names=(a, b)
            ).as_dict()
            for a, b in pairs
        },
        "chosen": {ds: r["chosen"] for ds, r in results.items()},
        "chosen_cv": {ds: r["chosen_cv"] for ds, r in results.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", nargs="+", default=None, help="default: train_tabular.datasets")
    ap.add_argument("--smoothness", type=float, default=100.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--cv-folds", type=int, default=5, help="0: choose on validation only")
    ap.add_argument("--cv-below", type=int, default=500, help="validation rows under which "
                    "the choice is also made by cross-validation")  # fmt: skip
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_tabular", TrainTabularParams)
    datasets = list(args.datasets or params.datasets)
    limit = {"smoothness": args.smoothness, "batch_size": args.batch_size}
    results: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    for dataset in datasets:
        results[dataset] = run_dataset(params, dataset, limit, args.cv_folds, args.cv_below)
        write_json(OUT, {
            "command": " ".join(["python benchmarks/inn_linear_limit.py", *sys.argv[1:]]),
            "datasets_planned": datasets,
            "complete": len(results) == len(datasets),
            "seeds": list(params.seeds),
            "max_train": params.max_train,
            "inn": {k: v for k, v in params.method_params("inn").items() if k != "device"},
            "linear_limit": limit,
            "cv": {"folds": args.cv_folds, "below_valid_rows": args.cv_below},
            "datasets": results,
            "summary": summary(results),
            "seconds": round(time.perf_counter() - start, 1),
        })  # fmt: skip
    print(json.dumps(summary(results), indent=2))


if __name__ == "__main__":
    main()
