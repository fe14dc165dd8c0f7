"""Stage ``report``: the one-page overview and the champion models in the MLflow registry.

    python -m stages.report

Reads every ``metrics/**/*.json``, the figures under ``data/reports`` and
``data/explanations`` and the heavy runs some claims cite (``benchmarks/results``); writes
``reports/summary.md`` (the selection rule, each paper's headline claim against ours, the
champions, the text classifiers and CDEP over seeds with mean ± sd [95% interval], a table per
metrics group, links to every figure), ``reports/claims.json`` and ``reports/champions.json``.
Registers each champion (chosen on validation
only, per dataset and task: ``train_text`` by mean validation ``report.text_metric``,
``train_tabular`` by mean validation AUROC; the first seed's model) as a version of
``glassworks-<task>-<dataset>`` with the alias ``report.alias`` (``champion``).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import ReportParams, load_section, read_yaml, subsection
from glassworks.errors import DataError
from glassworks.io import atomic_dir
from glassworks.report.card import write_cards
from glassworks.report.champions import drift_gate, register_champions, write_summary
from glassworks.report.claims import paper_claims, text_run_datasets
from glassworks.report.overview import champions
from stages.common import exit_with, log_files, run_main, start

STAGE = "report"
OPTIONS = {"--metrics-dir": "metrics", "--out-dir": "reports", "--prepared-dir": "data/prepared"}
log = logging.getLogger(f"glassworks.stages.{STAGE}")
FIGURES = (Path("data/reports"), Path("data/explanations"))
BENCHMARKS = Path("benchmarks/results")  # heavy runs outside `make run` some claims cite


def load_config(params_path: Path, key: str = "") -> tuple[ReportParams, dict[str, str]]:
    """All this stage reads: ``report`` and which dataset each ``train_text`` run trains on."""
    params = load_section(params_path, STAGE, ReportParams)
    runs = subsection(read_yaml(params_path), "train_text.runs", params_path)
    return params, text_run_datasets(runs)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the overview and register the champions."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item=None)
    args, (params, text_runs) = st.args, st.config
    if not args.metrics_dir.is_dir():
        raise DataError(args.metrics_dir, "no metrics yet: run the pipeline first (dvc repro)")
    with st.run(params.model_dump(by_alias=True)) as run, tempfile.TemporaryDirectory() as cards:
        champs = champions(args.metrics_dir, text_runs, params.text_metric)
        gate = (
            drift_gate(run, params.gate, args.prepared_dir, Path(cards), args.root)
            if params.gate.enabled
            else None
        )
        rows = register_champions(
            champs, run, params.alias, params.register_champions, root=args.root, gate=gate
        )
        out = args.out_dir
        figures = [args.root / f for f in FIGURES if (args.root / f).is_dir()]
        with atomic_dir(out) as tmp:
            claims = paper_claims(args.metrics_dir, text_runs, args.root / BENCHMARKS)
            write_summary(tmp, rows, args.metrics_dir, figures, out, params.alias, claims)
            if any(Path(cards).iterdir()):
                shutil.copytree(cards, tmp / "drift")
            model_cards = write_cards(rows, args.root, tmp / "cards")
        run.log_artifact(out / "summary.md", "report")
        run.log_artifact(out / "champions.json", "report")
        run.log_artifact(out / "claims.json", "report")
        if (out / "drift").is_dir():
            log_files(run, out / "drift", "report/drift", (".html",))
        for row in rows:  # each card beside its model, in the run that trained it
            if row.get("run_id") and row["name"] in model_cards:
                run.log_to_run(row["run_id"], out / "cards" / f"{row['name']}.html", "card")
                run.log_artifact(out / "cards" / f"{row['name']}.html", "report/cards")
        refused = sum(1 for r in rows if r.get("gate") and not r["gate"]["passed"])
        run.log_metrics({"n_champions": len(rows), "n_refused_by_gate": refused})
    log.info("%d champions; %s", len(rows), out / "summary.md")


if __name__ == "__main__":
    exit_with(run_main(main, None))
