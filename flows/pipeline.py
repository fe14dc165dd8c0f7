"""The ``pipeline`` flow: every stale DVC stage as a Prefect task, in dependency order.

Reads the DAG from ``dvc.yaml`` (DVC's own index) and ``dvc status``; stages that changed and
everything downstream of them run as ``dvc repro --single-item <stage>`` tasks, each waiting only
for its upstream stages, so independent stages run concurrently on the task runner. DVC stays the
only writer of stage outputs; a rerun after a failure resumes at the failed stage (finished stages
are up to date in ``dvc.lock`` and are not redone). Embedding and training stages carry the tag
``gpu``: a tag concurrency limit of 1 (``flows.deploy`` creates it) runs them one at a time while
CPU stages proceed. DVC's lock errors (a concurrent ``dvc`` process) are retried with back-off;
a stage's own failure is not retried and its task fails with the stage's error message.

    python -m flows.pipeline [--root .] [--force] [--dask ADDRESS|local]
"""

from __future__ import annotations

import argparse
import fnmatch
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State, TaskRun
from prefect.exceptions import CancelledRun, TerminationSignal
from prefect.futures import PrefectFuture, as_completed, wait
from prefect.states import Cancelled, Failed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import Task

from flows.dvc_project import (
    StageFailed,
    StageGraph,
    StageStopped,
    TransientStageError,
    is_gpu_stage,
    params_dirty,
    release_stale_locks,
    reproduce,
    stage_graph,
    stale_stages,
)
from flows.processes import GRACE_S, stop_all
from flows.runs import close_stopped_runs, runs_markdown
from glassworks.config import load_pipeline


class DirtyParams(RuntimeError):
    """Tracked params differ from the last commit and ``force`` was not given."""


def only_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a stage only when DVC could not take its lock, never for the stage's own error."""
    return isinstance(state.result(raise_on_failure=False), TransientStageError)


COST_HINT: tuple[tuple[str, float], ...] = (
    ("train_text@sst2-minilm", 380.0),
    ("train_text@essays*", 1400.0),  # 2 losses on seed 0 + 2 seeds, whole essays in windows
    ("train_text@*", 120.0),
    ("explain_text@sst2-minilm", 320.0),
    ("explain_text@*", 120.0),
    ("train_tabular@openml-151-ebm", 160.0),
    ("train_tabular@*-ebm", 40.0),
    ("train_embgam@essays", 90.0),
    ("train_embgam@*", 30.0),
    ("audit_tabular@*", 50.0),
    ("train_cdep@*-eg", 110.0),
    ("train_cdep@*-rrr", 90.0),
    ("train_cdep@*-cdep_int", 110.0),  # six lambdas
    ("train_cdep@*-clp", 60.0),
    ("train_cdep@*-cdep*", 80.0),
    ("train_cdep@*", 30.0),
    ("embed@*", 30.0),
    ("explain@*", 15.0),
    ("train_tabular@*", 10.0),
)
"""Rough seconds a stage takes on 2 CPU cores (measured on a fresh clone's ``make run``; the first
glob matching its address wins, others: 5 s): only to start the stages on the longest remaining
chain first, so the last minutes are not one long stage alone."""


def cost_hint(address: str) -> float:
    """The :data:`COST_HINT` of a stage address (``stage@item``)."""
    return next((s for pattern, s in COST_HINT if fnmatch.fnmatchcase(address, pattern)), 5.0)


def critical_path(graph: StageGraph, todo: set[str]) -> dict[str, float]:
    """Each stage's cost hint plus the longest chain of hints below it within ``todo``."""
    children: dict[str, list[str]] = {a: [] for a in todo}
    for a in todo:
        for u in graph.upstream[a] & todo:
            children[u].append(a)
    path: dict[str, float] = {}
    for a in reversed(graph.order(todo)):
        own = cost_hint(a)
        path[a] = own + max((path[c] for c in children[a]), default=0.0)
    return path


def _submit(
    project: Path,
    address: str,
    mlflow_ui: str,
    threads: int | None,
    timeout: float | None = None,
    grace: float = GRACE_S,
) -> PrefectFuture[dict[str, Any]]:
    tags = ["gpu" if is_gpu_stage(address) else "cpu", address.split("@", 1)[0]]
    return run_stage.with_options(tags=tags).submit(
        str(project), address, mlflow_ui, threads, timeout, grace
    )


def _stop_reason(exc: BaseException) -> tuple[str, int]:
    """Why the flow process is being stopped, and the signal its stages get."""
    if isinstance(exc, KeyboardInterrupt):
        return "Ctrl-C", signal.SIGINT
    if isinstance(exc, TerminationSignal):
        from prefect._internal.control_listener import get_intent

        return ("flow run cancelled" if get_intent() == "cancel" else "SIGTERM"), signal.SIGTERM
    return f"flow stopped ({type(exc).__name__})", signal.SIGTERM


def _schedule(
    graph: StageGraph,
    order: list[str],
    jobs: int,
    submit: Callable[[str], PrefectFuture[dict[str, Any]]],
    grace: float = GRACE_S,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], bool]:
    """Run ``order``'s stages, at most ``jobs`` at once, each submitted once its upstream stages
    completed (a task waiting for its upstream would hold a worker while ready stages queue),
    the longest remaining chain first; a stage below a failed one is not run, and once a stage
    reports the flow run cancelled nothing new starts. Returns the completed stages' results,
    ``(stage, why)`` for the others and whether the run was cancelled.

    SIGTERM (a runner cancelling the flow run, a service manager), Ctrl-C or any other exception
    here stops the running stages' process trees (``grace`` seconds each, side by side) before
    it propagates: no stage outlives the flow."""
    todo = set(order)
    rank = critical_path(graph, todo)
    waiting, done, dead = set(order), set(), set()
    running: dict[PrefectFuture[dict[str, Any]], str] = {}
    results: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    cancelled = False
    try:
        while waiting or running:
            if cancelled:
                failed += [(a, "not run: the flow run was cancelled") for a in sorted(waiting)]
                waiting.clear()
            for a in sorted(waiting):
                if graph.upstream[a] & dead:
                    waiting.discard(a)
                    dead.add(a)
                    failed.append((a, "not run: an upstream stage did not complete"))
            ready = sorted(
                (a for a in waiting if graph.upstream[a] & todo <= done),
                key=lambda a: (-rank[a], a),
            )
            for a in ready[: max(0, jobs - len(running))]:
                waiting.discard(a)
                running[submit(a)] = a
            if not running:
                continue  # only stages below failed ones are left: the loop above drops them
            future = next(as_completed(list(running)))
            address = running.pop(future)
            try:  # the future's state is reported asynchronously: its result is what counts
                results.append(future.result())
            except CancelledRun as exc:
                cancelled = True
                dead.add(address)
                failed.append((address, str(exc) or "cancelled"))
            except Exception as exc:  # noqa: BLE001 - any failure of a stage fails its chain only
                dead.add(address)
                failed.append((address, str(exc) or type(exc).__name__))
            else:
                done.add(address)
    except BaseException as exc:
        reason, sig = _stop_reason(exc)
        n = stop_all(reason, sig, grace)
        if n:
            wait(list(running), timeout=5)  # let the stopped tasks report their final state
        raise
    return results, failed, cancelled


@task(
    retries=6,
    retry_delay_seconds=[2, 5, 10, 20, 40, 60],
    retry_condition_fn=only_transient,
    task_run_name="{address}",
)
def run_stage(
    root: str,
    address: str,
    mlflow_ui: str = "http://127.0.0.1:5000",
    threads: int | None = None,
    timeout: float | None = None,
    grace: float = GRACE_S,
) -> Any:
    """``dvc repro --single-item address`` (BLAS/OpenMP pools sized to ``threads``); a markdown
    artifact links the MLflow runs it made. Past ``timeout`` seconds, or when its flow run is
    cancelled, the stage's process tree is stopped within ``grace`` seconds, its MLflow run
    closed with the reason, and the task ends TimedOut (failed) or Cancelled."""
    logger = get_run_logger()
    start = time.time()
    try:
        output = reproduce(
            Path(root), address, threads, timeout=timeout, cancelled=cancel_watch(), grace=grace
        )
    except StageStopped as exc:
        closed = close_stopped_runs(Path(root), address, since=start, reason=exc.reason)
        logger.warning("%s (%d MLflow run(s) closed; a rerun redoes it)", exc, closed)
        if exc.timed_out:
            return Failed(name="TimedOut", message=str(exc), data=exc)
        return Cancelled(message=str(exc))
    seconds = time.time() - start
    skipped = "didn't change, skipping" in output
    logger.info("%s: %s in %.1f s", address, "up to date" if skipped else "reproduced", seconds)
    if not skipped:
        create_markdown_artifact(
            key=_artifact_key(address),
            markdown=runs_markdown(Path(root), address, since=start, ui=mlflow_ui),
            description=f"MLflow runs of {address}",
        )
    return {"stage": address, "seconds": seconds, "skipped": skipped}


def cancel_watch(every: float = 2.0) -> Callable[[], str | None] | None:
    """A check, for :func:`flows.processes.run_tree`, that reads the state of this task's flow
    run from the API at most every ``every`` seconds: "flow run cancelled" once it is Cancelling
    (the UI's or ``prefect flow-run cancel``'s request, also where no runner signals the flow
    process: ``make run``, Dask workers). None outside a flow run."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.id
    if not run_id:
        return None
    last = time.monotonic()

    def cancelled() -> str | None:
        nonlocal last
        if time.monotonic() - last < every:
            return None
        last = time.monotonic()
        try:
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(run_id).state
        except Exception:  # noqa: BLE001 - an unreachable API is not a cancellation
            return None
        return (
            "flow run cancelled"
            if state and (state.is_cancelling() or state.is_cancelled())
            else None
        )

    return cancelled


def _artifact_key(address: str) -> str:
    """Prefect artifact keys allow lower-case letters, digits and dashes only."""
    key = "".join(c if c.isalnum() else "-" for c in address.lower())
    return "-".join(part for part in key.split("-") if part)[:100]


@flow(name="pipeline", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)
def pipeline(
    root: str = ".",
    force: bool = False,
    targets: list[str] | None = None,
    within: list[str] | None = None,
    jobs: int = 4,
    mlflow_ui: str = "http://127.0.0.1:5000",
    threads: int | None = None,
) -> dict[str, Any]:
    """Reproduce every stale stage (or the stale ones among ``targets`` and downstream of them;
    with ``within``, only those stages and what they need, like ``dvc repro <within>``),
    each stage's BLAS/OpenMP pools sized to ``threads`` (None: the libraries' defaults).

    Refuses to start when tracked params differ from the last commit (``dvc params diff``), so a
    scheduled run reproduces committed parameters, unless ``force``.
    """
    logger = get_run_logger()
    project = Path(root).resolve()
    for cmd in release_stale_locks(project):
        logger.warning("released the DVC locks of a killed process: %s", cmd)
    if not force:
        changed = params_dirty(project)
        if changed:
            files = ", ".join(sorted(changed))
            raise DirtyParams(
                f"uncommitted changes to tracked params in {files} (dvc params diff); commit "
                "them or run with force=True"
            )
    graph = stage_graph(project)
    stale = stale_stages(project, graph)
    if targets:
        unknown = sorted(set(targets) - set(graph.upstream))
        if unknown:
            raise ValueError(f"unknown stages {unknown}; see `dvc stage list`")
        stale &= graph.downstream(set(targets))
    todo = graph.downstream(stale)
    if within:
        unknown = sorted(set(within) - set(graph.upstream))
        if unknown:
            raise ValueError(f"unknown stages {unknown}; see `dvc stage list`")
        todo &= graph.needs(set(within))
    order = graph.order(todo)
    logger.info("%d stages, %d stale, %d to run", len(graph.upstream), len(stale), len(order))
    limits = load_pipeline(project / "params.yaml")
    results, failed, cancelled = _schedule(graph, order, jobs, lambda address: _submit(
        project, address, mlflow_ui, threads, limits.timeout_for(address), limits.stop_grace_s
    ), limits.stop_grace_s)  # fmt: skip
    if cancelled:
        lines = "\n".join(f"- {a}: {m}" for a, m in failed)
        return Cancelled(message=f"flow run cancelled; {len(results)} stages completed:\n{lines}")
    if failed:
        lines = "\n".join(f"- {a}: {m}" for a, m in failed)
        raise StageFailed(f"{len(failed)} of {len(order)} stages did not complete:\n{lines}")
    return {"stale": sorted(stale), "ran": [r["stage"] for r in results], "results": results}


def main() -> None:
    """Run the flow once from the command line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", default=".")
    p.add_argument("--force", action="store_true", help="run despite uncommitted params")
    p.add_argument("--dask", default=None, help="'local' for a LocalCluster or a scheduler address")
    p.add_argument("--workers", type=int, default=None, help="stages at once (threads)")
    args = p.parse_args()
    flow_ = pipeline
    if args.workers:
        flow_ = pipeline.with_options(task_runner=ThreadPoolTaskRunner(max_workers=args.workers))
    if args.dask:
        from flows.runners import dask_runner

        flow_ = pipeline.with_options(task_runner=dask_runner(args.dask))
    flow_(root=args.root, force=args.force, jobs=args.workers or 4)


if __name__ == "__main__":
    main()
