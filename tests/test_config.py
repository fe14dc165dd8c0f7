from pathlib import Path

import pytest
from pydantic import ValidationError

from glassworks.config import (
    EssaysDataset,
    PrepareParams,
    load_params,
    load_section,
)
from glassworks.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_repo_params_parse() -> None:
    params = load_params(REPO / "params.yaml")
    expected = {
        "sst2",
        "amazon-beauty",
        "amazon-fashion",
        "amazon-appliances",
        "essays",
        "openml-31",
        "openml-37",
        "openml-1464",
        "openml-1466",
        "openml-1590",
        "openml-151",
    }
    assert expected <= set(params.prepare.datasets)
    assert isinstance(params.prepare.dataset("essays"), EssaysDataset)


def test_unknown_key_names_its_path(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text(
        "prepare:\n  split: {seed: 1, tset_size: 0.2}\n  datasets:\n"
        "    x: {source: sst2, colour: red}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_section(p, "prepare", PrepareParams)
    msg = str(err.value)
    assert "prepare.split.tset_size: unknown key" in msg
    assert "colour: unknown key" in msg
    assert str(p) in msg


def test_wrong_source_and_value(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text(
        "prepare:\n  datasets:\n    x: {source: openml, openml_id: -3}\n    y: {source: imdb}\n"
    )
    with pytest.raises(ConfigError, match=r"prepare\.datasets\.x\.openml\.openml_id"):
        load_section(p, "prepare", PrepareParams)


def test_missing_file_and_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_section(tmp_path / "nope.yaml", "prepare", PrepareParams)
    p = tmp_path / "params.yaml"
    p.write_text("other: {}\n")
    with pytest.raises(ConfigError, match="missing section 'prepare'"):
        load_section(p, "prepare", PrepareParams)
    with pytest.raises(ConfigError, match="other: unknown key"):
        load_params(p)


def test_frozen_and_unknown_dataset() -> None:
    params = PrepareParams.model_validate({"datasets": {"s": {"source": "sst2"}}})
    with pytest.raises(ValidationError):
        params.split.seed = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="prepare.datasets: unknown entry 'nope' .known: s"):
        params.dataset("nope")


def test_every_committed_dataset_is_wired_and_gaps_are_named() -> None:
    """Each prepared dataset is listed by the model stages of its modality (DVC's foreach cannot
    filter by modality); a new entry without them is named section by section."""
    from glassworks.config import FileDataset, load_params, read_yaml, unwired

    path = Path(__file__).resolve().parents[1] / "params.yaml"
    data, params = read_yaml(path), load_params(path)
    assert {n: unwired(data, n, e) for n, e in params.prepare.datasets.items()} == {
        n: [] for n in params.prepare.datasets
    }
    text = FileDataset(source="csv", path="t.csv", label="y", text="body")
    assert unwired(data, "tickets", text) == ["embed.datasets", "train_text.runs"]
    reg = FileDataset(source="csv", path="t.csv", label="y", text="body", task="regression")
    assert unwired(data, "tickets", reg) == ["embed.datasets"]
    tab = FileDataset(source="parquet", path="t.parquet", label="y")
    assert unwired(data, "loans", tab) == ["train_tabular.datasets", "audit_tabular.datasets"]
    data["train_tabular"]["datasets"] = [*data["train_tabular"]["datasets"], "loans"]
    assert unwired(data, "loans", tab) == ["audit_tabular.datasets"]
