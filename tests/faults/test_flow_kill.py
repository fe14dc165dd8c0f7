"""The pipeline flow killed (SIGKILL, whole process group) while a stage runs: the rerun finishes
from DVC's record, redoes nothing that finished, and leaves no partial output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from flows.pipeline import pipeline
from tests.flows.conftest import dvc, git

REPO = Path(__file__).resolve().parents[2]
SLOW = "import time; time.sleep(30); open('slow.txt', 'w').write('done')"


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("kill_after", [2.0, 8.0])
def test_killed_flow_resumes(project: Path, kill_after: float) -> None:
    _add_slow_stage(project)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PREFECT_API_URL", None)  # the child starts its own temporary server
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.pipeline", "--root", str(project), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while "slow" not in _running(project) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "slow" in _running(project), "the slow stage never started"
    time.sleep(kill_after)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (project / "slow.txt").exists()  # nothing half-made where DVC caches
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    finished = set(lock["stages"])
    assert "make" in finished
    assert "slow" not in finished
    out = pipeline(root=str(project))
    assert "slow" in out["ran"]
    assert not set(out["ran"]) & (finished - {"slow"})  # finished stages are not redone
    assert (project / "slow.txt").read_text() == "done"
    assert json.loads(dvc(project, "status", "--json").stdout or "{}") == {}


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("target", ["stage command", "dvc repro"])
def test_killed_task_fails_and_the_rerun_completes(project: Path, target: str) -> None:
    """One task's work killed (SIGKILL, as the OOM killer would) while the flow goes on: the task
    fails with the stage's message, the flow ends Failed, no partial output, and a rerun of the flow
    runs only that stage from DVC's record."""
    import psutil

    _add_slow_stage(project)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.pipeline", "--root", str(project), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    marker = "repro --single-item slow" if target == "dvc repro" else "-c import time"
    victim = None
    while victim is None and time.monotonic() < deadline:
        for p in psutil.process_iter(["cmdline"]):
            if marker in " ".join(p.info["cmdline"] or []):
                victim = p
        time.sleep(0.2)
    assert victim is not None, f"the {target} never started"
    time.sleep(1.0)
    family = [victim, *victim.children(recursive=True)]
    for p in family:
        p.kill()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, out  # the flow run reports the failed task
    assert "slow" in out
    time.sleep(1.0)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family)
    assert not (project / "slow.txt").exists()
    finished = set(yaml.safe_load((project / "dvc.lock").read_text())["stages"])
    assert "slow" not in finished
    rerun = pipeline(root=str(project))
    assert rerun["ran"] == ["slow"]
    assert (project / "slow.txt").read_text() == "done"
    assert json.loads(dvc(project, "status", "--json").stdout or "{}") == {}


def _add_slow_stage(project: Path) -> None:
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["slow"] = {
        "cmd": f'python -c "{SLOW}"',
        "deps": ["data.txt"],
        "outs": ["slow.txt"],
    }
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (project / ".gitignore").write_text("data.txt\nupper.txt\nok.txt\nslow.txt\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "slow stage")


def _running(project: Path) -> str:
    """Stage commands running in ``project`` (from the process table)."""
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return "slow" if "time.sleep(30)" in ps else ""
