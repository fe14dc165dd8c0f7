"""Stage ``explain``: attributions and interactions of one trained model on a fixed test sample.

    python -m stages.explain --dataset mlp-openml-31

``--dataset`` names an entry of ``explain.models``. Writes ``data/explanations/<name>/``
(tabular models: ``attributions.npz`` with IG, EG and IH arrays; Emb-GAM: ``contributions.csv``,
each explained example's exact n-gram contributions beside IG's; plots as PNG) and
``metrics/explain/<name>.json`` (completeness statistics); the plots go to MLflow too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from glassworks.config import ExplainModel, ExplainParams, ExplainSettings, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.explain.summary import explain_embgam, explain_tabular
from glassworks.io import BUNDLE_KEYS, atomic_dir, read_pickle, write_json
from glassworks.models.emb_gam import EmbGAMClassifier
from glassworks.report.plots import (
    bar_interaction_plot,
    matrix_interaction_plot,
    scatter_plot,
    summary_plot,
)
from stages.common import exit_with, parser, provenance, run_main, stage_address, stage_run

STAGE = "explain"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[ExplainSettings, ExplainModel]:
    """All this stage reads: ``explain.settings`` and ``explain.models.<name>``."""
    params = load_section(params_path, STAGE, ExplainParams)
    return params.settings, params.target(dataset)


def _tabular(
    target: ExplainModel, settings: ExplainSettings, prepared_dir: Path, out: Path
) -> dict:
    bundle = read_pickle(Path(target.model) / "model.pkl", dict, BUNDLE_KEYS)
    prepared = read_prepared(prepared_dir / target.dataset)
    encoder, model = bundle["encoder"], bundle["model"]
    test = subsample(prepared.splits["test"], settings.n_examples, settings.seed)
    train = subsample(prepared.splits["train"], settings.background, settings.seed)
    names = encoder.feature_names_
    res = explain_tabular(
        model.module_,
        encoder.transform(test),
        encoder.transform(train),
        names,
        n_steps=settings.n_steps,
        ih_steps=settings.ih_steps,
        eg_samples=settings.eg_samples,
        seed=settings.seed,
        interactions=target.interactions,
    )
    np.savez_compressed(
        out / "attributions.npz",
        ig=res.ig,
        eg=res.eg,
        ih=res.ih,
        values=res.values,
        target=res.target,
        names=np.array(names),
    )
    summary_plot(
        res.ig,
        res.values,
        names,
        out / "summary_ig.png",
        title=f"{target.dataset}: Integrated Gradients",
    )
    summary_plot(
        res.eg,
        res.values,
        names,
        out / "summary_eg.png",
        title=f"{target.dataset}: Expected Gradients",
    )
    mean_ih = np.abs(res.ih).mean(0)
    top = np.argsort(-np.abs(res.ig).mean(0))[:12]
    labels = [names[i] for i in top]
    hessians = "Expected" if target.interactions == "expected" else "Integrated"
    matrix_interaction_plot(
        res.ih.mean(0)[np.ix_(top, top)],
        labels,
        out / "interactions.png",
        f"{target.dataset}: mean {hessians} Hessians (top features)",
    )
    bar_interaction_plot(res.ih.mean(0), names, out / "top_interactions.png", top_k=12)
    first = int(top[0])
    off = mean_ih[first].copy()
    off[first] = -1
    scatter_plot(
        res.ig,
        res.values,
        names,
        first,
        out / "scatter_top_feature.png",
        color_by=int(off.argmax()),
    )
    return res.stats


def _embgam(target: ExplainModel, settings: ExplainSettings, prepared_dir: Path, out: Path) -> dict:
    model = read_pickle(Path(target.model) / "model.pkl", EmbGAMClassifier)
    prepared = read_prepared(prepared_dir / target.dataset)
    test = subsample(prepared.splits["test"], settings.n_examples, settings.seed)
    res = explain_embgam(model, test.get_column("text").to_list())
    res.table().write_csv(out / "contributions.csv")
    summary_plot(
        res.ig,
        res.counts,
        res.vocab,
        out / "summary.png",
        title="Emb-GAM n-gram contributions to the predicted class (IG = exact)",
    )
    return res.stats


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for one ``explain.models`` entry."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--out-dir", type=Path, default=Path("data/explanations"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/explain"))
    args = p.parse_args(argv)

    settings, target = load_config(args.params, args.dataset)
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    run_params = {"settings": settings.model_dump(), "model": target.model_dump()}
    with stage_run(
        args,
        STAGE,
        args.dataset,
        params=run_params,
        tags=tags,
    ) as run:
        out = args.out_dir / args.dataset
        with atomic_dir(out) as tmp:
            explain = _embgam if target.kind == "embgam" else _tabular
            stats = explain(target, settings, args.prepared_dir, tmp)
        write_json(args.metrics_dir / f"{args.dataset}.json", stats)
        run.log_metrics(stats)
        for png in sorted(out.glob("*.png")):
            run.log_artifact(png, "plots")
    log.info("%s: %s", args.dataset, stats)


if __name__ == "__main__":
    exit_with(run_main(main, None))
