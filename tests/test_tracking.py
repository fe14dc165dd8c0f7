from pathlib import Path

import pytest

from glassworks import tracking


def test_env_uri_wins_and_default_is_sqlite_under_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tracking.tracking_uri(tmp_path).startswith("sqlite:///")
    assert "mlruns" not in tracking.tracking_uri(tmp_path).split("/")[-2:]  # the test store
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert (
        tracking.tracking_uri(tmp_path) == f"sqlite:///{(tmp_path / 'mlruns/mlflow.db').resolve()}"
    )


def test_flatten_sanitises_keys() -> None:
    assert tracking.flatten({"a": {"<=50K": 1, "b c": {"d": 2}}}) == {"a.__50K": 1, "a.b c.d": 2}


def test_stage_run_logs_and_fails_cleanly(tmp_path: Path) -> None:
    with tracking.stage_run(
        "demo", "ds1", params={"x": {"y": 1}}, tags={"git.commit": "abc"}, root=tmp_path
    ) as run:
        run.log_metrics({"rows": {"train": 3}, "flag": True, "name": "skip"})
        run.log_dict({"k": 1}, "m.json")
    with pytest.raises(RuntimeError), tracking.stage_run("demo", "ds2", root=tmp_path):
        raise RuntimeError("stage died")
    (done,) = tracking.find_runs("demo", "ds1")
    assert done.info.status == "FINISHED"
    assert done.data.metrics == {"rows.train": 3.0}
    assert done.data.params == {"x.y": "1"}
    assert done.data.tags["git.commit"] == "abc"
    assert done.data.tags["glassworks.stage"] == "demo"
    (failed,) = tracking.find_runs("demo", "ds2")
    assert failed.info.status == "FAILED"
    assert len(tracking.find_runs("demo")) == 2
    assert tracking.find_runs("missing-stage") == []
