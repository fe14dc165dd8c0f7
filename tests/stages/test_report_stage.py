"""The ``report`` stage end to end: metrics -> overview page, champion registered in a real MLflow
registry; with the store unusable it fails before writing, or (best-effort) writes the page and
registers nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from glassworks import tracking
from glassworks.selection import RULE
from stages import report
from stages.common import run_main
from tests.test_tracking import _text_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train_text"]["runs"] = {
        "sst2-a": {"dataset": "sst2", "model": "small"},
        "sst2-b": {"dataset": "sst2", "model": "small"},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    # sst2-b wins on validation; sst2-a would win on test (the report must not look)
    for name, valid, test in (("sst2-a", 0.71, 0.90), ("sst2-b", 0.83, 0.80)):
        path = tmp_path / "metrics" / "train_text" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        summ = {}
        for split, v in (("valid", valid), ("test", test)):
            for k, m in (("accuracy", v), ("macro_f1", v - 0.01)):
                summ[f"{split}_{k}"] = {"mean": m, "sd": 0.01, "ci95": [m - 0.01, m + 0.01], "n": 3}
        path.write_text(json.dumps({"seeds": [0, 1, 2], **summ}))
    return tmp_path


def _report(ws: Path, params: str = "params.yaml") -> int:
    argv = ["--params", str(ws / params), "--root", str(ws)]
    dirs = ["--metrics-dir", str(ws / "metrics"), "--out-dir", str(ws / "reports")]
    return run_main(report.main, [*argv, *dirs])


def test_report_registers_the_champion(workspace: Path) -> None:
    ws = workspace
    ids = {}
    for i, name in enumerate(("sst2-a", "sst2-b")):
        with tracking.stage_run("train_text", name, root=ws, run_name=f"{name}#0") as run:
            folder, model = _text_model(ws, i)
            tracking.log_text_model(folder, ["good", "bad"], model=model)
        ids[name] = run.run_id
    assert _report(ws) == 0
    (row,) = json.loads((ws / "reports" / "champions.json").read_text())
    assert (row["stage_item"], row["run_id"], row["version"]) == ("sst2-b", ids["sst2-b"], 1)
    summary = (ws / "reports" / "summary.md").read_text()
    assert "glassworks-text-sst2" in summary
    assert (
        "| valid_accuracy | 0.8300 | test_accuracy | 0.8000 ± 0.0100 [0.7900, 0.8100] |" in summary
    )
    assert summary.count(RULE) == 1  # the selection rule, stated once
    assert "| sst2-a | 3 | 0.710 ± 0.010 [0.700, 0.720] | 0.900 ± 0.010" in summary
    client = MlflowClient(tracking.tracking_uri(ws))
    assert (
        client.get_model_version_by_alias("glassworks-text-sst2", "champion").run_id
        == ids["sst2-b"]
    )
    assert _report(ws) == 0  # idempotent: the alias already points at that run
    assert len(client.search_model_versions("name='glassworks-text-sst2'")) == 1
    # the champion's card: in reports/cards/ and beside the model in the run that trained it
    assert (ws / "reports" / "cards" / "glassworks-text-sst2.html").is_file()
    logged = [a.path for a in client.list_artifacts(ids["sst2-b"], "card")]
    assert logged == ["card/glassworks-text-sst2.html"]


def test_report_without_its_store(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ws = workspace
    (ws / "a-file").write_text("not a directory")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{ws / 'a-file'}/mlflow.db")
    assert _report(ws) == 1  # required (the default): fails before writing anything
    assert "MLflow store" in caplog.text
    assert not (ws / "reports").exists()

    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["tracking"] = {"best_effort": True}
    (ws / "best-effort.yaml").write_text(yaml.safe_dump(params))
    caplog.clear()
    assert _report(ws, "best-effort.yaml") == 0
    (row,) = json.loads((ws / "reports" / "champions.json").read_text())
    assert row["stage_item"] == "sst2-b"
    assert "version" not in row  # nothing registered without a store
    assert "glassworks-text-sst2" in (ws / "reports" / "summary.md").read_text()
    assert sum("best-effort" in r.getMessage() for r in caplog.records) == 1
    assert "to register" not in caplog.text  # no second, misleading warning per champion
