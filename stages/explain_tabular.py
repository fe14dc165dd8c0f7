"""Stage ``explain_tabular``: post-hoc explainers' agreement with INN's decomposition.

    python -m stages.explain_tabular --dataset openml-31

Loads the ``train_tabular`` INN and TabResNet of ``explain_tabular.seed``, explains a seeded test
sample with IG, EG (training rows as background), LIME and Kernel SHAP, and scores them against
INN's decomposition ``W(x) * x`` (rank correlation, top-k overlap, sign agreement, L1 error, with
bootstrap intervals over rows) twice: (a) explaining INN's full logit ``f`` (an exact IG from 0
adds up to ``f(x) - f(0)``, INN's terms to ``f(x) - b(x)``: they differ by ``b(x) - b(0)``), and
(b) explaining the per-example linear model with the hypernetwork frozen (exact IG scores ~0
error). On TabResNet: XAI-Bench faithfulness and monotonicity. Writes
``data/explanations/tabular/<dataset>/`` (``audit.csv`` (a), ``audit_frozen.csv`` (b),
``black_box.csv``, ``attributions.npz``, plots) and ``metrics/explain_tabular/<dataset>.json``
(``agreement_with_inn_decomposition``; ``inn`` and ``best_inn_explainer`` repeat (a) under their
old names); plots and tables go to MLflow.
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
        frozen_table = pl.DataFrame([{"explainer": m, **s} for m, s in audit.frozen_scores.items()])
        bb_table = pl.DataFrame([{"explainer": m, **s} for m, s in audit.black_box_scores.items()])
        out = args.out_dir / args.dataset
        with atomic_dir(out) as tmp:
            inn_table.write_csv(tmp / "audit.csv")
            frozen_table.write_csv(tmp / "audit_frozen.csv")
            bb_table.write_csv(tmp / "black_box.csv")
            np.savez_compressed(
                tmp / "attributions.npz",
                x=audit.x,
                exact=audit.exact,
                names=np.array(names),
                bias_gap=audit.gap,
                **{f"inn_{m}": a for m, a in audit.inn_attributions.items()},
                **{f"inn_frozen_{m}": a for m, a in audit.frozen_attributions.items()},
                **{f"tabresnet_{m}": a for m, a in audit.black_box_attributions.items()},
            )
            audit_plot(
                audit.inn_scores,
                tmp / "audit.png",
                f"{args.dataset}: agreement with INN's decomposition W(x)·x (explaining f)",
            )
            audit_plot(
                audit.frozen_scores,
                tmp / "audit_frozen.png",
                f"{args.dataset}: agreement with INN's decomposition (hypernetwork frozen)",
            )
            summary_plot(
                audit.exact,
                audit.x,
                names,
                tmp / "inn_contributions.png",
                title=f"{args.dataset}: INN's decomposition W(x)·x",
            )
        metrics = {
            "n_examples": len(x),
            "n_features": len(names),
            "agreement_with_inn_decomposition": audit.agreement_summary(),
            "best_explainer_of_inn_decomposition": audit.best_explainer_of_inn_decomposition,
            "tabresnet": audit.black_box_scores,
            # old names of agreement_with_inn_decomposition.full_model (kept for consumers)
            "inn": audit.inn_scores,
            "best_inn_explainer": audit.best_inn_explainer,
        }
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics({**metrics, "seconds": audit.seconds})  # timings: MLflow only
        for f in sorted(out.iterdir()):
            if f.suffix in (".png", ".csv"):
                run.log_artifact(f, "audit")
    best = audit.best_explainer_of_inn_decomposition
    log.info(
        "%s: best agreement with INN's decomposition = %s (Spearman %.3f; frozen: %.3f)",
        args.dataset,
        best,
        audit.inn_scores[best]["spearman"],
        audit.frozen_scores.get(best, {}).get("spearman", float("nan")),
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
