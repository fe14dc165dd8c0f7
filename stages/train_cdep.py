"""Stage ``train_cdep``: one arm (``<model>-<penalty>``) on one SST-2 variant, over its lambdas.

    python -m stages.train_cdep --dataset decoy-lstm-cdep

Reads ``data/variants/<variant>``. Per lambda: ``data/cdep/<variant>/<arm>/lambda-<lambda>/`` (the
model folder) and one MLflow run (metrics, the model as a pyfunc). The arm's rows (clean test
accuracy, probe accuracy, attribution mass on the spurious words, ...) go to
``metrics/train_cdep/<variant>/<arm>.json`` and ``plots/train_cdep/<variant>/<arm>.csv``.
Arm ``none`` is the vanilla model (lambda 0); ``clean`` the same model on the unbiased
``reference`` texts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from glassworks.config import TrainCdepParams, load_section
from glassworks.data.split import stratified_split
from glassworks.data.variants import read_variant
from glassworks.errors import ConfigError
from glassworks.io import atomic_dir, write_csv, write_json
from glassworks.train.cdep import fit_penalized
from stages.common import (
    exit_with,
    parser,
    progress_bar,
    provenance,
    run_main,
    stage_address,
    stage_run,
)

STAGE = "train_cdep"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, key: str) -> tuple[TrainCdepParams, str, str]:
    """All this stage reads for ``key`` = ``<variant>-<model>-<penalty>`` (its DVC matrix name):
    ``train_cdep`` with the variant and arm checked against its lists."""
    variant, _, arm = key.partition("-")
    params = load_section(params_path, STAGE, TrainCdepParams)
    if params.variants and variant not in params.variants:
        raise ConfigError(f"{STAGE}.variants: {variant!r} (from {key!r}) is not listed")
    if params.arms and arm not in params.arms:
        known = ", ".join(params.arms)
        raise ConfigError(f"{STAGE}.arms: {arm!r} (from {key!r}) is not listed (known: {known})")
    params.arm(arm)  # model and penalty known, lambdas given
    # what this stage reads: its own variant and arm (the lists only check it is one of them)
    return params.model_copy(update={"variants": (variant,), "arms": (arm,)}), variant, arm


def lambda_name(lam: float) -> str:
    """``lambda-<value>`` folder name (``lambda-0``, ``lambda-0.3``, ``lambda-100``)."""
    return f"lambda-{lam:g}"


def main(argv: Sequence[str] | None = None) -> None:
    """Train every lambda of the arm."""
    p = parser(STAGE, __doc__)
    p.add_argument("--variants-dir", type=Path, default=Path("data/variants"))
    p.add_argument("--out-dir", type=Path, default=Path("data/cdep"))
    p.add_argument("--metrics-dir", type=Path, default=Path(f"metrics/{STAGE}"))
    p.add_argument("--plots-dir", type=Path, default=Path(f"plots/{STAGE}"))
    args = p.parse_args(argv)

    params, variant, arm = load_config(args.params, args.dataset)
    _, penalty = params.arm(arm)
    data = read_variant(args.variants_dir / variant)
    words = list(data.info["spurious_words"])
    train = data.splits["reference" if penalty == "clean" else "train"]
    if params.max_train is not None and params.max_train < train.height:
        _, train = stratified_split(train, "label", params.max_train / train.height, params.seed)
    address = stage_address(STAGE, args.dataset)
    tags = provenance(args.root, address)
    rows = []
    with atomic_dir(args.out_dir / variant / arm) as tmp:
        for lam in params.grid(arm):
            est = params.estimator_params(arm, lam, words)
            name = f"{args.dataset} lambda={lam:g}"
            with (
                stage_run(
                    args,
                    STAGE,
                    args.dataset,
                    params=est,
                    tags=tags,
                    run_name=name,
                ) as run,
                progress_bar(est["epochs"] * train.height, f"train {name}") as advance,
            ):
                model, metrics = fit_penalized(
                    est,
                    train,
                    data.splits["valid"],
                    data.splits["test"],
                    data.splits["probe"],
                    data.label_names,
                    ig_steps=params.ig_steps,
                    on_step=advance,
                    n_probe=params.n_probe,
                )
                folder = tmp / lambda_name(lam)
                model.save(folder)
                run.log_metrics(metrics)
                run.log_dict(metrics, "metrics.json")
                run.log_text_model(folder, data.splits["test"]["text"].to_list()[:3], model=model)
            log.info(
                "%s: clean test accuracy %.4f, probe accuracy %.4f, IG mass on spurious %.3f",
                name,
                metrics["test_accuracy"],
                metrics["probe_accuracy"],
                metrics["ig_mass"],
            )
            rows.append({"variant": variant, "arm": arm, "penalty": penalty, **metrics})
    write_csv(args.plots_dir / variant / f"{arm}.csv", pl.DataFrame(rows))
    write_json(args.metrics_dir / variant / f"{arm}.json", {"runs": rows})


if __name__ == "__main__":
    exit_with(run_main(main, None))
