"""The full profile's overrides name real parameters and give a params file that validates."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from flows.experiment import FULL_PROFILE
from glassworks.config import load_params

REPO = Path(__file__).resolve().parents[2]


def _apply(params: dict, override: str) -> None:
    key, _, value = override.partition("=")
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        assert part in node, f"{override}: no {part!r} under {'.'.join(parents)}"
        node = node[part]
    node[leaf] = yaml.safe_load(value)  # what DVC's -S does with a value: YAML


def test_every_full_profile_override_validates(tmp_path: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    full = copy.deepcopy(params)
    for override in FULL_PROFILE:
        _apply(full, override)
    out = tmp_path / "params.yaml"
    out.write_text(yaml.safe_dump(full))
    loaded = load_params(out)
    assert loaded.train_embgam.residuals == (0.0, 0.3, 1.0, 3.0)
    assert loaded.train_tabular.max_train is None


def test_a_misspelt_override_is_caught() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    with pytest.raises(AssertionError, match="no 'train_embgm'"):
        _apply(params, "train_embgm.residuals.x=1")
