"""Amazon review data 2018, 5-core (Ni, Li & McAuley, EMNLP 2019): one dataset per category.

The 5-core files repeat a review once per product variant, so exact duplicates -- same reviewer,
same time, same review text -- are dropped *before* splitting (otherwise the same review lands in
train and test). Reviews with no review text are dropped and counted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import polars as pl

from glassworks.data.read import decode_utf8
from glassworks.data.schema import Loaded
from glassworks.errors import DataError

LABEL_NAMES = ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
REQUIRED = ("overall", "reviewerID", "asin", "unixReviewTime")
COLUMNS = {
    "id": "16 hex digits of sha1(reviewer_id, unix_time, review_text): unique after dedup",
    "text": "summary and review text, joined by a newline",
    "label": "star rating - 1 (0..4)",
    "stars": "star rating 1..5 (the source's 'overall')",
    "reviewer_id": "the source's reviewerID",
    "asin": "product id of the first copy kept (duplicates differ only in variant)",
    "unix_time": "review time, seconds since the epoch",
    "verified": "verified purchase",
    "summary": "review title (empty when missing)",
    "review_text": "review body",
}


def _row(obj: Any, path: Path, line: int) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DataError(path, "expected a JSON object", line=line)
    for key in REQUIRED:
        if key not in obj or obj[key] is None:
            raise DataError(path, "missing field", line=line, field=key)
    try:
        stars = float(obj["overall"])
    except (TypeError, ValueError):
        raise DataError(
            path, f"not a number: {obj['overall']!r}", line=line, field="overall"
        ) from None
    if stars not in (1.0, 2.0, 3.0, 4.0, 5.0):
        raise DataError(
            path, f"star rating {obj['overall']!r} out of range (1..5)", line=line, field="overall"
        )
    try:
        unix_time = int(obj["unixReviewTime"])
    except (TypeError, ValueError, OverflowError):
        raise DataError(
            path, f"not an integer: {obj['unixReviewTime']!r}", line=line, field="unixReviewTime"
        ) from None
    for key in ("reviewerID", "asin"):
        if not isinstance(obj[key], str | int) or isinstance(obj[key], bool):
            raise DataError(path, f"expected a string, got {obj[key]!r}", line=line, field=key)
    for key in ("reviewText", "summary"):
        if not isinstance(obj.get(key), str | None):
            raise DataError(path, f"expected a string, got {obj[key]!r}", line=line, field=key)
    review = obj.get("reviewText")
    return {
        "stars": int(stars),
        "reviewer_id": str(obj["reviewerID"]),
        "asin": str(obj["asin"]),
        "unix_time": unix_time,
        "verified": bool(obj.get("verified", False)),
        "summary": str(obj.get("summary") or "").strip(),
        "review_text": None if review is None else str(review).strip(),
    }


def read_reviews(path: Path) -> list[dict[str, Any]]:
    """Parse a (gzipped) JSON-lines review file; every error names the line."""
    if not path.is_file():
        raise DataError(path, "file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[dict[str, Any]] = []
    line = 0
    try:
        with opener(path, "rb") as handle:
            for line, raw in enumerate(handle, start=1):  # noqa: B007 - line used after loop
                if not raw.strip():
                    continue
                text = decode_utf8(raw, path, first_line=line)
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise DataError(path, f"invalid JSON: {exc.msg}", line=line) from None
                rows.append(_row(obj, path, line))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(
            path, f"truncated or corrupt gzip after line {line} ({exc}); re-fetch it (dvc pull)"
        ) from None
    if not rows:
        raise DataError(path, "file is empty")
    return rows


def _review_id(reviewer: str, unix_time: int, text: str) -> str:
    key = f"{reviewer}\x1f{unix_time}\x1f{text}".encode()
    return hashlib.sha1(key).hexdigest()[:16]


def load(raw_dir: Path, category: str) -> Loaded:
    """Load one category's 5-core file from ``raw_dir/amazon/<category>_5.json.gz``."""
    folder = Path(raw_dir) / "amazon"
    path = folder / f"{category}_5.json.gz"
    if not path.exists() and (folder / f"{category}_5.json").exists():
        path = folder / f"{category}_5.json"
    rows = read_reviews(path)
    frame = pl.DataFrame(
        rows,
        schema={
            "stars": pl.Int64,
            "reviewer_id": pl.String,
            "asin": pl.String,
            "unix_time": pl.Int64,
            "verified": pl.Boolean,
            "summary": pl.String,
            "review_text": pl.String,
        },
    )
    n_read = frame.height
    frame = frame.filter(pl.col("review_text").is_not_null() & (pl.col("review_text") != ""))
    no_text = n_read - frame.height
    before = frame.height
    frame = frame.unique(
        subset=["reviewer_id", "unix_time", "review_text"], keep="first", maintain_order=True
    )
    duplicates = before - frame.height
    frame = frame.with_columns(
        id=pl.struct("reviewer_id", "unix_time", "review_text").map_elements(
            lambda r: _review_id(r["reviewer_id"], r["unix_time"], r["review_text"]),
            return_dtype=pl.String,
        ),
        text=pl.when(pl.col("summary") == "")
        .then(pl.col("review_text"))
        .otherwise(pl.col("summary") + "\n" + pl.col("review_text")),
        label=pl.col("stars") - 1,
    ).select(list(COLUMNS))
    return Loaded(
        frame=frame,
        modality="text",
        group="review_text",
        task="ordinal",
        label_names=LABEL_NAMES,
        columns=COLUMNS,
        info={
            "files": [f"amazon/{path.name}"],
            "category": category,
            "rows_read": n_read,
            "dropped": {"no_text": no_text, "duplicates": duplicates},
            "dedup_key": ["reviewer_id", "unix_time", "review_text"],
        },
    )
