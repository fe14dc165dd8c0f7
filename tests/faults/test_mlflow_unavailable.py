"""An unusable MLflow store: the stage fails fast, with one clear error naming the store, before
it writes any output."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from glassworks import tracking
from glassworks.errors import TrackingError
from stages import prepare
from stages.common import run_main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["http", "sqlite", "file"])
def test_store_unavailable_fails_fast(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    uri = {
        "http": "http://user:secret@127.0.0.1:9/",  # nothing listens on the discard port
        "sqlite": f"sqlite:///{blocker}/mlflow.db",  # a path under a file: cannot be created
        "file": "file:///proc/glassworks-mlruns",  # /proc: not writable, even for root
    }[kind]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
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
