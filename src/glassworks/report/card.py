"""An explanation card per champion: one self-contained, escaped HTML page (figures embedded as
data URIs, the highlights page inlined in a sandboxed frame, no external requests) that gathers
what the pipeline found out about the model, so it renders inside MLflow's artifact viewer.

The card assembles the stage outputs, and computes nothing new: for a text model, the
``explain_text`` run's faithfulness table, completeness and figures (deletion and insertion
curves, token x token Integrated Hessians), its token highlights and the ``reconcile_text`` run's
global n-gram importances against Emb-GAM's exact contributions; for a tabular model, the
``audit_tabular`` agreement of each explainer with INN's exact decomposition and its figures.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassworks.report.interactions import HEADER, pair_deletion_of, pair_deletion_rows
from glassworks.report.reconcile import card_tables

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1240px;margin:1.5em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{padding:3px 8px;
border-bottom:1px solid #ddd;text-align:left}img{max-width:100%;margin:.3em 0;
border:1px solid #eee}iframe{width:100%;height:640px;border:1px solid #ddd}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:.6em}
.note{color:#555;font-size:.9em}"""


@dataclass(frozen=True)
class CardInputs:
    """What a card shows: the stage outputs found for one champion."""

    figures: list[Path] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    """(title, header, rows)."""
    highlights: Path | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)
    """(label, value) lines under the header (completeness, explainer agreement, ...)."""


def _csv_table(path: Path, title: str, limit: int = 40) -> tuple[str, list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = (rows[0], rows[1 : limit + 1]) if rows else ([], [])
    return title, header, body


def card_inputs(champion: Mapping[str, Any], root: Path) -> CardInputs:
    """Find the explanation outputs of ``champion`` (a ``champions.json`` row) under ``root``:
    ``data/explanations/text/<run>`` and ``metrics/explain_text/<run>.json`` for a text model,
    ``data/explanations/tabular/<dataset>`` and ``metrics/audit_tabular/<dataset>.json`` for a
    tabular one (missing files are left out)."""
    root = Path(root)
    if champion.get("stage") == "train_text":
        run = str(champion["stage_item"])
        folder = root / "data/explanations/text" / run
        metrics = root / "metrics/explain_text" / f"{run}.json"
        inputs = CardInputs(
            figures=sorted(folder.glob("*.png")) if folder.is_dir() else [],
            highlights=folder / "highlights.html"
            if (folder / "highlights.html").is_file()
            else None,
        )
        if (folder / "faithfulness_comparison.csv").is_file():
            inputs.tables.append(
                _csv_table(folder / "faithfulness_comparison.csv", "Faithfulness, paired")
            )
        if metrics.is_file():
            data = json.loads(metrics.read_text())
            curves = ("deletion_auc", "insertion_auc")
            rows = [
                [m, *(f"{data[m].get(k, float('nan')):.3f}" for k in curves)]
                for m in ("ig", "eg", "lime", "occlusion", "random")
                if isinstance(data.get(m), dict)
            ]
            header = ["explainer", "deletion AUC ↓", "insertion AUC ↑"]
            inputs.tables.insert(0, ("Faithfulness (mean over texts)", header, rows))
            pairs = pair_deletion_of(data)
            if pairs:
                inputs.tables.append(
                    (
                        "Faithfulness of interactions: pair deletion (probability drop, mean "
                        "[95% interval])",
                        HEADER,
                        pair_deletion_rows(run, pairs),
                    )
                )
            ig = data.get("ig", {})
            if "completeness_rel_max" in ig:
                inputs.facts.append(
                    ("IG completeness, largest relative error", f"{ig['completeness_rel_max']:.2e}")
                )
        reconciled = root / "data/explanations/reconcile" / run
        inputs.tables.extend(
            card_tables(run, reconciled, root / "metrics/reconcile_text" / f"{run}.json")
        )
        if (reconciled / "reconciliation.png").is_file():
            inputs.figures.append(reconciled / "reconciliation.png")
        return inputs
    dataset = str(champion.get("dataset", ""))
    folder = root / "data/explanations/tabular" / dataset
    inputs = CardInputs(figures=sorted(folder.glob("*.png")) if folder.is_dir() else [])
    for name, title in (("audit.csv", "Explainers against INN's exact decomposition"),
                        ("black_box.csv", "Explainers on the black-box twin")):  # fmt: skip
        if (folder / name).is_file():
            inputs.tables.append(_csv_table(folder / name, title))
    return inputs


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(path.stem.replace("_", " "))
    return f"<figure><img src='data:image/png;base64,{data}' alt='{alt}'><figcaption>{alt}" \
        "</figcaption></figure>"  # fmt: skip


def model_card(champion: Mapping[str, Any], inputs: CardInputs) -> str:
    """The card of one champion (see the module docstring)."""
    e = html.escape
    name = str(champion.get("name", "model"))
    version = champion.get("version")
    test = champion.get("test") or {}
    lines = [
        ("dataset", str(champion.get("dataset", ""))),
        (
            "chosen by",
            f"{champion.get('metric', '')} = {float(champion.get('value', 0)):.4f} "
            "(validation, mean over seeds)",
        ),  # fmt: skip
        (
            "model run",
            f"{champion.get('stage', '')}@{champion.get('stage_item', '')}"
            + (f" ({champion['run_name']})" if champion.get("run_name") else ""),
        ),  # fmt: skip
    ]
    if test:
        lo, hi = test.get("ci95", [float("nan")] * 2)
        lines.append((champion.get("test_metric") or "test",
                      f"{test.get('mean', float('nan')):.4f} [{lo:.4f}, {hi:.4f}]"))  # fmt: skip
    gate = champion.get("gate")
    if isinstance(gate, Mapping):
        lines.append(("promotion gate", str(gate.get("reason", ""))))
    lines += list(inputs.facts)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(name)}</title>"
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{e(name)}" + (f" · version {int(version)}" if version is not None else "") + "</h1>",
        "<table>" + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in lines)
        + "</table>",
    ]  # fmt: skip
    for title, header, rows in inputs.tables:
        head = "".join(f"<th>{e(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
        parts.append(f"<h2>{e(title)}</h2><table><tr>{head}</tr>{body}</table>")
    if inputs.figures:
        parts.append("<h2>Figures</h2><div class='grid'>")
        parts.extend(_img(p) for p in inputs.figures)
        parts.append("</div>")
    if inputs.highlights is not None:
        page = inputs.highlights.read_text(encoding="utf-8")
        parts.append(
            "<h2>Token highlights (test texts)</h2><p class='note'>Colour scale and legend at the "
            "top of the frame.</p>"
            f"<iframe sandbox title='token highlights' srcdoc=\"{e(page, quote=True)}\"></iframe>"
        )
    if not (inputs.tables or inputs.figures or inputs.highlights):
        parts.append("<p>No explanation outputs found for this model yet (run the pipeline).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_cards(rows: Sequence[Mapping[str, Any]], root: Path, out: Path) -> dict[str, Path]:
    """A card per registered champion row in ``out/<name>.html``; returns name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for row in rows:
        if row.get("version") is None:
            continue
        path = out / f"{row['name']}.html"
        path.write_text(model_card(row, card_inputs(row, root)), encoding="utf-8")
        written[str(row["name"])] = path
    return written
