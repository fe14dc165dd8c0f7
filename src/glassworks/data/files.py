"""Your own data: CSV, TSV, JSONL, Parquet and ARFF files and Hugging Face datasets.

Files are read through Hugging Face ``datasets`` (``load_dataset("csv" | "json" | "parquet",
data_files=...)``, offline, into a throw-away cache; a saved dataset folder through
``load_from_disk``; a hub dataset online) except ARFF, whose header carries the types
(``liac-arff``). One builder (:func:`build_loaded`) then infers what the entry leaves open:

- **task** from the label column: text or boolean labels are classes (binary for two, else
  multiclass); integer labels with at most :data:`MAX_CLASSES` values are classes; other numbers
  are a regression target. ``task`` overrides (``ordinal`` only when asked: an ordered class
  index, ``label_names`` lowest first).
- **feature types**: numbers are numeric; text that parses as numbers everywhere is numeric;
  other text is categorical unless it has many distinct values (more than :data:`MAX_LEVELS` and
  more than half the rows), which flags it as free text and leaves it out of a tabular model's
  features. ``numeric`` / ``categorical`` override per column.
- **missing values**: null, NaN and empty strings; a row whose label or text is missing is
  dropped and counted.

Bad input (a missing column, one class, a column mixing numbers with words, an empty file, a
wrong delimiter, bytes that are not UTF-8, a hub id without network) is one :class:`DataError`
naming the file, the column and the row. Exact-duplicate rows (same text, or same feature values)
share a split group with any ``group`` column's rows, so they never straddle splits.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import FileDataset
from glassworks.data.read import decode_utf8
from glassworks.data.schema import Loaded, Splits, Task, natural_order, target_stats
from glassworks.data.split import DUP_GROUP
from glassworks.errors import DataError

log = logging.getLogger(__name__)

MAX_CLASSES = 20
"""Integer labels with at most this many distinct values are classes, more are a regression."""
MAX_LEVELS = 50
"""A text column with more distinct values than this (and than half its rows) is free text."""
MIXED_SHARE = 0.9
"""A text column whose values are numbers this often (but not always) is a data error."""
STRATA = "_stratum"
"""Helper column: the split strata of a regression target (deciles), dropped after splitting."""


@dataclass(frozen=True)
class Rows:
    """Where the frame's rows came from, for error messages: row ``i`` is data row
    ``source[i] + 1`` of the file (rows without a label are gone by then), on line
    ``first_line + source[i]`` for line-based formats (one row per line assumed)."""

    source: np.ndarray
    first_line: int | None = None

    def name(self, i: int) -> str:
        return f"data row {int(self.source[i]) + 1}"

    def line(self, i: int) -> dict[str, int]:
        if self.first_line is None:
            return {}
        return {"line": self.first_line + int(self.source[i])}


SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "validation": "valid",
    "val": "valid",
    "dev": "valid",
    "test": "test",
    "testing": "test",
}
"""Accepted spellings of a given split (``given_split`` column values, hub split names)."""


# --------------------------------------------------------------------------------------------
# reading


def source_path(params: FileDataset, raw_dir: Path) -> Path:
    """Where the entry's file (or saved dataset folder) lies: ``raw_dir/<source>/<path>``."""
    return Path(raw_dir) / params.source / str(params.path)


def _check_text_file(path: Path) -> str:
    if not path.is_file():
        raise DataError(path, "file not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(path, "file is empty")
    return decode_utf8(raw, path)


def _from_hf(ds: Any, label: str | None = None) -> pl.DataFrame:
    """A ``datasets.Dataset`` as a polars frame (through Arrow, no copy of the values); a
    ``ClassLabel`` label column becomes its class names, ``-1`` (no label) missing."""
    import datasets

    frame = pl.from_arrow(ds.data.table)
    assert isinstance(frame, pl.DataFrame)
    feature = ds.features.get(label) if label else None
    if isinstance(feature, datasets.ClassLabel) and label in frame.columns:
        names = dict(enumerate(feature.names))
        frame = frame.with_columns(
            pl.col(label).replace_strict(names, default=None, return_dtype=pl.String)
        )
    return frame


def _class_names(ds: Any, label: str) -> list[str] | None:
    """The declared class order of a ``ClassLabel`` label column (else None)."""
    import datasets

    part = next(iter(ds.values())) if isinstance(ds, datasets.DatasetDict) else ds
    feature = part.features.get(label)
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None


def _load_files(builder: str, path: Path, **kwargs: Any) -> pl.DataFrame:
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="glassworks-hf-") as cache:
        try:
            ds = datasets.load_dataset(
                builder,
                data_files=str(path),
                split="train",
                cache_dir=cache,
                keep_in_memory=True,
                **kwargs,
            )
        except Exception as exc:  # datasets wraps pandas/arrow/json errors in several types
            raise DataError(path, f"could not read it as {builder}: {_reason(exc)}") from None
        return _from_hf(ds)


def _reason(exc: BaseException) -> str:
    """The innermost message of a chained exception (datasets wraps the parser's error)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return f"{type(exc).__name__}: {exc}".strip()


def _first_bad_json_line(text: str) -> tuple[int, str] | None:
    for i, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 is JSON
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            return i, f"invalid JSON: {exc.msg}"
        if not isinstance(value, dict):
            return i, f"expected one JSON object per line, got {type(value).__name__}"
    return None


def _guess_delimiter(header: str, used: str) -> str | None:
    try:
        found = csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return None
    return found if found != used else None


def read_table(params: FileDataset, raw_dir: Path) -> tuple[pl.DataFrame, str, dict[str, Any]]:
    """Read the entry's rows as a frame; returns the frame, the place errors name and facts
    for ``schema.json`` (the file, its format, how a row maps to a line)."""
    src = params.source
    if src == "hf":
        return _read_hf(params, raw_dir)
    path = source_path(params, raw_dir)
    info: dict[str, Any] = {"files": [f"{src}/{params.path}"], "format": src}
    if src == "parquet":
        if not path.is_file():
            raise DataError(path, "file not found")
        frame = _load_files("parquet", path)
        info["first_line"] = None
    elif src == "arff":
        frame = read_arff_frame(path)
        info["first_line"] = None
    elif src == "jsonl":
        text = _check_text_file(path)
        bad = _first_bad_json_line(text)
        if bad is not None:
            raise DataError(path, bad[1], line=bad[0])
        frame = _load_files("json", path)
        info["first_line"] = 1
    else:
        text = _check_text_file(path)
        sep = "\t" if src == "tsv" else (params.delimiter or ",")
        first_line = 2 if params.header else 1
        try:
            quoting = csv.QUOTE_NONE if src == "tsv" else csv.QUOTE_MINIMAL
            first = next(csv.reader(io.StringIO(text), delimiter=sep, quoting=quoting))
        except (StopIteration, csv.Error) as exc:
            raise DataError(path, f"no header line: {exc}", line=1) from None
        names = first if params.header else [f"column_{i + 1}" for i in range(len(first))]
        if params.header:
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise DataError(path, f"the header repeats column names {dupes}", line=1)
        import datasets

        # every column read as text (typed by inference below): datasets fixes a column's type
        # from its first chunk of rows, so a value of another type further down would fail
        kwargs: dict[str, Any] = {
            "sep": sep,
            "keep_default_na": True,
            "features": datasets.Features({n: datasets.Value("string") for n in names}),
        }
        if src == "tsv":  # tab-separated text is not quoted: a stray '"' must not join lines
            kwargs["quoting"] = csv.QUOTE_NONE
        if not params.header:
            kwargs.update(header=None, names=names)
        frame = _load_files("csv", path, **kwargs)
        if params.label not in frame.columns and frame.width == 1:
            other = _guess_delimiter(text.split("\n", 1)[0], sep)
            if other is not None:
                raise DataError(
                    path,
                    f"one column only with separator {sep!r}; the header looks separated by "
                    f"{other!r} (set delimiter: {other!r}"
                    + (", or use source: tsv)" if other == "\t" else ")"),
                    line=1,
                )
        info["first_line"] = first_line
        info["delimiter"] = sep
    return frame, str(path), info


def _read_hf(params: FileDataset, raw_dir: Path) -> tuple[pl.DataFrame, str, dict[str, Any]]:
    import datasets

    datasets.disable_progress_bars()
    if params.path:
        path = source_path(params, raw_dir)
        where = str(path)
        if not path.is_dir():
            raise DataError(path, "no saved dataset folder here (datasets' save_to_disk)")
        try:
            ds = datasets.load_from_disk(str(path), keep_in_memory=True)
        except Exception as exc:  # FileNotFoundError or a damaged folder
            raise DataError(path, f"not a saved Hugging Face dataset: {_reason(exc)}") from None
        info: dict[str, Any] = {"files": [f"hf/{params.path}"], "format": "hf"}
    else:
        where = f"hf:{params.hub}" + (f"/{params.hub_config}" if params.hub_config else "")
        try:
            ds = datasets.load_dataset(str(params.hub), params.hub_config)
        except Exception as exc:  # offline: ConnectionError / OfflineModeIsEnabled / ...
            raise DataError(
                where,
                f"could not load the hub dataset ({_reason(exc)}); it needs a network the first "
                "time (then datasets' cache), or save it with `glassworks add-dataset hf:NAME` "
                "on a machine that has one",
            ) from None
        info = {"files": [f"https://huggingface.co/datasets/{params.hub}"], "format": "hf"}
    info["first_line"] = None
    if (names := _class_names(ds, params.label)) is not None:
        info["class_names"] = names
    if isinstance(ds, datasets.DatasetDict):
        if params.hub_split is not None:
            if params.hub_split not in ds:
                raise DataError(
                    where, f"no split {params.hub_split!r} (found: {', '.join(ds)})", field="hub"
                )
            return _from_hf(ds[params.hub_split], params.label), where, info
        frames = []
        for name, part in ds.items():
            frames.append(_from_hf(part, params.label).with_columns(pl.lit(name).alias(GIVEN)))
        info["given_splits"] = list(ds)
        return pl.concat(frames, how="vertical_relaxed"), where, info
    return _from_hf(ds, params.label), where, info


def save_hub(hub: str, config: str | None, dest: Path) -> None:
    """Download a hub dataset (online) and save it with ``save_to_disk`` at ``dest``, so the
    pipeline reads a DVC-versioned copy offline from then on."""
    import datasets

    where = f"hf:{hub}" + (f":{config}" if config else "")
    try:
        ds = datasets.load_dataset(hub, config)
    except Exception as exc:  # offline: ConnectionError / OfflineModeIsEnabled / ...
        raise DataError(
            where, f"could not download the hub dataset ({_reason(exc)}); this needs a network"
        ) from None
    ds.save_to_disk(str(dest))


GIVEN = "_given_split"
"""Helper column: a hub dataset's split names, read as given splits."""


def read_arff_frame(path: Path) -> pl.DataFrame:
    """Any ARFF file as a frame, types from its header: numeric/real/integer -> Float64, nominal
    -> String (categorical), string -> String; ``?`` -> null. No OpenML metadata needed."""
    import arff

    text = _check_text_file(path)
    try:
        parsed = arff.loads(text)
    except arff.ArffException as exc:
        raise DataError(path, f"bad ARFF: {exc}", line=getattr(exc, "line", None)) from None
    columns: dict[str, pl.Series] = {}
    for j, (name, kind) in enumerate(parsed["attributes"]):
        values = [row[j] for row in parsed["data"]]
        if isinstance(kind, str) and kind.upper() in {"NUMERIC", "REAL", "INTEGER"}:
            series = pl.Series(
                name,
                [
                    None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                    for v in values
                ],
                dtype=pl.Float64,
            )
        elif isinstance(kind, list):  # nominal: categorical, whatever its values look like
            strings = [None if v is None else str(v) for v in values]
            categories = natural_order(v for v in strings if v is not None)
            series = pl.Series(name, strings, pl.Enum(categories))
        else:  # string, date: text, typed by inference
            series = pl.Series(name, [None if v is None else str(v) for v in values], pl.String)
        columns[name] = series
    return pl.DataFrame(columns)


# --------------------------------------------------------------------------------------------
# inference


def _as_strings(series: pl.Series) -> pl.Series:
    """Text values stripped, empty strings as null."""
    out = series.cast(pl.String).str.strip_chars()
    return out.set(out == "", None) if (out == "").any() else out


def _numbers(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``series`` parsed as Float64 and the mask of non-missing values that did not parse."""
    if series.dtype.is_numeric():
        return series.cast(pl.Float64), pl.Series([False] * series.len())
    text = _as_strings(series)
    parsed = text.cast(pl.Float64, strict=False)
    return parsed, text.is_not_null() & parsed.is_null()


def column_kind(series: pl.Series) -> str:
    """``numeric``, ``categorical`` (booleans and ARFF nominals too), ``text`` (free text: many
    distinct values; dates) or ``unsupported`` (nested values)."""
    if series.dtype == pl.Boolean or isinstance(series.dtype, pl.Enum):
        return "categorical"  # booleans, ARFF nominals
    if series.dtype.is_numeric():
        return "numeric"
    if series.dtype.is_temporal():
        return "text"
    if series.dtype not in (pl.String, pl.Categorical) and not isinstance(series.dtype, pl.Enum):
        return "unsupported"
    text = _as_strings(series)
    n = text.drop_nulls().len()
    if n and not _numbers(text)[1].any():
        return "numeric"
    distinct = text.drop_nulls().n_unique()
    return "text" if distinct > MAX_LEVELS and distinct > n / 2 else "categorical"


def _mixed_check(series: pl.Series, where: str, rows: Rows) -> None:
    """A text column of numbers but a few words is a typo or a shifted row: refuse it."""
    if series.dtype.is_numeric() or series.dtype == pl.Boolean or isinstance(series.dtype, pl.Enum):
        return
    text = _as_strings(series)
    present = text.drop_nulls().len()
    if not present:
        return
    parsed, bad = _numbers(text)
    n_bad = int(bad.sum())
    if n_bad and parsed.drop_nulls().len() >= MIXED_SHARE * present:
        i = int(bad.arg_max())
        raise DataError(
            where,
            f"mixed types: {text[i]!r} in {rows.name(i)} of a column of numbers "
            f"({n_bad} such value(s)); fix the value (a feature meant as text: list it under "
            "'categorical')",
            field=series.name,
            **rows.line(i),
        )


def _numeric(series: pl.Series, where: str, rows: Rows) -> pl.Series:
    parsed, bad = _numbers(series)
    if bad.any():
        i = int(bad.arg_max())
        raise DataError(
            where, f"not a number: {_as_strings(series)[i]!r} in {rows.name(i)}", field=series.name,
            **rows.line(i),
        )  # fmt: skip
    inf = parsed.is_infinite()
    if inf.any():
        i = int(inf.arg_max())
        raise DataError(
            where, f"infinite value in {rows.name(i)}", field=series.name, **rows.line(i)
        )
    return parsed.fill_nan(None).alias(series.name)


def _categorical(series: pl.Series) -> tuple[pl.Series, list[str]]:
    if series.dtype == pl.Boolean:
        text = series.cast(pl.String).str.to_lowercase()
    elif series.dtype.is_numeric():
        text = pl.Series(series.name, _label_strings(series.to_list()), pl.String)
    else:
        text = _as_strings(series)
    categories = natural_order(text.drop_nulls().to_list())
    return text.cast(pl.Enum(categories)).alias(series.name), categories


_WHOLE = re.compile(r"^([+-]?\d+)\.0+$")


def _missing(col: pl.Series) -> int:
    """Null, NaN and empty-string values."""
    if col.dtype == pl.String:
        return int(_as_strings(col).null_count())
    return int(col.null_count() + (col.is_nan().sum() if col.dtype.is_float() else 0))


def _label_strings(values: Sequence[Any]) -> list[str | None]:
    """Label values as class names: whole numbers without a decimal point (``1.0`` -> ``1``), so
    CSV integers and ARFF reals give the same names."""
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        elif isinstance(v, bool):
            out.append(str(v).lower())
        else:
            text = str(v).strip()
            out.append(_WHOLE.sub(r"\1", text) or None)  # "1.0" -> "1", as a number would be
    return out


def infer_task(label: pl.Series) -> Task:
    """Binary / multiclass from class-like labels (text, booleans, ARFF nominals, whole numbers
    with at most :data:`MAX_CLASSES` values), regression from other numbers."""
    values = label.drop_nulls()
    if values.dtype == pl.Boolean or isinstance(values.dtype, pl.Enum):
        numbers = None
    elif values.dtype.is_numeric():
        numbers = values.cast(pl.Float64)
    else:
        values = _as_strings(values).drop_nulls()
        parsed, words = _numbers(values)
        numbers = None if words.any() or not values.len() else parsed
    if numbers is not None:
        integral = bool((numbers == numbers.round(0)).all())
        if not integral or numbers.n_unique() > MAX_CLASSES:
            return "regression"
    return "binary" if values.n_unique() == 2 else "multiclass"


def _union_groups(keys: Sequence[pl.Series]) -> np.ndarray:
    """Connected components of rows linked by equal values in any of ``keys`` (union-find)."""
    n = keys[0].len()
    if len(keys) == 1:
        return keys[0].rank("dense").to_numpy().astype(np.int64) - 1
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for key in keys:
        first: dict[Any, int] = {}
        for i, value in enumerate(key.to_list()):
            if value is None:
                continue
            j = first.setdefault(value, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def _require(frame: pl.DataFrame, column: str | None, role: str, where: str) -> None:
    if column is not None and column not in frame.columns:
        found = ", ".join(frame.columns) or "none"
        raise DataError(where, f"no {role} column {column!r} (found: {found})", field=role)


def _usable_rows(
    frame: pl.DataFrame, params: FileDataset, where: str
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The rows with a label (and a text, for text data), with their source row number in
    ``_row``; how many were dropped, and why."""
    label = frame.get_column(params.label)
    if not label.dtype.is_numeric() and label.dtype != pl.Boolean:
        label = _as_strings(label)
    keep = label.is_not_null()
    if label.dtype.is_float():
        keep &= ~label.is_nan()
    dropped = {"missing_label": int((~keep).sum())}
    if params.text is not None:
        text = frame.get_column(params.text)
        if text.dtype != pl.String:
            raise DataError(where, f"text column has type {text.dtype}, not text",
                            field=params.text)  # fmt: skip
        has_text = _as_strings(text).is_not_null()
        dropped["missing_text"] = int((keep & ~has_text).sum())
        keep &= has_text
    frame = frame.with_columns(pl.Series("_row", np.arange(frame.height))).filter(keep)
    if frame.height == 0:
        raise DataError(where, "no row has a label" + (" and a text" if params.text else ""))
    return frame, dropped


def _label(
    frame: pl.DataFrame,
    params: FileDataset,
    where: str,
    rows: Rows,
    declared: Sequence[str] | None = None,
) -> tuple[Task, pl.Series, list[str]]:
    """The task (given or inferred), the ``label`` column (class index or target value) and the
    class names (none for a regression), in ``label_names`` order, else the ``declared`` order
    (a Hugging Face ``ClassLabel``), else natural order."""
    label = frame.get_column(params.label)
    _mixed_check(label, where, rows)
    task: Task = params.task or infer_task(label)
    if task == "regression":
        y = _numeric(label, where, rows).alias("label")
        if y.n_unique() < 2:
            raise DataError(where, f"the target has one value ({y[0]}): nothing to learn",
                            field=params.label)  # fmt: skip
        return task, y, []
    names = pl.Series(params.label, _label_strings(label.to_list()), pl.String)
    present = natural_order(names.drop_nulls().to_list())
    if len(present) < 2:
        raise DataError(
            where,
            f"the label has one class ({present[0]!r} in all {frame.height} rows): "
            "nothing to learn",
            field=params.label,
        )
    if task == "binary" and len(present) != 2:
        raise DataError(where, f"task binary, but the label has {len(present)} classes",
                        field=params.label)  # fmt: skip
    label_names = present
    order = params.label_names if params.label_names is not None else declared
    if order is not None:
        unknown = sorted(set(present) - set(order))
        if unknown:
            raise DataError(
                where,
                f"label values {unknown} are not in label_names {list(order)}",
                field=params.label,
            )
        label_names = list(order)
    index = {name: i for i, name in enumerate(label_names)}
    return task, pl.Series("label", [index[v] for v in names.to_list()], pl.Int64), label_names


def _ids(frame: pl.DataFrame, params: FileDataset, where: str, rows: Rows) -> pl.Series:
    """The ``id`` column: the entry's id column (non-missing, unique) or the source row number."""
    if params.id is None:
        return pl.Series("id", [str(r + 1) for r in frame.get_column("_row").to_list()])
    ids = _as_strings(frame.get_column(params.id)).alias("id")
    if ids.null_count():
        i = int(ids.is_null().arg_max())
        raise DataError(where, f"missing id in {rows.name(i)}", field=params.id, **rows.line(i))
    dup = ~ids.is_first_distinct()  # the first repeat, not the original
    if dup.any():
        i = int(dup.arg_max())
        raise DataError(where, f"id {ids[i]!r} is not unique ({rows.name(i)})", field=params.id,
                        **rows.line(i))  # fmt: skip
    return ids


def _features(
    frame: pl.DataFrame, params: FileDataset, used: set[str], where: str, rows: Rows
) -> tuple[list[pl.Series], dict[str, Any]]:
    """Typed feature columns (numeric -> Float64, categorical -> Enum) and, per column, its
    type, how it was decided, missing and distinct counts (free-text columns flagged, left out)."""
    names = list(params.features) if params.features is not None else [
        c for c in frame.columns if c not in used
    ]  # fmt: skip
    if not names:
        raise DataError(where, "no feature columns left (all are label/id/group/split)")
    series: list[pl.Series] = []
    info: dict[str, Any] = {}
    for name in names:
        col = frame.get_column(name)
        if name == "label" and params.label != "label":
            raise DataError(where, "a feature named 'label' clashes with the label column",
                            field=name)  # fmt: skip
        if name in params.numeric:
            kind, how = "numeric", "override"
        elif name in params.categorical:
            kind, how = "categorical", "override"
        else:
            _mixed_check(col, where, rows)
            kind, how = column_kind(col), "inferred"
        entry: dict[str, Any] = {"type": kind, "how": how, "missing": _missing(col),
                                 "distinct": int(col.drop_nulls().n_unique())}  # fmt: skip
        if kind == "numeric":
            series.append(_numeric(col, where, rows))
        elif kind == "categorical":
            typed, entry["categories"] = _categorical(col)
            series.append(typed)
        else:
            entry["flagged"] = (
                "free text (many distinct values): left out of the features"
                if kind == "text"
                else f"unsupported type {col.dtype}: left out of the features"
            )
        info[name] = entry
    if not series:
        raise DataError(where, "no usable feature column (all flagged as free text)")
    return series, info


def _row_key(series: Sequence[pl.Series]) -> pl.Series:
    """One string per row joining its values (missing kept apart from any value)."""
    frame = pl.DataFrame(series)
    joined = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("\x00") for c in frame.columns], separator="\x1f"
    )
    return frame.select(joined).to_series()


def _given_splits(
    frame: pl.DataFrame, out: pl.DataFrame, column: str, where: str, rows: Rows
) -> dict[str, pl.DataFrame]:
    """``out`` cut by the split each row names in ``column`` (train / valid / test spellings)."""
    raw = _as_strings(frame.get_column(column)).str.to_lowercase()
    mapped = raw.replace_strict(SPLIT_NAMES, default=None, return_dtype=pl.String)
    bad = mapped.is_null()
    if bad.any():
        i = int(bad.arg_max())
        raise DataError(where, f"unknown split {raw[i]!r} in {rows.name(i)} (train/valid/test)",
                        field=column, **rows.line(i))  # fmt: skip
    given = {s: out.filter(mapped == s) for s in ("train", "valid", "test")}
    if given["train"].height == 0:
        raise DataError(where, "the given splits have no train rows", field=column)
    return given


def _drop_helpers(splits: Splits) -> tuple[Splits, dict[str, Any]]:
    """``Loaded.finalize``: the regression strata column goes once the splits are drawn."""
    return {k: v.drop(STRATA, strict=False) for k, v in splits.items()}, {}


def build_loaded(
    frame: pl.DataFrame, params: FileDataset, where: str, info: dict[str, Any]
) -> Loaded:
    """Infer task, label names and column types (overrides first), drop unusable rows, and build
    the text or tabular frame with its split groups; everything chosen goes to ``info``."""
    if frame.height == 0:
        raise DataError(where, "no data rows")
    roles = {"label": params.label, "text": params.text, "id": params.id, "group": params.group,
             "given_split": params.given_split}  # fmt: skip
    for role, column in roles.items():
        _require(frame, column, role, where)
        if column is not None and frame.schema[column].is_nested():
            kind = frame.schema[column]
            raise DataError(where, f"the {role} column holds nested values ({kind})", field=column)
    for column in (*params.categorical, *params.numeric, *params.drop_columns):
        _require(frame, column, "listed", where)
    for column in params.features or ():
        _require(frame, column, "feature", where)
    given_col = params.given_split or (GIVEN if GIVEN in frame.columns else None)
    source_rows = frame.height
    frame, dropped = _usable_rows(frame, params, where)
    rows = Rows(frame.get_column("_row").to_numpy(), info.get("first_line"))
    task, y, label_names = _label(frame, params, where, rows, info.get("class_names"))
    ids = _ids(frame, params, where, rows)
    features: dict[str, Any] = {}
    if params.text is not None:
        modality = "text"
        text = _as_strings(frame.get_column(params.text)).alias("text")
        out = pl.DataFrame([ids, text, y])
        columns = {
            "id": f"row id ({params.id!r})" if params.id else "row number in the source (1-based)",
            "text": f"the text ({params.text!r})",
        }
        dup_key = text
    else:
        modality = "tabular"
        used = {c for c in roles.values() if c} | set(params.drop_columns) | {"_row", GIVEN}
        series, features = _features(frame, params, used, where, rows)
        out = pl.DataFrame([*series, y])
        columns = {s.name: f"{features[s.name]['type']} feature" for s in series}
        dup_key = _row_key(series)
    columns["label"] = (
        f"target value ({params.label!r})"
        if task == "regression"
        else f"class index of {params.label!r} (label_names gives the order)"
    )
    # split groups: exact duplicates (same text / same features) joined with the group column
    keys = [dup_key]
    if params.group is not None:
        keys.append(_as_strings(frame.get_column(params.group)))
    out = out.with_columns(pl.Series(DUP_GROUP, _union_groups(keys).astype(str)))
    stratify = "label"
    if task == "regression":  # strata: target deciles
        edges = np.unique(np.quantile(y.to_numpy(), np.linspace(0, 1, 11)[1:-1]))
        out = out.with_columns(pl.Series(STRATA, np.searchsorted(edges, y.to_numpy())))
        stratify = STRATA
    given = None if given_col is None else _given_splits(frame, out, given_col, where, rows)
    info = {
        **info,
        "source_rows": source_rows,
        "dropped": dropped,
        "inferred": {
            "modality": modality,
            "task": task,
            "task_how": "override" if params.task else "inferred",
            "label_column": params.label,
            "text_column": params.text,
            "group_column": params.group,
            "given_split_column": given_col if given_col != GIVEN else "hub splits",
            "features": features,
        },
        "duplicate_rows": frame.height - dup_key.n_unique(),
    }
    if task == "regression":
        info["target"] = target_stats(y)
    return Loaded(
        frame=out if given is None else given["train"],
        modality=modality,
        task=task,
        label_names=label_names,
        columns=columns,
        info=info,
        stratify=stratify,
        group=DUP_GROUP,
        test=None if given is None or given["test"].height == 0 else given["test"],
        valid=None if given is None or given["valid"].height == 0 else given["valid"],
        finalize=_drop_helpers,
    )


def load(params: FileDataset, raw_dir: Path) -> Loaded:
    """Read and type one generic dataset entry (see the module docstring)."""
    frame, where, info = read_table(params, Path(raw_dir))
    if params.source == "hf" and GIVEN in frame.columns and params.given_split:
        frame = frame.drop(GIVEN)
    return build_loaded(frame, params, where, info)
