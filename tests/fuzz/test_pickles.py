"""Damaged model pickles (the project's own ``model.pkl`` files: truncated, bytes flipped, random
bytes, a pickle of the wrong object) through ``io.read_pickle`` and the ``explain`` stage: each is
loaded whole or refused with one ``DataError`` naming the file; the stage writes nothing."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassworks.errors import DataError
from glassworks.io import BUNDLE_KEYS, read_pickle
from glassworks.models.tabular import TabularEncoder, make_tabular_model
from stages import explain
from stages.common import run_main
from tests.fakes import toy_tabular
from tests.fuzz.conftest import tried

REPO = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def bundle_bytes() -> bytes:
    """A real ``train_tabular``-style bundle, pickled."""
    frame = toy_tabular(60)
    enc = TabularEncoder().fit(frame)
    model = make_tabular_model("logistic_regression", 0, {}).fit(
        enc.transform(frame), frame["label"].to_numpy()
    )
    bundle = {"encoder": enc, "model": model, "label_names": ["no", "yes"], "method": "lr"}
    return pickle.dumps(bundle)


def _damage(data: bytes, kind: str, where: float, byte: int) -> bytes:
    at = min(int(where * len(data)), len(data) - 1)
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (byte or 1)]) + data[at + 1 :]
    if kind == "wrong-object":
        return pickle.dumps([["encoder"], byte, kind][byte % 3])
    return bytes((byte * 7919 + i * 104729) % 256 for i in range(int(where * 4000)))  # random


DAMAGE = st.tuples(
    st.sampled_from(["truncate", "flip", "random", "wrong-object"]),
    st.floats(0, 1),
    st.integers(0, 255),
)


@FUZZ
@given(damage=DAMAGE)
def test_read_pickle_damaged(tmp_path: Path, bundle_bytes: bytes, damage: Any) -> None:
    tried("read_pickle (damaged model.pkl)")
    path = tmp_path / "model.pkl"
    path.write_bytes(_damage(bundle_bytes, *damage))
    try:
        bundle = read_pickle(path, dict, BUNDLE_KEYS)
    except DataError as exc:
        assert str(path) in str(exc)  # noqa: PT017
        assert "dvc repro" in str(exc)  # noqa: PT017 - says how to restore it
    else:  # a flip that kept the pickle valid (inside a float, or a key renamed) is read only
        # when the bundle still has every entry the stages use
        assert set(BUNDLE_KEYS) <= set(bundle)


@pytest.fixture(scope="module")
def stage_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("pickle-stage")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["explain"]["models"] = {
        "broken": {"kind": "embgam", "model": str(ws / "model"), "dataset": "sst2"},
        "broken-mlp": {"kind": "mlp", "model": str(ws / "model"), "dataset": "sst2"},
    }
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    (ws / "model").mkdir()
    return ws


STAGE_DAMAGE = st.tuples(
    st.sampled_from(["truncate", "random", "wrong-object"]), st.floats(0, 1), st.integers(0, 255)
)  # no flips here: a flip that keeps the pickle valid can damage a fitted model's internals,
# which only the DVC checksum catches (`dvc status`); the stage then fails inside the model


@settings(max_examples=40, deadline=None, derandomize=True)
@given(damage=STAGE_DAMAGE, name=st.sampled_from(["broken", "broken-mlp"]))
def test_explain_stage_with_a_damaged_model(
    stage_ws: Path, bundle_bytes: bytes, damage: Any, name: str
) -> None:
    """The stage refuses the file by name (one error line, exit 1) and writes nothing."""
    tried("stage explain (damaged model.pkl)")
    ws = stage_ws
    data = _damage(bundle_bytes, *damage)
    if name == "broken" and damage[0] == "truncate" and damage[1] == 1.0:
        data = bundle_bytes  # an Emb-GAM entry given an intact tabular bundle: the wrong object
    (ws / "model" / "model.pkl").write_bytes(data)
    argv = ["--model", name, "--params", str(ws / "params.yaml"), "--root", str(REPO)]
    dirs = ["--prepared-dir", str(ws / "no-data"), "--out-dir", str(ws / "out")]
    assert run_main(explain.main, [*argv, *dirs, "--metrics-dir", str(ws / "m")]) == 1
    assert not (ws / "out" / name).exists()  # no output, not even a temp folder
    assert not list((ws / "out").glob("*")) if (ws / "out").exists() else True
    assert not (ws / "m").exists()
