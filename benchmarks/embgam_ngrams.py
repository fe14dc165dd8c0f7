"""Emb-GAM with longer n-grams: orders 1..n for n in ``--orders`` (the paper goes to 7), against
bag-of-n-grams over the same n-grams, on SST-2 at full training size (test = GLUE dev, 872 rows).

    .venv/bin/python benchmarks/embgam_ngrams.py [--orders 2 3 4] [--max-train 0]
    .venv/bin/python benchmarks/embgam_ngrams.py --orders 2 --residuals 0 0.3 1 \
        --out embgam_residuals.json

Needs ``make run`` first (data/prepared/sst2; the ``embed`` params name the encoder). New n-grams
are embedded through the shared content-addressed cache (``embed.cache_dir``), so a rerun embeds
nothing. Per order both models choose C on the leak-free validation split; the order itself is
chosen on validation too (``chosen``), and test is read for every order only to draw the curve.
Writes ``benchmarks/results/embgam_ngrams.json``: per order the unique n-grams, both models'
validation and test accuracy and the paired bootstrap interval of Emb-GAM minus bag-of-n-grams
over the test sentences; the command and the wall time. ``--residuals`` gives Emb-GAM a grid of
per-n-gram residual scales (:class:`~glassworks.models.emb_gam.EmbGAMClassifier`, chosen on
validation with C; default: ``train_embgam.residuals``); each row records the scale chosen.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from glassworks.config import EmbedParams, TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.encoder import Encoder
from glassworks.embed.ngrams import NgramSpec
from glassworks.experiments.embgam import fit_and_score_embgam
from glassworks.selection import choose_record

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--max-train", type=int, default=0, help="0 = the whole train split")
    ap.add_argument("--residuals", type=float, nargs="+", default=None)
    ap.add_argument("--out", default="embgam_ngrams.json", help="file in benchmarks/results")
    args = ap.parse_args()
    out = RESULTS / Path(args.out).name
    embed = load_section(REPO / "params.yaml", "embed", EmbedParams)
    params = load_section(REPO / "params.yaml", "train_embgam", TrainEmbGAMParams)
    if args.residuals is not None:
        params = TrainEmbGAMParams(**{**params.model_dump(), "residuals": args.residuals})
    prepared = read_prepared(REPO / "data/prepared/sst2")
    encoder = Encoder(**embed.encoder.model_dump())
    embedder = CachedEmbedder(encoder, REPO / embed.cache_dir)
    splits = {
        "train": subsample(prepared.splits["train"], args.max_train or None, params.seed),
        "valid": prepared.splits["valid"],
        "test": prepared.splits["test"],
    }
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for order in args.orders:
        t = time.perf_counter()
        # the train_embgam stage's own fit: Emb-GAM, bag-of-n-grams and their paired interval
        _, m = fit_and_score_embgam(
            embedder, NgramSpec(order=order), splits, prepared.task, prepared.label_names, params
        )
        row = {
            "order": order,
            "vocabulary": m["embgam"]["vocabulary"],
            "residual": m["embgam"]["residual"],
            "C": {"embgam": m["embgam"]["C"], "bag_of_ngrams": m["bag_of_ngrams"]["C"]},
            **{
                model: {
                    "valid_accuracy": m[model]["valid_accuracy"],
                    "test_accuracy": m[model]["accuracy"],
                }
                for model in ("embgam", "bag_of_ngrams")
            },  # fmt: skip
            "difference": m["test_intervals"]["differences"][0],
            "seconds": round(time.perf_counter() - t, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    chosen = {
        model: choose_record(
            [{"order": r["order"], "valid_accuracy": r[model]["valid_accuracy"]} for r in rows],
            metric="valid_accuracy",
        )["order"]
        for model in ("embgam", "bag_of_ngrams")
    }
    result = {
        "command": " ".join(["python benchmarks/embgam_ngrams.py", *sys.argv[1:]]),
        "encoder": embed.encoder.model_dump(),
        "residuals": list(params.residuals),
        "n_train": m["n_train"],
        "n_test": m["n_test"],
        "orders": rows,
        "chosen": chosen,
        "seconds": round(time.perf_counter() - start, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
    tmp.replace(out)
    print(json.dumps({"chosen": chosen, "seconds": result["seconds"]}))


if __name__ == "__main__":
    main()
