"""Deployments of the glassworks flows, served from this machine (``make serve``):

- ``pipeline/nightly-pipeline``: every night at 02:00 (cron ``0 2 * * *``), the CPU profile of
  ``params.yaml``, stale stages only;
- ``full-profile/weekly-full``: Sundays at 03:00 (cron ``0 3 * * 0``), the full-scale profile as a
  DVC experiment; in ``prefect.yaml`` it goes to the ``gpu`` work pool;
- ``explain/explain-on-demand``: no schedule; parameters ``model_uri``, ``texts`` / ``file``.

    python -m flows.deploy                 # serve against PREFECT_API_URL (or Prefect Cloud)
    python -m flows.deploy --local-server  # start a local server under .prefect/ first
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client

from flows.experiment import full_profile
from flows.explain import explain
from flows.pipeline import pipeline
from flows.processes import (
    GRACE_S,
    die_with_parent,
    sigterm_raises,
    stop_children,
    stop_tree,
    wait_interruptibly,
)
from flows.server import local_server
from glassworks.errors import Terminated

NIGHTLY_CRON = "0 2 * * *"
WEEKLY_CRON = "0 3 * * 0"
GPU_LIMIT = 1


def deployments(root: str) -> list[Any]:
    """The three deployments for the project at ``root``."""
    return [
        pipeline.to_deployment(
            name="nightly-pipeline",
            cron=NIGHTLY_CRON,
            parameters={"root": root},
            tags=["cpu-profile"],
            description="Reproduce stale DVC stages with the committed (CPU) params.",
        ),
        full_profile.to_deployment(
            name="weekly-full",
            cron=WEEKLY_CRON,
            parameters={"root": root},
            tags=["gpu", "full-profile"],
            description="The full-scale profile as a DVC experiment (dvc exp run --temp).",
        ),
        explain.to_deployment(
            name="explain-on-demand",
            parameters={"root": root},
            tags=["on-demand"],
            description="Predict and explain new texts with a logged or registered model.",
        ),
    ]


def ensure_gpu_limit(limit: int = GPU_LIMIT) -> None:
    """Tag concurrency limit ``gpu``: embedding and training stages run one at a time."""
    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag="gpu", concurrency_limit=limit)


def main() -> None:
    """Serve the deployments (optionally on a local server started here)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", default=".", help="the glassworks project the flows run in")
    p.add_argument("--local-server", action="store_true", help="start a server under .prefect/")
    p.add_argument("--port", type=int, default=4200)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the local server listens on; anything but 127.0.0.1 exposes an "
        "unauthenticated API that can run flows on this machine",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=GRACE_S,
        help="seconds each stopped process (flow runs, their stages, the server) gets to exit "
        "on Ctrl-C or SIGTERM before it is killed (default: %(default)s)",
    )
    args = p.parse_args()
    root = str(Path(args.root).resolve())
    if args.local_server:
        sys.exit(serve_with_local_server(root, args.port, args.host, args.grace))
    ensure_gpu_limit()
    sys.exit(serve_deployments(root, args.grace))


def serve_deployments(root: str, grace: float = GRACE_S) -> int:
    """Serve the deployments until Ctrl-C or SIGTERM, which first stop the flow runs this
    process started (SIGTERM: each stops its running stages, ends Cancelled or Crashed while the
    server still answers; SIGKILL after ``grace`` seconds), then the runner. Prefect's own
    handling would end the runner first, which kills its flow runs with SIGKILL and leaves their
    stages running as orphans. Exit status 130 or 143."""
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    served = deployments(root)
    for deployment in served:
        runner.add_deployment(deployment)

    loop = asyncio.new_event_loop()
    stopping: list[Any] = []  # the exit status and the runner's stop task

    def stop(signum: int, frame: object) -> None:
        _ignore_stop_signals()
        stopped = stop_children(grace)
        what = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        print(f"{what}: stopped {len(stopped)} flow run process(es); stopping the runner")  # noqa: T201
        stopping.append(130 if signum == signal.SIGINT else 143)
        loop.call_soon_threadsafe(lambda: stopping.append(loop.create_task(runner.astop())))

    runner.handle_sigterm = stop  # type: ignore[method-assign]  # Runner.start installs it
    signal.signal(signal.SIGINT, stop)
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in served)
    print(f"serving {names} for {root} (Ctrl-C or SIGTERM stops them and their runs)")  # noqa: T201
    try:
        loop.run_until_complete(runner.start())
    finally:
        loop.close()
    return stopping[0] if stopping else 0


def serve_with_local_server(root: str, port: int, host: str, grace: float = GRACE_S) -> int:
    """``make serve``: a local server under ``root/.prefect`` and a serving process against it,
    each in a session of its own, so a terminal's Ctrl-C reaches only this process, which stops
    them in order: the serving process first (its flow runs and their stages stop, while the
    server still answers), then the server. One Ctrl-C or SIGTERM is enough; exit status 130 or
    143. Both children die with this process even when it is killed (``PR_SET_PDEATHSIG``)."""
    stopping = 0.0
    try:
        with sigterm_raises(), local_server(Path(root) / ".prefect", port, host, grace) as url:
            print(f"Prefect UI: {url.removesuffix('/api')}  (Ctrl-C stops server and deployments)")  # noqa: T201
            env = {**os.environ, "PREFECT_API_URL": url}
            served = subprocess.Popen(
                [sys.executable, "-m", "flows.deploy", "--root", root, "--grace", str(grace)],
                env=env, start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
            )  # fmt: skip
            try:
                code = wait_interruptibly(served)
            except BaseException:
                stopping = time.monotonic()
                _ignore_stop_signals()  # a second Ctrl-C must not cut the shutdown short
                stop_tree(served.pid, grace, signal.SIGTERM, leaves_first=False)
                served.wait()
                raise
            print(f"the serving process exited ({code}); stopping the server")  # noqa: T201
            return code or 1
    except (KeyboardInterrupt, Terminated) as exc:
        what = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else "SIGTERM"
        took = time.monotonic() - stopping if stopping else 0.0
        print(f"stopped: deployments and Prefect server ({what}, {took:.1f} s)")  # noqa: T201
        return 130 if isinstance(exc, KeyboardInterrupt) else 143


def _ignore_stop_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    main()
