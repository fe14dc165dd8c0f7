"""Stage ``compare_cdep``: CDEP's comparison over every ``train_cdep`` arm.

    python -m stages.compare_cdep

Reads ``metrics/train_cdep/<variant>/<arm>.json``; writes ``data/reports/cdep/`` (``cdep.md``: each
arm at its lambda chosen on validation accuracy, test mean ± sd [95% bootstrap interval] over
seeds, paired comparisons with a verdict, then the seed-0 lambda grids; one ``<variant>.png`` per
variant; ``records.csv``), the DVC plot sources
``plots/compare_cdep/<variant>/<model>-<penalty>.csv`` (seed-0 grid; lambda 0 = the vanilla
model) and ``metrics/compare_cdep.json`` (per variant and model: each arm's chosen lambda and
summaries, the comparisons; ``selection``: the rule); all of it goes to MLflow too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import (
    CdepMatrix,
    CompareCdepParams,
    load_section,
    parse_section,
    read_yaml,
    subsection,
)
from glassworks.io import atomic_dir, write_csv, write_json, write_text
from glassworks.report.cdep import curves, lambda_plot, read_records, report_page, summary
from stages.common import exit_with, log_files, run_main, start

STAGE = "compare_cdep"
OPTIONS = {
    "--results": "metrics/train_cdep",
    "--out-dir": "data/reports/cdep",
    "--plots-dir": f"plots/{STAGE}",
    "--metrics": f"metrics/{STAGE}.json",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, key: str = "") -> tuple[CompareCdepParams, CdepMatrix]:
    """All this stage reads: ``compare_cdep`` and the ``train_cdep`` variants and arms."""
    section = subsection(read_yaml(params_path), "train_cdep", params_path)
    matrix = {k: section[k] for k in ("variants", "arms") if k in section}
    return (
        load_section(params_path, STAGE, CompareCdepParams),
        parse_section({"train_cdep": matrix}, "train_cdep", CdepMatrix, params_path),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Draw the curves and summarise."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item=None)
    args, (params, train) = st.args, st.config
    records = read_records(args.results, train.variants, train.arms)
    result = summary(records, params.metric)
    page = report_page(result, records, params.metric)
    with st.run(params.model_dump()) as run:
        with atomic_dir(args.out_dir) as tmp:
            write_text(tmp / "cdep.md", page)
            write_csv(tmp / "records.csv", records.drop("test_correct", strict=False))
            for variant in train.variants:
                lambda_plot(records, variant, tmp / f"{variant}.png", params.metric)
        for (variant, model, penalty), frame in curves(records, params.metric).items():
            write_csv(args.plots_dir / variant / f"{model}-{penalty}.csv", frame)
        write_json(args.metrics, result)
        run.log_metrics(result)
        log_files(run, args.out_dir, "cdep")
    log.info("CDEP comparison:\n%s", page)


if __name__ == "__main__":
    exit_with(run_main(main, None))
