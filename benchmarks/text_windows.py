"""Whole essays in sliding windows against their first ``max_length`` tokens: one ``train_text``
run (default ``essays-small``) trained per arm and seed, exactly as the stage trains it.

    .venv/bin/python benchmarks/text_windows.py [--run essays-small] [--loss ce]
        [--arms truncate mean sum] [--stride 96] [--jobs 2]

Arms: ``truncate`` (the first ``max_length`` tokens), ``mean`` and ``sum`` (every window of
``max_length`` tokens, ``--stride`` apart, logits pooled by mean or sum and trained on the pooled
output). Needs ``data/prepared/<dataset>`` (``dvc repro prepare``). Each fit runs in its own
process on one torch thread (``--jobs`` at a time). Writes ``benchmarks/results/
text_windows.json`` after every fit (``partial`` until all are done): per arm and seed the
validation and test accuracy, macro-F1 and QWK, windows and seconds; per arm the mean and 95%
interval over seeds; per windowed arm its paired difference to ``truncate`` over seeds; the arm
validation picks (the run's ``select_on``, mean over seeds); the command and wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from glassworks.config import TrainTextParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import stratified_cap
from glassworks.experiments.text import fit_and_score_text, text_splits
from glassworks.models.text_classifier import TextClassifier
from glassworks.stats import paired_difference, summarise

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "text_windows.json"
METRICS = ("accuracy", "macro_f1", "qwk")


def arm_params(arm: str, stride: int) -> dict[str, Any]:
    """``TextClassifier`` overrides of one arm."""
    if arm == "truncate":
        return {"window_stride": None}
    return {"window_stride": stride, "window_pool": arm}


def fit_one(run: str, arm: str, seed: int, loss: str, stride: int) -> dict[str, Any]:
    """Train and score one arm x seed (in a worker process)."""
    params = load_section(REPO / "params.yaml", "train_text", TrainTextParams)
    cfg = params.run(run)
    est = {**params.estimator_params(run), "seed": seed, "loss": loss, "threads": 1}
    est.update(arm_params(arm, stride))
    prepared = read_prepared(REPO / "data/prepared" / cfg.dataset)
    splits = text_splits(prepared, cfg, params.seeds[0], f"train_text.runs.{run}")
    train = stratified_cap(splits.train, cfg.max_train, seed)
    start = time.perf_counter()
    model = TextClassifier(**est)
    scores = fit_and_score_text(model, train, splits, prepared.task, prepared.label_names)
    return {
        "arm": arm,
        "seed": seed,
        "valid": {m: scores.valid[m] for m in METRICS if m in scores.valid},
        "test": {m: scores.test[m] for m in METRICS if m in scores.test},
        "n_windows": model.n_windows_,
        "n_train": train.height,
        "best_epoch": model.best_epoch_,
        "seconds": round(time.perf_counter() - start, 1),
    }


def summary(rows: list[dict[str, Any]], arms: list[str], select_on: str) -> dict[str, Any]:
    """Per arm: mean and interval over seeds; windowed arms minus truncate, paired by seed."""
    by_arm = {a: sorted((r for r in rows if r["arm"] == a), key=lambda r: r["seed"]) for a in arms}
    out: dict[str, Any] = {"arms": {}, "differences": {}}
    for arm, rs in by_arm.items():
        out["arms"][arm] = {
            f"{split}_{m}": summarise([r[split][m] for r in rs]).as_dict()
            for split in ("valid", "test")
            for m in METRICS
            if rs and m in rs[0][split]
        }
    base = by_arm.get("truncate", [])
    for arm, rs in by_arm.items():
        if arm == "truncate" or len(rs) != len(base) or len(rs) < 2:
            continue
        out["differences"][arm] = {
            m: paired_difference(
                [r["test"][m] for r in rs], [r["test"][m] for r in base], names=(arm, "truncate")
            ).as_dict()
            for m in METRICS
            if m in rs[0]["test"]
        }
    key = f"valid_{select_on}"
    done = {a: s for a, s in out["arms"].items() if key in s}
    out["chosen_on_valid"] = max(done, key=lambda a: done[a][key]["mean"]) if done else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", default="essays-small")
    ap.add_argument("--loss", default="ce")
    ap.add_argument("--arms", nargs="+", default=["truncate", "mean", "sum"])
    ap.add_argument("--stride", type=int, default=96)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_text", TrainTextParams)
    cfg = params.run(args.run)
    jobs = [(arm, seed) for seed in params.seeds for arm in args.arms]
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(fit_one, args.run, arm, seed, args.loss, args.stride) for arm, seed in jobs
        ]
        for fut in as_completed(futures):
            rows.append(fut.result())
            print(json.dumps(rows[-1]), flush=True)
            result = {
                "command": " ".join(["python benchmarks/text_windows.py", *sys.argv[1:]]),
                "run": args.run,
                "loss": args.loss,
                "stride": args.stride,
                "max_length": params.estimator_params(args.run)["max_length"],
                "select_on": cfg.select_on,
                "seeds": list(params.seeds),
                "partial": len(rows) < len(jobs),
                "fits": sorted(rows, key=lambda r: (r["arm"], r["seed"])),
                **summary(rows, args.arms, cfg.select_on),
                "seconds": round(time.perf_counter() - start, 1),
            }
            OUT.parent.mkdir(parents=True, exist_ok=True)
            tmp = OUT.with_suffix(".tmp")
            tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
            tmp.replace(OUT)
    print(json.dumps({k: result[k] for k in ("chosen_on_valid", "differences", "seconds")}))


if __name__ == "__main__":
    main()
