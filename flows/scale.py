"""Scale-out of the heaviest work on a Dask cluster: n-gram embedding and the model grids.

    python -m flows.scale embed --dataset sst2 [--dask ADDRESS|local] [--chunk-size 8192]
    python -m flows.scale tabular [--dask ADDRESS|local] [--datasets ...] [--methods ...]

:func:`cluster` gives a ``distributed.Client``: ``local`` (or nothing) starts a ``LocalCluster`` of
worker processes, anything else is the address of a running scheduler (``tcp://host:8786``); the
command line takes the address from ``--dask`` or the ``GLASSWORKS_DASK`` environment variable.

:func:`embed_on_cluster` splits a corpus's unique n-grams into chunks, one task each; a task
embeds its chunk through the shared content-addressed cache (``glassworks.embed.cache``), whose
per-namespace ``flock`` makes concurrent writers store each n-gram exactly once (the model runs
outside the lock, :meth:`EmbeddingCache.fill`, so workers encode in parallel), and returns only
accounting (the vectors stay in the cache, which must be a filesystem every worker sees with
working ``flock``: local disk for a ``LocalCluster``, NFSv4 or Lustre mounted with ``flock`` for
several machines). The ``embed`` stage run afterwards finds every n-gram cached and only assembles
its index: ``python -m flows.scale embed`` is a cache warmer, DVC stays the only writer of the
stage's outputs.

:func:`map_grid` fans out independent grid cells (a pure function of keyword arguments) and returns
their results in the cells' order; a failing cell is named in the error. :func:`tabular_cell` is
one (method, dataset, seed) cell of the ``train_tabular`` grid, :func:`tabular_cells` the grid of
``params.yaml``. Grid results are returned, never written: the stages stay the writers of
``data/tabular``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distributed import Client, Future, LocalCluster, as_completed, get_worker, wait

from glassworks.embed.cache import EmbeddingCache, TextEncoder

log = logging.getLogger(__name__)

ENV = "GLASSWORKS_DASK"
"""Environment variable holding the scheduler address (``tcp://host:8786`` or ``local``)."""


def resolve_address(address: str | None, from_env: bool = False) -> str:
    """The scheduler address to use: ``address``, else ``$GLASSWORKS_DASK`` when ``from_env``,
    else ``"local"``."""
    if address is None and from_env:
        address = os.environ.get(ENV) or None
    return "local" if address is None else address.strip()


@contextlib.contextmanager
def cluster(
    address: str | None = None,
    *,
    from_env: bool = False,
    n_workers: int = 2,
    threads_per_worker: int = 1,
) -> Iterator[Client]:
    """A client of a Dask cluster, closed on exit.

    ``None`` or ``"local"``: a ``LocalCluster`` of ``n_workers`` processes with
    ``threads_per_worker`` threads each (no dashboard), shut down on exit. Anything else: the
    address of a running scheduler; only the client is closed on exit. With ``from_env`` a
    ``None`` address is read from ``$GLASSWORKS_DASK`` first."""
    address = resolve_address(address, from_env)
    if address == "local":
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                dashboard_address=None,
            ) as local,
            Client(local) as client,
        ):
            yield client
        return
    with Client(address) as client:
        yield client


# --------------------------------------------------------------------------- embedding


@dataclass
class ClusterEmbedStats:
    """Accounting of one :func:`embed_on_cluster` call (summed over chunks)."""

    requested: int
    unique: int
    chunks: int
    cache_hits: int = 0
    newly_embedded: int = 0
    truncated: int = 0
    seconds_encoding: float = 0.0
    """Model time summed over the workers."""
    seconds_wall: float = 0.0
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per worker address: ``chunks``, ``newly_embedded``, ``seconds_encoding``."""

    @property
    def throughput(self) -> float:
        """Newly embedded n-grams per wall-clock second, all workers together."""
        return self.newly_embedded / self.seconds_wall if self.seconds_wall > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the throughput."""
        return {**asdict(self), "throughput": self.throughput}


class ChunkFailed(RuntimeError):
    """Chunks of :func:`embed_on_cluster` failed (the others' shards are in the cache, so a rerun
    embeds only what is missing)."""


_WORKER_CACHES: dict[tuple[str, str, int], EmbeddingCache] = {}
"""One cache object per (root, encoder identity, thread) in a worker process: its index is
refreshed incrementally (only shards new since the last task are read), and an object is never
shared by two threads."""


def _worker_name() -> str:
    try:
        return str(get_worker().address)
    except ValueError:  # called outside a Dask worker
        return f"{socket.gethostname()}:{os.getpid()}"


def _worker_cache(cache_root: str, identity: str) -> EmbeddingCache:
    key = (cache_root, identity, threading.get_ident())
    cache = _WORKER_CACHES.get(key)
    if cache is None:
        cache = _WORKER_CACHES[key] = EmbeddingCache(cache_root, identity)
    return cache


def embed_chunk(
    encoder: TextEncoder, cache_root: str, keys: Sequence[str], shard_size: int = 8192
) -> dict[str, Any]:
    """Runs on a worker: store the vectors of the ``keys`` not cached yet under ``cache_root``
    and return the accounting, not the vectors.

    The vectors are those ``CachedEmbedder(encoder, cache_root).embed(keys)`` stores, but written
    through :meth:`EmbeddingCache.fill`: the model runs outside the namespace's write lock (which
    ``embed`` holds while encoding, so workers would take turns) and the lock is held only to
    write the keys still missing, so each key is stored once and the workers encode in parallel.
    """
    start = time.perf_counter()
    truncated_before = getattr(encoder, "n_truncated", 0)
    cache = _worker_cache(cache_root, encoder.identity)
    stats = cache.fill(keys, encoder, shard_size=shard_size)
    return {
        "worker": _worker_name(),
        **asdict(stats),
        "truncated": getattr(encoder, "n_truncated", 0) - truncated_before,
        "seconds": time.perf_counter() - start,
    }


def _chunks(keys: Sequence[str], size: int) -> list[list[str]]:
    return [list(keys[i : i + size]) for i in range(0, len(keys), size)]


def embed_on_cluster(
    client: Client,
    encoder: TextEncoder,
    cache_root: str | Path,
    keys: Sequence[str],
    chunk_size: int = 8192,
    *,
    shard_size: int | None = None,
    retries: int = 0,
    progress: Callable[[int], None] | None = None,
) -> ClusterEmbedStats:
    """Fill the cache under ``cache_root`` with the vectors of ``keys`` on the cluster.

    The unique keys (first-seen order) are cut into chunks of ``chunk_size``, one task each; the
    encoder is sent to every worker once (a loaded model stays loaded there between tasks). Each
    task writes shards of at most ``shard_size`` rows (default: ``chunk_size``). ``progress(n)`` is
    called with the number of keys of each finished chunk. All chunks run to the end; failed ones
    raise :class:`ChunkFailed` naming each chunk, its size and first key."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    start = time.perf_counter()
    unique = list(dict.fromkeys(keys))
    chunks = _chunks(unique, chunk_size)
    stats = ClusterEmbedStats(requested=len(keys), unique=len(unique), chunks=len(chunks))
    if not chunks:
        return stats
    root = os.path.abspath(cache_root)
    token = uuid.uuid4().hex[:8]
    remote_encoder = client.scatter(encoder, broadcast=True, hash=False)
    futures = [
        client.submit(
            embed_chunk,
            remote_encoder,
            root,
            chunk,
            shard_size or chunk_size,
            key=f"embed-chunk-{i}-{token}",
            pure=False,
            retries=retries,
        )
        for i, chunk in enumerate(chunks)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    failures: list[str] = []
    for fut in as_completed(futures):
        i = index[fut.key]
        if fut.status != "finished":
            failures.append(f"- chunk {i} ({len(chunks[i])} keys from {chunks[i][0]!r}): "
                            f"{_describe_error(fut)}")  # fmt: skip
            continue
        part = fut.result()
        for name in ("cache_hits", "newly_embedded", "truncated", "seconds_encoding"):
            setattr(stats, name, getattr(stats, name) + part[name])
        mine = stats.workers.setdefault(
            part["worker"], {"chunks": 0, "newly_embedded": 0, "seconds_encoding": 0.0}
        )
        mine["chunks"] += 1
        mine["newly_embedded"] += part["newly_embedded"]
        mine["seconds_encoding"] += part["seconds_encoding"]
        if progress is not None:
            progress(len(chunks[i]))
    client.cancel([remote_encoder])
    stats.seconds_wall = time.perf_counter() - start
    if failures:
        raise ChunkFailed(
            f"{len(failures)} of {len(chunks)} embedding chunks failed (the others are cached; a "
            "rerun embeds only what is missing):\n" + "\n".join(sorted(failures))
        )
    return stats


# --------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class CellFailure:
    """One failed cell of :func:`map_grid`."""

    index: int
    cell: Mapping[str, Any]
    error: BaseException


class GridError(RuntimeError):
    """Cells of :func:`map_grid` failed; ``failures`` names them, ``results`` holds every cell's
    result in order (``None`` for a failed one)."""

    def __init__(self, message: str, failures: list[CellFailure], results: list[Any]) -> None:
        super().__init__(message)
        self.failures = failures
        self.results = results


def describe_cell(cell: Mapping[str, Any], width: int = 60) -> str:
    """``k=v, ...`` with long values shortened (for error messages and task names)."""
    parts = []
    for k, v in cell.items():
        text = repr(v)
        parts.append(f"{k}={text if len(text) <= width else text[: width - 3] + '...'}")
    return ", ".join(parts)


def _describe_error(fut: Future) -> str:
    if fut.status == "cancelled":
        return "cancelled (its worker or the scheduler went away)"
    exc = fut.exception()
    return f"{type(exc).__name__}: {exc}"


def _call_cell(fn: Callable[..., Any], cell: Mapping[str, Any]) -> Any:
    return fn(**cell)


def map_grid(
    client: Client,
    fn: Callable[..., Any],
    cells: Sequence[Mapping[str, Any]],
    *,
    retries: int = 0,
) -> list[Any]:
    """``[fn(**cell) for cell in cells]``, the cells run as independent tasks on the cluster.

    ``fn`` must be importable on the workers (a module-level function) and return a picklable
    result. Results come back in the cells' order. Every cell runs to the end; if any failed,
    :class:`GridError` lists each failed cell (index, arguments, exception), chained from the
    first failure's exception."""
    cells = [dict(c) for c in cells]
    name = getattr(fn, "__name__", "cell")
    token = uuid.uuid4().hex[:8]
    futures = [
        client.submit(_call_cell, fn, cell, key=f"{name}-{i}-{token}", pure=False, retries=retries)
        for i, cell in enumerate(cells)
    ]
    wait(futures)
    results: list[Any] = []
    failures: list[CellFailure] = []
    for i, (cell, fut) in enumerate(zip(cells, futures, strict=True)):
        if fut.status == "finished":
            results.append(fut.result())
            continue
        results.append(None)
        error = (
            fut.exception()
            if fut.status == "error"
            else RuntimeError("cancelled (its worker or the scheduler went away)")
        )
        failures.append(CellFailure(i, cell, error))
    if failures:
        lines = "\n".join(
            f"- cell {f.index} ({describe_cell(f.cell)}): {type(f.error).__name__}: {f.error}"
            for f in failures
        )
        raise GridError(
            f"{len(failures)} of {len(cells)} cells of {name} failed:\n{lines}", failures, results
        ) from failures[0].error
    return results


def tabular_cell(
    prepared_dir: str,
    dataset: str,
    method: str,
    seed: int,
    hyperparameters: Mapping[str, Any],
    nominal: str = "onehot",
    max_categories: int | None = 32,
    max_train: int | None = None,
) -> dict[str, Any]:
    """One (method, dataset, seed) cell of the ``train_tabular`` grid, as that stage computes it
    (the same checks, encoding and ``fit_and_score``): the seed's ``output_info`` (scores,
    seconds, sizes, hyperparameters). Writes nothing."""
    from glassworks.data import read_prepared
    from glassworks.experiments.tabular import check_tabular, encode_splits, fit_and_score

    folder = Path(prepared_dir) / dataset
    prepared = read_prepared(folder)
    check_tabular(prepared, str(folder))
    data = encode_splits(
        prepared, nominal=nominal, max_categories=max_categories, max_train=max_train
    )
    _, info = fit_and_score(method, dict(hyperparameters), seed, data, len(prepared.label_names))
    return {"dataset": dataset, **info}


def tabular_cells(
    params_path: str | Path,
    prepared_dir: str | Path,
    datasets: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The cells (datasets x methods x seeds) of ``train_tabular`` in ``params_path``, as
    :func:`tabular_cell` arguments; ``datasets``/``methods`` narrow the grid."""
    from glassworks.config import TrainTabularParams, load_section

    params = load_section(params_path, "train_tabular", TrainTabularParams)
    cells = []
    for dataset in datasets or params.datasets:
        for method in methods or params.methods:
            run = params.run(method)
            for seed in run.seeds:
                cells.append(
                    {
                        "prepared_dir": os.path.abspath(prepared_dir),
                        "dataset": dataset,
                        "method": method,
                        "seed": seed,
                        "hyperparameters": run.hyperparameters,
                        "nominal": run.encoding.nominal,
                        "max_categories": run.encoding.max_categories,
                        "max_train": run.max_train,
                    }
                )
    return cells


# --------------------------------------------------------------------------- command line


def corpus_ngrams(params_path: str | Path, prepared_dir: str | Path, dataset: str) -> list[str]:
    """The n-grams the ``embed`` stage embeds for ``dataset`` (same texts, same n-gram rule)."""
    from glassworks.config import EmbedParams, load_section
    from glassworks.data import read_prepared
    from glassworks.data.split import texts_used
    from glassworks.embed.index import ngram_table
    from glassworks.embed.ngrams import NgramSpec

    params = load_section(params_path, "embed", EmbedParams)
    ds = params.dataset(dataset)
    spec = NgramSpec(
        order=ds.ngram_order,
        mode=ds.ngram_mode,
        stopwords=ds.stopwords,
        min_frequency=ds.min_frequency,
    )
    prepared = read_prepared(Path(prepared_dir) / dataset)
    texts = texts_used(prepared.splits, ds.train_subsample, params.seed)
    return ngram_table(texts.get_column("text").to_list(), spec).get_column("ngram").to_list()


def main(argv: Sequence[str] | None = None) -> None:
    """Warm the embedding cache or run the tabular grid on a cluster; prints JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("what", choices=["embed", "tabular"])
    p.add_argument("--dask", default=None, help=f"scheduler address or 'local' (default ${ENV})")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--prepared-dir", default="data/prepared")
    p.add_argument("--dataset", action="append", dest="datasets", help="repeatable")
    p.add_argument("--method", action="append", dest="methods", help="tabular; repeatable")
    p.add_argument("--chunk-size", type=int, default=8192, help="n-grams per embedding task")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with cluster(args.dask, from_env=True, n_workers=args.workers) as client:
        log.info("cluster %s", client.scheduler_info().get("address"))
        if args.what == "embed":
            from glassworks.config import EmbedParams, load_section
            from glassworks.embed.encoder import Encoder

            params = load_section(args.params, "embed", EmbedParams)
            encoder = Encoder(**params.encoder.model_dump())
            out: Any = {}
            for dataset in args.datasets or list(params.datasets):
                keys = corpus_ngrams(args.params, args.prepared_dir, dataset)
                stats = embed_on_cluster(client, encoder, params.cache_dir, keys, args.chunk_size)
                out[dataset] = stats.to_dict()
                log.info("%s: %d n-grams, %d new", dataset, stats.unique, stats.newly_embedded)
        else:
            cells = tabular_cells(args.params, args.prepared_dir, args.datasets, args.methods)
            out = map_grid(client, tabular_cell, cells)
    sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
