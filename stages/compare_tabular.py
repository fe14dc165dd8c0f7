"""Stage ``compare_tabular``: the INN paper's comparison over every ``train_tabular`` result.

    python -m stages.compare_tabular

Reads ``data/tabular/<method>/<dataset>/<seed>/output_info.json`` and writes
``data/reports/tabular/`` (``comparison.md``, ``ranks.png``, ``normalized_auroc.png``,
``records.csv``) and ``metrics/compare_tabular.json`` (per-method means, mean ranks, the goals);
all of it goes to MLflow too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import CompareTabularParams, TrainTabularParams, load_section
from glassworks.errors import ConfigError
from glassworks.io import atomic_dir, write_csv, write_json, write_text
from glassworks.report.comparison import (
    compare,
    comparison_metrics,
    markdown,
    normalized_plot,
    rank_plot,
    read_records,
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
    records = read_records(args.results, methods, datasets)
    comp = compare(records, params.reference)
    table = markdown(comp, methods)
    result = comparison_metrics(comp, records, params.reference)
    with st.run(params.model_dump()) as run:
        with atomic_dir(args.out_dir) as tmp:
            write_text(tmp / "comparison.md", table)
            write_csv(tmp / "table.csv", comp.table)
            write_csv(tmp / "records.csv", records)
            rank_plot(comp, tmp / "ranks.png")
            normalized_plot(records, params.reference, tmp / "normalized_auroc.png")
        write_json(args.metrics, result)
        run.log_metrics(result)
        log_files(run, args.out_dir, "comparison")
    log.info("tabular comparison:\n%s", table)


if __name__ == "__main__":
    exit_with(run_main(main, None))
