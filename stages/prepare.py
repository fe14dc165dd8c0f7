"""Stage ``prepare``: read one raw dataset, split it, write parquet + schema + metrics.

    python -m stages.prepare --dataset sst2

Outputs ``data/prepared/<dataset>/{train,valid,test}.parquet`` and ``schema.json`` (one DVC output
directory, replaced atomically) and ``metrics/prepare/<dataset>.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import DatasetParams, PrepareParams, SplitParams, load_section
from glassworks.data import prepare_dataset, write_prepared
from glassworks.io import write_json
from stages.common import exit_with, parser, provenance, run_main, stage_address, stage_run

STAGE = "prepare"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[SplitParams, DatasetParams]:
    """All this stage reads from params.yaml: ``prepare.split``, ``prepare.datasets.<dataset>``."""
    params = load_section(params_path, STAGE, PrepareParams)
    return params.split, params.dataset(dataset)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    p = parser(STAGE, __doc__)
    p.add_argument("--raw-dir", type=Path, default=Path("data/raw"))
    p.add_argument("--out-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/prepare"))
    args = p.parse_args(argv)

    split, dataset = load_config(args.params, args.dataset)
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    run_params = {"split": split.model_dump(), "dataset": dataset.model_dump()}

    with stage_run(
        args,
        STAGE,
        args.dataset,
        params=run_params,
        tags=tags,
    ) as run:
        prepared = prepare_dataset(args.dataset, dataset, split, args.raw_dir)
        out_dir = args.out_dir / args.dataset
        write_prepared(prepared, out_dir)
        metrics = prepared.metrics()
        metrics_path = args.metrics_dir / f"{args.dataset}.json"
        write_json(metrics_path, metrics)
        run.log_metrics({"rows": metrics["rows"], "dropped": metrics["dropped"]})
        run.log_dict(metrics, "metrics.json")
        run.log_artifact(out_dir / "schema.json")
    log.info("%s: %s", args.dataset, metrics["rows"])


if __name__ == "__main__":
    exit_with(run_main(main, None))
