"""The ``explain`` flow (ad hoc): a logged or registered text model and new texts in, predictions
and Integrated-Gradients token highlights out, logged to MLflow; batches fan out as tasks (threads,
or a Dask cluster with ``flows.runners.dask_runner``).

    python -m flows.explain --model runs:/<run id>/model --file texts.txt
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from glassworks import tracking
from glassworks.explain.text import explain_texts
from glassworks.report.html import Highlighted, highlight_page


def read_texts(path: str | Path) -> list[str]:
    """Texts from a file: a CSV with a ``text`` column, else one text per non-blank line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file of texts")
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        rows = list(csv.DictReader(raw.splitlines()))
        if rows and "text" not in rows[0]:
            raise ValueError(f"{path}: a CSV of texts needs a 'text' column")
        return [r["text"] for r in rows if r["text"].strip()]
    return [line.strip() for line in raw.splitlines() if line.strip()]


@task(task_run_name="explain batch {index}")
def explain_batch(model_uri: str, texts: list[str], index: int, n_steps: int) -> dict[str, Any]:
    """Predict and explain one batch (the model is loaded in the worker: Dask-safe)."""
    model = tracking.load_text_model(model_uri)
    proba = model.predict_proba(texts)
    exp = explain_texts(
        model.module_, model.tokenizer_, texts, n_steps=n_steps, max_length=model.max_length
    )
    return {
        "index": index,
        "texts": texts,
        "labels": [model.label_names_[int(p.argmax())] for p in proba],
        "proba": proba.max(1).tolist(),
        "tokens": exp.tokens,
        "scores": [s.tolist() for s in exp.scores],
        "delta": exp.delta.tolist(),
    }


@flow(name="explain", task_runner=ThreadPoolTaskRunner(max_workers=2))
def explain(
    model_uri: str,
    texts: list[str] | None = None,
    file: str | None = None,
    batch_size: int = 16,
    n_steps: int = 32,
    root: str = ".",
) -> dict[str, Any]:
    """Explain ``texts`` (or the texts in ``file``) with the model at ``model_uri``; log the
    predictions table and the highlights page to one MLflow run (artifact folder
    ``explanations/``)."""
    logger = get_run_logger()
    items = list(texts or []) + (read_texts(file) if file else [])
    if not items:
        raise ValueError("give texts or a file of texts to explain")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    futures = [explain_batch.submit(model_uri, b, i, n_steps) for i, b in enumerate(batches)]
    results = sorted((f.result() for f in futures), key=lambda r: r["index"])
    rows, highlighted = [], []
    for r in results:
        for j, text in enumerate(r["texts"]):
            rows.append(
                {"text": text, "label": r["labels"][j], "p": r["proba"][j], "delta": r["delta"][j]}
            )
            caption = f"{r['labels'][j]} (p={r['proba'][j]:.3f}) · IG delta {r['delta'][j]:+.1e}"
            highlighted.append(
                Highlighted(r["tokens"][j], r["scores"][j], f"{text[:80]!r}: {caption}")
            )
    params = {
        "model_uri": model_uri,
        "n_texts": len(items),
        "batches": len(batches),
        "n_steps": n_steps,
    }
    with tracking.stage_run("explain-on-demand", "adhoc", params=params, root=root) as run:
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / "highlights.html"
            page.write_text(
                highlight_page(f"glassworks: {model_uri}", highlighted, "Integrated Gradients, "
                               "embedding layer, predicted class."),
                encoding="utf-8",
            )  # fmt: skip
            table = Path(tmp) / "predictions.csv"
            with table.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=["text", "label", "p", "delta"])
                writer.writeheader()
                writer.writerows(rows)
            run.log_artifact(page, "explanations")
            run.log_artifact(table, "explanations")
        run.log_metrics(
            {"n_texts": len(items), "max_abs_delta": max(abs(r["delta"]) for r in rows)}
        )
    logger.info(
        "explained %d texts in %d batches: MLflow run %s", len(items), len(batches), run.run_id
    )
    return {"run_id": run.run_id, "n_texts": len(items), "batches": len(batches), "rows": rows}


def main() -> None:
    """Run the flow once from the command line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="runs:/<id>/model, models:/<name>@champion, ...")
    p.add_argument("--file", default=None)
    p.add_argument("--text", action="append", default=[])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--dask", default=None, help="'local' for a LocalCluster or a scheduler address")
    args = p.parse_args()
    flow_ = explain
    if args.dask:
        from flows.runners import dask_runner

        flow_ = explain.with_options(task_runner=dask_runner(args.dask))
    flow_(model_uri=args.model, texts=args.text, file=args.file, batch_size=args.batch_size)


if __name__ == "__main__":
    main()
