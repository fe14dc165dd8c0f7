"""INN cost benchmark: training time of INN over its black-box twin TabResNet (same data, same
schedule, same seed), and the cost of INN's exact explanation against post-hoc explainers, as
ratios measured side by side in one run.

    .venv/bin/python benchmarks/inn_cost.py [--repeats 3] [--rows 10000]

Data: adult (openml-1590, 108 one-hot + standardised features) and credit-g (openml-31), train
split subsampled to ``--rows``. Each repeat trains TabResNet then INN (params.yaml's defaults:
40 epochs, 3 restarts); the ratio of a repeat is INN seconds / TabResNet seconds; we report the
median over repeats. Explanations on 100 test rows: INN's ``explain`` (one forward pass) against
IG (64 steps) and Kernel SHAP (500 samples) on the same INN.
Writes benchmarks/results/inn_cost.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from glassworks.data import read_prepared
from glassworks.experiments.tabular import encode_splits
from glassworks.explain.audit import explained_output, tabular_attributions
from glassworks.models.inn import INNClassifier
from glassworks.models.tabresnet import TabResNetClassifier

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "inn_cost.json"
NET = {"lr": 0.003, "epochs": 40, "warmup_epochs": 5, "nr_restarts": 3, "device": "auto"}


def _seconds(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(name: str, rows: int, repeats: int) -> dict:
    """Train-time ratio and explanation cost on one dataset."""
    data = encode_splits(read_prepared(ROOT / "data/prepared" / name), max_train=rows)
    x, y = data.x["train"], data.y["train"]
    TabResNetClassifier(**{**NET, "epochs": 6, "warmup_epochs": 1}).fit(x, y)  # warm-up
    ratios, inn_s, trn_s = [], [], []
    for r in range(repeats):
        t_trn = _seconds(lambda r=r: TabResNetClassifier(**NET, seed=r).fit(x, y))
        t_inn = _seconds(lambda r=r: INNClassifier(**NET, seed=r).fit(x, y))
        ratios.append(t_inn / t_trn)
        inn_s.append(t_inn)
        trn_s.append(t_trn)
    inn = INNClassifier(**NET).fit(x, y)
    xt = data.x["test"][:100]
    target = explained_output(inn.decision_function(xt))
    zero = np.zeros(x.shape[1])

    def post_hoc(method: str) -> None:
        tabular_attributions(inn.module_, xt, x[:200], target, zero, methods=(method,))

    exact = statistics.median(_seconds(lambda: inn.explain(xt)) for _ in range(5))
    ig = statistics.median(_seconds(lambda: post_hoc("ig")) for _ in range(3))
    ks = _seconds(lambda: post_hoc("kernel_shap"))
    return {
        "rows": len(y),
        "features": x.shape[1],
        "inn_over_tabresnet_train_time": statistics.median(ratios),
        "ratios": ratios,
        "inn_seconds": inn_s,
        "tabresnet_seconds": trn_s,
        "ig64_over_exact_explain": ig / exact,
        "kernel_shap500_over_exact_explain": ks / exact,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=10000)
    args = p.parse_args()
    results = {}
    for name in ("openml-1590", "openml-31"):
        results[name] = bench(name, args.rows, args.repeats)
        print(name, json.dumps(results[name], indent=1))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
