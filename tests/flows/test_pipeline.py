"""The pipeline flow on a real DVC project under Prefect's test harness."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import TaskRunSort
from prefect.states import State

import flows.pipeline as pipeline_module
from flows.dvc_project import StageFailed, TransientStageError, stage_graph
from flows.pipeline import DirtyParams, pipeline
from tests.flows.conftest import dvc, set_params

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _task_runs(flow_run_id: object, name: str, final: bool = True) -> list:
    """The flow run's task runs once the one called ``name`` is recorded in a final state (the
    client reports states through events, asynchronously)."""
    deadline = time.monotonic() + 60
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=100,
            )
        named = [r for r in runs if r.name == name]
        if named and (not final or named[0].state.is_final()) or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def test_graph_from_dvc(project: Path) -> None:
    g = stage_graph(project)
    assert g.upstream == {
        "make": frozenset(),
        "count": frozenset({"make"}),
        "upper": frozenset({"make"}),
        "check": frozenset(),
    }
    assert g.downstream({"make"}) == {"make", "count", "upper"}
    assert g.order({"count", "upper", "make"}) == ["make", "count", "upper"]


def test_runs_stale_stages_then_nothing(project: Path) -> None:
    out = pipeline(root=str(project))
    assert sorted(out["ran"]) == ["check", "count", "make", "upper"]
    assert json.loads((project / "count.json").read_text()) == {"chars": 3}
    assert (project / "upper.txt").read_text() == "XXX"
    assert "up to date" in dvc(project, "status").stdout.lower() or not dvc(
        project, "status", "--json"
    ).stdout.strip("{}\n ")
    again = pipeline(root=str(project))
    assert again["ran"] == []  # nothing stale: no task runs
    # a param change reruns its stage and what is downstream only
    set_params(project, make={"n": 5})
    third = pipeline(root=str(project))
    assert sorted(third["ran"]) == ["count", "make", "upper"]
    assert json.loads((project / "count.json").read_text()) == {"chars": 5}


def test_failed_stage_message_and_resume(project: Path) -> None:
    set_params(project, check={"fail": True, "message": "bad threshold in check.fail"})
    with pytest.raises(StageFailed, match="bad threshold in check.fail"):
        pipeline(root=str(project))
    # the independent stages finished and are recorded; the failed one is not
    assert (project / "count.json").exists()
    assert not (project / "ok.txt").exists()
    set_params(project, check={"fail": False})
    out = pipeline(root=str(project))
    assert out["ran"] == ["check"]  # resumes at the failed stage; nothing else is redone


def test_task_state_carries_the_stage_error(project: Path) -> None:
    set_params(project, check={"fail": True, "message": "the stage's own words"})
    state = pipeline(root=str(project), return_state=True)
    assert state.is_failed()
    runs = _task_runs(state.state_details.flow_run_id, "check")
    failed = [r for r in runs if r.name == "check"]
    assert failed[0].state.is_failed()
    assert "the stage's own words" in failed[0].state.message
    assert failed[0].run_count == 1  # a stage's own error is not retried


def test_refuses_uncommitted_params_unless_forced(project: Path) -> None:
    set_params(project, commit=False, make={"n": 4})
    with pytest.raises(DirtyParams, match="params.yaml"):
        pipeline(root=str(project))
    out = pipeline(root=str(project), force=True)
    assert "make" in out["ran"]


def test_lock_errors_are_retried(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage whose dvc run fails with DVC's lock message is retried; others are not."""
    set_params(project, check={"fail": True, "message": "ERROR: Unable to acquire lock"})
    fast = pipeline_module.run_stage.with_options(retry_delay_seconds=[0] * 6)
    monkeypatch.setattr(pipeline_module, "run_stage", fast)
    state = pipeline(root=str(project), return_state=True)
    runs = _task_runs(state.state_details.flow_run_id, "check")
    check = next(r for r in runs if r.name == "check")
    assert check.run_count == 7  # 1 + 6 retries


def test_only_transient_condition() -> None:
    from prefect.states import Failed

    lock = Failed(data=TransientStageError("lock"))
    own = Failed(data=StageFailed("boom"))
    assert pipeline_module.only_transient(None, None, lock)  # type: ignore[arg-type]
    assert not pipeline_module.only_transient(None, None, own)  # type: ignore[arg-type]
    assert isinstance(lock, State)


def test_each_stage_publishes_a_markdown_artifact(project: Path) -> None:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, TaskRunFilter
    from prefect.client.schemas.sorting import ArtifactSort

    pipeline(root=str(project))
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["make", "count"])),
            flow_run_filter=FlowRunFilter(),
            task_run_filter=TaskRunFilter(),
            sort=ArtifactSort.CREATED_DESC,
            limit=10,
            offset=0,
        )
    assert {a.key for a in arts} == {"make", "count"}
    assert all(a.type == "markdown" for a in arts)
    assert "## make" in next(a.data for a in arts if a.key == "make")
