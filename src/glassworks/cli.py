"""The ``glassworks`` console script (an edge: it reads argv and the working tree).

glassworks summary                          what the pipeline produced, and how to review it
glassworks summary --timings                each stage's wall time, from its MLflow runs
glassworks explain-text --model M "a text"   predict and highlight each token's contribution
glassworks add-dataset FILE --label COLUMN  bring your own CSV/TSV/JSONL/Parquet/ARFF/HF dataset
glassworks compare-explanations A B         explanation drift between two model versions
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

from glassworks.report.claims import HEADER, Claim, paper_claims, text_run_datasets
from glassworks.report.tables import Rendered, summary_tables
from glassworks.selection import RULE


def _rich(table: Rendered) -> Table:
    """A rendered spec table as a rich table (names left, numbers right)."""
    out = Table(title=table.title)
    for label, left in zip(table.labels, table.left, strict=True):
        out.add_column(label, justify="left" if left else "right")
    for row in table.rows:
        out.add_row(*row)
    return out


def _claims(root: Path) -> list[Claim]:
    """The paper claims from ``root``'s metrics, with ``root/params.yaml``'s text runs."""
    from glassworks.config import read_yaml, subsection

    path = root / "params.yaml"
    runs = subsection(read_yaml(path), "train_text.runs", path) if path.is_file() else {}
    return paper_claims(root / "metrics", text_run_datasets(runs), root / "benchmarks/results")


def _claims_table(claims: list[Claim]) -> Table:
    """The claims as a rich table, each note under its claim (dimmed)."""
    out = Table(title="Paper claims: the paper's figure, ours [95% interval], the verdict")
    for label in HEADER:
        out.add_column(label, overflow="fold")
    styles = {"reached": "green", "not reached": "red", "not separated": "yellow"}
    for c in claims:
        claim = Text(c.claim)
        if c.note:
            claim.append("\n" + c.note, style="dim")
        verdict = Text(c.verdict, style=styles.get(c.verdict, ""))
        out.add_row(c.paper, claim, c.paper_figure, c.ours, verdict)
    return out


def summary(root: Path, console: Console) -> int:
    """Print one table per stage (:data:`glassworks.report.tables.SPECS`) from ``metrics/``, then
    each paper's headline claim against ours (:mod:`glassworks.report.claims`)."""
    tables = summary_tables(root / "metrics")
    if not tables:
        console.print("[yellow]No metrics yet: run `make run` (or `dvc repro`) first.[/]")
        return 1
    for table in tables:
        console.print(_rich(table))
    console.print(_claims_table(_claims(root)))
    console.print(f"Selection rule (every choice, validation only): {RULE}")
    console.print(
        "Review runs in MLflow: [bold]make ui[/] then open http://127.0.0.1:5000 "
        "· metrics: [bold]dvc metrics show[/]"
    )
    return 0


def timings(root: Path, console: Console) -> int:
    """Print each stage address's wall time (its latest MLflow runs), slowest first, with its
    share of the total, then the same per stage (:func:`glassworks.report.timings.stage_timings`);
    the store is ``MLFLOW_TRACKING_URI`` or ``root``'s. 1 when the store has no stage runs."""
    from glassworks import tracking  # imports mlflow: only when asked for timings
    from glassworks.errors import TrackingError
    from glassworks.report.timings import RunRecord, fmt_duration, fmt_share, stage_timings

    try:
        rows = tracking.stage_run_records(root)
    except TrackingError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    fields = RunRecord.__dataclass_fields__
    result = stage_timings(RunRecord(**{k: v for k, v in r.items() if k in fields}) for r in rows)
    if not result.stages:
        console.print(
            f"[yellow]No stage runs in {tracking.redact(tracking.tracking_uri(root))}: "
            "run `make run` (or `dvc repro`) first.[/]"
        )
        return 1
    total = fmt_duration(result.total_seconds)
    whole = "100.0%" if result.total_seconds > 0 else "—"
    table = Table(title="Wall time per stage (latest runs)", show_footer=True)
    table.add_column("stage@item", footer="total")
    table.add_column("runs", justify="right", footer=str(sum(s.runs for s in result.stages)))
    table.add_column("time", justify="right", footer=total)
    table.add_column("share", justify="right", footer=whole)
    table.add_column("status")
    for s in result.stages:
        status = s.status if s.status == "FINISHED" else f"[yellow]{s.status}[/]"
        table.add_row(s.address, str(s.runs), fmt_duration(s.seconds), fmt_share(s.share), status)
    console.print(table)
    families = Table(title="Per stage", show_footer=True)
    families.add_column("stage", footer="total")
    families.add_column("items", justify="right", footer=str(len(result.stages)))
    families.add_column("runs", justify="right", footer=str(sum(f.runs for f in result.families)))
    families.add_column("time", justify="right", footer=total)
    families.add_column("share", justify="right", footer=whole)
    for f in result.families:
        families.add_row(
            f.stage, str(f.items), str(f.runs), fmt_duration(f.seconds), fmt_share(f.share)
        )
    console.print(families)
    note = "Wall time of each stage's latest run per run name (a rerun replaces older runs)"
    if result.unfinished:
        note += f"; {result.unfinished} stage(s) not FINISHED: RUNNING runs count no time"
    console.print(note + ".")
    return 0


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
    import unicodedata

    from glassworks.io import atomic_path
    from glassworks.report.explained_text import explanation_page, predict_and_explain

    def visible(token: str) -> str:  # bidi overrides and other controls shown, not obeyed
        return "".join(
            f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") else c for c in token
        )

    if not texts or any(not t.strip() for t in texts):
        console.print("[red]error:[/] empty text: give at least one non-blank text to explain")
        return 1
    try:
        model = _load_text_model(model_ref)
    except Exception as exc:  # noqa: BLE001 - the command's edge: one line, no traceback
        console.print(f"[red]error:[/] cannot load model {model_ref!r}: {exc}")
        return 1
    explained = predict_and_explain(model, texts, n_steps=n_steps)
    for e in explained:
        shown = e.highlighted().shown()  # special tokens left out, as on the page
        scale = max((abs(v) for _, v in shown), default=1.0) or 1.0
        line = Text()
        for tok, v in shown:
            a = min(abs(v) / scale, 1.0)
            shade = int(255 * (1 - 0.75 * a))
            color = f"rgb({shade},255,{shade})" if v >= 0 else f"rgb(255,{shade},{shade})"
            line.append(visible(tok), style=f"black on {color}")
            line.append(" ")
        console.print(Text(e.summary(), style="bold"))
        console.print(line)
        if e.truncated:
            console.print(
                f"[yellow]note:[/] {e.n_tokens} tokens; the model reads (and IG explains) only the "
                f"first {e.max_length}"
            )
    with atomic_path(html_path) as tmp:
        tmp.write_text(explanation_page(f"glassworks: {model_ref}", explained), encoding="utf-8")
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


def _prepared_test(tags: dict[str, str], root: Path) -> Path | None:
    """The test split of the prepared dataset a model's run read (its ``dvc.dep.`` tags)."""
    for key in sorted(tags):
        dep = key.removeprefix("dvc.dep.")
        if key.startswith("dvc.dep.data/prepared/") and dep.count("/") == 2:
            return root / dep / "test.parquet"
    return None


def compare_explanations(
    uri_a: str,
    uri_b: str,
    data: Path | None,
    n_rows: int,
    top_k: int,
    card: Path,
    root: Path,
    log_run: bool,
    console: Console,
) -> int:
    """Explain the same test rows with both models and print and write their drift (see
    :mod:`glassworks.explain.drift`); log the card to MLflow unless ``log_run`` is False."""
    from glassworks import tracking
    from glassworks.io import atomic_path, read_parquet
    from glassworks.report.drift import compare_models, drift_card

    try:
        models = [tracking.load_model_bundle(u, root) for u in (uri_a, uri_b)]
        tags = tracking.model_run_tags(uri_a, root)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 1
    path = data or _prepared_test(tags, root)
    if path is None or not path.is_file():
        console.print(f"[red]error:[/] no test rows for {uri_a} (give --data PATH.parquet)")
        return 1
    frame = read_parquet(path).head(n_rows)
    try:
        drift, method, rows = compare_models(models[0], models[1], frame, top_k)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 1

    table = Table(title=f"explanation drift over {drift.n_rows} rows of {path}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in (
        ("Spearman of global importance", f"{drift.spearman:.3f}"),
        (f"top-{drift.top_k} Jaccard", f"{drift.jaccard:.3f}"),
        ("features shifted (KS, Holm)", str(drift.n_shifted)),
        ("top A", ", ".join(drift.top_a)),
        ("top B", ", ".join(drift.top_b)),
    ):
        table.add_row(key, value)
    console.print(table)
    page = drift_card(f"Explanation drift: {uri_a} vs {uri_b}", uri_a, uri_b, drift, method, rows)
    with atomic_path(card) as tmp:
        tmp.write_text(page, encoding="utf-8")
    console.print(f"card: {card}")
    if log_run:
        run_id = tracking.log_comparison(
            card, drift.summary(),
            {"glassworks.compared": f"{uri_a} vs {uri_b}", "glassworks.a": uri_a,
             "glassworks.b": uri_b},
            root,
        )  # fmt: skip
        console.print(f"MLflow run {run_id} (experiment compare_explanations)")
    return 0


def _add_dataset(args: argparse.Namespace) -> int:
    """``glassworks add-dataset``: errors are one red line, nothing half-written."""
    from glassworks.errors import GlassworksError
    from glassworks.onboarding import Request, add_dataset

    console = Console(width=None if sys.stdout.isatty() else 120)
    req = Request(
        path=args.file, label=args.label, text=args.text, task=args.task, name=args.name,
        source=args.source, id=args.id, group=args.group, given_split=args.given_split,
        hub_split=args.hub_split,
        categorical=args.categorical, numeric=args.numeric, drop_columns=args.drop,
        header=not args.no_header, delimiter=args.delimiter,
    )  # fmt: skip
    try:
        return add_dataset(req, args.root, console, dvc=not args.no_dvc)
    except GlassworksError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glassworks`` command."""
    p = argparse.ArgumentParser(
        prog="glassworks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="tables of what the pipeline produced")
    s.add_argument("--root", type=Path, default=Path("."))
    s.add_argument(
        "--timings",
        action="store_true",
        help="each stage's wall time from its MLflow runs, slowest first",
    )
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
    a = sub.add_parser(
        "add-dataset",
        help="inspect a data file, track it with DVC and add it to params.yaml",
        description="Read FILE as the prepare stage will, print what was inferred (rows, task, "
        "label distribution, column types, duplicates), copy it to data/raw/<format>/, track it "
        "with DVC and add its entry to params.yaml, wired into every stage that applies. "
        "FILE: .csv .tsv .jsonl .parquet .arff, a folder saved by datasets' save_to_disk, or "
        "hf:NAME[:CONFIG] (a Hugging Face hub dataset, downloaded once: needs a network).",
    )
    a.add_argument("file", help="the data file, saved dataset folder or hf:NAME[:CONFIG]")
    a.add_argument("--label", required=True, help="the label / target column")
    a.add_argument("--text", help="the text column (a text dataset); omit for a tabular one")
    a.add_argument("--task", choices=["binary", "multiclass", "ordinal", "regression"],
                   help="override the task inferred from the label column")  # fmt: skip
    a.add_argument("--name", help="dataset name in params.yaml (default: from the file name)")
    a.add_argument("--source", help="file format if the suffix does not say it")
    a.add_argument("--id", help="a column of unique row ids")
    a.add_argument("--group", help="rows sharing this column's value stay in one split")
    a.add_argument("--given-split", help="a column naming each row's split (train/valid/test)")
    a.add_argument("--hub-split", help="hf: use this one split of the dataset (default: all)")
    a.add_argument("--categorical", nargs="+", default=(), help="columns forced categorical")
    a.add_argument("--numeric", nargs="+", default=(), help="columns forced numeric")
    a.add_argument("--drop", nargs="+", default=(), help="columns left out")
    a.add_argument("--no-header", action="store_true", help="csv/tsv: the first line is data")
    a.add_argument("--delimiter", help="csv: the field separator (default ',')")
    a.add_argument("--root", type=Path, default=Path("."), help="the project (params.yaml)")
    a.add_argument("--no-dvc", action="store_true", help="copy and edit params, skip `dvc add`")
    c = sub.add_parser(
        "compare-explanations",
        help="explanation drift between two model versions on the same test rows",
    )
    c.add_argument("model_a", help="models:/NAME/VERSION, models:/NAME@ALIAS or runs:/ID/model")
    c.add_argument("model_b", help="the other model (same URI forms)")
    c.add_argument("--data", type=Path, help="rows to explain (default: A's prepared test split)")
    c.add_argument("--rows", type=int, default=100, help="how many rows (default 100)")
    c.add_argument("--top-k", type=int, default=5, help="top features compared (default 5)")
    c.add_argument("--card", type=Path, default=Path("explanation_drift.html"))
    c.add_argument("--root", type=Path, default=Path("."))
    c.add_argument("--no-log", action="store_true", help="do not log the card to MLflow")
    args = p.parse_args(argv)
    if args.command == "compare-explanations":
        return compare_explanations(
            args.model_a, args.model_b, args.data, args.rows, args.top_k, args.card, args.root,
            not args.no_log, Console(width=None if sys.stdout.isatty() else 120),
        )  # fmt: skip
    if args.command == "add-dataset":
        return _add_dataset(args)
    if args.command == "verify-cache":
        return verify_cache(args.root, Console())
    if args.command == "explain-text":
        return explain_text(args.model, args.texts, args.html, args.steps, Console())
    if args.command == "summary":
        # a pipe (make, CI logs) gets a readable width instead of rich's 80 columns
        console = Console(width=None if sys.stdout.isatty() else 120)
        return (timings if args.timings else summary)(args.root, console)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
