"""Stage ``explain_text``: explain one trained text model (a ``train_text.runs`` entry) on a fixed
sample of test texts with IG, EG, LIME, occlusion and a random floor; score their faithfulness.

    python -m stages.explain_text --dataset sst2-minilm

Reads ``data/models/text/<run>`` and ``data/prepared/<dataset>``; writes
``data/explanations/text/<run>/`` (``highlights.html``: every explainer's token scores per text;
``interactions_<i>.png`` / ``top_pairs_<i>.png``: token x token Integrated Hessians; the deletion
and insertion curves as PNG; ``faithfulness_comparison.csv``: which explainer wins under which
replacement), ``metrics/explain_text/<run>.json`` and the DVC plots
``plots/explain_text/<run>/{deletion,insertion}.csv``.

Metrics: per explainer (top level, as before) the mean deletion and insertion AUC (Petsiuk et al.
2018), comprehensiveness and sufficiency at top-k% (DeYoung et al. 2020) with deleted tokens set to
the explainers' own ``baseline`` embedding, completeness error for path methods and seconds per
text; under ``faithfulness`` the same metrics under every ``replacements`` entry (pad, mask,
random, remove) with mean, sd and 95% bootstrap interval over texts, and per replacement x metric
the winner (only when the paired interval of its difference to the runner-up excludes 0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import (
    ExplainTextParams,
    ExplainTextSettings,
    TextRun,
    parse_section,
    read_yaml,
    subsection,
)
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.errors import ConfigError
from glassworks.explain.metrics import faithfulness_by_replacement, mean_curves
from glassworks.explain.summary import TextComparison, compare_text_explainers
from glassworks.report.explained_text import ExplainedText, explanation_page, hidden_tokens
from glassworks.io import atomic_dir, write_csv, write_json
from glassworks.models.text_classifier import TextClassifier
from glassworks.report.plots import bar_interaction_plot, curves_plot, matrix_interaction_plot
from stages.common import exit_with, parser, provenance, run_main, stage_address, stage_run

STAGE = "explain_text"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[ExplainTextSettings, TextRun]:
    """The ``explain_text`` settings for run ``dataset`` and that ``train_text`` run."""
    data = read_yaml(params_path)
    settings = parse_section(data, STAGE, ExplainTextParams, params_path).for_run(dataset)
    runs = subsection(data, "train_text.runs", params_path)
    if dataset not in runs:
        raise ConfigError(f"train_text.runs: no run {dataset!r}; known: {', '.join(runs)}")
    return settings, parse_section(runs, dataset, TextRun, params_path)


def explained_texts(
    comp: TextComparison, label_names: Sequence[str], tokenizer: Any = None
) -> list[ExplainedText]:
    """One page item per text and explainer: prediction, token scores, completeness (IG: against
    ``f(x) - f(baseline)``, EG: against ``f(x)`` minus its drawn baselines' mean) and the
    deletion AUC."""
    items: list[ExplainedText] = []
    for i, tokens in enumerate(comp.enc.tokens):
        n = len(tokens)
        label = label_names[int(comp.target[i])]
        hidden = hidden_tokens(tokenizer, tokens) if tokenizer is not None else None
        for m, s in comp.scores.items():
            scores = s[i, :n].tolist()
            delta = float(comp.deltas[m][i]) if m in comp.deltas else None
            gap, reference = None, "f(x) − f(baseline)"
            if m == "ig":
                gap = float(comp.output_gap[i])
            elif delta is not None:  # EG: the gap to its own drawn baselines
                gap, reference = sum(scores) - delta, "f(x) − mean f(drawn baselines)"
            items.append(
                ExplainedText(
                    label=str(label),
                    probability=float(comp.probability[i]),
                    tokens=list(tokens),
                    scores=scores,
                    method=m,
                    delta=delta,
                    output_gap=gap,
                    reference=reference,
                    name=f"text {i}",
                    extra=f"deletion AUC {comp.faithfulness[m][i].deletion_auc:.3f}",
                    hidden=hidden,
                )
            )
    return items


def write_pages(
    comp: TextComparison,
    label_names: Sequence[str],
    out: Path,
    title: str,
    tokenizer: Any = None,
) -> None:
    """HTML highlights (one block per text and explainer) and interaction plots."""
    note = (
        "Token scores for the predicted class at the embedding layer. IG, LIME and occlusion "
        "start from the same baseline; EG averages over random-token baselines."
    )
    page = explanation_page(title, explained_texts(comp, label_names, tokenizer), note)
    (out / "highlights.html").write_text(page, encoding="utf-8")
    for j, (i, ih) in enumerate(zip(comp.interaction_rows, comp.interactions, strict=True)):
        labels = comp.enc.tokens[i]
        matrix_interaction_plot(
            ih.numpy(), labels, out / f"interactions_{j}.png", f"{title}: text {i}"
        )
        bar_interaction_plot(
            ih.numpy(), labels, out / f"top_pairs_{j}.png", title=f"{title}: text {i}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset`` (a ``train_text`` run name)."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--models-dir", type=Path, default=Path("data/models/text"))
    p.add_argument("--out-dir", type=Path, default=Path("data/explanations/text"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/explain_text"))
    p.add_argument("--plots-dir", type=Path, default=Path("plots/explain_text"))
    args = p.parse_args(argv)

    settings, run_cfg = load_config(args.params, args.dataset)
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    with stage_run(
        args,
        STAGE,
        args.dataset,
        params=settings.model_dump(),
        tags=tags,
    ) as run:
        model = TextClassifier.load(args.models_dir / args.dataset, device="auto")
        prepared = read_prepared(args.prepared_dir / run_cfg.dataset)
        sample = subsample(prepared.splits["test"], settings.n_texts, settings.seed)
        texts = sample["text"].to_list()
        start = time.perf_counter()
        comp = compare_text_explainers(
            model.module_,
            model.tokenizer_,
            texts,
            methods=settings.methods,
            baseline=settings.baseline,
            max_length=min(settings.max_length, model.max_length),
            n_steps=settings.n_steps,
            eg_samples=settings.eg_samples,
            lime_samples=settings.lime_samples,
            n_interactions=settings.n_interactions,
            ih_steps=settings.ih_steps,
            ks=settings.ks,
            seed=settings.seed,
        )
        explained = time.perf_counter() - start
        study = faithfulness_by_replacement(
            model.module_,
            model.tokenizer_,
            comp.enc,
            comp.scores,
            comp.target,
            settings.replacements,
            ks=settings.ks,
            seed=settings.seed,
            known={settings.baseline: comp.faithfulness},  # pad/mask: scored already
        )
        metrics = comp.summary()
        metrics["n_texts"] = len(texts)
        metrics["n_texts_requested"] = settings.n_texts
        if settings.n_texts_note:
            metrics["n_texts_note"] = settings.n_texts_note
        metrics["n_truncated"] = comp.enc.n_truncated
        metrics["baseline"] = settings.baseline
        metrics["faithfulness"] = study.summary(settings.seed)
        sec = {  # machine state: MLflow only, not the DVC metrics
            "explain": explained,
            "faithfulness": study.seconds,
            "total": time.perf_counter() - start,
        }
        out = args.out_dir / args.dataset
        curves = {m: mean_curves(r) for m, r in comp.faithfulness.items()}
        fractions = next(iter(curves.values()))[0]
        with atomic_dir(out) as tmp:
            write_pages(comp, prepared.label_names, tmp, args.dataset, model.tokenizer_)
            write_csv(tmp / "faithfulness_comparison.csv", pl.DataFrame(study.table()))
            for j, name in ((1, "deletion"), (2, "insertion")):
                curves_plot(
                    fractions,
                    {m: c[j] for m, c in curves.items()},
                    tmp / f"{name}.png",
                    f"{args.dataset}: {name} curve (mean over {len(texts)} test texts)",
                    "fraction of tokens " + ("removed" if j == 1 else "inserted"),
                    "probability of the predicted class",
                )
        plots = args.plots_dir / args.dataset
        for j, name in ((1, "deletion"), (2, "insertion")):
            table = {"fraction": np.round(fractions, 4)} | {m: c[j] for m, c in curves.items()}
            write_csv(plots / f"{name}.csv", pl.DataFrame(table))
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics({**metrics, "seconds": sec})
        run.log_dict(metrics, "metrics.json")
        run.log_artifact(out / "highlights.html", "explanations")
        run.log_artifact(out / "faithfulness_comparison.csv", "tables")
        for png in sorted(out.glob("*.png")):
            run.log_artifact(png, "plots")
    best = min(
        (m for m in metrics if isinstance(metrics[m], dict) and "deletion_auc" in metrics[m]),
        key=lambda m: metrics[m]["deletion_auc"],
    )
    auc = metrics[best]["deletion_auc"]
    log.info("%s: lowest deletion AUC: %s (%.4f)", args.dataset, best, auc)
    log.info(
        "%s: %d texts in %.1f s (explainers %.1f s, faithfulness under %s %.1f s)",
        args.dataset,
        metrics["n_texts"],
        sec["total"],
        sec["explain"],
        "/".join(metrics["faithfulness"]["replacements"]),
        sec["faithfulness"],
    )
    for rep, by_metric in metrics["faithfulness"]["comparison"].items():
        verdict = by_metric["deletion_auc"]["result"]
        log.info("%s: deletion AUC under %s: %s", args.dataset, rep, verdict)
    for rep, reason in metrics["faithfulness"]["skipped"].items():
        log.warning("%s: replacement %s skipped: %s", args.dataset, rep, reason)


if __name__ == "__main__":
    exit_with(run_main(main, None))
