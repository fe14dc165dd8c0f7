"""Every param a stage reads is declared in dvc.yaml (the code it runs: test_dvc_deps.py)."""

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dvc.repo import Repo

from stages.common import resolve_stage

REPO = Path(__file__).resolve().parents[2]


def _stages() -> list[Any]:
    with Repo(str(REPO)) as repo:
        return list(repo.index.stages)


STAGES = [s for s in _stages() if s.cmd]


def _subset(data: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        value: Any = data
        parts = key.split(".")
        for p in parts:
            value = value[p]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.addressing)
def test_declared_params_cover_what_the_stage_reads(stage: Any, tmp_path: Path) -> None:
    name, _, dataset = stage.addressing.partition("@")
    assert (stage.cmd + " ").startswith(f"python -m stages.{name} "), stage.cmd
    module = importlib.import_module(f"stages.{name}")
    declared = [k for d in stage.deps if hasattr(d, "params") for k in d.params]
    full = yaml.safe_load((REPO / "params.yaml").read_text())
    restricted = tmp_path / "params.yaml"
    restricted.write_text(yaml.safe_dump(_subset(full, declared)))
    # the stage must read the same config from only the declared keys
    assert module.load_config(restricted, dataset) == module.load_config(
        REPO / "params.yaml", dataset
    )


def test_our_resolver_agrees_with_dvc() -> None:
    for stage in STAGES:
        ours = resolve_stage(REPO, stage.addressing)
        assert ours["cmd"] == stage.cmd
        assert ours["deps"] == [d.def_path for d in stage.deps if not hasattr(d, "params")]


def test_declared_params_exist() -> None:
    full = yaml.safe_load((REPO / "params.yaml").read_text())
    for stage in STAGES:
        for d in stage.deps:
            for key in getattr(d, "params", []):
                _subset(full, [key])  # KeyError if params.yaml lacks it
