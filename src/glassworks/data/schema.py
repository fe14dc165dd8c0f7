"""What a loader returns and what the ``prepare`` stage writes, with the documented columns.

Text datasets: ``id`` (str, unique), ``text`` (str), ``label`` (int64 class index) plus source
fields.
Tabular datasets: one column per OpenML feature (numeric -> Float64, nominal -> Enum with the
categories in natural order, string -> String; missing values are null) plus ``label``.
``schema.json`` beside the parquet files records the columns, label names and every
dataset-specific choice (bin edges, dropped rows, feature types).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

Task = Literal["binary", "multiclass", "ordinal", "regression"]
SPLITS = ("train", "valid", "test")

Splits = dict[str, pl.DataFrame]


@dataclass(frozen=True)
class Loaded:
    """A source read into one frame, before splitting."""

    frame: pl.DataFrame
    modality: Literal["text", "tabular"]
    task: Task
    label_names: list[str]
    columns: dict[str, str]
    """Column name -> one-line description (documented schema)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Source facts for ``schema.json``: files read, rows dropped and why, feature types."""
    stratify: str = "label"
    group: str | None = None
    """Rows sharing this column's value (e.g. identical texts) always go to the same split."""
    within: str | None = None
    """List column of the ``group`` values containing a row (nested rows: SST-2's sub-phrases);
    a row is held out only when all of them are (see ``split.stratified_split``)."""
    test: pl.DataFrame | None = None
    """A fixed test split shipped by the source (SST-2: GLUE dev), or None to draw one."""
    valid: pl.DataFrame | None = None
    """A fixed validation split given by the source (with ``test``), or None to draw one."""
    finalize: Callable[[Splits], tuple[Splits, dict[str, Any]]] | None = None
    """Runs after splitting (e.g. essay bins learnt from train only); returns extra schema info."""


@dataclass(frozen=True)
class PreparedDataset:
    """A dataset split into train/valid/test with its schema and row accounting."""

    name: str
    source: str
    modality: Literal["text", "tabular"]
    task: Task
    label_names: list[str]
    splits: Splits
    columns: dict[str, str]
    info: dict[str, Any]

    def schema(self) -> dict[str, Any]:
        """The JSON-serialisable ``schema.json`` document."""
        train = self.splits["train"]
        return {
            "name": self.name,
            "source": self.source,
            "modality": self.modality,
            "task": self.task,
            "label": "label",
            "label_names": self.label_names,
            "n_classes": len(self.label_names),
            "columns": {
                name: {"dtype": str(train.schema[name]), "description": self.columns.get(name, "")}
                for name in train.columns
            },
            "splits": {name: frame.height for name, frame in self.splits.items()},
            **self.info,
        }

    def metrics(self) -> dict[str, Any]:
        """Row and class counts per split plus rows dropped (for ``metrics/prepare/*.json``)."""
        rows = {name: frame.height for name, frame in self.splits.items()}
        rows["total"] = sum(rows.values())
        counts: dict[str, dict[str, int]] = {}
        if self.task == "regression":
            target = {
                split_name: target_stats(frame.get_column("label"))
                for split_name, frame in self.splits.items()
            }
            return {"rows": rows, "target": target, **self._row_accounting()}
        for split_name, frame in self.splits.items():
            vc = frame.get_column("label").value_counts()
            by_index = dict(zip(vc["label"].to_list(), vc["count"].to_list(), strict=True))
            counts[split_name] = {
                name: int(by_index.get(i, 0)) for i, name in enumerate(self.label_names)
            }
        return {"rows": rows, "class_counts": counts, **self._row_accounting()}

    def _row_accounting(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dropped": {k: int(v) for k, v in self.info.get("dropped", {}).items()}
        }
        for key in ("duplicate_rows", "leakage"):
            if key in self.info:
                out[key] = self.info[key]
        return out


def target_stats(y: pl.Series) -> dict[str, float]:
    """Mean, sd, min and max of a regression target (NaN for an empty split)."""
    if y.len() == 0:
        return {k: float("nan") for k in ("mean", "std", "min", "max")}
    return {
        "mean": float(y.mean()),  # type: ignore[arg-type]
        "std": float(y.std() or 0.0),  # type: ignore[arg-type]
        "min": float(y.min()),  # type: ignore[arg-type]
        "max": float(y.max()),  # type: ignore[arg-type]
    }


_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def natural_order(values: Iterable[str]) -> list[str]:
    """Sort category values numerically when all are numbers, else as strings.

    OpenML's metadata lists nominal values as sorted strings ('1', '10', '2'); the ARFF header has
    its own order. Both the online and offline paths know the *set* of values, so ordering it this
    way gives the same class indices whichever path read the data.
    """
    vals = list(dict.fromkeys(values))
    if vals and all(_NUM.match(v.strip()) for v in vals):
        return sorted(vals, key=lambda v: (float(v), v))
    return sorted(vals)


def require_columns(
    present: Sequence[str], required: Sequence[str], path: str, error: type[Exception]
) -> None:
    """Raise ``error(path, ...)`` naming the first missing column."""
    missing = [c for c in required if c not in present]
    if missing:
        raise error(path, f"missing column {missing[0]!r} (found: {', '.join(present) or 'none'})")
