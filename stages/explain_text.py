"""Stage ``explain_text``: explain one trained text model (a ``train_text.runs`` entry) on a fixed
sample of test texts with IG, EG, LIME, occlusion and a random floor; score their faithfulness.

    python -m stages.explain_text --run sst2-minilm

Reads ``data/models/text/<run>`` and ``data/prepared/<dataset>``; writes
``data/explanations/text/<run>/`` (``highlights.html``: every explainer's token scores per text;
``interactions_<i>.png`` / ``top_pairs_<i>.png``: token x token Integrated Hessians; the deletion
and insertion curves as PNG; ``faithfulness_comparison.csv``: which explainer wins under which
replacement; ``word_scores.parquet``: every explainer's word scores per text, what
``reconcile_text`` reads; ``stitched_ig.parquet`` for a model read in sliding windows: Integrated
Gradients over each whole text, stitched across windows), ``metrics/explain_text/<run>.json``
and the DVC plots
``plots/explain_text/<run>/{deletion,insertion}.csv``.

Metrics: per explainer (top level, as before) the mean deletion and insertion AUC (Petsiuk et al.
2018), comprehensiveness and sufficiency at top-k% (DeYoung et al. 2020) with deleted tokens set to
the explainers' own ``baseline`` embedding and completeness error for path methods; under
``faithfulness`` the same metrics under every ``replacements`` entry (pad, mask, random, remove)
with mean, sd and 95% bootstrap interval over texts, and per replacement x metric the winner
(only when the paired interval of its difference to the runner-up excludes 0). Timings (seconds
per part, ``<explainer>.seconds_per_text``) go to the MLflow run only. A model read in sliding
windows (``train_text.runs.<run>.window_stride``) is explained on each text's first window by
every explainer, and on the whole text by stitched IG (metrics ``windows``: windows per text,
largest completeness error, agreement of overlapping windows).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import (
    ExplainTextParams,
    ExplainTextSettings,
    TextRun,
    parse_section,
    read_yaml,
    subsection,
)
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.errors import ConfigError
from glassworks.experiments.explain_text import TextStudy, run_text_study
from glassworks.io import atomic_dir, write_json, write_parquet
from glassworks.models.text_classifier import TextClassifier
from glassworks.report.text_study import write_curve_tables, write_text_study
from stages.common import exit_with, log_files, run_main, start

STAGE = "explain_text"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--models-dir": "data/models/text",
    "--out-dir": "data/explanations/text",
    "--metrics-dir": "metrics/explain_text",
    "--plots-dir": "plots/explain_text",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[ExplainTextSettings, TextRun]:
    """The ``explain_text`` settings for run ``dataset`` and that ``train_text`` run."""
    data = read_yaml(params_path)
    settings = parse_section(data, STAGE, ExplainTextParams, params_path).for_run(dataset)
    runs = subsection(data, "train_text.runs", params_path)
    if dataset not in runs:
        raise ConfigError(f"train_text.runs: no run {dataset!r}; known: {', '.join(runs)}")
    return settings, parse_section(runs, dataset, TextRun, params_path)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--run`` (a ``train_text`` run name)."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item="run")
    args, (settings, run_cfg) = st.args, st.config
    with st.run(settings.model_dump()) as run:
        model = TextClassifier.load(args.models_dir / args.run, device="auto")
        prepared = read_prepared(args.prepared_dir / run_cfg.dataset)
        sample = subsample(prepared.splits["test"], settings.n_texts, settings.seed)
        texts = sample["text"].to_list()
        study = run_text_study(model, texts, settings)
        out, comp = args.out_dir / args.run, study.comparison
        with atomic_dir(out) as tmp:
            write_text_study(
                comp,
                study.faithfulness,
                prepared.label_names,
                tmp,
                args.run,
                model.tokenizer_,
                texts=texts,
            )
            stitched = study.stitched_table()
            if stitched is not None:
                write_parquet(tmp / "stitched_ig.parquet", stitched)
        write_curve_tables(comp, args.plots_dir / args.run)
        write_json(args.metrics_dir / f"{args.run}.json", study.metrics)
        per_text = {m: {"seconds_per_text": s} for m, s in comp.seconds_per_text().items()}
        run.log_metrics({**study.metrics, "seconds": study.seconds})  # timings: MLflow only
        run.log_metrics(per_text)
        run.log_dict(study.metrics, "metrics.json")
        run.log_artifact(out / "highlights.html", "explanations")
        run.log_artifact(out / "faithfulness_comparison.csv", "tables")
        log_files(run, out, "plots", (".png",))
    _log_study(args.run, study)


def _log_study(name: str, study: TextStudy) -> None:
    """The stage's summary lines: the most faithful explainer, timings, the verdicts."""
    metrics, sec, faith = study.metrics, study.seconds, study.metrics["faithfulness"]
    log.info("%s: lowest deletion AUC: %s (%.4f)", name, *study.lowest_deletion_auc())
    log.info(
        "%s: %d texts in %.1f s (explainers %.1f s, faithfulness under %s %.1f s)",
        name,
        metrics["n_texts"],
        sec["total"],
        sec["explain"],
        "/".join(faith["replacements"]),
        sec["faithfulness"],
    )
    for rep, by_metric in faith["comparison"].items():
        log.info("%s: deletion AUC under %s: %s", name, rep, by_metric["deletion_auc"]["result"])
    for rep, reason in faith["skipped"].items():
        log.warning("%s: replacement %s skipped: %s", name, rep, reason)


if __name__ == "__main__":
    exit_with(run_main(main, None))
