"""What a stage task reports: the MLflow runs the stage produced, as a markdown table with links
(read through ``glassworks.tracking``, the only module that imports mlflow)."""

from __future__ import annotations

import logging
from pathlib import Path

from glassworks import tracking

log = logging.getLogger(__name__)

MAX_METRICS = 12


def runs_markdown(root: Path, address: str, since: float, ui: str) -> str:
    """Markdown for the runs of ``address`` (``stage@item``) started after ``since`` (epoch s)."""
    stage, _, item = address.partition("@")
    runs = [
        r
        for r in tracking.find_runs(stage, item or None, root=root)
        if r.info.start_time >= since * 1000 - 1000
    ]
    lines = [f"## {address}", ""]
    if not runs:
        lines.append("No MLflow run was logged by this stage.")
        return "\n".join(lines)
    for run in runs:
        url = f"{ui.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
        lines += [f"### [{run.info.run_name}]({url})", "", "| metric | value |", "|---|---:|"]
        metrics = sorted(run.data.metrics.items())
        for name, value in metrics[:MAX_METRICS]:
            lines.append(f"| {name} | {value:.4g} |")
        if len(metrics) > MAX_METRICS:
            lines.append(f"| … {len(metrics) - MAX_METRICS} more in MLflow | |")
        lines.append("")
    return "\n".join(lines)


def close_stopped_runs(root: Path, address: str, since: float, reason: str) -> int:
    """Close the MLflow runs a stopped stage left (tag ``glassworks.stop_reason``, KILLED);
    a store that cannot be reached is a warning, never a second error over the stop."""
    stage, _, item = address.partition("@")
    try:
        return tracking.close_stopped_runs(stage, item or None, since, reason, root=root)
    except Exception as exc:  # noqa: BLE001 - the stop itself must still be reported
        log.warning("could not record the stop of %s in MLflow: %s", address, exc)
        return 0
