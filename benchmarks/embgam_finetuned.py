"""Emb-GAM over a fine-tuned encoder (the Emb-GAM paper's best setting uses a fine-tuned LM),
against Emb-GAM over the pretrained MiniLM and bag-of-n-grams, on SST-2 (test = GLUE dev, 872
rows).

    .venv/bin/python benchmarks/embgam_finetuned.py [--layer -1] [--max-train 0]
    .venv/bin/python benchmarks/embgam_finetuned.py --full [--seeds 0 1 2] [--orders 2 3 4]
    .venv/bin/python benchmarks/embgam_finetuned.py --full --residuals 0 0.3 1 3 \
        --out embgam_finetuned_full_residuals.json

Default: the ``train_text`` ``sst2-minilm`` checkpoint of ``make run`` (2,000 training phrases,
one seed) as the n-gram encoder; writes ``benchmarks/results/embgam_finetuned.json``. ``--full``:
the MiniLMs of ``benchmarks/minilm_full.py`` (fine-tuned on every SST-2 training phrase of 5
words or more), one Emb-GAM per encoder seed and n-gram order (``--orders``, orders 1..n);
writes ``embgam_finetuned_full.json``: per order and seed Emb-GAM's validation and test accuracy
and its paired bootstrap interval against bag-of-n-grams over the same n-grams; each model's
order chosen on its own validation accuracy (Emb-GAM's: the mean over seeds), and at those
orders the paired interval of Emb-GAM's seed-averaged test correctness minus bag-of-n-grams'
(each test sentence one pair); the command and the wall time. ``--residuals`` gives Emb-GAM a
grid of per-n-gram residual scales chosen on validation with C (default:
``train_embgam.residuals``); ``--out`` names the file.

Needs ``make run`` first (data/prepared/sst2, data/embeddings/sst2, metrics/train_embgam/sst2.json).
Same n-gram rule, C grid and validation-split selection as the ``train_embgam`` stage (and its
``residuals``); the fine-tuned encoders saw only SST-2 train phrases. New n-grams are embedded
through the shared content-addressed cache (one namespace per encoder's weights).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from glassworks.config import TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import read_index
from glassworks.embed.ngrams import NgramSpec
from glassworks.io import write_json
from glassworks.models.baselines import bag_of_ngrams
from glassworks.models.emb_gam import EmbGAMClassifier
from glassworks.stats import paired_difference

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
FULL_MODELS = REPO / "data" / "full" / "text" / "sst2-minilm"
PAIR = ("embgam", "bag_of_ngrams")
SHOWN = ("seed", "valid_accuracy", "test_accuracy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--layer", type=int, default=-1)
    ap.add_argument("--max-train", type=int, default=0, help="0 = the whole train split")
    ap.add_argument("--full", action="store_true", help="the encoders of minilm_full.py")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="with --full")
    ap.add_argument("--orders", type=int, nargs="+", help="with --full: n-gram orders to choose "
                    "from on validation (default: the embed stage's)")  # fmt: skip
    ap.add_argument("--residuals", type=float, nargs="+", default=None,
                    help="per-n-gram residual scales chosen on validation with C (default: "
                    "train_embgam.residuals)")  # fmt: skip
    ap.add_argument("--out", default=None, help="file in benchmarks/results (with --full; "
                    "default embgam_finetuned_full.json)")  # fmt: skip
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_embgam", TrainEmbGAMParams)
    if args.residuals is not None:
        params = TrainEmbGAMParams(**{**params.model_dump(), "residuals": args.residuals})
    prepared = read_prepared(REPO / "data/prepared/sst2")
    _, _, _, meta = read_index(REPO / "data/embeddings/sst2")
    spec = NgramSpec(**meta["ngrams"])
    train = subsample(prepared.splits["train"], args.max_train or None, params.seed)
    valid, test = prepared.splits["valid"], prepared.splits["test"]
    xy = {
        name: (s["text"].to_list(), s["label"].to_numpy())
        for name, s in (("train", train), ("valid", valid), ("test", test))
    }
    start = time.perf_counter()

    def fit(model_dir: Path, ngram_spec: NgramSpec = spec) -> tuple[EmbGAMClassifier, np.ndarray]:
        encoder = Encoder(
            model=str(model_dir),
            pooling="mean",
            layer=args.layer,
            max_length=meta["encoder"]["max_length"],
        )
        gam = EmbGAMClassifier.from_spec(
            CachedEmbedder(encoder, REPO / meta["cache"]["dir"]),
            ngram_spec,
            normalize=params.normalize,
            Cs=params.Cs,
            max_iter=params.max_iter,
            class_weight=params.class_weight,
            residuals=params.residuals,
        ).fit(*xy["train"], *xy["valid"])
        return gam, gam.predict(xy["test"][0])

    stage = json.loads((REPO / "metrics/train_embgam/sst2.json").read_text())
    if not args.full:
        _, pred = fit(REPO / "data/models/text/sst2-minilm/model")
        result: dict[str, Any] = {
            "encoder": "train_text sst2-minilm (fine-tuned)",
            "layer": args.layer,
            "n_train": train.height,
            "embgam_finetuned_accuracy": float(np.mean(pred == xy["test"][1])),
            "embgam_pretrained_accuracy": stage["embgam"]["accuracy"],
            "bag_of_ngrams_accuracy": stage["bag_of_ngrams"]["accuracy"],
            "seconds": time.perf_counter() - start,
        }
        _write(RESULTS / "embgam_finetuned.json", result)
        return
    y_test = xy["test"][1]
    orders = args.orders or [spec.order]
    table: list[dict[str, Any]] = []
    for order in orders:
        ngram_spec = replace(spec, order=order)
        bag, bag_c = bag_of_ngrams(
            ngram_spec, xy["train"], xy["valid"], params.baseline_Cs, params.max_iter,
            params.class_weight,
        )  # fmt: skip
        bag_ok = (bag.predict(xy["test"][0]) == y_test).astype(np.float64)
        rows: list[dict[str, Any]] = []
        correct: list[np.ndarray] = []
        for seed in args.seeds:
            t = time.perf_counter()
            gam, pred = fit(FULL_MODELS / f"seed-{seed}" / "model", ngram_spec)
            ok = (pred == y_test).astype(np.float64)
            correct.append(ok)
            diff = paired_difference(ok, bag_ok, names=PAIR, seed=params.seed)
            rows.append({
                "seed": seed,
                "C": gam.C_,
                "residual": gam.residual_,
                "valid_accuracy": float(np.mean(gam.predict(xy["valid"][0]) == xy["valid"][1])),
                "test_accuracy": float(ok.mean()),
                "difference": diff.as_dict(),
                "seconds": round(time.perf_counter() - t, 1),
            })  # fmt: skip
            print(json.dumps({"order": order, **{k: rows[-1][k] for k in SHOWN}}), flush=True)
        table.append({
            "order": order,
            "per_seed": rows,
            "embgam_valid_accuracy": float(np.mean([r["valid_accuracy"] for r in rows])),
            "embgam_test_accuracy": float(np.mean([r["test_accuracy"] for r in rows])),
            "bag_of_ngrams": {
                "C": bag_c,
                "valid_accuracy": float(np.mean(bag.predict(xy["valid"][0]) == xy["valid"][1])),
                "test_accuracy": float(bag_ok.mean()),
            },
            "correct": np.mean(correct, axis=0),
            "bag_correct": bag_ok,
        })  # fmt: skip
    # each model's n-gram order is chosen on its own (seed-mean) validation accuracy
    emb = max(table, key=lambda r: r["embgam_valid_accuracy"])
    bag_row = max(table, key=lambda r: r["bag_of_ngrams"]["valid_accuracy"])
    pooled = paired_difference(emb["correct"], bag_row["bag_correct"], names=PAIR, seed=params.seed)
    for r in table:
        del r["correct"], r["bag_correct"]
    result = {
        "command": " ".join(["python benchmarks/embgam_finetuned.py", *sys.argv[1:]]),
        "encoder": "benchmarks/minilm_full.py (MiniLM fine-tuned on all of SST-2 train)",
        "encoders": json.loads((RESULTS / "minilm_full.json").read_text()).get("recipe"),
        "layer": args.layer,
        "residuals": list(params.residuals),
        "n_train": train.height,
        "n_test": int(y_test.size),
        "seeds": list(args.seeds),
        "orders": table,
        "chosen": {"embgam": emb["order"], "bag_of_ngrams": bag_row["order"]},
        "ngram_order": emb["order"],
        "per_seed": emb["per_seed"],
        "embgam_test_accuracy": emb["embgam_test_accuracy"],
        "bag_of_ngrams": {"order": bag_row["order"], **bag_row["bag_of_ngrams"]},
        "embgam_pretrained_accuracy": stage["embgam"]["accuracy"],
        "difference": pooled.as_dict(),
        "seconds": round(time.perf_counter() - start, 1),
    }
    _write(RESULTS / Path(args.out or "embgam_finetuned_full.json").name, result)


def _write(out: Path, result: dict[str, Any]) -> None:
    write_json(out, result)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
