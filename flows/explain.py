"""The ``explain`` flow (ad hoc): a logged or registered model and new inputs in, predictions and
explanations out, logged to MLflow; batches fan out as tasks (threads, or a Dask cluster with
``flows.runners.dask_runner``).

- text models: texts (or a file of them) -> Integrated-Gradients token highlights;
- tabular models (``train_tabular``): rows (a CSV with the raw feature columns, or a list of
  dicts) -> per-feature attributions (INN's own decomposition W(x)·x, else Kernel SHAP).

    python -m flows.explain --model models:/glassworks-text-sst2@champion --file texts.txt
    python -m flows.explain --model models:/glassworks-tabular-openml-31@champion --rows new.csv
"""

from __future__ import annotations

import argparse
import csv
import functools
import tempfile
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from glassworks import tracking
from glassworks.explain.audit import explain_rows
from glassworks.report.explained_text import ExplainedText, explanation_page, predict_and_explain


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


@functools.lru_cache(maxsize=4)
def _model(model_uri: str) -> Any:
    """The model behind ``model_uri``, loaded once per process (thread batches share it; each Dask
    worker loads it once)."""
    return tracking.load_model_bundle(model_uri)


@task(task_run_name="explain batch {index}")
def explain_batch(model_uri: str, texts: list[str], index: int, n_steps: int) -> dict[str, Any]:
    """Predict and explain one batch (the model is loaded in the worker: Dask-safe)."""
    model = _model(model_uri)
    if isinstance(model, dict):
        raise ValueError(f"{model_uri}: a tabular model; pass rows, not texts")
    return {"index": index, "explained": predict_and_explain(model, texts, n_steps=n_steps)}


@task(task_run_name="explain rows {index}")
def explain_rows_batch(
    model_uri: str, rows: list[dict[str, Any]], index: int, n_samples: int
) -> dict[str, Any]:
    """Predict and attribute one batch of raw tabular rows."""

    bundle = _model(model_uri)
    if not isinstance(bundle, dict):
        raise ValueError(f"{model_uri}: a text model; pass texts, not rows")
    encoder, model = bundle["encoder"], bundle["model"]
    x = encoder.transform_rows(rows, source=f"rows batch {index}")
    attr, target, method = explain_rows(model, x, n_samples=n_samples)
    names = list(encoder.feature_names_)
    return {
        "index": index,
        "rows": [
            {
                "row": index * 10**6 + i,
                **(
                    {"label": bundle["label_names"][int(target[i])]}
                    if bundle["label_names"]
                    else {"prediction": float(target[i])}  # a regression model
                ),
                **{f"attr:{n}": float(v) for n, v in zip(names, attr[i], strict=True)},
            }
            for i in range(len(rows))
        ],
        "method": method,
    }


@flow(name="explain", task_runner=ThreadPoolTaskRunner(max_workers=2))
def explain(
    model_uri: str,
    texts: list[str] | None = None,
    file: str | None = None,
    rows: list[dict[str, Any]] | None = None,
    rows_file: str | None = None,
    batch_size: int = 16,
    n_steps: int = 32,
    n_samples: int = 300,
    root: str = ".",
) -> dict[str, Any]:
    """Explain ``texts`` / ``file`` (a text model) or ``rows`` / ``rows_file`` (a tabular model)
    with the model at ``model_uri``; log the predictions and explanations to one MLflow run
    (experiment ``explain-on-demand``, artifact folder ``explanations/``)."""
    items = list(texts or []) + (read_texts(file) if file else [])
    table = list(rows or []) + (_read_rows(rows_file) if rows_file else [])
    if bool(items) == bool(table):
        raise ValueError("give texts (or a file of texts) or rows (or a CSV of rows), one kind")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if table:
        return _explain_rows(model_uri, table, batch_size, n_samples, root)
    return _explain_texts(model_uri, items, batch_size, n_steps, root)


def _read_rows(path: str) -> list[dict[str, Any]]:
    import pandas as pd

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such CSV of rows")
    return pd.read_csv(path).to_dict("records")


def _explain_rows(
    model_uri: str, table: list[dict[str, Any]], batch_size: int, n_samples: int, root: str
) -> dict[str, Any]:
    batches = [table[i : i + batch_size] for i in range(0, len(table), batch_size)]
    futures = [explain_rows_batch.submit(model_uri, b, i, n_samples) for i, b in enumerate(batches)]
    results = sorted((f.result() for f in futures), key=lambda r: r["index"])
    out_rows = [r for res in results for r in res["rows"]]
    for i, r in enumerate(out_rows):
        r["row"] = i
    params = {"model_uri": model_uri, "n_rows": len(table), "method": results[0]["method"]}
    with tracking.stage_run("explain-on-demand", "adhoc", params=params, root=root) as run:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "attributions.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=list(out_rows[0]))
                writer.writeheader()
                writer.writerows(out_rows)
            run.log_artifact(path, "explanations")
        run.log_metrics({"n_rows": len(table)})
    get_run_logger().info("explained %d rows: MLflow run %s", len(table), run.run_id)
    return {"run_id": run.run_id, "n_rows": len(table), "batches": len(batches), "rows": out_rows,
            "method": results[0]["method"]}  # fmt: skip


def _explain_texts(
    model_uri: str, items: list[str], batch_size: int, n_steps: int, root: str
) -> dict[str, Any]:
    logger = get_run_logger()
    batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    futures = [explain_batch.submit(model_uri, b, i, n_steps) for i, b in enumerate(batches)]
    results = sorted((f.result() for f in futures), key=lambda r: r["index"])
    explained: list[ExplainedText] = [e for r in results for e in r["explained"]]
    rows = [
        {"text": e.text, "label": e.label, "p": e.probability, "delta": e.delta} for e in explained
    ]
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
                explanation_page(f"glassworks: {model_uri}", explained), encoding="utf-8"
            )
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
    p.add_argument("--rows", default=None, help="a CSV of raw feature columns (tabular models)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--dask", default=None, help="'local' for a LocalCluster or a scheduler address")
    args = p.parse_args()
    flow_ = explain
    if args.dask:
        from flows.runners import dask_runner

        flow_ = explain.with_options(task_runner=dask_runner(args.dask))
    flow_(
        model_uri=args.model,
        texts=args.text,
        file=args.file,
        rows_file=args.rows,
        batch_size=args.batch_size,
    )


if __name__ == "__main__":
    main()
