import json
import os
import stat
from pathlib import Path

import pytest

from glassworks import io
from glassworks.io import atomic_dir, atomic_path, write_json


def test_atomic_path_failure_leaves_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})

    def killed() -> None:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        killed()
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_dir_replaces_whole_directory(tmp_path: Path) -> None:
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
        (tmp / "stale.txt").write_text("1")
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]

    def boom() -> None:
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text("3")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        boom()
    assert (target / "a.txt").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_outputs_get_the_umask_permissions(tmp_path: Path) -> None:
    """Temp files and folders are private (0600/0700); renamed into place they must not be."""
    old = os.umask(0o027)
    try:
        io._umask.cache_clear()
        with io.atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("{}")
        with io.atomic_dir(tmp_path / "out") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(old)
        io._umask.cache_clear()
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o750
