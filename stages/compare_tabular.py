"""Stage ``compare_tabular``: the INN paper's comparison over every ``train_tabular`` result.

    python -m stages.compare_tabular

Reads ``data/tabular/<method>/<dataset>/<seed>/output_info.json`` and writes
``data/reports/tabular/`` (``comparison.md``, ``ranks.png``, ``normalized_auroc.png``,
``records.csv``, ``table.csv``) and ``metrics/compare_tabular.json`` (per-method means, mean
ranks, the goals); all of it goes to MLflow too.

Regression datasets (``train_tabular`` results with test RMSE) are compared on their own: RMSE
normalised by the reference's, lower is better, in a section of ``comparison.md`` of their own
and in ``records_regression.csv``, ``table_regression.csv``, ``ranks_regression.png``,
``normalized_rmse.png`` and the metrics' ``regression`` entry; AUROC and RMSE are never mixed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import CompareTabularParams, TrainTabularParams, load_section
from glassworks.errors import ConfigError
from glassworks.io import atomic_dir, write_csv, write_json, write_text
from glassworks.report.comparison import (
    METRICS,
    compare,
    metrics_by_task,
    normalized_plot,
    page,
    rank_plot,
    read_records_by_task,
)
from stages.common import exit_with, log_files, run_main, start

STAGE = "compare_tabular"
OPTIONS = {
    "--results": "data/tabular",
    "--out-dir": "data/reports/tabular",
    "--metrics": "metrics/compare_tabular.json",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(
    params_path: Path, key: str = ""
) -> tuple[CompareTabularParams, tuple[str, ...], tuple[str, ...]]:
    """All this stage reads: ``compare_tabular`` and the matrix's datasets and methods."""
    params = load_section(params_path, STAGE, CompareTabularParams)
    train = load_section(params_path, "train_tabular", TrainTabularParams)
    if not train.datasets or not train.methods:
        raise ConfigError("train_tabular.datasets and train_tabular.methods must not be empty")
    return params, train.datasets, tuple(train.methods)


def main(argv: Sequence[str] | None = None) -> None:
    """Compare every method listed in ``train_tabular``."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item=None)
    args, (params, datasets, methods) = st.args, st.config
    records = read_records_by_task(args.results, methods, datasets)
    comps = {t: compare(r, params.reference, METRICS[t]) for t, r in records.items()}
    table = page(comps, methods, params.reference)
    result = metrics_by_task(comps, records, params.reference)
    with st.run(params.model_dump()) as run:
        with atomic_dir(args.out_dir) as tmp:
            write_text(tmp / "comparison.md", table)
            for task, comp in comps.items():
                suffix = "" if task == "classification" else f"_{task}"
                write_csv(tmp / f"table{suffix}.csv", comp.table)
                write_csv(tmp / f"records{suffix}.csv", records[task])
                rank_plot(comp, tmp / f"ranks{suffix}.png")
                normalized_plot(
                    records[task], params.reference,
                    tmp / f"normalized_{comp.metric.short}.png", comp.metric,
                )  # fmt: skip
        write_json(args.metrics, result)
        run.log_metrics(result)
        log_files(run, args.out_dir, "comparison")
    log.info("tabular comparison:\n%s", table)


if __name__ == "__main__":
    exit_with(run_main(main, None))
