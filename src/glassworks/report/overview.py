"""The pipeline's one-page overview: a markdown table per metrics file group, links to every
figure, the text classifiers over seeds, and the champion model per dataset and task — chosen on
validation only (:data:`glassworks.selection.RULE`); test is reported at the choice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from glassworks.errors import DataError
from glassworks.report.tables import (
    TRAIN_TEXT,
    fmt_summary,
    leaves_spec,
    load_source,
    read_sources,
    render,
)
from glassworks.selection import choose_record, higher_is_better
from glassworks.stats import summarise

SEED_KEYS = ("accuracy", "macro_f1", "qwk")
"""Scalar classification metrics summarised over seeds (``valid_<k>`` and ``test_<k>``)."""


def metrics_tables(metrics_root: Path) -> str:
    """One markdown table per stage folder of ``metrics/`` (rows = files, columns = the numeric
    leaves most files share, at most 8) and one for the top-level JSON files."""
    root = Path(metrics_root)
    groups: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root)
        groups.setdefault(rel.parts[0] if len(rel.parts) > 1 else rel.stem, []).append(path)
    lines: list[str] = []
    for group, files in groups.items():
        sources = [load_source(f, f.relative_to(root)) for f in files]
        table = render(leaves_spec(group, sources, markdown=True), sources)
        lines += [f"### {group}", ""]
        if len(table.labels) == 1:
            lines += [f"{len(files)} files, no numeric leaves.", ""]
            continue
        lines += [table.markdown(), ""]
    return "\n".join(lines)


def figure_links(folders: list[Path], relative_to: Path) -> str:
    """Markdown links to every PNG under ``folders``, relative to ``relative_to``."""
    lines = []
    for folder in folders:
        for png in sorted(Path(folder).rglob("*.png")):
            rel = os.path.relpath(png, relative_to)
            lines.append(f"- [{png.relative_to(folder.parent)}]({rel})")
    return "\n".join(lines) if lines else "No figures yet."


def seed_metrics(
    seed: int, valid: Mapping[str, Any], test: Mapping[str, Any], **extra: Any
) -> dict[str, Any]:
    """One seed's row: scalar validation metrics, full test metrics and ``extra`` counts."""
    scalars = {k: float(v) for k, v in valid.items() if k in SEED_KEYS}
    return {"seed": int(seed), "valid": scalars, "test": dict(test), **extra}


def seed_summaries(per_seed: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A ``train_text`` metrics file: ``per_seed`` rows and, for each split and metric,
    ``<split>_<metric>`` = mean, sd and 95% bootstrap interval over seeds (``Summary.as_dict``)."""
    out: dict[str, Any] = {"seeds": [r["seed"] for r in per_seed]}
    for split in ("valid", "test"):
        for key in SEED_KEYS:
            values = [r[split][key] for r in per_seed if key in r[split]]
            if len(values) == len(per_seed):
                out[f"{split}_{key}"] = summarise(values).as_dict()
    first = per_seed[0]
    out.update(n_train=first.get("n_train"), **extra)
    out["per_seed"] = per_seed
    return out


def text_table(metrics_root: Path) -> str:
    """Markdown: each ``train_text`` run, validation and test over seeds (:data:`TRAIN_TEXT`)."""
    sources = read_sources(TRAIN_TEXT, metrics_root)
    if not sources:
        return "No text classifiers yet."
    return render(TRAIN_TEXT, sources).without("n train").markdown()


@dataclass(frozen=True)
class Champion:
    """The best model of one dataset and task (chosen on validation), and where its MLflow run
    is; ``test`` is reported at the choice, never read to make it."""

    name: str
    """Registered model name (``glassworks-<task>-<dataset>``)."""
    task: str
    dataset: str
    stage: str
    stage_item: str
    """The ``glassworks.item`` tag of the stage's MLflow runs."""
    run_name: str | None
    """The run's name: the first seed's run (``<run>#0``, ``<method>@<dataset>#0``)."""
    metric: str
    """The validation metric the choice was made on."""
    value: float
    """Its mean over seeds."""
    test_metric: str = ""
    test: dict[str, Any] | None = None
    """The test summary at the choice (mean, sd, ci95, n), or None when absent."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable."""
        return asdict(self)


def _mean(entry: Any) -> float:
    return float(entry["mean"]) if isinstance(entry, Mapping) else float(entry)


def _test_summary(entry: Any) -> dict[str, Any] | None:
    """A test summary dict from ``Summary.as_dict`` or ``{mean, std, per_seed}`` (tabular)."""
    if not isinstance(entry, Mapping):
        return None
    if "ci95" in entry:
        return dict(entry)
    if entry.get("per_seed"):
        return summarise(entry["per_seed"]).as_dict()
    return None


def champions(
    metrics_root: Path, text_runs: Mapping[str, str], text_metric: str = "accuracy"
) -> list[Champion]:
    """Per text dataset, the ``train_text`` run with the best mean validation ``text_metric``
    (``text_runs``: run name -> dataset); per tabular dataset, the ``train_tabular`` method with
    the best mean validation AUROC, or for a regression dataset (its files hold ``valid_rmse``)
    the lowest mean validation RMSE (its first-seed model). Choices follow
    :data:`~glassworks.selection.RULE` (candidates in name order) and read no test value."""
    root = Path(metrics_root)
    candidates: dict[tuple[str, str], list[dict[str, Any]]] = {}
    text_valid, text_test = f"valid_{text_metric}", f"test_{text_metric}"
    for run, dataset in sorted(text_runs.items()):
        path = root / "train_text" / f"{run}.json"
        if path.is_file():
            m = json.loads(path.read_text())
            c = Champion(f"glassworks-text-{dataset}", "text", dataset, "train_text", run,
                         f"{run}#{m.get('seeds', [0])[0]}", text_valid, _mean(m[text_valid]),
                         text_test, _test_summary(m.get(text_test)))  # fmt: skip
            candidates.setdefault(("text", dataset), []).append({"c": c, text_valid: c.value})
    for path in sorted((root / "train_tabular").glob("*/*.json")):
        method, dataset = path.parent.name, path.stem
        m = json.loads(path.read_text())
        seed = m.get("seeds", [0])[0]
        valid, test = ("valid_rmse", "test_rmse") if "valid_rmse" in m else TABULAR_METRICS
        c = Champion(f"glassworks-tabular-{dataset}", "tabular", dataset, "train_tabular",
                     f"{dataset}-{method}", f"{method}@{dataset}#{seed}", valid,
                     _mean(m[valid]), test, _test_summary(m.get(test)))  # fmt: skip
        candidates.setdefault(("tabular", dataset), []).append({"c": c, valid: c.value})
    best = [_choose(rows, root) for rows in candidates.values()]
    return sorted(best, key=lambda c: (c.task, c.dataset))


TABULAR_METRICS = ("valid_auroc", "test_auroc")
"""A classification dataset's champion metric (validation) and the test score reported with it."""


def _choose(rows: list[dict[str, Any]], root: Path) -> Champion:
    """The candidate :func:`~glassworks.selection.choose_record` picks on their shared validation
    metric (lowest wins for an error such as RMSE); a dataset whose candidates were scored on
    different metrics (classification and regression results mixed) is an error."""
    metrics = {r["c"].metric for r in rows}
    if len(metrics) > 1:
        c = rows[0]["c"]
        raise DataError(
            root / c.stage,
            f"the results of {c.dataset} mix validation metrics {sorted(metrics)}: rerun "
            f"{c.stage} for that dataset",
        )
    metric = metrics.pop()
    chosen = choose_record(rows, metric=metric, higher_is_better=higher_is_better(metric))
    return chosen["c"]  # type: ignore[return-value]


def champions_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of registered champions: the validation score they were chosen on and the
    test score at the choice (mean ± sd [95% interval] over seeds)."""
    lines = ["| registered model | task | dataset | from | chosen on | valid (mean) | test | "
             "test (mean ± sd [95% CI]) | version |",
             "|---|---|---|---|---|---:|---|---:|---:|"]  # fmt: skip
    for r in rows:
        source = r["run_name"] or f"{r['stage']}@{r['stage_item']}"
        lines.append(
            f"| {r['name']} | {r['task']} | {r['dataset']} | {source} | {r['metric']} | "
            f"{r['value']:.4f} | {r.get('test_metric', '')} | {fmt_summary(r.get('test'), 4)} | "
            f"{r.get('version', '')} |"
        )
    return "\n".join(lines)
