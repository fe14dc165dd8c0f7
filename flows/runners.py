"""Task runners: threads by default; Dask (``prefect-dask``) when one machine is not enough."""

from __future__ import annotations

from typing import Any


def dask_runner(address: str = "local", n_workers: int = 2) -> Any:
    """A ``DaskTaskRunner``: ``"local"`` starts a ``LocalCluster`` of ``n_workers`` processes;
    anything else is the address of a running Dask scheduler (``tcp://host:8786``)."""
    from prefect_dask import DaskTaskRunner

    if address == "local":
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 1, "processes": True},
        )
    return DaskTaskRunner(address=address)
