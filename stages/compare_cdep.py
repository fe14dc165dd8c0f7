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

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from glassworks.config import (
    CdepMatrix,
    CompareCdepParams,
    load_section,
    parse_section,
    read_yaml,
    subsection,
)
from glassworks.errors import DataError
from glassworks.io import atomic_dir, write_csv, write_json
from glassworks.report.cdep import comparison_markdown, curves, lambda_plot, markdown, summary
from stages.common import exit_with, parser, provenance, run_main, stage_run

STAGE = "compare_cdep"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, key: str = "") -> tuple[CompareCdepParams, CdepMatrix]:
    """All this stage reads: ``compare_cdep`` and the ``train_cdep`` variants and arms."""
    section = subsection(read_yaml(params_path), "train_cdep", params_path)
    matrix = {k: section[k] for k in ("variants", "arms") if k in section}
    return (
        load_section(params_path, STAGE, CompareCdepParams),
        parse_section({"train_cdep": matrix}, "train_cdep", CdepMatrix, params_path),
    )


def read_records(results: Path, variants: Sequence[str], arms: Sequence[str]) -> pl.DataFrame:
    """Every row of every listed arm's metrics file."""
    rows = []
    for variant in variants:
        for arm in arms:
            path = results / variant / f"{arm}.json"
            if not path.is_file():
                raise DataError(path, "no train_cdep results (run `dvc repro train_cdep`)")
            try:
                rows += json.loads(path.read_text())["runs"]
            except (json.JSONDecodeError, KeyError) as exc:
                raise DataError(path, f"not a train_cdep metrics file ({exc})") from None
    return pl.DataFrame(rows, infer_schema_length=None)


def main(argv: Sequence[str] | None = None) -> None:
    """Draw the curves and summarise."""
    p = parser(STAGE, __doc__, per_dataset=False)
    p.add_argument("--results", type=Path, default=Path("metrics/train_cdep"))
    p.add_argument("--out-dir", type=Path, default=Path("data/reports/cdep"))
    p.add_argument("--plots-dir", type=Path, default=Path(f"plots/{STAGE}"))
    p.add_argument("--metrics", type=Path, default=Path(f"metrics/{STAGE}.json"))
    args = p.parse_args(argv)

    params, train = load_config(args.params)
    records = read_records(args.results, train.variants, train.arms)
    result = summary(records, params.metric)
    table = "\n".join(
        ["# CDEP on SST-2 variants", "", comparison_markdown(result, params.metric),
         "## Lambda grids", "", markdown(records)]
    )  # fmt: skip
    tags = provenance(args.root, STAGE)
    with stage_run(
        args,
        STAGE,
        "all",
        params=params.model_dump(),
        tags=tags,
    ) as run:
        with atomic_dir(args.out_dir) as tmp:
            (tmp / "cdep.md").write_text(table)
            records.drop("test_correct", strict=False).write_csv(tmp / "records.csv")
            for variant in train.variants:
                lambda_plot(records, variant, tmp / f"{variant}.png", params.metric)
        for (variant, model, penalty), frame in curves(records, params.metric).items():
            write_csv(args.plots_dir / variant / f"{model}-{penalty}.csv", frame)
        write_json(args.metrics, result)
        run.log_metrics(result)
        for f in sorted(args.out_dir.iterdir()):
            run.log_artifact(f, "cdep")
    log.info("CDEP comparison:\n%s", table)


if __name__ == "__main__":
    exit_with(run_main(main, None))
