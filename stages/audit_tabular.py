"""Stage ``audit_tabular``: post-hoc explainers' agreement with INN's decomposition.

    python -m stages.audit_tabular --dataset openml-31

Loads the ``train_tabular`` INN and TabResNet of ``audit_tabular.seed``, explains a seeded test
sample with IG, EG (training rows as background), LIME and Kernel SHAP, and scores them against
INN's decomposition ``W(x) * x`` (rank correlation, top-k overlap, sign agreement, L1 error, with
bootstrap intervals over rows) twice: (a) explaining INN's full logit ``f`` (an exact IG from 0
adds up to ``f(x) - f(0)``, INN's terms to ``f(x) - b(x)``: they differ by ``b(x) - b(0)``), and
(b) explaining the per-example linear model with the hypernetwork frozen (exact IG scores ~0
error). On TabResNet: XAI-Bench faithfulness and monotonicity. Writes
``data/explanations/tabular/<dataset>/`` (``audit.csv`` (a), ``audit_frozen.csv`` (b),
``black_box.csv``, ``attributions.npz``, plots) and ``metrics/audit_tabular/<dataset>.json``
(``agreement_with_inn_decomposition``; ``inn`` and ``best_inn_explainer`` repeat (a) under their
old names); plots and tables go to MLflow.

A regression dataset audits the INN and TabResNet regressors the same way: the explained output
is the prediction of the standardised target, every metric applies, and the metrics say so
(``task``, ``explained_output``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import AuditTabularParams, load_section
from glassworks.data import read_prepared
from glassworks.errors import ConfigError
from glassworks.explain.audit import audit_tabular
from glassworks.explain.summary import encoded_sample
from glassworks.io import atomic_dir, read_bundle, write_csv, write_json, write_npz
from glassworks.report.explanations import audit_plots
from stages.common import exit_with, log_files, run_main, start

STAGE = "audit_tabular"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--models-dir": "data/tabular",
    "--out-dir": "data/explanations/tabular",
    "--metrics-dir": "metrics/audit_tabular",
}
AUDIT_SETTINGS = {"n_steps", "eg_samples", "lime_samples", "kernel_shap_samples", "top_k", "seed"}
"""The ``audit_tabular`` settings :func:`audit_tabular` takes as they are."""
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> AuditTabularParams:
    """All this stage reads: the ``audit_tabular`` section."""
    params = load_section(params_path, STAGE, AuditTabularParams)
    if dataset not in params.datasets:
        raise ConfigError(f"audit_tabular.datasets: {dataset!r} is not listed")
    return params


def main(argv: Sequence[str] | None = None) -> None:
    """Run the audit for ``--dataset``."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS)
    args, params = st.args, st.config
    models = args.models_dir
    inn = read_bundle(models / "inn" / args.dataset / str(params.seed), "train_tabular")
    black = read_bundle(models / "tabresnet" / args.dataset / str(params.seed), "train_tabular")
    prepared = read_prepared(args.prepared_dir / args.dataset)
    encoder = inn["encoder"]
    x, background = encoded_sample(
        encoder, prepared.splits, params.n_examples, params.background, params.seed
    )
    with st.run(params.model_dump()) as run:
        audit = audit_tabular(
            inn["model"], black["model"], x, background, list(encoder.feature_names_),
            **params.model_dump(include=AUDIT_SETTINGS),
        )  # fmt: skip
        out = args.out_dir / args.dataset
        with atomic_dir(out) as tmp:
            for name, table in audit.tables().items():
                write_csv(tmp / f"{name}.csv", table)
            write_npz(tmp / "attributions.npz", **audit.arrays())
            audit_plots(audit, tmp, args.dataset)
        metrics = audit.metrics()
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics({**metrics, "seconds": audit.seconds})  # timings: MLflow only
        log_files(run, out, "audit", (".png", ".csv"))
    best = audit.best_explainer_of_inn_decomposition
    log.info(
        "%s%s: best agreement with INN's decomposition = %s (Spearman %.3f; frozen: %.3f)",
        args.dataset,
        " (regression)" if audit.regression else "",
        best,
        audit.inn_scores[best]["spearman"],
        audit.frozen_scores.get(best, {}).get("spearman", float("nan")),
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
