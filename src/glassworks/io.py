"""Atomic file writes (a killed process leaves either the old output or none, never half of one)
and readers of stage outputs that turn a damaged file into one error naming it."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from glassworks.errors import DataError

DAMAGED = "rerun the stage that writes it (dvc repro) or restore it (dvc checkout)"


@functools.cache
def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would race other threads)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; it is renamed onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make outputs private to one user
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
    tmp.chmod(0o777 & ~_umask())  # as a plain mkdir would (mkdtemp gives 0700)
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


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` as UTF-8 (a report page, a Markdown table), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


class _StablePickler(pickle.Pickler):
    """A pickler whose bytes depend on the object alone. torch pickles a tensor's storage in its
    legacy format, which names the storage by its memory address, so two equal models pickle
    differently in every process (and a DVC output hashes differently on every run); here a
    storage is written in ``torch.save``'s zip format instead (storages numbered in order), read
    back by the same torch function as the legacy bytes (``torch.storage._load_from_bytes``), so
    plain ``pickle.load`` reads it."""

    def reducer_override(self, obj: Any) -> Any:
        torch = sys.modules.get("torch")  # no tensor to pickle unless torch is imported
        if torch is not None and isinstance(obj, torch.storage.TypedStorage | torch.UntypedStorage):
            buffer = io.BytesIO()
            torch.save(obj, buffer)
            return torch.storage._load_from_bytes, (buffer.getvalue(),)  # noqa: SLF001
        return NotImplemented


def write_pickle(path: str | Path, obj: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> None:
    """Pickle ``obj`` atomically: a failure mid-write (an unpicklable member, a full disk) leaves
    the old file or none. Equal objects give equal bytes, torch modules included (see
    :class:`_StablePickler`). Read it back with :func:`read_pickle`."""
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        _StablePickler(f, protocol=protocol).dump(obj)


def write_npz(path: str | Path, **arrays: Any) -> None:
    """``np.savez_compressed`` of ``arrays`` to ``path`` exactly (no ``.npz`` appended),
    atomically."""
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez_compressed(f, **arrays)


def read_json(path: str | Path) -> Any:
    """A JSON file; a missing or damaged one raises :class:`DataError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, f"file not found; {DAMAGED}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(path, f"damaged (not JSON: {exc}); {DAMAGED}") from None


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pl.DataFrame:
    """A parquet file (optionally requiring ``columns``); damage raises :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"file not found; {DAMAGED}")
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(path, f"damaged (not parquet: {exc}); {DAMAGED}") from None
    missing = [c for c in columns or [] if c not in frame.columns]
    if missing:
        raise DataError(path, f"missing column {missing[0]!r}; {DAMAGED}")
    return frame


def read_npy(path: str | Path, *, mmap: bool = True) -> np.ndarray:
    """A ``.npy`` array (memory-mapped by default; never unpickles); damage raises
    :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"file not found; {DAMAGED}")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"damaged (not a numpy array: {exc}); {DAMAGED}") from None


T = TypeVar("T")
BUNDLE_KEYS = ("encoder", "model", "label_names")
"""What every tabular ``model.pkl`` bundle holds (``train_tabular``, ``train_mlp``)."""


def read_pickle(
    path: str | Path, expect: type[T] | tuple[type, ...] = object, keys: Sequence[str] = ()
) -> T:
    """A pickle the project's own stages wrote (a trust boundary: unpickling runs code, so never
    pass a file from elsewhere). A missing, damaged or foreign one (not an ``expect`` instance; a
    mapping without one of ``keys``) raises :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"file not found; {DAMAGED}")
    try:
        with path.open("rb") as f:
            obj = pickle.load(f)  # noqa: S301 - our own stage output (see the docstring)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a damaged file
        first = (str(exc).splitlines() or [""])[0][:200]
        raise DataError(path, f"damaged ({type(exc).__name__}: {first}); {DAMAGED}") from None
    if not isinstance(obj, expect):
        want = getattr(expect, "__name__", None) or " or ".join(t.__name__ for t in expect)
        raise DataError(path, f"holds a {type(obj).__name__}, expected a {want}; {DAMAGED}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DataError(path, f"damaged (no {missing[0]!r} entry); {DAMAGED}")
    return obj  # type: ignore[return-value]


def read_bundle(folder: str | Path, stage: str) -> dict[str, Any]:
    """The ``model.pkl`` bundle (:data:`BUNDLE_KEYS`) in ``folder``, written by ``stage``; a
    missing one raises :class:`DataError` saying which stage to run, a damaged one as
    :func:`read_pickle` does."""
    path = Path(folder) / "model.pkl"
    if not path.exists():
        raise DataError(path, f"no trained model (run `dvc repro {stage}`)")
    return read_pickle(path, dict, BUNDLE_KEYS)
