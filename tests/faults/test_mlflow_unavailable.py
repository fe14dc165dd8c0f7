"""An unusable MLflow store: the stage fails fast, with one clear error naming the store, before
it writes any output; or, with ``tracking.best_effort: true``, it warns and writes its outputs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from glassworks import tracking
from glassworks.errors import TrackingError
from stages import prepare
from stages.common import run_main

REPO = Path(__file__).resolve().parents[2]


KINDS = ["http", "sqlite", "readonly-sqlite", "file"]


def _unusable_store(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    readonly = tmp_path / "readonly.db"
    if kind == "readonly-sqlite":  # a real store, opened read-only (chmod does not stop root)
        MlflowClient(f"sqlite:///{readonly}").create_experiment("existing")
    uri = {
        "http": "http://user:secret@127.0.0.1:9/",  # nothing listens on the discard port
        "sqlite": f"sqlite:///{blocker}/mlflow.db",  # a path under a file: cannot be created
        "readonly-sqlite": f"sqlite:///file:{readonly}?mode=ro&uri=true",
        "file": "file:///proc/glassworks-mlruns",  # /proc: not writable, even for root
    }[kind]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)


@pytest.mark.parametrize("kind", KINDS)
def test_store_unavailable_fails_fast(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _unusable_store(kind, tmp_path, monkeypatch)
    start = time.monotonic()
    with (
        pytest.raises(TrackingError, match="is unavailable") as err,
        tracking.stage_run("prepare", "x"),
    ):
        pytest.fail("the body must not run")
    assert time.monotonic() - start < 60
    assert "secret" not in str(err.value)
    # through a stage: exit status 1, one error line, no output written
    out = tmp_path / "prepared"
    argv = ["--dataset", "sst2", "--root", str(REPO), "--out-dir", str(out)]
    code = run_main(prepare.main, [*argv, "--metrics-dir", str(tmp_path / "m")])
    assert code == 1
    assert "MLflow store" in caplog.text
    assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_best_effort_stage_finishes_without_its_store(
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    raw_dir: Path,
) -> None:
    _unusable_store(kind, tmp_path, monkeypatch)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tracking"] = {"best_effort": True}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out, metrics = tmp_path / "prepared", tmp_path / "m"
    argv = ["--dataset", "sst2", "--root", str(REPO), "--params", str(tmp_path / "params.yaml")]
    start = time.monotonic()
    dirs = ["--raw-dir", str(raw_dir), "--out-dir", str(out), "--metrics-dir", str(metrics)]
    assert run_main(prepare.main, [*argv, *dirs]) == 0
    assert time.monotonic() - start < 90
    assert (out / "sst2" / "schema.json").exists()
    assert (metrics / "sst2.json").exists()
    (warning,) = [r for r in caplog.records if "best-effort" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert "MLflow store" in warning.getMessage()
    assert "secret" not in caplog.text
