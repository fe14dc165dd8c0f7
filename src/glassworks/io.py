"""Atomic file writes: a killed process leaves either the old output or none, never half of one."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; it is renamed onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temp directory beside ``path``; it replaces ``path`` only if the block succeeds.

    An output has one writer at a time (DVC locks a stage), so temp folders of ``path`` found on
    entry were left by a killed writer and are removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for pattern in (f".{path.name}.*.tmp", f".{path.name}.old-*"):
        for stale in path.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(path: str | Path, frame: pl.DataFrame) -> None:
    """Write a polars frame to parquet, atomically."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp)


def write_csv(path: str | Path, frame: pl.DataFrame) -> None:
    """Atomically write a CSV (e.g. a DVC plot source)."""
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)
