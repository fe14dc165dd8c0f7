"""Stage ``prepare``: read one raw dataset, split it, write parquet + schema + metrics.

    python -m stages.prepare --dataset sst2

Outputs ``data/prepared/<dataset>/{train,valid,test}.parquet`` and ``schema.json`` (one DVC output
directory, replaced atomically) and ``metrics/prepare/<dataset>.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import (
    DatasetParams,
    PrepareParams,
    SplitParams,
    load_section,
    read_yaml,
    unwired,
)
from glassworks.data import prepare_dataset, write_prepared
from glassworks.io import write_json
from stages.common import exit_with, run_main, start

STAGE = "prepare"
OPTIONS = {
    "--raw-dir": "data/raw",
    "--out-dir": "data/prepared",
    "--metrics-dir": "metrics/prepare",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[SplitParams, DatasetParams]:
    """All this stage reads from params.yaml: ``prepare.split``, ``prepare.datasets.<dataset>``."""
    params = load_section(params_path, STAGE, PrepareParams)
    return params.split, params.dataset(dataset)


def warn_unwired(params_path: Path, dataset: str, entry: DatasetParams, task: str) -> None:
    """A warning (no output changes) when no model stage of the dataset's kind lists it."""
    missing = unwired(read_yaml(params_path), dataset, entry, task)
    if missing:
        log.warning(
            "%s is prepared but no model stage lists it: add it to %s in params.yaml "
            "(`glassworks add-dataset` does this)",
            dataset,
            " and ".join(missing),
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS)
    args, (split, dataset) = st.args, st.config
    with st.run({"split": split.model_dump(), "dataset": dataset.model_dump()}) as run:
        prepared = prepare_dataset(args.dataset, dataset, split, args.raw_dir)
        warn_unwired(args.params, args.dataset, dataset, prepared.task)
        out_dir = args.out_dir / args.dataset
        write_prepared(prepared, out_dir)
        metrics = prepared.metrics()
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics({"rows": metrics["rows"], "dropped": metrics["dropped"]})
        run.log_dict(metrics, "metrics.json")
        run.log_artifact(out_dir / "schema.json")
    log.info("%s: %s", args.dataset, metrics["rows"])


if __name__ == "__main__":
    exit_with(run_main(main, None))
