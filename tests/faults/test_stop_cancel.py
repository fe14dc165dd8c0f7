"""Stop, cancel and time out with real processes: a real local Prefect server and served
deployments (``python -m flows.deploy --local-server``, what ``make serve`` runs), a slow stage
that is a real glassworks stage (``run_main`` + an MLflow run). Each way of stopping it must end
the stage's whole process tree within the grace period (10 s), leave DVC's record consistent (the
stage stale, no lock left) and a rerun that completes; the stage's MLflow run ends KILLED with
the reason."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from flows.dvc_project import StageFailed
from flows.server import free_port
from tests.flows.conftest import dvc, git, set_params

REPO = Path(__file__).resolve().parents[2]
GRACE = 10.0

SLOW_STAGE = """
import sys, time
from pathlib import Path
from glassworks import tracking
from stages.common import run_main

def main(argv):
    with tracking.stage_run("slow", "demo", root="."):
        time.sleep(float(Path("delay").read_text()))  # slow-stage-marker
        Path("slow.txt").write_text("done")

sys.exit(run_main(main, sys.argv[1:]))
"""


def _add_slow_stage(project: Path, delay: float = 60, timeout: float | None = None) -> None:
    (project / "slow_stage.py").write_text(SLOW_STAGE)
    (project / "delay").write_text(str(delay))
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["slow"] = {
        "cmd": "python slow_stage.py",
        "deps": ["data.txt", "slow_stage.py"],
        "outs": ["slow.txt"],
    }
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    if timeout is not None:
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["pipeline"] = {"timeout_s": {"slow": timeout}, "stop_grace_s": GRACE}
        (project / "params.yaml").write_text(yaml.safe_dump(params))
    ignored = "data.txt\nupper.txt\nok.txt\nslow.txt\ndelay\n.prefect/\nmlflow.db\nmlruns/\n"
    (project / ".gitignore").write_text(ignored)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "slow stage")


def _stage_pids() -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline", "status"])
        if "slow_stage.py" in " ".join(p.info["cmdline"] or [])
        and "dvc" not in " ".join(p.info["cmdline"] or [])
        and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


def _wait_for(check, timeout: float, what: str, every: float = 0.1):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")


def _gone_within(pids: list[int], timeout: float) -> float:
    """Seconds until every process of ``pids`` has exited (zombies count as exited)."""
    start = time.monotonic()

    def all_gone() -> bool:
        return not [p for p in pids if psutil.pid_exists(p) and _not_zombie(p)]

    _wait_for(all_gone, timeout, f"processes {pids} gone")
    return time.monotonic() - start


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _assert_consistent_and_stale(project: Path) -> None:
    assert not (project / "slow.txt").exists()
    status = json.loads(dvc(project, "status", "--json").stdout or "{}")
    assert "slow" in status  # stale: the rerun will redo it
    lock = json.loads((project / ".dvc" / "tmp" / "rwlock").read_text() or "{}")
    assert not lock.get("write"), lock
    assert not lock.get("read"), lock
    assert "slow" not in yaml.safe_load((project / "dvc.lock").read_text())["stages"]


def _slow_runs() -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("slow")
    return client.search_runs([exp.experiment_id]) if exp else []


def _open_runs() -> list:
    return [r for r in _slow_runs() if r.info.status == "RUNNING"]


def _assert_run_closed(reason: str) -> None:
    runs = _slow_runs()
    assert runs, "the stage opened no MLflow run"
    run = runs[0]
    assert run.info.status == "KILLED"
    assert run.data.tags.get("glassworks.stop_reason", "").startswith(reason), run.data.tags


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_stage_past_its_timeout_is_stopped_and_the_rerun_completes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import TaskRunSort

    from flows.pipeline import pipeline

    monkeypatch.setenv("PYTHONPATH", str(REPO))
    # 15 s: the stage must have opened its MLflow run (a fresh sqlite store's migrations take
    # several seconds on a busy 2-core machine) before the timeout stops it
    _add_slow_stage(project, delay=60, timeout=15)
    with pytest.raises(
        StageFailed, match=r"stage slow stopped after [\d.]+ s: timed out after 15 s"
    ):
        pipeline(root=str(project))
    assert not _stage_pids()
    _assert_consistent_and_stale(project)
    _assert_run_closed("timed out after 15 s")
    with get_client(sync_client=True) as client:  # the newest "slow" (the session's server
        tasks = client.read_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_DESC, limit=50)
    state = next(t.state for t in tasks if t.name == "slow")  # holds other tests' runs too)
    assert state.name == "TimedOut"
    assert state.is_failed()

    (project / "delay").write_text("0")
    set_params(project, pipeline={"timeout_s": {}})
    out = pipeline(root=str(project))
    assert out["ran"] == ["slow"]
    assert (project / "slow.txt").read_text() == "done"
    assert json.loads(dvc(project, "status", "--json").stdout or "{}") == {}


class Served:
    """``python -m flows.deploy --local-server`` on ``project`` (what ``make serve`` runs), in a
    session of its own as a terminal would start it."""

    def __init__(self, project: Path, tmp_path: Path) -> None:
        self.project, self.port = project, free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
        env.pop("PREFECT_API_URL", None)
        self.log_path = tmp_path / "serve.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flows.deploy", "--local-server", "--root", str(project),
             "--port", str(self.port), "--grace", str(GRACE)],
            cwd=REPO, env=env, stdout=self.log_path.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self):  # noqa: ANN201
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.url}):
            return get_client(sync_client=True)

    def wait_until_served(self) -> None:
        def served() -> bool:
            assert self.proc.poll() is None, self.log()[-3000:]
            try:
                with self.client() as c:
                    c.read_deployment_by_name("pipeline/nightly-pipeline")
                return True
            except Exception:  # noqa: BLE001 - not registered yet
                return False

        _wait_for(served, 240, "deployments served", every=1.0)

    def start_nightly(self):  # noqa: ANN201
        with self.client() as c:
            deployment = c.read_deployment_by_name("pipeline/nightly-pipeline")
            run = c.create_flow_run_from_deployment(
                deployment.id, parameters={"root": str(self.project)}
            )
        _wait_for(_stage_pids, 180, f"the slow stage running\n{self.log()[-3000:]}")
        _wait_for(_open_runs, 60, "the stage's MLflow run open")  # inside the stage body
        return run

    def flow_run(self, run_id):  # noqa: ANN001, ANN201
        with self.client() as c:
            return c.read_flow_run(run_id)

    def tree(self) -> list[int]:
        return [self.proc.pid, *(p.pid for p in psutil.Process(self.proc.pid).children(True))]

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def served(project: Path, tmp_path: Path):  # noqa: ANN201
    _add_slow_stage(project, delay=60)
    s = Served(project, tmp_path)
    try:
        s.wait_until_served()
        yield s
    finally:
        s.close()


@pytest.mark.slow
def test_cancelling_a_flow_run_stops_its_stage_and_the_rerun_completes(served: Served) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort
    from prefect.states import Cancelling

    run = served.start_nightly()
    stage = _stage_pids()
    with served.client() as c:
        start = time.monotonic()
        c.set_flow_run_state(run.id, Cancelling())  # what `prefect flow-run cancel` does
    took = _gone_within(stage, GRACE)
    final = _wait_for(lambda: (s := served.flow_run(run.id).state).is_final() and s, 60, "final")
    assert final.is_cancelled(), final
    with served.client() as c:
        tasks = c.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
            sort=TaskRunSort.EXPECTED_START_TIME_DESC,
            limit=50,
        )
    states = {t.name: t.state for t in tasks}
    assert states["slow"].is_cancelled(), states
    _assert_consistent_and_stale(served.project)
    _assert_run_closed("flow run cancelled")
    print(
        f"cancel -> stage gone: {took:.1f} s, flow run Cancelled: {time.monotonic() - start:.1f} s"
    )  # noqa: T201

    (served.project / "delay").write_text("0")
    with served.client() as c:
        deployment = c.read_deployment_by_name("pipeline/nightly-pipeline")
        rerun = c.create_flow_run_from_deployment(
            deployment.id, parameters={"root": str(served.project)}
        )
    done = _wait_for(lambda: (s := served.flow_run(rerun.id).state).is_final() and s, 180, "rerun")
    assert done.is_completed(), (done, served.log()[-3000:])
    assert (served.project / "slow.txt").read_text() == "done"
    assert json.loads(dvc(served.project, "status", "--json").stdout or "{}") == {}


@pytest.mark.slow
def test_sigterm_stops_the_serving_process_and_its_runs(served: Served) -> None:
    served.start_nightly()
    serving = next(
        p for p in psutil.Process(served.proc.pid).children()
        if "--local-server" not in p.cmdline() and "flows.deploy" in " ".join(p.cmdline())
    )  # fmt: skip
    family = [serving.pid, *(p.pid for p in serving.children(recursive=True))]
    assert len(family) >= 3  # the serving process, a flow run, dvc repro, the stage
    start = time.monotonic()
    serving.send_signal(signal.SIGTERM)
    serving.wait(timeout=GRACE + 5)  # not our child: its status is read from the parent's log
    took = _gone_within(family, 5)  # it leaves no child behind
    print(f"SIGTERM -> serving process and its runs gone: {time.monotonic() - start:.1f} s")  # noqa: T201
    assert took < 5
    assert "SIGTERM: stopped 1 flow run process(es)" in served.log()
    _assert_consistent_and_stale(served.project)
    _assert_run_closed("SIGTERM")
    served.proc.wait(timeout=GRACE + 10)  # the local server goes down with it
    assert "the serving process exited (143)" in served.log()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "what"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_one_ctrl_c_stops_make_serve(served: Served, sig: int, code: int, what: str) -> None:
    """Ctrl-C to the process group (what a terminal sends), or SIGTERM to ``make serve``'s own
    process (the local server's helper): both children and the flow run's stage stop."""
    served.start_nightly()
    family = served.tree()
    start = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(served.proc.pid, sig)
    else:
        served.proc.send_signal(sig)
    assert served.proc.wait(timeout=GRACE) == code
    took = _gone_within(family, 2)
    print(f"{what} -> make serve gone: {time.monotonic() - start:.1f} s")  # noqa: T201
    assert took < 2
    log = served.log()
    assert re.search(rf"stopped: deployments and Prefect server \({what}, [\d.]+ s\)", log), log
    assert "Traceback" not in log.split(": stopped 1 flow run process(es)")[-1]
    _assert_consistent_and_stale(served.project)
    _assert_run_closed("SIGTERM")


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_make_run_stops_on_ctrl_c_and_sigterm(project: Path, tmp_path: Path, sig: int, code: int):
    """``make run`` (``python -m flows.run``, its own temporary Prefect server): Ctrl-C to the
    whole process group as a terminal sends it, or SIGTERM to the process alone."""
    _add_slow_stage(project, delay=60)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PREFECT_API_URL", None)
    out = tmp_path / "run.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.run", "--root", str(project)], cwd=REPO, env=env,
        stdout=out.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(_stage_pids, 180, f"the slow stage running\n{out.read_text()[-3000:]}")
        _wait_for(_open_runs, 60, "the stage's MLflow run open")
        family = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(recursive=True))]
        start = time.monotonic()
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        assert proc.wait(timeout=GRACE + 5) == code
        _gone_within(family, 2)
        print(f"{signal.Signals(sig).name} -> make run gone: {time.monotonic() - start:.1f} s")  # noqa: T201
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "interrupted: pipeline after" in out.read_text().splitlines()[-1]
    _assert_consistent_and_stale(project)
    assert _slow_runs()[0].info.status == "KILLED"


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_cancel_reaches_a_flow_run_no_runner_watches(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow run started in-process (``make run``, or tasks on Dask workers) has no runner to
    signal it: the stage task reads its flow run's state and stops the stage itself."""
    import contextvars
    import threading

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.states import Cancelling

    from flows.pipeline import pipeline

    monkeypatch.setenv("PYTHONPATH", str(REPO))
    _add_slow_stage(project, delay=60)
    cancelled_at: list[float] = []

    def cancel_when_the_stage_runs() -> None:
        _wait_for(_open_runs, 180, "the stage's MLflow run open")
        running = FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))
        )
        with get_client(sync_client=True) as client:
            run = client.read_flow_runs(
                flow_run_filter=running, sort=FlowRunSort.START_TIME_DESC, limit=1
            )[0]
            cancelled_at.append(time.monotonic())
            client.set_flow_run_state(run.id, Cancelling())

    helper = threading.Thread(target=contextvars.copy_context().run,
                              args=(cancel_when_the_stage_runs,))  # fmt: skip
    helper.start()
    state = pipeline(root=str(project), return_state=True)
    helper.join(timeout=60)
    took = time.monotonic() - cancelled_at[0]
    print(f"cancel (no runner) -> flow run {state.name}: {took:.1f} s")  # noqa: T201
    assert state.is_cancelled(), state
    assert took < GRACE
    assert not _stage_pids()
    _assert_consistent_and_stale(project)
    _assert_run_closed("flow run cancelled")
