"""Stage ``prepare_sst_variants``: SST-2 with a spurious feature built into train only (CDEP).

    python -m stages.prepare_sst_variants --variant decoy

Reads ``data/prepared/sst2``; writes ``data/variants/<variant>/`` (``train`` biased, ``valid`` and
``test`` clean, ``probe`` = test texts with the spurious words, ``reference`` = the unbiased train
texts, as parquet, and ``schema.json`` with the spurious words and the rule) and
``metrics/prepare_sst_variants/<variant>.json`` (rows per split, share of texts with a spurious
word per split).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import PrepareSstVariantsParams, load_section
from glassworks.data import read_prepared, write_prepared
from glassworks.data.variants import make_variant, variant_metrics
from glassworks.errors import ConfigError
from glassworks.io import write_json
from stages.common import exit_with, run_main, start

STAGE = "prepare_sst_variants"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--out-dir": "data/variants",
    "--metrics-dir": f"metrics/{STAGE}",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, variant: str) -> PrepareSstVariantsParams:
    """All this stage reads: ``prepare_sst_variants`` (``variant`` must be listed)."""
    params = load_section(params_path, STAGE, PrepareSstVariantsParams)
    if variant not in params.variants:
        raise ConfigError(
            f"{STAGE}.variants: {variant!r} is not listed (known: {', '.join(params.variants)})"
        )
    return params


def main(argv: Sequence[str] | None = None) -> None:
    """Build the variant ``--variant`` (decoy or gender)."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item="variant")
    args, params = st.args, st.config
    with st.run(params.model_dump()) as run:
        source = read_prepared(args.prepared_dir / params.dataset)
        variant = make_variant(source, args.variant, params.seed, params.min_words)  # type: ignore[arg-type]
        out = args.out_dir / args.variant
        write_prepared(variant, out)
        metrics = variant_metrics(variant)
        write_json(args.metrics_dir / f"{args.variant}.json", metrics)
        run.log_metrics(metrics)
        run.log_artifact(out / "schema.json")
    log.info("%s: %s", args.variant, metrics["rows"])


if __name__ == "__main__":
    exit_with(run_main(main, None))
