import json
from pathlib import Path

import polars as pl
import pytest

from glassworks import tracking
from stages import prepare
from stages.common import run_main

REPO = Path(__file__).resolve().parents[2]


def _argv(tmp_path: Path, raw_dir: Path, dataset: str, params: Path) -> list[str]:
    return [
        "--dataset",
        dataset,
        "--params",
        str(params),
        "--root",
        str(REPO),
        "--raw-dir",
        str(raw_dir),
        "--out-dir",
        str(tmp_path / "prepared"),
        "--metrics-dir",
        str(tmp_path / "metrics"),
    ]


def test_stage_writes_outputs_metrics_and_one_mlflow_run(tmp_path: Path, raw_dir: Path) -> None:
    code = run_main(prepare.main, _argv(tmp_path, raw_dir, "openml-37", REPO / "params.yaml"))
    assert code == 0
    out = tmp_path / "prepared" / "openml-37"
    assert sorted(p.name for p in out.iterdir()) == [
        "schema.json",
        "test.parquet",
        "train.parquet",
        "valid.parquet",
    ]
    metrics = json.loads((tmp_path / "metrics" / "openml-37.json").read_text())
    assert metrics["rows"] == {"train": 553, "valid": 61, "test": 154, "total": 768}
    assert pl.read_parquet(out / "test.parquet").height == 154
    schema = json.loads((out / "schema.json").read_text())
    assert schema["label_names"] == ["tested_negative", "tested_positive"]

    runs = tracking.find_runs("prepare", "openml-37")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "prepare@openml-37"
    assert run.data.metrics["rows.test"] == 154
    assert run.data.params["dataset.openml_id"] == "37"
    assert run.data.tags["dvc.stage"] == "prepare@openml-37"
    from stages.common import dvc_md5

    assert run.data.tags["dvc.dep.stages/prepare.py"] == dvc_md5(REPO / "stages/prepare.py")
    assert run.data.tags["dvc.dep.src/glassworks/data"].endswith(".dir")


def test_bad_input_fails_cleanly_and_writes_nothing(
    tmp_path: Path, raw_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("prepare:\n  datasets:\n    bogus: {source: openml, openml_id: 999}\n")
    code = run_main(prepare.main, _argv(tmp_path, raw_dir, "bogus", params))
    assert code == 1
    assert "unknown OpenML id 999" in caplog.text
    assert not (tmp_path / "metrics").exists()
    prepared = tmp_path / "prepared"
    assert not prepared.exists() or not any(prepared.iterdir())
    runs = tracking.find_runs("prepare", "bogus")
    assert [r.info.status for r in runs] == ["FAILED"]


def test_unknown_dataset_and_bad_param(
    tmp_path: Path, raw_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert run_main(prepare.main, _argv(tmp_path, raw_dir, "nope", REPO / "params.yaml")) == 1
    assert "prepare.datasets: unknown entry 'nope'" in caplog.text
    params = tmp_path / "params.yaml"
    params.write_text("prepare:\n  split: {seed: 0, test_sise: 0.3}\n  datasets: {}\n")
    assert run_main(prepare.main, _argv(tmp_path, raw_dir, "x", params)) == 1
    assert "prepare.split.test_sise: unknown key" in caplog.text
