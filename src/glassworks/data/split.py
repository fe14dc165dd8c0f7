"""Seeded stratified splits (optionally grouped, so duplicates never straddle splits) and
train-only undersampling."""

from __future__ import annotations

import numpy as np
import polars as pl


def stratified_split(
    frame: pl.DataFrame, by: str, fraction: float, seed: int, group: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out ``round(n_c * fraction)`` units of every stratum ``c`` of column ``by``.

    A unit is a row, or with ``group`` all rows sharing that column's value (e.g. identical
    texts), which then always land in the same split; a group's stratum is its first row's.
    Returns ``(kept, held_out)``, each in the frame's original row order. The same inputs and seed
    always give the same split. A stratum of one unit stays in ``kept``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    if group is None:
        unit = np.arange(frame.height)
    else:
        unit = frame.get_column(group).rank("dense").to_numpy().astype(np.int64) - 1
    n_units = int(unit.max()) + 1 if frame.height else 0
    first_row = np.full(n_units, frame.height, dtype=np.int64)
    np.minimum.at(first_row, unit, np.arange(frame.height))
    unit_key = frame.get_column(by).to_numpy()[first_row]
    held_unit = np.zeros(n_units, dtype=bool)
    for value in np.unique(unit_key):
        idx = np.flatnonzero(unit_key == value)
        rng.shuffle(idx)
        held_unit[idx[: int(round(len(idx) * fraction))]] = True
    mask = pl.Series(held_unit[unit])
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


def subsample(frame: pl.DataFrame, n: int | None, seed: int) -> pl.DataFrame:
    """At most ``n`` rows drawn without replacement (seeded), in the frame's original order."""
    if n is None or n >= frame.height:
        return frame
    rng = np.random.default_rng(seed)
    keep = np.zeros(frame.height, dtype=bool)
    keep[rng.choice(frame.height, size=n, replace=False)] = True
    return frame.filter(pl.Series(keep))
