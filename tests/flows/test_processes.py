"""Process trees stopped when asked (flows/processes.py), with real processes: a timeout, a
cancellation check and :func:`stop_all` each stop the whole tree within the grace period, the
leaves first so the root can exit on its own; what ignores SIGTERM is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from flows.processes import run_tree, sigterm_raises, stop_all, stop_tree
from glassworks.errors import Terminated

PY = sys.executable

TREE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print("child", child.pid, flush=True)
code = child.wait()
print("root saw the child exit", code, flush=True)
sys.exit(3)
"""
"""A root (standing in for ``dvc repro``) that runs one child and exits once it has exited."""

SLEEPER = "import time; time.sleep(60)"
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def _pids_with(marker: str) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline", "status"])
        if marker in " ".join(p.info["cmdline"] or []) and p.info["status"] != "zombie"
    ]


def test_a_tree_that_ends_on_its_own_is_captured() -> None:
    done = run_tree([PY, "-c", TREE, "print('leaf says hi')"], timeout=30)
    assert done.returncode == 3
    assert "leaf says hi" in done.stdout
    assert "root saw the child exit 0" in done.stdout
    assert done.stopped is None


def test_timeout_stops_the_leaves_first_and_lets_the_root_exit() -> None:
    marker = "time.sleep(60) # timeout-leaf"
    start = time.monotonic()
    done = run_tree([PY, "-c", TREE, f"{SLEEPER} # timeout-leaf"], timeout=1.0, grace=10)
    took = time.monotonic() - start
    assert done.stopped == "timed out after 1 s"
    assert took < 1.0 + 5  # far less than the grace: nothing needed SIGKILL
    assert "root saw the child exit -15" in done.stdout  # the root outlived its child
    assert done.returncode == 3  # and exited on its own, not by a signal
    assert not _pids_with(marker)


def test_a_cancellation_check_stops_the_tree() -> None:
    calls: list[float] = []

    def cancelled() -> str | None:
        calls.append(time.monotonic())
        return "flow run cancelled" if len(calls) > 3 else None

    done = run_tree([PY, "-c", TREE, f"{SLEEPER} # cancel-leaf"], cancelled=cancelled)
    assert done.stopped == "flow run cancelled"
    assert done.seconds < 5
    assert not _pids_with("# cancel-leaf")


def test_what_ignores_sigterm_is_killed_after_the_grace() -> None:
    grace = 1.5
    start = time.monotonic()
    done = run_tree([PY, "-c", TREE, f"{STUBBORN} # stubborn"], timeout=0.5, grace=grace)
    took = time.monotonic() - start
    assert done.stopped is not None
    assert grace <= took < grace + 6
    assert not _pids_with("# stubborn")


def test_stop_all_stops_every_running_tree_side_by_side() -> None:
    results: list = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(
            run_tree([PY, "-c", TREE, f"{SLEEPER} # all-{i}"], grace=5)
        ))
        for i in range(2)
    ]  # fmt: skip
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(_pids_with("# all-")) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)  # two roots (their command lines name the marker) and two leaves
    assert len(_pids_with("# all-")) == 4
    start = time.monotonic()
    assert stop_all("SIGTERM", grace=5) == 2
    assert time.monotonic() - start < 5
    for t in threads:
        t.join(timeout=10)
    assert sorted(r.stopped for r in results) == ["SIGTERM", "SIGTERM"]
    assert not _pids_with("# all-")


def test_stop_tree_root_first_for_a_serving_process() -> None:
    proc = subprocess.Popen([PY, "-c", TREE, f"{SLEEPER} # root-first"], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(_pids_with("# root-first")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the root's command line names the marker too
    leaf = [pid for pid in _pids_with("# root-first") if pid != proc.pid]
    killed = stop_tree(proc.pid, grace=2, leaves_first=False)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGTERM  # the root got the signal, not its child
    assert killed == leaf  # the child it left behind was killed at the deadline
    assert not _pids_with("# root-first")


def test_sigterm_raises_terminated_in_the_block() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM) or time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux only")
def test_a_child_dies_with_its_parent_even_on_sigkill(tmp_path: Path) -> None:
    parent = (
        "import subprocess, sys, time\n"
        "from flows.processes import die_with_parent\n"
        f"subprocess.Popen([sys.executable, '-c', {SLEEPER + ' # orphan'!r}],"
        " preexec_fn=die_with_parent)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([PY, "-c", parent], env=env)
    deadline = time.monotonic() + 30
    while len(_pids_with("# orphan")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the parent's command line names the marker too
    assert len(_pids_with("# orphan")) == 2
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _pids_with("# orphan") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pids_with("# orphan")
