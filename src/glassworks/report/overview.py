"""The pipeline's one-page overview: a markdown table per metrics file group, links to every
figure, and the champion model per dataset and task (best test score among the trained models).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_COLUMNS = 8


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b.c": leaf}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _numeric(data: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in flatten(data).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _cell(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.4g}"


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
        flat = {}
        for f in files:
            try:
                flat[str(f.relative_to(root))] = _numeric(json.loads(f.read_text()))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{f}: not valid JSON ({exc})") from None
        counts: dict[str, int] = {}
        for leaves in flat.values():
            for k in leaves:
                counts[k] = counts.get(k, 0) + 1
        keys = [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:MAX_COLUMNS]
        lines += [f"### {group}", ""]
        if not keys:
            lines += [f"{len(files)} files, no numeric leaves.", ""]
            continue
        lines.append("| file | " + " | ".join(keys) + " |")
        lines.append("|---|" + "---:|" * len(keys))
        for name, leaves in flat.items():
            lines.append(f"| {name} | " + " | ".join(_cell(leaves.get(k)) for k in keys) + " |")
        lines.append("")
    return "\n".join(lines)


def figure_links(folders: list[Path], relative_to: Path) -> str:
    """Markdown links to every PNG under ``folders``, relative to ``relative_to``."""
    lines = []
    for folder in folders:
        for png in sorted(Path(folder).rglob("*.png")):
            rel = os.path.relpath(png, relative_to)
            lines.append(f"- [{png.relative_to(folder.parent)}]({rel})")
    return "\n".join(lines) if lines else "No figures yet."


@dataclass(frozen=True)
class Champion:
    """The best model of one dataset and task, and where its MLflow run is."""

    name: str
    """Registered model name (``glassworks-<task>-<dataset>``)."""
    task: str
    dataset: str
    stage: str
    stage_item: str
    """The ``glassworks.dataset`` tag of the stage's MLflow runs."""
    run_name: str | None
    """The run's name when a stage item logs several runs (tabular seeds)."""
    metric: str
    value: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable."""
        return asdict(self)


def champions(
    metrics_root: Path, text_runs: Mapping[str, str], text_metric: str = "accuracy"
) -> list[Champion]:
    """Per text dataset, the ``train_text`` run with the best test ``text_metric``
    (``text_runs``: run name -> dataset); per tabular dataset, the ``train_tabular`` method with
    the best mean test AUROC (its seed-0 model)."""
    root = Path(metrics_root)
    best: dict[tuple[str, str], Champion] = {}

    def offer(c: Champion) -> None:
        key = (c.task, c.dataset)
        if key not in best or c.value > best[key].value:
            best[key] = c

    for run, dataset in sorted(text_runs.items()):
        path = root / "train_text" / f"{run}.json"
        if path.is_file():
            value = float(json.loads(path.read_text())[text_metric])
            offer(Champion(f"glassworks-text-{dataset}", "text", dataset, "train_text", run, None,
                           text_metric, value))  # fmt: skip
    for path in sorted((root / "train_tabular").glob("*/*.json")):
        method, dataset = path.parent.name, path.stem
        value = float(json.loads(path.read_text())["test_auroc"]["mean"])
        offer(Champion(f"glassworks-tabular-{dataset}", "tabular", dataset, "train_tabular",
                       dataset, f"{method}@{dataset}#0", "test_auroc", value))  # fmt: skip
    return sorted(best.values(), key=lambda c: (c.task, c.dataset))


def champions_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of registered champions."""
    lines = ["| registered model | task | dataset | from | metric | value | version |",
             "|---|---|---|---|---|---:|---:|"]  # fmt: skip
    for r in rows:
        source = r["run_name"] or f"{r['stage']}@{r['stage_item']}"
        lines.append(
            f"| {r['name']} | {r['task']} | {r['dataset']} | {source} | {r['metric']} | "
            f"{r['value']:.4f} | {r.get('version', '')} |"
        )
    return "\n".join(lines)
