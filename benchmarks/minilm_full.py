"""The full profile of ``train_text``'s ``sst2-minilm`` run: the offline MiniLM fine-tuned on every
SST-2 training phrase of 5 words or more (39,090), not the CPU profile's 2,000; one seed per
``--seeds`` entry, test = GLUE dev (872 sentences).

    .venv/bin/python benchmarks/minilm_full.py [--seeds 0 1 2] [--epochs 2] [--max-train 0]

Needs ``make run``'s ``data/prepared/sst2``. Everything else is the run's recipe in ``params.yaml``
(``train_text.models.minilm`` and ``train_text.runs.sst2-minilm``: min_words, validation cap, the
best epoch by validation accuracy); ``--epochs`` overrides the recipe's 2 epochs (the CPU budget)
and torch uses every core (``threads: null``). As in the stage, validation is capped with the first
of ``train_text.seeds`` for every seed. Each seed's model is saved under
``data/full/text/sst2-minilm/seed-<seed>/`` (Hugging Face encoder in ``model/``), which
``benchmarks/embgam_finetuned.py --full`` reads. Writes ``benchmarks/results/minilm_full.json``:
per seed the validation and test metrics, epochs and seconds; over seeds the mean test accuracy
with its 95% bootstrap interval (``glassworks.report.overview.seed_summaries``, as the stage); the
command and the wall time. A rerun with ``--merge`` adds seeds of the same recipe.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from glassworks.config import TrainTextParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import stratified_cap
from glassworks.experiments.text import fit_and_score_text, text_splits
from glassworks.io import write_json
from glassworks.models.text_classifier import TextClassifier
from glassworks.report.overview import seed_metrics, seed_summaries

REPO = Path(__file__).resolve().parents[1]
RUN = "sst2-minilm"
OUT = REPO / "benchmarks" / "results" / "minilm_full.json"
MODELS = REPO / "data" / "full" / "text" / RUN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--max-train", type=int, default=0, help="0 = every training phrase")
    ap.add_argument("--merge", action="store_true", help="add to the seeds already in the file")
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_text", TrainTextParams)
    run = params.run(RUN)
    run = run.model_copy(update={"max_train": args.max_train or None})
    prepared = read_prepared(REPO / "data/prepared" / run.dataset)
    old: dict[str, Any] = json.loads(OUT.read_text()) if args.merge and OUT.is_file() else {}
    rows: list[dict[str, Any]] = [r for r in old.get("per_seed", []) if r["seed"] not in args.seeds]
    epochs = args.epochs or params.estimator_params(RUN, params.seeds[0])["epochs"]
    recipe = {**run.model_dump(), "epochs": epochs, "threads": None}
    if old and old.get("recipe") != recipe:
        raise SystemExit(f"{OUT}: made with another recipe ({old.get('recipe')}); --merge adds "
                         "seeds of the same recipe only")  # fmt: skip
    # the stage's split: validation capped with the first configured seed, the same for every seed
    splits = text_splits(prepared, run, params.seeds[0], f"train_text.runs.{RUN}")
    start = time.perf_counter()
    for seed in args.seeds:
        t = time.perf_counter()
        train = stratified_cap(splits.train, run.max_train, seed)
        est = {**params.estimator_params(RUN, seed), "epochs": epochs, "threads": None}
        model = TextClassifier(**est)
        scores = fit_and_score_text(model, train, splits, prepared.task, prepared.label_names)
        model.save(MODELS / f"seed-{seed}")
        row = {
            **seed_metrics(seed, scores.valid, scores.test, **scores.counts),
            "seconds": round(time.perf_counter() - t, 1),
        }
        rows.append(row)
        print(json.dumps({"seed": seed, "test_accuracy": row["test"]["accuracy"],
                          "valid_accuracy": row["valid"]["accuracy"],
                          "seconds": row["seconds"]}), flush=True)  # fmt: skip
    rows.sort(key=lambda r: r["seed"])
    summary = seed_summaries(rows, n_valid=splits.valid.height, n_test=splits.test.height)
    command = " ".join(["python benchmarks/minilm_full.py", *sys.argv[1:]])
    result = {
        "commands": [*old.get("commands", []), command],
        "run": RUN,
        "recipe": recipe,
        "n_train": train.height,
        **summary,
        "seconds": round(old.get("seconds", 0.0) + time.perf_counter() - start, 1),
    }
    write_json(OUT, result)
    print(json.dumps({"test_accuracy": result["test_accuracy"], "seconds": result["seconds"]}))


if __name__ == "__main__":
    main()
