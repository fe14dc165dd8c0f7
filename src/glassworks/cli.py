"""The ``glassworks`` console script (an edge: it reads argv and the working tree).

glassworks summary                          what the pipeline produced, and how to review it
glassworks explain-text --model M "a text"   predict and highlight each token's contribution
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from glassworks.report.overview import flatten, fmt_summary
from glassworks.selection import RULE


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.1e}"
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary(root: Path, console: Console) -> int:
    """Print one table per stage from ``metrics/<stage>/*.json``."""
    metrics_root = root / "metrics"
    stages = (
        sorted(p for p in metrics_root.glob("*") if p.is_dir()) if metrics_root.exists() else []
    )
    if not stages:
        console.print("[yellow]No metrics yet: run `make run` (or `dvc repro`) first.[/]")
        return 1
    for stage_dir in stages:
        files = sorted(stage_dir.glob("*.json"))
        if stage_dir.name == "prepare":
            table = Table(title="prepare: data/prepared/<dataset>/{train,valid,test}.parquet")
            for col in ("dataset", "train", "valid", "test", "total", "classes", "dropped"):
                table.add_column(col, justify="left" if col in ("dataset", "dropped") else "right")
            for f in files:
                m = json.loads(f.read_text())
                rows = m["rows"]
                dropped = ", ".join(f"{k} {v}" for k, v in m.get("dropped", {}).items() if v)
                table.add_row(
                    f.stem,
                    *(f"{rows[k]:,}" for k in ("train", "valid", "test", "total")),
                    str(len(m["class_counts"]["train"])),
                    dropped or "-",
                )
        elif stage_dir.name == "embed":
            table = Table(
                title="embed: data/embeddings/<dataset>/ (n-grams embedded via the cache)"
            )
            # cache hits and throughput are machine state: in the MLflow run, not the metrics
            cols = ("texts", "ngrams_total", "ngrams_unique", "unique_ratio")
            table.add_column("dataset")
            for col in cols:
                table.add_column(col.replace("ngrams_", "").replace("_", " "), justify="right")
            for f in files:
                m = json.loads(f.read_text())
                table.add_row(f.stem, *(_fmt(m.get(c)) for c in cols))
        elif stage_dir.name == "train_embgam":
            table = Table(title="train_embgam: test accuracy (macro-F1) · data/models/embgam/")
            table.add_column("dataset")
            for col in ("Emb-GAM", "bag-of-n-grams", "majority", "Emb-GAM QWK"):
                table.add_column(col, justify="right")
            for f in files:
                m = json.loads(f.read_text())
                cells = [
                    f"{m[k]['accuracy']:.3f} ({m[k]['macro_f1']:.3f})"
                    for k in ("embgam", "bag_of_ngrams", "majority")
                ]
                table.add_row(f.stem, *cells, _fmt(m["embgam"].get("qwk")))
        elif stage_dir.name == "explain":
            table = Table(title="explain: completeness of attributions · data/explanations/")
            cols = {
                "IG rel. delta (max)": "ig_completeness_relative.max",
                "EG rel. delta (median)": "eg_completeness_relative.median",
                "IH total rel. err (max)": "ih_total_relative.max",
                "IH rows vs IG (max)": "ih_rows_vs_ig_relative.max",
                "Emb-GAM: IG vs exact (max abs)": "ig_vs_exact_max_abs",
            }
            table.add_column("model")
            for title in cols:
                table.add_column(title, justify="right")
            for f in files:
                m = flatten(json.loads(f.read_text()))
                table.add_row(f.stem, *(_fmt(m.get(k)) for k in cols.values()))
        elif stage_dir.name == "train_text":
            table = Table(
                title="train_text: mean ± sd [95% bootstrap CI] over seeds · "
                "data/models/text/<run>/ (first seed; seed-<s>/ the others)"
            )
            cols = ("valid_accuracy", "test_accuracy", "test_macro_f1", "test_qwk")
            table.add_column("run")
            table.add_column("seeds", justify="right")
            for col in cols:
                table.add_column(col.replace("_", " "), justify="right")
            table.add_column("n train", justify="right")
            for f in files:
                m = json.loads(f.read_text())
                table.add_row(
                    f.stem,
                    str(len(m.get("seeds", []))),
                    *(fmt_summary(m.get(c)) for c in cols),
                    _fmt(m.get("n_train")),
                )
        elif stage_dir.name == "explain_text":
            table = Table(
                title="explain_text: deletion AUC (lower = more faithful) / insertion AUC · "
                "data/explanations/text/<run>/highlights.html"
            )
            methods = ("ig", "eg", "lime", "kernel_shap", "occlusion", "random")
            data = {f.stem: json.loads(f.read_text()) for f in files}
            shown = [m for m in methods if any(m in d for d in data.values())]
            table.add_column("run")
            for m in shown:
                table.add_column(m.upper() if len(m) <= 3 else m, justify="right")
            table.add_column("IG completeness (rel.)", justify="right")
            for name, d in data.items():
                cells = [
                    f"{d[m]['deletion_auc']:.3f} / {d[m]['insertion_auc']:.3f}" if m in d else "-"
                    for m in shown
                ]
                table.add_row(name, *cells, _fmt(d.get("ig", {}).get("completeness_rel_max")))
        elif stage_dir.name == "train_cdep":
            table = _train_cdep_table(stage_dir)
        elif stage_dir.name == "train_tabular":
            table = _train_tabular_table(stage_dir)
        elif stage_dir.name == "explain_tabular":
            table = Table(
                title="explain_tabular: agreement (rank correlation) with INN's decomposition "
                "W(x)·x, explaining f / with the hypernetwork frozen · XAI-Bench faithfulness on "
                "TabResNet · data/explanations/tabular/"
            )
            methods = ("ig", "eg", "lime", "kernel_shap")
            table.add_column("dataset")
            for m in methods:
                table.add_column(f"INN {m} ρ f / frozen", justify="right")
            for m in methods:
                table.add_column(f"TabResNet {m} faith.", justify="right")
            for f in files:
                d = json.loads(f.read_text())
                agree = d.get("agreement_with_inn_decomposition", {})
                full = agree.get("full_model", {}).get("means", d.get("inn", {}))
                frozen = agree.get("frozen_hypernetwork", {}).get("means", {})
                table.add_row(
                    f.stem,
                    *(
                        f"{_fmt(full.get(m, {}).get('spearman'))} / "
                        f"{_fmt(frozen.get(m, {}).get('spearman'))}"
                        for m in methods
                    ),
                    *(_fmt(d["tabresnet"].get(m, {}).get("faithfulness")) for m in methods),
                )
        else:
            flat = {f.stem: flatten(json.loads(f.read_text())) for f in files}
            keys = sorted(
                {
                    k
                    for m in flat.values()
                    for k, v in m.items()
                    if isinstance(v, int | float) and "per_class" not in k
                }
            )[:8]
            table = Table(title=f"{stage_dir.name}: metrics/{stage_dir.name}/")
            table.add_column("dataset")
            for k in keys:
                table.add_column(k.replace("_", " "), justify="right")
            for name, m in flat.items():
                table.add_row(name, *(_fmt(m.get(k)) for k in keys))
        console.print(table)
    cdep = metrics_root / "compare_cdep.json"
    if cdep.exists():
        console.print(_compare_cdep_table(json.loads(cdep.read_text())))
    compare = metrics_root / "compare_tabular.json"
    if compare.exists():
        c = json.loads(compare.read_text())
        table = Table(
            title=f"compare_tabular: over {c['n_datasets']} datasets, ranks by test AUROC "
            f"(Nemenyi CD {c['critical_difference']:.2f}) · data/reports/tabular/comparison.md"
        )
        for col in ("method", "mean AUROC", f"AUROC / {c['reference']}", "mean rank"):
            table.add_column(col, justify="left" if col == "method" else "right")
        for m, rank in sorted(c["mean_rank"].items(), key=lambda kv: kv[1]):
            table.add_row(
                m,
                _fmt(c["mean_auroc"].get(m)),
                _fmt(c["mean_normalized_auroc"].get(m)),
                _fmt(rank),
            )
        console.print(table)
    console.print(f"Selection rule (every choice, validation only): {RULE}")
    console.print(
        "Review runs in MLflow: [bold]make ui[/] then open http://127.0.0.1:5000 "
        "· metrics: [bold]dvc metrics show[/]"
    )
    return 0


def _train_cdep_table(stage_dir: Path) -> Table:
    """Variant x arm at the lambda chosen on validation: test accuracy over seeds, IG mass."""
    table = Table(
        title="train_cdep: SST-2 variants, each arm at its lambda chosen on validation accuracy; "
        "clean test accuracy mean ± sd [95% bootstrap CI] over seeds · data/reports/cdep/"
    )
    for col in ("variant", "model", "penalty", "lambda", "valid acc", "clean test acc",
                "IG mass", "seeds"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("variant", "model", "penalty") else "right")
    for f in sorted(stage_dir.glob("*/*.json")):
        model, _, penalty = f.stem.rpartition("-")
        chosen = json.loads(f.read_text()).get("chosen")
        if not chosen:
            continue
        table.add_row(
            f.parent.name,
            model,
            penalty,
            f"{chosen['lambda']:g}",
            fmt_summary(chosen.get("valid_accuracy")),
            fmt_summary(chosen.get("test_accuracy")),
            fmt_summary(chosen.get("ig_mass")),
            str(len(chosen.get("seeds", []))),
        )
    return table


def _compare_cdep_table(result: dict) -> Table:
    """CDEP's paired comparisons (over seeds and over test examples) and their verdicts."""
    table = Table(
        title="compare_cdep: A − B in clean test accuracy at each arm's chosen lambda "
        "(verdict only when both paired intervals exclude 0)"
    )
    for col in ("variant · model", "A − B", "Δ over seeds", "Δ over test examples", "verdict"):
        table.add_column(col, justify="right" if col.startswith("Δ") else "left")
    for key, entry in result.items():
        if key == "selection" or not isinstance(entry, dict):
            continue
        for c in entry.get("comparisons", []):
            ex = (c.get("examples") or {}).get("difference")
            ex_text = (
                f"{ex['mean']:+.3f} [{ex['ci95'][0]:+.3f}, {ex['ci95'][1]:+.3f}]" if ex else "-"
            )
            table.add_row(
                key.replace(".", " · "),
                f"{c['a']} − {c['b']}",
                fmt_summary(c["seeds"]["difference"]),
                ex_text,
                c["verdict"],
            )
    return table


def _train_tabular_table(stage_dir: Path) -> Table:
    """Datasets x methods: mean +- std test AUROC over seeds."""
    results = {
        (f.stem, f.parent.name): json.loads(f.read_text()) for f in stage_dir.glob("*/*.json")
    }
    datasets = sorted({d for d, _ in results})
    methods = sorted({m for _, m in results})
    table = Table(title="train_tabular: test AUROC, mean ± std over seeds · data/tabular/")
    table.add_column("dataset")
    for m in methods:
        table.add_column(m.replace("_", " "), justify="right")
    for d in datasets:
        cells = []
        for m in methods:
            r = results.get((d, m))
            a = r["test_auroc"] if r else None
            cells.append(f"{a['mean']:.4f} ± {a['std']:.4f}" if a else "-")
        table.add_row(d, *cells)
    return table


def _load_text_model(ref: str):  # noqa: ANN202 - a TextClassifier
    """A model folder (``data/models/text/<run>``) or an MLflow model URI."""
    from glassworks.models.text_classifier import TextClassifier

    if ":/" in ref:  # runs:/..., models:/..., mlflow-artifacts:/...
        from glassworks import tracking

        return tracking.load_text_model(ref)
    return TextClassifier.load(ref, device="auto")


def explain_text(
    model_ref: str, texts: Sequence[str], html_path: Path, n_steps: int, console: Console
) -> int:
    """Predict each text, print its tokens coloured by Integrated Gradients, write an HTML page."""
    from glassworks.explain.text import explain_texts
    from glassworks.io import atomic_path
    from glassworks.report.html import Highlighted, highlight_page

    if not texts or any(not t.strip() for t in texts):
        console.print("[red]error:[/] empty text: give at least one non-blank text to explain")
        return 1
    try:
        model = _load_text_model(model_ref)
    except Exception as exc:  # noqa: BLE001 - the command's edge: one line, no traceback
        console.print(f"[red]error:[/] cannot load model {model_ref!r}: {exc}")
        return 1
    names = model.label_names_
    proba = model.predict_proba(list(texts))
    exp = explain_texts(
        model.module_, model.tokenizer_, texts, n_steps=n_steps, max_length=model.max_length
    )
    items = []
    for i, text in enumerate(texts):
        k = int(proba[i].argmax())
        scores = exp.scores[i].tolist()
        scale = max((abs(v) for v in scores), default=1.0) or 1.0
        line = Text()
        for tok, v in zip(exp.tokens[i], scores, strict=True):
            a = min(abs(v) / scale, 1.0)
            shade = int(255 * (1 - 0.75 * a))
            color = f"rgb({shade},255,{shade})" if v >= 0 else f"rgb(255,{shade},{shade})"
            line.append(tok, style=f"black on {color}")
            line.append(" ")
        caption = (
            f"{names[k]} (p={proba[i, k]:.3f}) · IG completeness delta {float(exp.delta[i]):+.1e}"
        )
        console.print(f"[bold]{caption}[/]")
        console.print(line)
        full = len(model.tokenizer_(text)["input_ids"])
        if full > model.max_length:
            console.print(
                f"[yellow]note:[/] {full} tokens; the model reads (and IG explains) only the first "
                f"{model.max_length}"
            )
        items.append(Highlighted(exp.tokens[i], scores, f"{text[:80]!r}: {caption}"))
    note = "Integrated Gradients at the embedding layer, for the predicted class."
    with atomic_path(html_path) as tmp:
        tmp.write_text(highlight_page(f"glassworks: {model_ref}", items, note), encoding="utf-8")
    console.print(f"HTML: {html_path}")
    return 0


def verify_cache(root: Path, console: Console) -> int:
    """Check every namespace of the embedding cache (checksums, keys stored twice, temp files of
    killed writers, shards from before checksums sealed); 1 if anything was damaged."""
    from glassworks.embed.cache import EmbeddingCache

    folders = sorted(p.parent for p in Path(root).glob("*/identity.json"))
    if not folders:
        console.print(f"[yellow]no embedding cache under {root}[/]")
        return 0
    table = Table("namespace", "model", "shards", "keys", "stored twice", "sealed", "temp removed",
                  "corrupt (moved aside)")  # fmt: skip
    bad = False
    for folder in folders:
        cache = EmbeddingCache.open_dir(folder)
        r = cache.verify()
        bad |= not r.ok
        model = str(json.loads(cache.identity).get("model", "?"))[-40:]
        counts = (r.shards, r.keys, r.duplicate_keys, r.sealed, r.temp_files_removed)
        table.add_row(folder.name, model, *map(str, counts), ", ".join(r.corrupt) or "0")
    console.print(table)
    if bad:
        console.print("[red]damaged shards were moved aside; the next embed run re-embeds them[/]")
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glassworks`` command."""
    p = argparse.ArgumentParser(
        prog="glassworks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="tables of what the pipeline produced")
    s.add_argument("--root", type=Path, default=Path("."))
    e = sub.add_parser("explain-text", help="predict and explain texts with a trained text model")
    e.add_argument(
        "--model",
        required=True,
        help="model folder (data/models/text/<run>) or MLflow URI (runs:/<id>/model)",
    )
    e.add_argument("--html", type=Path, default=Path("explanation.html"), help="HTML page to write")
    e.add_argument("--steps", type=int, default=32, help="Gauss-Legendre steps for IG")
    e.add_argument("texts", nargs="+", help="texts to explain")
    v = sub.add_parser("verify-cache", help="check the embedding cache's checksums")
    v.add_argument("--root", type=Path, default=Path(".cache/embeddings"))
    args = p.parse_args(argv)
    if args.command == "verify-cache":
        return verify_cache(args.root, Console())
    if args.command == "explain-text":
        return explain_text(args.model, args.texts, args.html, args.steps, Console())
    if args.command == "summary":
        # a pipe (make, CI logs) gets a readable width instead of rich's 80 columns
        return summary(args.root, Console(width=None if sys.stdout.isatty() else 120))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
