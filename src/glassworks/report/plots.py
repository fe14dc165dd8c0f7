"""Matplotlib figures for explanations (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from glassworks.io import atomic_path  # noqa: E402


def contribution_bars(table: pl.DataFrame, title: str, path: Path, xlabel: str) -> None:
    """Horizontal bars of ``table["contribution"]`` labelled by ``table["ngram"]``."""
    table = table.sort("contribution")
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.28 * table.height + 1)))
    values = table.get_column("contribution").to_list()
    colors = ["#c0392b" if v < 0 else "#2471a3" for v in values]
    ax.barh(table.get_column("ngram").to_list(), values, color=colors)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
