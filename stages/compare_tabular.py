"""Stage ``compare_tabular``: the INN paper's comparison over every ``train_tabular`` result.

    python -m stages.compare_tabular

Reads ``data/tabular/<method>/<dataset>/<seed>/output_info.json`` and writes
``data/reports/tabular/`` (``comparison.md``, ``ranks.png``, ``normalized_auroc.png``,
``records.csv``) and ``metrics/compare_tabular.json`` (per-method means, mean ranks, the goals);
all of it goes to MLflow too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from glassworks.config import CompareTabularParams, TrainTabularParams, load_section
from glassworks.errors import ConfigError, DataError
from glassworks.io import atomic_dir, write_json
from glassworks.report.comparison import compare, goals, markdown, normalized_plot, rank_plot
from stages.common import exit_with, parser, provenance, run_main, stage_run

STAGE = "compare_tabular"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def read_records(results: Path, methods: Sequence[str], datasets: Sequence[str]) -> pl.DataFrame:
    """One row per ``output_info.json`` of the listed methods and datasets."""
    rows = []
    for m in methods:
        for d in datasets:
            folder = results / m / d
            files = sorted(folder.glob("*/output_info.json"))
            if not files:
                raise DataError(folder, "no train_tabular results (run `dvc repro train_tabular`)")
            for f in files:
                try:
                    info = json.loads(f.read_text())
                    rows.append(
                        {
                            k: info[k]
                            for k in ("dataset", "method", "seed", "test_auroc", "train_time")
                        }
                    )
                except (json.JSONDecodeError, KeyError) as exc:
                    raise DataError(f, f"not a train_tabular output_info.json ({exc})") from None
    return pl.DataFrame(rows)


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
    p = parser(STAGE, __doc__, per_dataset=False)
    p.add_argument("--results", type=Path, default=Path("data/tabular"))
    p.add_argument("--out-dir", type=Path, default=Path("data/reports/tabular"))
    p.add_argument("--metrics", type=Path, default=Path("metrics/compare_tabular.json"))
    args = p.parse_args(argv)

    params, datasets, methods = load_config(args.params)
    records = read_records(args.results, methods, datasets)
    comp = compare(records, params.reference)
    table = markdown(comp, methods)
    result = {
        "reference": params.reference,
        "critical_difference": comp.critical_difference,
        "n_datasets": comp.n_datasets,
        "mean_rank": dict(comp.summary.select("method", "mean_rank").iter_rows()),
        "mean_normalized_auroc": dict(comp.summary.select("method", "mean_normalized").iter_rows()),
        **goals(comp, records),
    }
    tags = provenance(args.root, STAGE)
    with stage_run(
        args,
        STAGE,
        "all",
        params=params.model_dump(),
        tags=tags,
    ) as run:
        with atomic_dir(args.out_dir) as tmp:
            (tmp / "comparison.md").write_text(table)
            comp.table.write_csv(tmp / "table.csv")
            records.write_csv(tmp / "records.csv")
            rank_plot(comp, tmp / "ranks.png")
            normalized_plot(records, params.reference, tmp / "normalized_auroc.png")
        write_json(args.metrics, result)
        run.log_metrics(result)
        for f in sorted(args.out_dir.iterdir()):
            run.log_artifact(f, "comparison")
    log.info("tabular comparison:\n%s", table)


if __name__ == "__main__":
    exit_with(run_main(main, None))
