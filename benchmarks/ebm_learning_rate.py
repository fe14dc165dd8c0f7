"""EBM's learning rate in the CPU profile: InterpretML's default (0.015) against 0.04, side by
side on every ``train_tabular`` dataset and seed, on validation AUROC and fit time.

    .venv/bin/python benchmarks/ebm_learning_rate.py [--datasets openml-31 ...] [--seeds 0 1 2]

Needs ``data/prepared/<dataset>`` (``dvc repro prepare``). Encoding, ``max_train`` and the other
EBM settings come from ``params.yaml`` (``train_tabular``); only ``learning_rate`` differs. Test
is never read: the choice is made on validation. Each fit is timed where it runs, the two rates
alternating, so a ratio is measured side by side. Writes
``benchmarks/results/ebm_learning_rate.json``: per dataset and seed both validation AUROCs and fit
seconds; per dataset the mean validation difference and the median time ratio; overall the mean
validation difference over datasets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from glassworks.config import TrainTabularParams, load_section
from glassworks.data import read_prepared
from glassworks.experiments.tabular import encode_as_configured, fit_score_and_time

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "ebm_learning_rate.json"
RATES = {"default": 0.015, "profile": 0.04}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", nargs="+", default=None, help="default: train_tabular.datasets")
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_tabular", TrainTabularParams)
    base = {k: v for k, v in params.method_params("ebm").items() if k != "learning_rate"}
    datasets = list(args.datasets or params.datasets)
    seeds = list(args.seeds or params.seeds)
    start = time.perf_counter()
    per: dict[str, Any] = {}
    for dataset in datasets:
        prepared = read_prepared(REPO / "data/prepared" / dataset)
        data = encode_as_configured(prepared, params)
        runs = []
        for seed in seeds:
            row: dict[str, Any] = {"seed": seed}
            for name, rate in RATES.items():
                hyper = {**base, "learning_rate": rate}
                _, info, t = fit_score_and_time("ebm", hyper, seed, data, len(prepared.label_names))
                row[name] = {"valid_auroc": info["valid_auroc"], "fit_s": t["train_time"]}
            runs.append(row)
            print(json.dumps({"dataset": dataset, **row}), flush=True)
        per[dataset] = {
            "runs": runs,
            "valid_difference": statistics.mean(
                r["profile"]["valid_auroc"] - r["default"]["valid_auroc"] for r in runs
            ),
            "time_ratio": statistics.median(
                r["default"]["fit_s"] / r["profile"]["fit_s"] for r in runs
            ),
        }
    result = {
        "command": " ".join(["python benchmarks/ebm_learning_rate.py", *sys.argv[1:]]),
        "rates": RATES,
        "settings": base,
        "datasets": per,
        "mean_valid_difference": statistics.mean(d["valid_difference"] for d in per.values()),
        "seconds": round(time.perf_counter() - start, 1),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for dataset, d in per.items():
        print(f"{dataset}: valid {d['valid_difference']:+.4f}, {d['time_ratio']:.2f}x faster")
    print(f"mean valid difference {result['mean_valid_difference']:+.4f}")


if __name__ == "__main__":
    main()
