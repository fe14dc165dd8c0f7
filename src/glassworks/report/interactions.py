"""Faithfulness of interactions in the report and the cards: the pair-deletion results
(:mod:`glassworks.explain.pair_deletion`) the ``explain_text`` (``ih.pair_deletion``) and
``explain`` (``pair_deletion``) stages wrote into their metrics, one table row per model and k."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HEADER = [
    "model",
    "k",
    "units removed",
    "IH pairs: drop",
    "IG units: drop",
    "random pairs: drop",
    "IH - IG (paired)",
    "n",
]
"""Drops are of the target class's probability, mean [95% bootstrap interval]; larger means the
ranking found what the model relies on."""


def _ci(entry: Mapping[str, Any]) -> str:
    lo, hi = entry["ci95"]
    return f"{entry['mean']:.3f} [{lo:.3f}, {hi:.3f}]"


def pair_deletion_rows(name: str, summary: Mapping[str, Any]) -> list[list[str]]:
    """Table rows (see :data:`HEADER`) of one model's pair-deletion summary."""
    rows = []
    methods, diffs = summary["methods"], summary["differences"]["ih_pairs-ig_units"]
    for k in summary["ks"]:
        key = f"k={k}"
        d = diffs[key]
        verdict = d.get("winner") or "no significant difference"
        rows.append(
            [
                name,
                str(k),
                f"{summary['removed'][key]:.1f}",
                _ci(methods["ih_pairs"][key]),
                _ci(methods["ig_units"][key]),
                _ci(methods["random_pairs"][key]),
                f"{_ci(d['difference'])}: {verdict}",
                str(summary["n_examples"]),
            ]
        )
    return rows


def pair_deletion_of(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pair-deletion summary in an ``explain_text`` or ``explain`` metrics file, if any."""
    ih = metrics.get("ih")
    if isinstance(ih, Mapping) and isinstance(ih.get("pair_deletion"), Mapping):
        return ih["pair_deletion"]
    found = metrics.get("pair_deletion")
    return found if isinstance(found, Mapping) else None


def interactions_section(metrics_dir: Path) -> list[str]:
    """``summary.md``'s section: every model with a pair-deletion summary under
    ``metrics/explain_text`` and ``metrics/explain`` (nothing before one exists)."""
    rows: list[list[str]] = []
    for stage in ("explain_text", "explain"):
        for path in sorted((Path(metrics_dir) / stage).glob("*.json")):
            try:
                summary = pair_deletion_of(json.loads(path.read_text()))
            except json.JSONDecodeError:
                continue  # the metrics tables name a damaged file
            if summary:
                rows += pair_deletion_rows(f"{stage}/{path.stem}", summary)
    if not rows:
        return []
    head = "| " + " | ".join(HEADER) + " |"
    rule = "|" + "---|" * len(HEADER)
    body = ["| " + " | ".join(r) + " |" for r in rows]
    return [
        "## Faithfulness of interactions (pair deletion)",
        "",
        "Remove the top-k token (or feature) pairs ranked by Integrated Hessians, the same number "
        "of units ranked by IG alone, or k random pairs; the drop of the target class's "
        "probability, mean [95% bootstrap interval] over the explained examples (larger: the "
        "ranking found what the model relies on). Removed tokens become the explainers' baseline "
        "embedding, removed features the training mean.",
        "",
        head,
        rule,
        *body,
        "",
    ]
