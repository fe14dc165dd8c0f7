"""Stage ``explain_tabular``: audit post-hoc explainers against INN's exact contributions.

    python -m stages.explain_tabular --dataset openml-31

Loads the ``train_tabular`` INN and TabResNet of ``explain_tabular.seed``, explains a seeded test
sample with IG, EG (training rows as background), LIME and Kernel SHAP, and scores them: against
INN's exact ``W(x) * x`` (rank correlation, top-k overlap, sign agreement, L1 error) and, on
TabResNet, by XAI-Bench faithfulness and monotonicity. Writes
``data/explanations/tabular/<dataset>/`` (``audit.csv``, ``black_box.csv``, ``attributions.npz``,
plots) and ``metrics/explain_tabular/<dataset>.json``; plots and tables go to MLflow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import ExplainTabularParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.errors import ConfigError, DataError
from glassworks.explain.audit import audit_tabular
from glassworks.io import BUNDLE_KEYS, atomic_dir, read_pickle, write_json
from glassworks.report.plots import audit_plot, summary_plot
from stages.common import exit_with, parser, provenance, run_main, stage_address, stage_run

STAGE = "explain_tabular"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> ExplainTabularParams:
    """All this stage reads: the ``explain_tabular`` section."""
    params = load_section(params_path, STAGE, ExplainTabularParams)
    if dataset not in params.datasets:
        raise ConfigError(f"explain_tabular.datasets: {dataset!r} is not listed")
    return params


def load_bundle(folder: Path) -> dict[str, Any]:
    """A ``train_tabular`` ``model.pkl`` bundle (encoder, model, label names)."""
    path = folder / "model.pkl"
    if not path.exists():
        raise DataError(path, "no trained model (run `dvc repro train_tabular`)")
    return read_pickle(path, dict, BUNDLE_KEYS)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the audit for ``--dataset``."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--models-dir", type=Path, default=Path("data/tabular"))
    p.add_argument("--out-dir", type=Path, default=Path("data/explanations/tabular"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/explain_tabular"))
    args = p.parse_args(argv)

    params = load_config(args.params, args.dataset)
    seed = str(params.seed)
    inn = load_bundle(args.models_dir / "inn" / args.dataset / seed)
    black = load_bundle(args.models_dir / "tabresnet" / args.dataset / seed)
    prepared = read_prepared(args.prepared_dir / args.dataset)
    encoder = inn["encoder"]
    test = subsample(prepared.splits["test"], params.n_examples, params.seed)
    train = subsample(prepared.splits["train"], params.background, params.seed)
    x, background = encoder.transform(test), encoder.transform(train)
    names = list(encoder.feature_names_)

    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    with stage_run(
        args,
        STAGE,
        args.dataset,
        params=params.model_dump(),
        tags=tags,
    ) as run:
        audit = audit_tabular(
            inn["model"],
            black["model"],
            x,
            background,
            names,
            n_steps=params.n_steps,
            eg_samples=params.eg_samples,
            lime_samples=params.lime_samples,
            kernel_shap_samples=params.kernel_shap_samples,
            top_k=params.top_k,
            seed=params.seed,
        )
        inn_table = pl.DataFrame([{"explainer": m, **s} for m, s in audit.inn_scores.items()])
        bb_table = pl.DataFrame([{"explainer": m, **s} for m, s in audit.black_box_scores.items()])
        out = args.out_dir / args.dataset
        with atomic_dir(out) as tmp:
            inn_table.write_csv(tmp / "audit.csv")
            bb_table.write_csv(tmp / "black_box.csv")
            np.savez_compressed(
                tmp / "attributions.npz",
                x=audit.x,
                exact=audit.exact,
                names=np.array(names),
                **{f"inn_{m}": a for m, a in audit.inn_attributions.items()},
                **{f"tabresnet_{m}": a for m, a in audit.black_box_attributions.items()},
            )
            audit_plot(
                audit.inn_scores,
                tmp / "audit.png",
                f"{args.dataset}: post-hoc explainers vs INN's exact contributions",
            )
            summary_plot(
                audit.exact,
                audit.x,
                names,
                tmp / "inn_contributions.png",
                title=f"{args.dataset}: INN exact contributions W(x)·x",
            )
        metrics = {
            "n_examples": len(x),
            "n_features": len(names),
            "inn": audit.inn_scores,
            "tabresnet": audit.black_box_scores,
            "best_inn_explainer": audit.best_inn_explainer,
            "seconds": audit.seconds,
        }
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics(metrics)
        for f in sorted(out.iterdir()):
            if f.suffix in (".png", ".csv"):
                run.log_artifact(f, "audit")
    log.info(
        "%s: best explainer of INN = %s (Spearman %.3f)",
        args.dataset,
        audit.best_inn_explainer,
        audit.inn_scores[audit.best_inn_explainer]["spearman"],
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
