"""The DVC side of the flows: the stage graph, what is stale, and running one stage.

No Prefect here: these are plain functions the tasks call. DVC stays the only writer of stage
outputs: a stage runs as ``dvc repro --single-item <stage>``, which checks its inputs, runs its
command and records ``dvc.lock``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from flows.processes import GRACE_S, run_tree

GPU_PREFIXES = ("embed", "train_")
"""Stages that embed or train: tagged ``gpu`` (one at a time on a GPU work pool)."""

TRANSIENT = ("Unable to acquire lock", "is busy, it is being blocked by", "database is locked")
"""DVC's messages when another ``dvc`` process holds the repo or an output: worth a retry."""


class StageFailed(RuntimeError):
    """A stage's command failed; the message carries the stage's own error lines."""


class TransientStageError(StageFailed):
    """DVC could not take its lock (a concurrent ``dvc repro``): retried with back-off."""


class StageStopped(StageFailed):
    """The stage was stopped from outside (its timeout, a cancelled flow run, SIGTERM, Ctrl-C):
    its process tree is gone, DVC's record unchanged, so a rerun redoes it."""

    def __init__(self, address: str, reason: str, seconds: float) -> None:
        super().__init__(f"stage {address} stopped after {seconds:.1f} s: {reason}")
        self.address, self.reason, self.seconds = address, reason, seconds

    @property
    def timed_out(self) -> bool:
        return self.reason.startswith("timed out")


@dataclass(frozen=True)
class StageGraph:
    """Pipeline stages (addresses such as ``train_text@sst2-small``) and their upstream stages."""

    upstream: dict[str, frozenset[str]]

    def downstream(self, addresses: set[str]) -> set[str]:
        """``addresses`` and every stage that depends on one of them, directly or not."""
        g = nx.DiGraph()
        for node, ups in self.upstream.items():
            g.add_node(node)
            g.add_edges_from((u, node) for u in ups)
        out = set(addresses)
        for a in addresses:
            out |= nx.descendants(g, a)
        return out

    def needs(self, addresses: set[str]) -> set[str]:
        """``addresses`` and every stage they depend on, directly or not (what ``dvc repro
        <addresses>`` would consider)."""
        out, todo = set(), list(addresses)
        while todo:
            a = todo.pop()
            if a not in out:
                out.add(a)
                todo.extend(self.upstream[a])
        return out

    def order(self, addresses: set[str]) -> list[str]:
        """``addresses`` in dependency order (upstream first, ties by name)."""
        g = nx.DiGraph()
        g.add_nodes_from(addresses)
        g.add_edges_from((u, a) for a in addresses for u in self.upstream[a] if u in addresses)
        return list(nx.lexicographical_topological_sort(g))


REPO = Path(__file__).resolve().parents[1]


def dvc_command() -> list[str]:
    """How the flows start ``dvc``: :mod:`flows.dvc_cli` (``dvc`` with ``dvc.lock`` read by DVC's
    fast reader when DVC updates it; the same file written) under this interpreter."""
    return [sys.executable, "-m", "flows.dvc_cli"]


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""What BLAS/OpenMP (and so numpy, scikit-learn, torch) read for their thread pools."""


def stage_env(threads: int | None = None) -> dict[str, str]:
    """The environment stages run in: this interpreter's ``bin`` first on PATH (so the stage
    commands' ``python`` is the project's), no colour codes in captured output, and with
    ``threads`` each BLAS/OpenMP pool of the stage sized to it (stages run side by side share the
    cores instead of oversubscribing them)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # flows.dvc_cli importable from any project root (after the root's own packages)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p)
    env.setdefault("NO_COLOR", "1")
    env.setdefault("TERM", "dumb")
    if threads is not None:
        env.update(dict.fromkeys(THREAD_VARS, str(threads)))
    return env


def share_cores(cores: int, workers: int | None = None) -> tuple[int, int]:
    """``(stages at once, threads per stage)`` for ``cores`` cores: by default half as many
    stages as cores (at least 2: on 2 cores two 1-thread stages keep both busy where one stage
    rarely does), each with an equal share of the cores."""
    workers = max(2, cores // 2) if workers is None else max(1, workers)
    return workers, max(1, cores // workers)


def dvc(
    root: Path, *args: str, check: bool = True, threads: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``dvc <args>`` in ``root`` and capture its output (``threads``: see :func:`_env`)."""
    proc = subprocess.run(
        [*dvc_command(), *args],
        cwd=root,
        env=stage_env(threads),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise StageFailed(f"dvc {' '.join(args)} failed:\n{_error_lines(proc)}")
    return proc


def _error_lines(proc: subprocess.CompletedProcess[str], keep: int = 20) -> str:
    lines = [ln.rstrip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR" in ln or "Error" in ln]
    tail = lines[-keep:]
    picked = errors + [ln for ln in tail if ln not in errors]
    return "\n".join(picked[-keep:])


def stage_graph(root: Path) -> StageGraph:
    """Every pipeline stage of ``root/dvc.yaml`` (data-source ``.dvc`` files excluded) with its
    upstream stages, from DVC's own index."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return StageGraph(_upstream(repo))


def _upstream(repo: Any) -> dict[str, frozenset[str]]:
    """Every command stage of an open DVC ``Repo`` and the stages it depends on."""
    graph = repo.index.graph  # edges point from a stage to the stages it depends on
    stages = {s for s in graph.nodes if getattr(s, "cmd", None)}
    # stages of the root dvc.yaml are addressed by name ("prepare@sst2"), as `dvc repro` takes
    return {s.name: frozenset(u.name for u in graph.successors(s) if u in stages) for s in stages}


def stale_stages(root: Path, graph: StageGraph) -> set[str]:
    """Stages ``dvc status`` reports as changed (deps, params, outs or command)."""
    proc = dvc(root, "status", "--json")
    report = json.loads(proc.stdout.strip() or "{}")
    return {name for name in report if name in graph.upstream}


def plan(root: Path) -> tuple[StageGraph, set[str]]:
    """The stage graph and the stale stages, from one load of DVC's index (what ``make run``
    checks before it starts anything: an up-to-date pipeline costs one ``dvc status``, with DVC's
    reads sped up as in ``dvc_cli``)."""
    from dvc.repo import Repo

    from flows.dvc_cli import patch_reads

    patch_reads()

    # DVC names stages relative to the working directory ("sub/dvc.yaml:name" from elsewhere)
    with contextlib.chdir(root), Repo(".") as repo:
        upstream = _upstream(repo)
        report = repo.status()
    return StageGraph(upstream), {name for name in report if name in upstream}


def params_dirty(root: Path) -> dict[str, object]:
    """Tracked params that differ from the last commit (``dvc params diff``)."""
    proc = dvc(root, "params", "diff", "--json")
    return json.loads(proc.stdout.strip() or "{}")


def release_stale_locks(root: Path) -> list[str]:
    """Drop the read/write-lock entries of ``dvc`` processes that are gone or are zombies (a
    killed ``dvc repro``). DVC drops entries whose PID no longer exists, but a process killed a
    moment ago lingers as a zombie until it is reaped and keeps its outputs "busy". Returns the
    commands whose entries were dropped."""
    import psutil

    path = Path(root) / ".dvc" / "tmp" / "rwlock"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError:
        return []

    def alive(info: dict[str, object]) -> bool:
        try:
            return psutil.Process(int(str(info["pid"]))).status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, KeyError, ValueError):
            return False

    dropped: set[str] = set()
    for out, infos in list(data.get("read", {}).items()):
        keep = [i for i in infos if alive(i)]
        dropped |= {str(i.get("cmd")) for i in infos if i not in keep}
        if keep:
            data["read"][out] = keep
        else:
            del data["read"][out]
    for out, info in list(data.get("write", {}).items()):
        if not alive(info):
            dropped.add(str(info.get("cmd")))
            del data["write"][out]
    if dropped:
        tmp = path.with_suffix(".glassworks-tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    return sorted(dropped)


def reproduce(
    root: Path,
    address: str,
    threads: int | None = None,
    *,
    timeout: float | None = None,
    cancelled: Callable[[], str | None] | None = None,
    grace: float = GRACE_S,
) -> str:
    """``dvc repro --single-item <address>`` (its BLAS/OpenMP pools sized to ``threads``); its
    output, or :class:`StageFailed` with the stage's error lines (:class:`TransientStageError`
    when DVC could not take its lock). Past ``timeout`` seconds, when ``cancelled()`` names a
    reason or when :func:`flows.processes.stop_all` is called, the stage's process tree is
    stopped (``grace`` seconds, then SIGKILL) and :class:`StageStopped` raised."""
    release_stale_locks(root)
    done = run_tree(
        [*dvc_command(), "repro", "--single-item", address],
        cwd=root, env=stage_env(threads), timeout=timeout, cancelled=cancelled, grace=grace,
    )  # fmt: skip
    if done.stopped is not None:
        release_stale_locks(root)
        raise StageStopped(address, done.stopped, done.seconds)
    if done.returncode == 0:
        return done.stdout
    text = done.stdout + done.stderr
    kind = TransientStageError if any(t in text for t in TRANSIENT) else StageFailed
    proc = subprocess.CompletedProcess([], done.returncode, done.stdout, done.stderr)
    raise kind(f"stage {address} failed:\n{_error_lines(proc)}")


def is_gpu_stage(address: str) -> bool:
    """Embedding and training stages (tagged ``gpu``)."""
    return address.split("@", 1)[0].startswith(GPU_PREFIXES)
