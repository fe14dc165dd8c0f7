"""``glassworks add-dataset`` without DVC: what it infers and prints, the params it writes (comments
kept, every applicable stage wired), and bad input refused with nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from glassworks import cli
from glassworks.config import load_params, read_yaml, unwired
from glassworks.errors import ConfigError, DataError
from glassworks.onboarding import dataset_name, guess_source

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    return root


def _add(root: Path, *args: str) -> int:
    return cli.main(["add-dataset", *args, "--root", str(root), "--no-dvc"])


def _tickets(tmp_path: Path, n: int = 120) -> Path:
    path = tmp_path / "Support Tickets.csv"
    lines = ["id,body,category"]
    lines += [f"t{i},printer {i} is {'broken' if i % 3 else 'fine'},{'hw' if i % 3 else 'ok'}"
              for i in range(n)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def test_text_file_is_copied_and_wired(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(project, str(_tickets(tmp_path)), "--label", "category", "--text", "body",
                "--id", "id") == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "120 rows read, 120 usable" in out
    assert "modality text, task binary (inferred)" in out
    assert (project / "data/raw/csv/Support Tickets.csv").is_file()
    data = read_yaml(project / "params.yaml")
    assert data["prepare"]["datasets"]["support-tickets"] == {
        "source": "csv", "path": "Support Tickets.csv", "label": "category", "text": "body",
        "id": "id",
    }  # fmt: skip
    assert data["embed"]["datasets"]["support-tickets"] == {"ngram_order": 2}
    assert data["explain"]["models"]["embgam-support-tickets"]["kind"] == "embgam"
    # 2/3 of the tickets are one class: a class-weighted loss
    assert data["train_text"]["runs"]["support-tickets-small"] == {
        "dataset": "support-tickets", "model": "small", "loss": "weighted_ce"
    }  # fmt: skip
    params = load_params(project / "params.yaml")  # still a valid params file
    entry = params.prepare.datasets["support-tickets"]
    assert unwired(data, "support-tickets", entry) == []
    text = (project / "params.yaml").read_text()
    assert "# glassworks parameters." in text  # comments kept
    assert "class_weight: null" in text


def test_tabular_regression_is_wired_to_the_tabular_stages(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "prices.parquet"
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    pl.DataFrame({"rooms": rng.integers(1, 6, 80), "area": rng.normal(80, 20, 80),
                  "price": rng.normal(3e5, 5e4, 80)}).write_parquet(path)  # fmt: skip
    assert _add(project, str(path), "--label", "price") == 0
    data = read_yaml(project / "params.yaml")
    assert data["prepare"]["datasets"]["prices"]["source"] == "parquet"
    assert "prices" in data["train_tabular"]["datasets"]
    assert "prices" in data["audit_tabular"]["datasets"]
    assert "prices" not in data["embed"]["datasets"]


def test_bad_input_writes_nothing(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (project / "params.yaml").read_text()
    bad = tmp_path / "one.csv"
    bad.write_text("body,category\na,x\nb,x\n")
    assert _add(project, str(bad), "--label", "category", "--text", "body") == 1
    err = capsys.readouterr().out
    assert "error:" in err
    assert "the label has one class ('x' in all 2 rows)" in err
    assert (project / "params.yaml").read_text() == before
    assert not (project / "data").exists()
    assert _add(project, str(tmp_path / "missing.csv"), "--label", "y") == 1
    assert "file not found" in capsys.readouterr().out
    tickets = _tickets(tmp_path)
    assert _add(project, str(tickets), "--label", "category", "--text", "body",
                "--name", "openml-31") == 1  # fmt: skip
    assert "'openml-31' exists already" in capsys.readouterr().out
    assert (project / "params.yaml").read_text() == before


def test_source_and_name_guessing(tmp_path: Path) -> None:
    assert guess_source(Path("a.CSV")) == "csv"
    assert guess_source(Path("reviews.jsonl")) == "jsonl"
    assert guess_source(Path("x.tab")) == "tsv"
    assert guess_source(Path("x.dat"), "csv") == "csv"
    with pytest.raises(DataError, match="unknown file type '.dat'"):
        guess_source(Path("x.dat"))
    with pytest.raises(ConfigError, match="--source 'xls'"):
        guess_source(Path("x.xls"), "xls")
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "dataset_info.json").write_text("{}")
    assert guess_source(saved) == "hf"
    assert dataset_name(Path("My Tickets (2024).csv")) == "my-tickets-2024"


def test_failed_dvc_add_leaves_nothing_behind(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a DVC project: `dvc add` fails, the copied file goes again, params.yaml is unchanged,
    and a second try is not blocked by a left-over copy."""
    before = (project / "params.yaml").read_text()
    tickets = _tickets(tmp_path)
    args = ["add-dataset", str(tickets), "--label", "category", "--text", "body"]
    assert cli.main([*args, "--root", str(project)]) == 1
    assert "dvc add failed" in capsys.readouterr().out
    assert not (project / "data/raw/csv/Support Tickets.csv").exists()
    assert not (project / "data/raw/csv.dvc").exists()
    assert (project / "params.yaml").read_text() == before
    assert cli.main([*args, "--root", str(project), "--no-dvc"]) == 0
