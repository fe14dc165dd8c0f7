"""Stage ``reconcile_text``: one text model's post-hoc explanations (``explain_text``'s word
scores: IG, EG, LIME, occlusion, random) aggregated to n-grams over the explained test texts and
compared with the exact n-gram contributions of the Emb-GAM trained on the same dataset.

    python -m stages.reconcile_text --run sst2-small

Reads ``data/explanations/text/<run>/word_scores.parquet`` and ``data/models/embgam/<dataset>``;
writes ``data/explanations/reconcile/<run>/`` (``reconciliation.csv``: per explainer the Spearman
correlation of n-gram importances with its 95% bootstrap interval over texts, top-k Jaccard and
sign agreement; ``global_ngrams.csv``: every compared n-gram's importance under Emb-GAM and each
explainer; ``disagreements.csv``; ``reconciliation.png``: rank against rank) and
``metrics/reconcile_text/<run>.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import ReconcileTextParams, TextRun, parse_section, read_yaml, subsection
from glassworks.errors import ConfigError
from glassworks.experiments.reconcile import reconcile_with_embgam
from glassworks.io import atomic_dir, read_parquet, read_pickle, write_json
from glassworks.report.reconcile import metrics_of, write_reconciliation
from glassworks.report.text_study import WORD_SCORES
from stages.common import exit_with, log_files, run_main, start

STAGE = "reconcile_text"
OPTIONS = {
    "--explanations-dir": "data/explanations/text",
    "--embgam-dir": "data/models/embgam",
    "--out-dir": "data/explanations/reconcile",
    "--metrics-dir": "metrics/reconcile_text",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, run: str) -> tuple[ReconcileTextParams, TextRun]:
    """``reconcile_text`` and the ``train_text`` run ``run`` (for its dataset)."""
    data = read_yaml(params_path)
    params = parse_section(data, STAGE, ReconcileTextParams, params_path)
    runs = subsection(data, "train_text.runs", params_path)
    if run not in runs:
        raise ConfigError(f"train_text.runs: no run {run!r}; known: {', '.join(runs)}")
    return params, parse_section(runs, run, TextRun, params_path)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--run`` (a ``train_text`` run name)."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item="run")
    args, (params, run_cfg) = st.args, st.config
    # scikit-learn: the Emb-GAM estimator
    from glassworks.models.emb_gam import EmbGAMClassifier

    with st.run(params.model_dump()) as run:
        table = read_parquet(args.explanations_dir / args.run / WORD_SCORES)
        embgam = read_pickle(args.embgam_dir / run_cfg.dataset / "model.pkl", EmbGAMClassifier)
        results, _, texts = reconcile_with_embgam(embgam, table, params)
        out = args.out_dir / args.run
        title = f"{args.run} against Emb-GAM ({run_cfg.dataset}), {len(texts)} test texts"
        with atomic_dir(out) as tmp:
            write_reconciliation(results, tmp, title)
        metrics = metrics_of(results)
        write_json(args.metrics_dir / f"{args.run}.json", metrics)
        run.log_metrics(metrics)
        log_files(run, out, "plots", (".png",))
        run.log_artifact(out / "reconciliation.csv", "tables")
    for method, r in results.items():
        lo, hi = r.spearman_ci95
        log.info(
            "%s: %s vs Emb-GAM: Spearman %.3f [%.3f, %.3f] over %d n-grams, top-%d Jaccard %.3f",
            args.run,
            method,
            r.spearman,
            lo,
            hi,
            len(r.ngrams),
            r.top_k,
            r.jaccard,
        )


if __name__ == "__main__":
    exit_with(run_main(main, None))
