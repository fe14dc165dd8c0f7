"""A write that fails half-way (disk full): the old file or folder stays as it was, and no
half-written or temporary file is left where DVC would cache it."""

from __future__ import annotations

import errno
from pathlib import Path

import polars as pl
import pytest

from glassworks.io import atomic_dir, write_csv, write_json


def _disk_full_after(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file write gets ``limit`` bytes onto disk, then ENOSPC."""
    real = Path.write_text

    def write_text(self: Path, data: str, *args: object, **kwargs: object) -> int:
        real(self, data[:limit], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", write_text)


def test_json_write_disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metrics" / "m.json"
    write_json(target, {"accuracy": 0.9})
    before = target.read_text()
    _disk_full_after(5, monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        write_json(target, {"accuracy": 0.1, "big": list(range(1000))})
    assert target.read_text() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.json"]  # no temp file left


def test_csv_write_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "plots" / "p.csv"

    def fail(self: pl.DataFrame, path: object, *args: object, **kwargs: object) -> None:
        Path(str(path)).write_bytes(b"fraction,ig\n0.1,")  # half a row, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_csv", fail)
    with pytest.raises(OSError, match="No space left"):
        write_csv(target, pl.DataFrame({"fraction": [0.1], "ig": [0.5]}))
    assert list(target.parent.iterdir()) == []


def test_output_folder_write_fails_half_way(tmp_path: Path) -> None:
    out = tmp_path / "data" / "models" / "m"
    with atomic_dir(out) as tmp:
        (tmp / "model.pt").write_text("v1")

    def write_v2() -> None:
        with atomic_dir(out) as tmp:
            (tmp / "model.pt").write_text("v2-partial")
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_v2()
    assert (out / "model.pt").read_text() == "v1"  # the previous output, whole
    assert sorted(p.name for p in out.parent.iterdir()) == ["m"]  # no temp folder left
