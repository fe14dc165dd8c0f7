"""Strict readers shared by the loaders: decode errors, empty files and bad rows name the line."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from glassworks.data.schema import require_columns
from glassworks.errors import DataError


def decode_utf8(data: bytes, path: Path, *, first_line: int = 1) -> str:
    """Decode UTF-8 strictly; a bad byte is reported with its line number."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        raise DataError(
            path,
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-encode the file as UTF-8",
            line=line,
        ) from None


def read_tsv(path: Path, required: Sequence[str]) -> pl.DataFrame:
    """Read a tab-separated file with *no* quoting (SST-2 and ASAP need it) as all-string columns.

    Row ``i`` of the result is line ``i + 2`` of the file (line 1 is the header).
    """
    if not path.is_file():
        raise DataError(path, "file not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(path, "file is empty")
    text = decode_utf8(raw, path)
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator="\t",
            quote_char=None,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(path, f"not a valid TSV file: {exc}") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    require_columns(frame.columns, required, str(path), DataError)
    return frame


def parse_int_column(
    frame: pl.DataFrame, column: str, path: Path, *, header_lines: int = 1
) -> pl.Series:
    """Parse a string column as integers; the first bad value is reported with its line."""
    values = frame.get_column(column).str.strip_chars()
    parsed = values.cast(pl.Int64, strict=False)
    bad = parsed.is_null()
    if bad.any():
        i = int(bad.arg_max())  # first True
        raise DataError(
            path,
            f"expected an integer, got {values[i]!r}",
            line=i + 1 + header_lines,
            field=column,
        )
    return parsed
