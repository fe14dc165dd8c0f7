"""Adversarial parameter files under hypothesis: random bytes, negative or non-finite sizes,
path-like names (``../../etc/passwd``), unknown keys. Every stage's ``load_config`` either accepts
the file or raises one ``ConfigError`` naming the key; nothing else escapes, and no accepted name
can lead a stage outside its data folders."""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dvc.repo import Repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassworks.config import load_params
from glassworks.errors import ConfigError
from stages.common import best_effort, run_main
from tests.fuzz.conftest import tried

REPO = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((REPO / "params.yaml").read_text())
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PATHLIKE = ["../../etc/passwd", "/etc/passwd", "..", ".", "", "a/b", ".hidden", "x\x00y", "a\\b"]
FREE_FORM = ("train_tabular.hyperparameters",)  # estimator kwargs, validated by the estimator


def _addresses() -> list[tuple[str, str]]:
    with Repo(str(REPO)) as repo:
        names = [s.addressing for s in repo.index.stages if s.cmd]
    return [(a.partition("@")[0], a.partition("@")[2]) for a in names]


ADDRESSES = _addresses()
ONE_PER_STAGE = list({name: (name, key) for name, key in ADDRESSES}.values())
MODULES = {name: importlib.import_module(f"stages.{name}") for name, _ in ADDRESSES}


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, str(k)))
    return out


PATHS = _paths(BASE)
values = st.one_of(
    st.sampled_from([-1, 0, -(10**12), 10**30, float("nan"), float("inf"), -0.5, None, [], {},
                     True, "x" * 10_000, *PATHLIKE]),
    st.integers(), st.floats(), st.text(max_size=20),
)  # fmt: skip
mutation = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS), values),
    st.tuples(st.just("unknown key"), st.sampled_from(PATHS), st.text(min_size=1, max_size=12)),
    st.tuples(st.just("rename"), st.sampled_from(PATHS), st.sampled_from(PATHLIKE)),
)


def _apply(params: dict[str, Any], kind: str, path: tuple[str, ...], arg: Any) -> None:
    parent = params
    for key in path[:-1]:
        parent = parent[key]
    if kind == "set":
        parent[path[-1]] = arg
    elif kind == "unknown key":
        if isinstance(parent[path[-1]], dict):
            parent[path[-1]].setdefault(f"zz_{arg}", 1)
    else:
        parent[arg] = parent.pop(path[-1])


def _load_every_stage(path: Path) -> int:
    """``load_config`` of every stage and key; the number that accepted the file."""
    accepted = 0
    for name, key in ONE_PER_STAGE:
        tried("stage load_config")
        try:
            MODULES[name].load_config(path, key)
            accepted += 1
        except ConfigError as exc:
            # names the file, or the parameter by its dotted key
            assert str(path) in str(exc) or re.search(r"\w\.\w", str(exc)), exc  # noqa: PT017
    tried("stage load_config")
    try:  # what every stage reads besides its section (its own defaults when absent)
        assert isinstance(best_effort(path), bool)
    except ConfigError as exc:
        assert str(path) in str(exc), exc  # noqa: PT017
    return accepted


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_as_params(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "params.yaml"
    path.write_bytes(data)
    tried("load_params (random bytes)")
    with pytest.raises(ConfigError, match="params.yaml"):
        load_params(path)
    assert _load_every_stage(path) == 0


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_adversarial_params(
    tmp_path: Path, mutations: list[tuple[str, tuple[str, ...], Any]]
) -> None:
    params = copy.deepcopy(BASE)
    applied = []
    for kind, path, arg in mutations:
        try:
            _apply(params, kind, path, arg)
            applied.append((kind, path, arg))
        except (KeyError, TypeError, AttributeError):
            continue  # an earlier mutation removed or replaced this path
    file = tmp_path / "params.yaml"
    file.write_text(yaml.safe_dump(params, allow_unicode=True))
    tried("load_params (mutated params.yaml)")
    try:
        load_params(file)
        whole_ok = True
    except ConfigError:
        whole_ok = False
    _load_every_stage(file)
    renamed = [p for k, p, a in applied if k == "rename" and a != p[-1]]
    if any(not ".".join(p).startswith(FREE_FORM) for p in renamed):
        assert not whole_ok, applied  # a path-like name is refused wherever it appears


ITEM_FLAGS = {
    "explain": "--model",
    "train_text": "--run",
    "explain_text": "--run",
    "reconcile_text": "--run",
    "prepare_sst_variants": "--variant",
    "train_cdep": "--variant",
}
MATRIX_FLAGS = {"train_tabular": ["--method", "ebm"], "train_cdep": ["--arm", "lstm-cdep"]}


@pytest.mark.parametrize("name", PATHLIKE + ["no-such-dataset"])
@pytest.mark.parametrize("stage", sorted({n for n, k in ADDRESSES if k}))
def test_dataset_argument(
    stage: str,
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``--dataset ../../etc/passwd`` and friends, through the stage's command line from an
    empty project: refused with a message naming it, nothing written anywhere."""
    tried("stage --dataset")
    monkeypatch.chdir(tmp_path)
    flag = ITEM_FLAGS.get(stage, "--dataset")
    argv = [flag, name, "--params", str(REPO / "params.yaml"), "--root", str(tmp_path)]
    argv += MATRIX_FLAGS.get(stage, [])
    try:
        code = run_main(MODULES[stage].main, argv)
    except SystemExit as exc:  # argparse refuses path-like names
        code = exc.code
    assert code not in (0, None)
    err = capsys.readouterr().err + caplog.text
    assert name in err or repr(name) in err, err
    assert not list(tmp_path.rglob("*")), list(tmp_path.rglob("*"))
