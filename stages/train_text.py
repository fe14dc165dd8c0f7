"""Stage ``train_text``: train one text classifier per seed (a ``train_text.runs`` entry: dataset x
recipe, ``train_text.seeds``).

    python -m stages.train_text --run sst2-minilm

Reads ``data/prepared/<dataset>``; writes ``data/models/text/<run>/`` (the first seed's model
folder, with the fine-tuned encoder in Hugging Face format under ``model/`` for pretrained
backbones, and its confusion-matrix and per-class PNGs; the other seeds' models in
``seed-<seed>/`` inside it), ``metrics/train_text/<run>.json`` (``per_seed``: validation and test
metrics of each seed; ``valid_*``/``test_*``: mean, sd and 95% bootstrap interval over seeds) and
the DVC plots ``plots/train_text/<run>/{predictions,history}.csv`` (first seed). One MLflow run
per seed, named ``<run>#<seed>``. Early stopping (``select_on``) reads validation only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glassworks.config import TextRun, TrainTextParams, load_section
from glassworks.data import PreparedDataset, read_prepared
from glassworks.data.split import stratified_cap
from glassworks.experiments.text import (
    TextScores,
    TextSplits,
    choose_on_valid,
    fit_and_score_text,
    majority_accuracy,
    text_splits,
)
from glassworks.io import atomic_dir, write_csv, write_json
from glassworks.models.text_classifier import TextClassifier
from glassworks.report.classifier import (
    FIGURES,
    classifier_figures,
    history_table,
    predictions_table,
)
from glassworks.report.overview import seed_metrics, seed_summaries
from stages.common import Stage, exit_with, progress_bar, run_main, start

STAGE = "train_text"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--out-dir": "data/models/text",
    "--metrics-dir": "metrics/train_text",
    "--plots-dir": "plots/train_text",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


Config = tuple[TextRun, dict[str, Any], tuple[int, ...]]


def load_config(params_path: Path, dataset: str) -> Config:
    """All this stage reads: run ``dataset`` of ``train_text``, its estimator parameters (first
    seed) and the seeds."""
    params = load_section(params_path, STAGE, TrainTextParams)
    return params.run(dataset), params.estimator_params(dataset), params.seeds


def seed_folder(out: Path, seeds: Sequence[int], seed: int) -> Path:
    """Where seed ``seed``'s model goes: the run folder itself for the first seed (what
    ``explain_text`` and ``glassworks explain-text`` read), ``seed-<seed>/`` inside it otherwise."""
    return out if seed == seeds[0] else out / f"seed-{seed}"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--run`` (a run name): one model per seed."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item="run")
    args, (run_params, est_first, seeds) = st.args, st.config
    prepared = read_prepared(args.prepared_dir / run_params.dataset)
    splits = text_splits(prepared, run_params, seeds[0], f"{STAGE}.runs.{args.run}")
    candidates = run_params.choose.candidates() if run_params.choose else [{}]
    with atomic_dir(args.out_dir / args.run) as tmp:
        first, choice = _train_seed(st, prepared, splits, est_first, tmp, candidates)
        chosen = choice["chosen"] if choice else {}
        per_seed = [first] + [
            _train_seed(
                st, prepared, splits, {**est_first, **chosen, "seed": seed},
                seed_folder(tmp, seeds, seed),
            )[0]
            for seed in seeds[1:]
        ]  # fmt: skip
    metrics = seed_summaries(per_seed, n_valid=splits.valid.height, n_test=splits.test.height)
    if choice:
        metrics["choice"] = choice
    write_json(args.metrics_dir / f"{args.run}.json", metrics)
    acc = metrics["test_accuracy"]
    log.info("%s: test accuracy %.4f ± %.4f over %d seeds", args.run, acc["mean"], acc["sd"],
             acc["n"])  # fmt: skip


def _train_seed(
    st: Stage[Config],
    prepared: PreparedDataset,
    splits: TextSplits,
    est: dict[str, Any],
    folder: Path,
    candidates: Sequence[dict[str, Any]] = ({},),
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One seed's model (its MLflow run, saved to ``folder``; the first seed's figures and DVC
    plots too): its metrics row, and with several ``candidates`` (overrides of ``est``) the
    choice among them on validation (each trained; the best one is kept)."""
    args, (run_params, _, seeds) = st.args, st.config
    seed = est["seed"]
    train = stratified_cap(splits.train, run_params.max_train, seed)
    names = list(prepared.label_names)
    logged: dict[str, Any] = {"run": run_params.model_dump(), "estimator": est}
    if len(candidates) > 1:
        logged["candidates"] = list(candidates)  # the chosen one: choice.json
    floor = None
    if len(candidates) > 1 and run_params.choose and run_params.choose.floor == "majority":
        floor = majority_accuracy(train["label"].to_numpy(), splits.valid["label"].to_numpy())
    total = len(candidates) * TextClassifier(**est).epochs * train.height
    with (
        st.run(logged, run_name=f"{args.run}#{seed}") as run,
        progress_bar(total, f"train {args.run} seed {seed}") as advance,
    ):
        tried: list[TextScores] = []
        kept: TextClassifier | None = None
        for cand in candidates:  # only the best model so far stays in memory
            fitted = TextClassifier(**{**est, **cand})
            tried.append(
                fit_and_score_text(
                    fitted, train, splits, prepared.task, prepared.label_names, on_step=advance
                )
            )
            if choose_on_valid(tried, run_params.select_on, floor) == len(tried) - 1:
                kept = fitted
        best = choose_on_valid(tried, run_params.select_on, floor)
        model, scores = kept, tried[best]
        assert model is not None  # noqa: S101 - the first candidate is always kept
        choice = _choice(candidates, tried, best, run_params.select_on, floor)
        if choice:
            run.log_dict(choice, "choice.json")
        row = seed_metrics(seed, scores.valid, scores.test, **scores.counts)
        model.save(folder)
        y_test = splits.test["label"].to_numpy()
        if seed == seeds[0]:
            title = f"{args.run} (test split, seed {seed})"
            classifier_figures(y_test, scores.predicted, scores.test, names, folder, title)
            plots = args.plots_dir / args.run
            write_csv(plots / "predictions.csv", predictions_table(y_test, scores.predicted, names))
            write_csv(plots / "history.csv", history_table(model.history_))
        run.log_metrics(row)
        run.log_dict(row, "metrics.json")
        for png in FIGURES:
            if (folder / png).is_file():
                run.log_artifact(folder / png, "plots")
        run.log_text_model(folder, splits.test["text"].to_list()[:3], model=model)
    log.info("%s seed %d: valid accuracy %.4f", args.run, seed, row["valid"]["accuracy"])
    return row, choice


def _choice(
    candidates: Sequence[dict[str, Any]],
    scores: Sequence[TextScores],
    best: int,
    select_on: str,
    floor: float | None = None,
) -> dict[str, Any] | None:
    """The metrics' record of a choice on validation (None with one candidate); with a
    ``floor``, the majority class's validation accuracy the candidates had to beat."""
    if len(candidates) < 2:
        return None
    return {
        "select_on": select_on,
        **({"floor": {"majority_valid_accuracy": floor}} if floor is not None else {}),
        "candidates": [
            {
                **cand,
                f"valid_{select_on}": s.valid[select_on],
                "valid_accuracy": s.valid["accuracy"],
            }
            for cand, s in zip(candidates, scores, strict=True)
        ],
        "chosen": dict(candidates[best]),
    }


if __name__ == "__main__":
    exit_with(run_main(main, None))
