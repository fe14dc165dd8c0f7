"""ASAP automated essay scoring (Hewlett Foundation, Kaggle 2012): ``training_set_rel3.tsv``.

Each essay set has its own score range, so the label is the ``domain1_score`` binned into ordered
classes *within* its set. Two documented binnings (the edges are stored in ``schema.json``):

- ``range`` (default): equal-width bins over the set's official score range (Taghipour & Ng 2016,
  table 1). Fixed by the rubric, learnt from no data.
- ``quantile``: equal-frequency edges from the set's *train* split scores (never from valid/test).

Labels are assigned after splitting (the split is stratified by essay set), and the raw score is
kept for regression. Read with no quoting: essay 10534 opens with an unmatched quote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from glassworks.data.read import parse_int_column, read_tsv
from glassworks.data.schema import Loaded, Splits
from glassworks.errors import DataError

# Official domain1 score range per essay set (inclusive).
SCORE_RANGES: dict[int, tuple[int, int]] = {
    1: (2, 12),
    2: (1, 6),
    3: (0, 3),
    4: (0, 3),
    5: (0, 4),
    6: (0, 4),
    7: (0, 30),
    8: (0, 60),
}
COLUMNS = {
    "id": "the source's essay_id",
    "essay_set": "essay set 1..8 (prompt)",
    "text": "essay text (outer CSV quotes removed, '\"\"' unescaped)",
    "score": "domain1_score, the resolved human score (for regression)",
    "label": "score binned within its essay set (see bin_edges)",
}


def _unquote(text: str) -> str:
    text = text.rstrip("\r")
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return text


def read_essays(path: Path, essay_sets: tuple[int, ...] | None = None) -> pl.DataFrame:
    """Read and validate the TSV into ``id, essay_set, text, score``."""
    raw = read_tsv(path, ["essay_id", "essay_set", "essay", "domain1_score"])
    ids = parse_int_column(raw, "essay_id", path)
    sets = parse_int_column(raw, "essay_set", path)
    scores = parse_int_column(raw, "domain1_score", path)
    for i, (essay_set, score) in enumerate(zip(sets.to_list(), scores.to_list(), strict=True)):
        if essay_set not in SCORE_RANGES:
            raise DataError(
                path,
                f"unknown essay set {essay_set} (expected 1..8)",
                line=i + 2,
                field="essay_set",
            )
        lo, hi = SCORE_RANGES[essay_set]
        if not lo <= score <= hi:
            raise DataError(
                path,
                f"score {score} out of range {lo}..{hi} for essay set {essay_set}",
                line=i + 2,
                field="domain1_score",
            )
    dup = ids.is_duplicated()
    if dup.any():
        i = int(dup.arg_max())
        raise DataError(path, f"duplicate essay_id {ids[i]}", line=i + 2, field="essay_id")
    frame = pl.DataFrame(
        {
            "id": ids.cast(pl.String),
            "essay_set": sets,
            "text": raw.get_column("essay").map_elements(_unquote, return_dtype=pl.String),
            "score": scores,
        }
    )
    if essay_sets is not None:
        frame = frame.filter(pl.col("essay_set").is_in(list(essay_sets)))
    return frame


def bin_edges(
    train: pl.DataFrame, binning: Literal["range", "quantile"], n_bins: int
) -> dict[int, list[float]]:
    """Inner bin edges per essay set; label = number of edges <= score."""
    edges: dict[int, list[float]] = {}
    for essay_set in sorted(set(train.get_column("essay_set").to_list())):
        if binning == "range":
            lo, hi = SCORE_RANGES[essay_set]
            inner = [lo + (hi - lo) * k / n_bins for k in range(1, n_bins)]
        else:
            scores = train.filter(pl.col("essay_set") == essay_set).get_column("score").to_numpy()
            inner = np.quantile(scores, [k / n_bins for k in range(1, n_bins)]).tolist()
        edges[essay_set] = [float(e) for e in inner]
    return edges


def assign_labels(frame: pl.DataFrame, edges: dict[int, list[float]]) -> pl.DataFrame:
    """Add ``label`` = index of the score's bin within its essay set."""
    sets = frame.get_column("essay_set").to_numpy()
    scores = frame.get_column("score").to_numpy()
    labels = np.empty(len(scores), dtype=np.int64)
    for essay_set in np.unique(sets):
        mask = sets == essay_set
        labels[mask] = np.searchsorted(
            np.asarray(edges[int(essay_set)]), scores[mask], side="right"
        )
    return frame.with_columns(label=pl.Series(labels, dtype=pl.Int64))


def _finalize(
    binning: Literal["range", "quantile"], n_bins: int
) -> Callable[[Splits], tuple[Splits, dict[str, Any]]]:
    def finalize(splits: Splits) -> tuple[Splits, dict[str, Any]]:
        edges = bin_edges(splits["train"], binning, n_bins)
        labelled = {name: assign_labels(frame, edges) for name, frame in splits.items()}
        info = {
            "binning": binning,
            "bin_edges": {str(k): v for k, v in edges.items()},
            "score_ranges": {str(k): list(v) for k, v in SCORE_RANGES.items()},
            "label_rule": "label = number of bin_edges[essay_set] <= score",
        }
        return labelled, info

    return finalize


def load(
    raw_dir: Path,
    *,
    n_bins: int = 4,
    binning: Literal["range", "quantile"] = "range",
    essay_sets: tuple[int, ...] | None = None,
) -> Loaded:
    """Load the essays from ``raw_dir/essays/training_set_rel3.tsv``; labels come after the
    split."""
    path = Path(raw_dir) / "essays" / "training_set_rel3.tsv"
    frame = read_essays(path, essay_sets)
    return Loaded(
        frame=frame,
        modality="text",
        group="text",
        task="ordinal",
        label_names=[f"bin {k}" for k in range(n_bins)],
        columns=COLUMNS,
        stratify="essay_set",
        finalize=_finalize(binning, n_bins),
        info={"files": ["essays/training_set_rel3.tsv"]},
    )
