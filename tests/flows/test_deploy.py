"""The deployments on a real local Prefect server: created by ``flows.deploy`` (serve), schedules
visible through the client, a run triggered with ``run_deployment`` reaches Completed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.server import local_server

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_served_deployments_run_on_a_local_server(project: Path, tmp_path: Path) -> None:
    with local_server(tmp_path / "prefect-home") as url:
        env = {**os.environ, "PREFECT_API_URL": url, "PYTHONPATH": str(REPO)}
        log = (tmp_path / "serve.log").open("w")
        served = subprocess.Popen(
            [sys.executable, "-m", "flows.deploy", "--root", str(project)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                # serve() registers the three one after the other: wait for each
                on_demand = _wait_for_deployment("explain/explain-on-demand", served, tmp_path)
                weekly = _wait_for_deployment("full-profile/weekly-full", served, tmp_path)
                deployment = _wait_for_deployment("pipeline/nightly-pipeline", served, tmp_path)
                crons = [s.schedule.cron for s in deployment.schedules]
                assert crons == ["0 2 * * *"]
                with get_client(sync_client=True) as client:
                    limits = {
                        c.tag: c.concurrency_limit for c in client.read_concurrency_limits(10, 0)
                    }
                assert [s.schedule.cron for s in weekly.schedules] == ["0 3 * * 0"]
                assert on_demand.schedules == []
                assert limits == {"gpu": 1}
                run = run_deployment(
                    "pipeline/nightly-pipeline", parameters={"root": str(project)}, timeout=300
                )
                assert run.state.is_completed(), (run.state, (tmp_path / "serve.log").read_text())
        finally:
            served.terminate()
            served.wait(timeout=30)
            log.close()
    assert (project / "count.json").exists()  # the served flow ran the DVC stages


def _wait_for_deployment(name: str, served: subprocess.Popen, tmp_path: Path):  # noqa: ANN202
    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while True:
            try:
                return client.read_deployment_by_name(name)
            except Exception:  # noqa: BLE001 - not registered yet
                if served.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "serve.log").read_text()[-3000:]) from None
                time.sleep(1)


def test_prefect_yaml_matches_the_served_deployments() -> None:
    import importlib

    import yaml

    from flows import deploy

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    served = {d.name: d for d in deploy.deployments(str(REPO))}
    assert set(by_name) == set(served) == {"nightly-pipeline", "weekly-full", "explain-on-demand"}
    for name, d in by_name.items():
        path, _, attr = d["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, attr)
        assert flow.name == served[name].flow_name
        crons = [s["cron"] for s in d.get("schedules", [])]
        assert crons == [s.schedule.cron for s in served[name].schedules]
    assert by_name["weekly-full"]["work_pool"]["name"] == "gpu"
