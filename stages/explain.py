"""Stage ``explain``: attributions and interactions of one trained model on a fixed test sample.

    python -m stages.explain --model mlp-openml-31

``--model`` names an entry of ``explain.models``. Writes ``data/explanations/<name>/``
(tabular models: ``attributions.npz`` with IG, EG and IH arrays; Emb-GAM: ``contributions.csv``,
each explained example's exact n-gram contributions beside IG's; plots as PNG) and
``metrics/explain/<name>.json`` (completeness statistics); the plots go to MLflow too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glassworks.config import ExplainModel, ExplainParams, ExplainSettings, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.explain.summary import encoded_sample, explain_embgam, explain_tabular
from glassworks.io import BUNDLE_KEYS, atomic_dir, read_pickle, write_csv, write_json, write_npz
from glassworks.report.explanations import embgam_explanation_plot, tabular_explanation_plots
from stages.common import exit_with, log_files, run_main, start

STAGE = "explain"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--out-dir": "data/explanations",
    "--metrics-dir": "metrics/explain",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[ExplainSettings, ExplainModel]:
    """All this stage reads: ``explain.settings`` and ``explain.models.<name>``."""
    params = load_section(params_path, STAGE, ExplainParams)
    return params.settings, params.target(dataset)


def _tabular(
    target: ExplainModel, settings: ExplainSettings, prepared_dir: Path, out: Path
) -> dict[str, Any]:
    bundle = read_pickle(Path(target.model) / "model.pkl", dict, BUNDLE_KEYS)
    prepared = read_prepared(prepared_dir / target.dataset)
    encoder, model = bundle["encoder"], bundle["model"]
    x, background = encoded_sample(
        encoder, prepared.splits, settings.n_examples, settings.background, settings.seed
    )
    res = explain_tabular(
        model.module_,
        x,
        background,
        encoder.feature_names_,
        n_steps=settings.n_steps,
        ih_steps=settings.ih_steps,
        eg_samples=settings.eg_samples,
        seed=settings.seed,
        interactions=target.interactions,
    )
    write_npz(out / "attributions.npz", **res.arrays())
    tabular_explanation_plots(res, out, target.dataset, target.interactions)
    return res.stats


def _embgam(
    target: ExplainModel, settings: ExplainSettings, prepared_dir: Path, out: Path
) -> dict[str, Any]:
    # scikit-learn: only for Emb-GAM
    from glassworks.models.emb_gam import EmbGAMClassifier, EmbGAMRegressor

    model = read_pickle(Path(target.model) / "model.pkl", (EmbGAMClassifier, EmbGAMRegressor))
    prepared = read_prepared(prepared_dir / target.dataset)
    test = subsample(prepared.splits["test"], settings.n_examples, settings.seed)
    res = explain_embgam(model, test.get_column("text").to_list())
    write_csv(out / "contributions.csv", res.table())
    embgam_explanation_plot(res, out)
    return res.stats


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for one ``explain.models`` entry."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item="model")
    args, (settings, target) = st.args, st.config
    with st.run({"settings": settings.model_dump(), "model": target.model_dump()}) as run:
        out = args.out_dir / args.model
        with atomic_dir(out) as tmp:
            explain = _embgam if target.kind == "embgam" else _tabular
            stats = explain(target, settings, args.prepared_dir, tmp)
        write_json(args.metrics_dir / f"{args.model}.json", stats)
        run.log_metrics(stats)
        log_files(run, out, "plots", (".png",))
    log.info("%s: %s", args.model, stats)


if __name__ == "__main__":
    exit_with(run_main(main, None))
