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


class _Unpicklable:
    """Pickling raises (after the objects before it in a container were written)."""

    def __reduce__(self) -> tuple:
        raise RuntimeError("cannot pickle")


def test_write_pickle_round_trips_with_the_protocol_asked(tmp_path: Path) -> None:
    import pickle

    target = tmp_path / "model.pkl"
    bundle = {"encoder": [1, 2], "model": "m", "label_names": ["a", "b"]}
    io.write_pickle(target, bundle)
    assert target.read_bytes() == pickle.dumps(bundle)  # what pickle.dump(obj, f) wrote before
    assert io.read_pickle(target, dict, io.BUNDLE_KEYS) == bundle
    io.write_pickle(target, bundle, protocol=pickle.HIGHEST_PROTOCOL)
    assert target.read_bytes() == pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL)


def test_write_pickle_of_equal_torch_modules_writes_equal_bytes(tmp_path: Path) -> None:
    """torch's own pickles name each storage by its memory address; ours depend on the values
    alone (a DVC output holding a net hashes the same on every run), and plain pickle reads
    them back."""
    import pickle

    import torch

    def net() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(3, 4), torch.nn.Softplus(), torch.nn.Linear(4, 2)
        )

    a, b = net(), net()
    assert pickle.dumps(a) != pickle.dumps(b)  # torch's legacy storage keys (addresses)
    shared = torch.arange(6.0)
    for name, obj in (("a", a), ("b", b)):
        io.write_pickle(tmp_path / f"{name}.pkl", {"net": obj, "views": [shared, shared[2:]]})
    assert (tmp_path / "a.pkl").read_bytes() == (tmp_path / "b.pkl").read_bytes()
    with (tmp_path / "a.pkl").open("rb") as f:
        back = pickle.load(f)  # noqa: S301 - written just above
    x = torch.randn(5, 3)
    torch.testing.assert_close(back["net"](x), a(x))
    assert back["views"][1].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert isinstance(back["net"][0].weight, torch.nn.Parameter)


def test_write_pickle_failure_leaves_old_file_and_no_partial_one(tmp_path: Path) -> None:
    target = tmp_path / "model.pkl"
    io.write_pickle(target, {"v": 1})
    with pytest.raises(RuntimeError, match="cannot pickle"):
        io.write_pickle(target, ["x" * 100_000, _Unpicklable()])
    assert io.read_pickle(target, dict) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["model.pkl"]
    fresh = tmp_path / "new" / "model.pkl"
    with pytest.raises(RuntimeError):
        io.write_pickle(fresh, ["x" * 100_000, _Unpicklable()])
    assert list(fresh.parent.iterdir()) == []


def test_write_text_and_npz_write_exactly_the_path(tmp_path: Path) -> None:
    import numpy as np

    io.write_text(tmp_path / "page.html", "<p>é</p>")
    assert (tmp_path / "page.html").read_bytes() == "<p>é</p>".encode()
    io.write_npz(tmp_path / "a.npz", x=np.arange(3), names=np.array(["a", "b"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "page.html"]
    with np.load(tmp_path / "a.npz") as data:
        assert data["x"].tolist() == [0, 1, 2]
        assert data["names"].tolist() == ["a", "b"]


def test_read_bundle_names_the_stage_that_writes_it(tmp_path: Path) -> None:
    from glassworks.errors import DataError

    with pytest.raises(DataError, match=r"run `dvc repro train_tabular`"):
        io.read_bundle(tmp_path / "inn" / "0", "train_tabular")
    io.write_pickle(tmp_path / "model.pkl", {"encoder": 1, "model": 2})
    with pytest.raises(DataError, match="no 'label_names' entry"):
        io.read_bundle(tmp_path, "train_mlp")
    io.write_pickle(tmp_path / "model.pkl", {"encoder": 1, "model": 2, "label_names": ["a"]})
    assert io.read_bundle(tmp_path, "train_mlp")["model"] == 2
