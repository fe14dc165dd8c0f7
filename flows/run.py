"""``make run``: reproduce the pipeline with independent stages running side by side.

Checks what is stale first, from one load of DVC's index, and returns at once when nothing is
(no Prefect start-up for an up-to-date pipeline). Otherwise it runs the stale stages and
everything downstream of them through the ``pipeline`` flow: each stage a ``dvc repro
--single-item`` task that starts when its upstream stages are done, ``--workers`` of them at once
with the cores shared out (``OMP_NUM_THREADS`` & co. set per stage), so DVC stays the only writer
of outputs and ``dvc.lock``. Models whose float sums depend on the thread count pin their torch
threads in ``params.yaml`` (``train_text.threads`` ...), so a parallel run gives the same
``dvc.lock`` hashes as a serial ``dvc repro``.

    python -m flows.run [--root .] [--workers N] [--threads T] [--dask local|ADDRESS] [STAGE ...]

Unlike the scheduled flow it runs with uncommitted params (what ``dvc repro`` does).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from flows.dvc_project import StageFailed, plan, share_cores
from flows.processes import sigterm_raises
from glassworks.errors import Terminated

log = logging.getLogger("flows.run")


def cores() -> int:
    """Cores this process may use (``taskset`` and cgroup CPU sets respected)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    """Run what is stale; 0 when everything is up to date at the end."""
    p = argparse.ArgumentParser(prog="python -m flows.run", description=__doc__)
    p.add_argument("--root", type=Path, default=Path("."))
    p.add_argument(
        "--workers", type=int, default=None, help="stages at once (default: cores/2, >= 2)"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="threads per stage (default: cores/workers)"
    )
    p.add_argument(
        "--dask",
        default=os.environ.get("GLASSWORKS_DASK") or None,
        help="'local' (a LocalCluster) or a scheduler address (default: $GLASSWORKS_DASK)",
    )
    p.add_argument(
        "targets", nargs="*", help="only these stages and what they need (like dvc repro TARGETS)"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    try:
        with sigterm_raises():
            return _run(args, start, p)
    except (KeyboardInterrupt, Terminated) as exc:  # before the flow started: nothing runs yet
        log.error(INTERRUPTED, time.perf_counter() - start)
        return 130 if isinstance(exc, KeyboardInterrupt) else 143


INTERRUPTED = (
    "interrupted: pipeline after %.0f s (running stages stopped, nothing half-written; "
    "make run resumes)"
)


def _run(args: argparse.Namespace, start: float, p: argparse.ArgumentParser) -> int:
    graph, stale = plan(args.root)
    unknown = sorted(set(args.targets) - set(graph.upstream))
    if unknown:
        p.error(f"unknown stages {unknown}; see `dvc stage list`")
    stale_all = graph.downstream(stale)
    needed = graph.needs(set(args.targets)) if args.targets else set(graph.upstream)
    todo = stale_all & needed
    if not todo:
        if args.targets:  # the rest of the pipeline may well be stale: say so, not "up to date"
            log.info(
                "the %d stages these targets need are up to date, nothing to run "
                "(%d other stages stale: make run reproduces them)",
                len(needed),
                len(stale_all - needed),
            )
            return 0
        log.info("pipeline up to date (%d stages), nothing to run", len(graph.upstream))
        return 0
    workers, threads = share_cores(cores(), args.workers)
    threads = args.threads or threads
    where = f"Dask {args.dask}" if args.dask else f"{workers} at once, {threads} thread(s) each"
    log.info("%d of %d stages to run (%s)", len(todo), len(graph.upstream), where)

    from flows.server import temporary_server

    with temporary_server():  # before Prefect is imported: its threads read the URL then
        return _run_flow(args, start, workers, threads)


def _run_flow(args: argparse.Namespace, start: float, workers: int, threads: int) -> int:
    from prefect.exceptions import CancelledRun, TerminationSignal
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.pipeline import pipeline

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call

    if args.dask:
        from flows.runners import dask_runner

        runner = dask_runner(args.dask, n_workers=workers)
    else:
        runner = ThreadPoolTaskRunner(max_workers=workers)

    try:
        flow = pipeline.with_options(task_runner=runner)
        flow(
            root=str(args.root),
            force=True,
            within=args.targets or None,
            jobs=workers,
            threads=threads,
        )
    except StageFailed as exc:
        log.error("%s", exc)
        return 1
    except CancelledRun as exc:
        log.error("cancelled: %s", exc)
        return 1
    except (KeyboardInterrupt, TerminationSignal, Terminated) as exc:
        code = 130 if isinstance(exc, KeyboardInterrupt) else 143
        log.error(INTERRUPTED, time.perf_counter() - start)
        return code
    finally:
        _drain_prefect()
    log.info("pipeline reproduced in %.0f s", time.perf_counter() - start)
    return 0


def _drain_prefect(timeout: float = 5.0) -> None:
    """Send Prefect's queued logs and events while the temporary server still answers (at
    interpreter exit it would be gone, and the workers would retry against it)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - best effort: the run's outcome stands
            log.debug("could not drain %s: %s", worker.__name__, exc)


if __name__ == "__main__":
    sys.exit(main())
