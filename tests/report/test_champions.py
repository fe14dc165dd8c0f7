"""The ``report`` stage's library half: champions registered through a registry (newest run of the
champion's seed), the summary page and ``champions.json``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from glassworks.errors import DataError
from glassworks.report.champions import (
    cdep_section,
    register_champions,
    summary_markdown,
    write_summary,
)
from glassworks.report.overview import Champion
from glassworks.selection import RULE

TEXT = Champion("glassworks-text-sst2", "text", "sst2", "train_text", "sst2-b", "sst2-b#0",
                "valid_accuracy", 0.83, "test_accuracy",
                {"mean": 0.8, "sd": 0.01, "ci95": [0.79, 0.81], "n": 3})  # fmt: skip
TABULAR = Champion("glassworks-tabular-openml-31", "tabular", "openml-31", "train_tabular",
                   "openml-31-ebm", "ebm@openml-31#0", "valid_auroc", 0.7)  # fmt: skip


def _run(run_id: str, name: str) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(run_id=run_id, run_name=name))


class FakeRegistry:
    """Runs per (stage, item), newest first; records what was registered."""

    def __init__(self, runs: dict[tuple[str, str], list[SimpleNamespace]], detached: bool = False):
        self.runs = runs
        self.detached = detached
        self.registered: list[tuple[str, str, str]] = []

    def find_runs(self, stage: str, dataset: str | None = None, root: Any = ".") -> list[Any]:
        return list(self.runs.get((stage, dataset or ""), []))

    def register_champion(
        self, run_id: str, name: str, alias: str, root: Any = ".", **kwargs: Any
    ) -> int:
        self.registered.append((run_id, name, alias))
        return len(self.registered)

    def champion_of(self, name: str, alias: str, root: Any = ".") -> None:
        return None

    def load_model(self, uri: str, root: Any = ".") -> Any:
        raise AssertionError("no gate in these tests")


def test_registers_the_newest_run_of_the_champion_seed(caplog: pytest.LogCaptureFixture) -> None:
    registry = FakeRegistry(
        {
            ("train_text", "sst2-b"): [
                _run("r-seed1", "sst2-b#1"),
                _run("r-new", "sst2-b#0"),
                _run("r-old", "sst2-b#0"),
            ]
        }  # fmt: skip
    )
    rows = register_champions([TEXT, TABULAR], registry, "champion", True, Path("."))
    assert registry.registered == [("r-new", "glassworks-text-sst2", "champion")]
    assert rows[0] == {**TEXT.as_dict(), "run_id": "r-new", "version": 1}
    assert rows[1] == TABULAR.as_dict()  # no run: listed, not registered
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "glassworks-tabular-openml-31: no MLflow run of train_tabular@openml-31-ebm to register"
    ]


def test_nothing_registered_when_switched_off_or_detached(caplog: pytest.LogCaptureFixture) -> None:
    runs = {("train_text", "sst2-b"): [_run("r", "sst2-b#0")]}
    off = FakeRegistry(runs)
    assert register_champions([TEXT, TABULAR], off, "champion", False, Path(".")) == [
        TEXT.as_dict(),
        TABULAR.as_dict(),
    ]
    assert off.registered == []
    detached = FakeRegistry({}, detached=True)
    rows = register_champions([TEXT], detached, "champion", True, Path("."))
    assert rows == [TEXT.as_dict()]
    assert "to register" not in caplog.text  # no store: warned once elsewhere, not per champion


def test_cdep_section(tmp_path: Path) -> None:
    assert cdep_section(tmp_path / "compare_cdep.json") == []
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match="not a compare_cdep metrics file"):
        cdep_section(bad)
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not a compare_cdep metrics file"):
        cdep_section(bad)


def test_summary_page_and_champions_json(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    (metrics / "train_mlp").mkdir(parents=True)
    (metrics / "train_mlp" / "openml-31.json").write_text(json.dumps({"accuracy": 0.75}))
    figures = tmp_path / "data" / "reports"
    (figures / "openml-31").mkdir(parents=True)
    (figures / "openml-31" / "summary.png").write_bytes(b"png")
    out = tmp_path / "reports"
    out.mkdir()
    rows = [{**TEXT.as_dict(), "run_id": "r", "version": 2}]
    write_summary(out, rows, metrics, [figures], out, "best")
    page = (out / "summary.md").read_text(encoding="utf-8")
    assert page == summary_markdown(rows, metrics, [figures], out, "best")
    assert page.startswith("# glassworks: pipeline summary\n\n")
    assert page.endswith("\n")
    assert page.count(RULE) == 1
    assert "## Champions (MLflow registry, alias `best`)" in page
    assert "| glassworks-text-sst2 | text | sst2 | sst2-b#0 | valid_accuracy | 0.8300 |" in page
    assert "No text classifiers yet." in page
    assert "## CDEP" not in page  # no compare_cdep.json yet
    assert "### train_mlp" in page
    assert "- [reports/openml-31/summary.png](../data/reports/openml-31/summary.png)" in page
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Champions (MLflow registry, alias `best`)",
        "## Text classifiers (over seeds)",
        "## Metrics",
        "## Figures",
    ]
    text = (out / "champions.json").read_text()
    assert json.loads(text) == rows
    assert text == json.dumps(rows, indent=2, sort_keys=True) + "\n"
