"""Seeded stratified splits and train-only undersampling."""

from __future__ import annotations

import numpy as np
import polars as pl


def stratified_split(
    frame: pl.DataFrame, by: str, fraction: float, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out ``round(n_c * fraction)`` rows of every stratum ``c`` of column ``by``.

    Returns ``(kept, held_out)``, each in the frame's original row order. The same frame, column,
    fraction and seed always give the same split. A stratum of one row stays in ``kept``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    keys = frame.get_column(by).to_numpy()
    held = np.zeros(frame.height, dtype=bool)
    for value in np.unique(keys):
        idx = np.flatnonzero(keys == value)
        rng.shuffle(idx)
        held[idx[: int(round(len(idx) * fraction))]] = True
    mask = pl.Series(held)
    return frame.filter(~mask), frame.filter(mask)


def undersample(frame: pl.DataFrame, by: str, seed: int) -> pl.DataFrame:
    """Randomly drop rows of the larger classes until every class has the minority's count.

    As in nlp-lime-ig; apply to the *train* split only (valid/test keep the true distribution).
    """
    rng = np.random.default_rng(seed)
    keys = frame.get_column(by).to_numpy()
    values, counts = np.unique(keys, return_counts=True)
    n_min = int(counts.min())
    keep = np.zeros(frame.height, dtype=bool)
    for value in values:
        idx = np.flatnonzero(keys == value)
        keep[rng.choice(idx, size=n_min, replace=False)] = True
    return frame.filter(pl.Series(keep))
