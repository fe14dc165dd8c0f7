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
import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import serve
from prefect.client.orchestration import get_client

from flows.experiment import full_profile
from flows.explain import explain
from flows.pipeline import pipeline
from flows.server import local_server

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
    args = p.parse_args()
    root = str(Path(args.root).resolve())
    if args.local_server:
        with local_server(Path(root) / ".prefect", args.port, host=args.host) as url:
            print(f"Prefect UI: {url.removesuffix('/api')}  (Ctrl-C stops server and deployments)")  # noqa: T201
            env = {**os.environ, "PREFECT_API_URL": url}
            cmd = [sys.executable, "-m", "flows.deploy", "--root", root]
            with contextlib.suppress(KeyboardInterrupt):
                subprocess.run(cmd, env=env, check=False)
        return
    ensure_gpu_limit()
    serve(*deployments(root))


if __name__ == "__main__":
    main()
