"""Matplotlib figures for explanations (Agg backend: no display needed)."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from glassworks.io import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@functools.cache
def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend, imported on first use: importing matplotlib
    takes about half a second, which a stage that never plots should not pay at start-up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def contribution_bars(table: pl.DataFrame, title: str, path: Path, xlabel: str) -> None:
    """Horizontal bars of ``table["contribution"]`` labelled by ``table["ngram"]``."""
    table = table.sort("contribution")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.28 * table.height + 1)))
    values = table.get_column("contribution").to_list()
    colors = ["#c0392b" if v < 0 else "#2471a3" for v in values]
    ax.barh(table.get_column("ngram").to_list(), values, color=colors)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    save_figure(fig, path)


def save_figure(fig: Figure, path: Path) -> None:
    """Write ``fig`` as a PNG atomically and close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    pyplot().close(fig)


def matrix_interaction_plot(
    interactions: np.ndarray, labels: list[str], path: Path, title: str = "interactions"
) -> None:
    """Heat map of an interaction matrix (path_explain's ``matrix_interaction_plot``); the
    colour scale is centred at zero and the diagonal (main effects) is hidden."""
    m = np.array(interactions, dtype=float)
    np.fill_diagonal(m, np.nan)
    lim = np.nanmax(np.abs(m)) if np.isfinite(m).any() else 1.0
    size = max(4.0, 0.35 * len(labels) + 2)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="interaction")
    save_figure(fig, path)


def bar_interaction_plot(
    interactions: np.ndarray,
    labels: list[str],
    path: Path,
    top_k: int = 10,
    title: str = "strongest interactions",
) -> None:
    """Top-k pairs by |interaction| (both orderings summed), as horizontal bars."""
    m = np.array(interactions, dtype=float)
    sym = m + m.T
    iu = np.triu_indices(len(labels), k=1)
    vals = sym[iu]
    order = np.argsort(-np.abs(vals))[:top_k]
    table = pl.DataFrame(
        {
            "ngram": [f"{labels[iu[0][k]]} × {labels[iu[1][k]]}" for k in order],
            "contribution": vals[order],
        }
    )
    contribution_bars(table, title, path, "interaction (pair total)")


def summary_plot(
    attributions: np.ndarray,
    values: np.ndarray,
    names: list[str],
    path: Path,
    max_features: int = 15,
    title: str = "attributions",
) -> None:
    """Beeswarm-style summary: one row per feature (largest mean |attribution| first), a dot per
    example at its attribution, coloured by the feature's (rank-scaled) value."""
    a = np.asarray(attributions, float)
    v = np.asarray(values, float)
    order = np.argsort(-np.abs(a).mean(0))[:max_features][::-1]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(order) + 1.5))
    rng = np.random.default_rng(0)
    for row, j in enumerate(order):
        col = v[:, j]
        finite = np.isfinite(col)
        ranks = np.zeros_like(col)
        if finite.any():
            ranks[finite] = col[finite].argsort().argsort() / max(finite.sum() - 1, 1)
        jitter = rng.uniform(-0.25, 0.25, len(col))
        sc = ax.scatter(a[:, j], row + jitter, c=ranks, cmap="coolwarm", s=8, vmin=0, vmax=1)
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("attribution")
    ax.set_title(title)
    fig.colorbar(sc, ax=ax, label="feature value (low → high)")
    save_figure(fig, path)


def scatter_plot(
    attributions: np.ndarray,
    values: np.ndarray,
    names: list[str],
    feature: int,
    path: Path,
    color_by: int | None = None,
) -> None:
    """Attribution of one feature against its value, coloured by an interacting feature."""
    a = np.asarray(attributions, float)
    v = np.asarray(values, float)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if color_by is None:
        ax.scatter(v[:, feature], a[:, feature], s=10)
    else:
        sc = ax.scatter(v[:, feature], a[:, feature], c=v[:, color_by], cmap="coolwarm", s=10)
        fig.colorbar(sc, ax=ax, label=names[color_by])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"{names[feature]} (value)")
    ax.set_ylabel(f"attribution of {names[feature]}")
    save_figure(fig, path)


def confusion_plot(matrix: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    """Confusion matrix with counts (rows: true class, columns: predicted class)."""
    k = len(labels)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.0 * k + 2.5, 0.9 * k + 2))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = matrix.max() if matrix.size else 0
    for i in range(k):
        for j in range(k):
            color = "white" if matrix[i, j] > top / 2 else "black"
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=color)
    ax.set_title(title)
    save_figure(fig, path)


def per_class_bars(scores: dict[str, dict[str, float]], path: Path, title: str) -> None:
    """Grouped bars: one group per class, one bar per score (precision, recall, F1)."""
    names = list(scores)
    classes = list(scores[names[0]])
    x = np.arange(len(classes))
    width = 0.8 / len(names)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(classes) + 2), 3.5))
    for i, name in enumerate(names):
        ax.bar(x + i * width, [scores[name][c] for c in classes], width, label=name)
    ax.set_xticks(x + width * (len(names) - 1) / 2, classes)
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title(title)
    save_figure(fig, path)


def curves_plot(
    x: np.ndarray, curves: dict[str, np.ndarray], path: Path, title: str, xlabel: str, ylabel: str
) -> None:
    """One line per named curve over a shared x axis (e.g. deletion curves per explainer)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, y in curves.items():
        ax.plot(x, y, marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.set_title(title)
    save_figure(fig, path)


def audit_plot(scores: dict[str, dict[str, float]], path: Path, title: str) -> None:
    """Grouped bars: per explainer, its agreement with a reference decomposition (rank
    correlation, top-k overlap, sign agreement; higher is better)."""
    metrics = [
        ("spearman", "rank correlation"),
        ("top_k_overlap", "top-k overlap"),
        ("sign_agreement", "sign agreement (top k)"),
    ]
    names = list(scores)
    width = 0.8 / len(metrics)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(names) + 2), 3.8))
    for i, (key, label) in enumerate(metrics):
        pos = np.arange(len(names)) + (i - (len(metrics) - 1) / 2) * width
        ax.bar(pos, [scores[n][key] for n in names], width, label=label)
    ax.set_xticks(range(len(names)), names)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(min(0.0, min(scores[n]["spearman"] for n in names) - 0.05), 1.05)
    ax.set_ylabel("agreement with the truth")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)
