"""Child process trees that stop when asked: a stage (``dvc repro`` and the stage command under
it) run by a flow task, the local Prefect server, the serving process of ``make serve``.

:func:`run_tree` runs one command and watches it: when its timeout passes, when ``cancelled()``
names a reason (the flow run was cancelled) or when :func:`stop_all` is called (the flow process
got SIGTERM or Ctrl-C), the whole tree is stopped with :func:`stop_tree`: the stage command first,
with SIGTERM, so it unwinds (temp outputs removed, its MLflow run KILLED) and ``dvc`` then records
the failure and releases its lock itself; whatever is still alive after ``grace`` seconds gets
SIGKILL, which leaves the same consistent state as the ``kill -9`` tests check.

Children stay in the caller's process group (no new session): a ``kill -9`` of the whole group,
or a terminal's Ctrl-C, still reaches every one of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from glassworks.errors import Terminated

log = logging.getLogger(__name__)

GRACE_S = 10.0
"""Seconds a stopped process tree gets to exit before SIGKILL (``pipeline.stop_grace_s``)."""


@dataclass(frozen=True)
class Finished:
    """What :func:`run_tree` saw: the exit status, the captured output and, when the tree was
    stopped from outside, why (``None``: it ended on its own)."""

    returncode: int
    stdout: str
    stderr: str
    stopped: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class _Request:
    reason: str
    sig: int


_lock = threading.Lock()
_live: dict[int, subprocess.Popen[str]] = {}
_requests: dict[int, _Request] = {}


def _signal(procs: Iterable[psutil.Process], sig: int) -> None:
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            p.send_signal(sig)


def _alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(procs: Sequence[psutil.Process], until: float) -> list[psutil.Process]:
    """Wait until every process of ``procs`` has exited (zombies count as exited) or ``until``
    (a ``time.monotonic()``); the ones still alive."""
    alive = _alive(procs)
    while alive and time.monotonic() < until:
        time.sleep(0.05)
        alive = _alive(alive)
    return alive


def stop_tree(
    pid: int, grace: float = GRACE_S, sig: int = signal.SIGTERM, *, leaves_first: bool = True
) -> list[int]:
    """Stop the process ``pid`` and its descendants within about ``grace`` seconds.

    ``leaves_first`` (a ``dvc repro`` and its stage): the descendants get ``sig`` first (the
    stage unwinds and exits) and ``pid`` is left a moment to exit on its own (``dvc`` records the
    failed stage and releases its lock); if it is still running, or has no descendants, it gets
    SIGINT, which ``dvc`` handles cleanly. Otherwise (a serving process, a server) ``pid`` gets
    ``sig`` and stops its own children. Anything alive at the deadline is killed. Returns the
    PIDs that needed SIGKILL."""
    try:
        root = psutil.Process(pid)
        kids = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    deadline = time.monotonic() + max(grace, 0.0)
    if leaves_first:
        if kids:
            _signal(kids, sig)
            _wait_gone(kids, deadline)
            _wait_gone([root], min(deadline, time.monotonic() + 2.0))
        _signal(_alive([root]), signal.SIGINT)
    else:
        _signal([root], sig)
    _wait_gone([root], deadline)
    with contextlib.suppress(psutil.NoSuchProcess):
        kids = list({*kids, *root.children(recursive=True)})
    left = _wait_gone([root, *kids], deadline)
    _signal(left, signal.SIGKILL)
    _wait_gone(left, time.monotonic() + 5)
    if left:
        log.warning("killed %d process(es) that outlived %.0f s: %s", len(left), grace,
                    ", ".join(str(p.pid) for p in left))  # fmt: skip
    return [p.pid for p in left]


def run_tree(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    cancelled: Callable[[], str | None] | None = None,
    grace: float = GRACE_S,
    poll: float = 0.25,
) -> Finished:
    """Run ``args`` to completion and capture its output, stopping its process tree (see
    :func:`stop_tree`) when ``timeout`` seconds pass, when ``cancelled()`` (called every ``poll``
    seconds; it may rate-limit itself) returns a reason, or when :func:`stop_all` is called.
    An exception in the caller's thread (Ctrl-C) stops the tree too, then propagates."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with _lock:
        _live[proc.pid] = proc
    stopped: str | None = None
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                pass
            with _lock:
                request = _requests.get(proc.pid)
            if request is None and timeout is not None and time.monotonic() - start > timeout:
                request = _Request(f"timed out after {timeout:g} s", signal.SIGTERM)
            if request is None and cancelled is not None and (why := cancelled()):
                request = _Request(why, signal.SIGTERM)
            if request is not None:
                stopped = request.reason
                log.info("stopping %s (pid %d): %s", args[0], proc.pid, stopped)
                stop_tree(proc.pid, grace, request.sig)
                out, err = proc.communicate()
                break
    except BaseException:
        stop_tree(proc.pid, grace)
        proc.wait()
        raise
    finally:
        with _lock:
            _live.pop(proc.pid, None)
            _requests.pop(proc.pid, None)
    return Finished(proc.returncode, out, err, stopped, time.monotonic() - start)


def stop_all(reason: str, sig: int = signal.SIGTERM, grace: float = GRACE_S) -> int:
    """Ask every tree :func:`run_tree` is running in this process to stop (their threads stop
    them side by side) and wait until they are gone, at most ``grace`` seconds and a margin;
    then kill what is left. Returns how many trees were running."""
    with _lock:
        pids = list(_live)
        for pid in pids:
            _requests.setdefault(pid, _Request(reason, sig))
    deadline = time.monotonic() + grace + 5
    while time.monotonic() < deadline:
        with _lock:
            if not set(pids) & set(_live):
                return len(pids)
        time.sleep(0.05)
    with _lock:
        left = [pid for pid in pids if pid in _live]
    for pid in left:  # the watching thread is stuck: stop the tree from here
        stop_tree(pid, 0.0)
    return len(pids)


def running() -> list[int]:
    """PIDs of the trees :func:`run_tree` is running now."""
    with _lock:
        return list(_live)


def stop_children(grace: float = GRACE_S, sig: int = signal.SIGTERM) -> list[int]:
    """Stop every child process of this process and their descendants (what a serving process
    started: flow runs, their stages), side by side, within about ``grace`` seconds."""
    kids = psutil.Process().children()
    threads = [
        threading.Thread(target=stop_tree, args=(k.pid, grace, sig), kwargs={"leaves_first": False})
        for k in kids
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [k.pid for k in kids]


def wait_interruptibly(proc: subprocess.Popen[Any], every: float = 0.2) -> int:
    """``proc.wait()`` in short steps: a signal delivered to another thread of this process (a
    library's worker thread) does not interrupt a blocking wait, so its handler (Ctrl-C's
    ``KeyboardInterrupt``) would only run once the child exits."""
    while True:
        try:
            return proc.wait(timeout=every)
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`glassworks.errors.Terminated` in the main thread
    (as Ctrl-C raises ``KeyboardInterrupt``), so ``finally`` blocks and context managers run;
    Prefect's flow engine installs its own handler while a flow runs and restores this one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent() -> None:
    """``preexec_fn`` for a child that must not outlive this process, even when this process is
    killed with SIGKILL (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing)."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
