"""``kill -9`` inside the embedding cache and the ``embed`` stage at several points: nothing
corrupt is left in the cache, nothing partial where DVC would cache outputs, and the rerun resumes
(the cache re-embeds only what is missing) and ends with the same result as an uninterrupted run.
The ``train_*`` stages: ``test_train_kill.py``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from glassworks.embed.cache import EmbeddingCache
from glassworks.embed.index import read_index
from stages import prepare
from stages.common import run_main
from tests.fakes import HashEncoder, last_run_metrics

REPO = Path(__file__).resolve().parents[2]

WRITER = """
import contextlib, sys, time
import glassworks.embed.cache as cache_module
from glassworks.embed.cache import EmbeddingCache
from tests.fakes import HashEncoder
if len(sys.argv) > 3:  # hold each temp file open a moment, so a kill can land inside the write
    atomic_path = cache_module.atomic_path
    @contextlib.contextmanager
    def slow_atomic_path(path):
        with atomic_path(path) as tmp:
            yield tmp
            if not path.name.endswith(".json"):  # a shard file, not the identity
                time.sleep(float(sys.argv[3]))
    cache_module.atomic_path = slow_atomic_path
enc = HashEncoder()
keys = [f"n-gram {i}" for i in range(int(sys.argv[2]))]
_, stats = EmbeddingCache(sys.argv[1], enc.identity).embed(keys, enc, shard_size=50)
print(stats.newly_embedded, stats.cache_hits)
"""


HELD_RUNNER = """
import contextlib, importlib, sys, time
from stages.common import run_main
stage = importlib.import_module(f"stages.{sys.argv[1]}")
writer = importlib.import_module(sys.argv[2])  # the module whose atomic_dir writes the output
hold = float(sys.argv[3])
atomic_dir = writer.atomic_dir
@contextlib.contextmanager
def held_atomic_dir(path):
    with atomic_dir(path) as tmp:
        yield tmp
        time.sleep(hold)  # the temp folder is complete, not yet renamed into place
    time.sleep(hold)  # renamed into place; the metrics are not written yet
writer.atomic_dir = held_atomic_dir
sys.exit(run_main(stage.main, sys.argv[4:]))
"""
"""Runs ``stages.<argv[1]>`` with ``<argv[2]>.atomic_dir`` holding each moment of an output write
``argv[3]`` seconds, so that a kill lands inside the write deterministically."""


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _kill_when(
    proc: subprocess.Popen, ready: Callable[[], bool], delay: float = 0.0, timeout: float = 120
) -> bool:
    """SIGKILL the process group ``delay`` s after ``ready()``; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return True
        time.sleep(0.002)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the process neither reached the kill point nor finished")
    return False


@pytest.mark.slow
def test_cache_survives_repeated_kill_9(tmp_path: Path) -> None:
    """Eight kills of a 20k-key embedding (400 shards), half at random moments and half while a
    shard's temp file exists (held 50 ms so the kill lands inside the write): after each the
    cache verifies (checksums, no key twice); the last run encodes exactly what was missing."""
    n, rng = 20_000, random.Random(0)
    enc = HashEncoder()
    ns = EmbeddingCache(tmp_path, enc.identity).dir
    kills, mid_write, before = 0, 0, 0
    for i in range(16):  # at least 8 kills, and at least 4 of them inside a shard write
        if kills >= 8 and mid_write >= 4:
            break
        inside_write = i % 2 == 1
        args = [sys.executable, "-c", WRITER, str(tmp_path), str(n)]
        proc = _start(args + ["0.05"] if inside_write else args)
        start_shards = len(list(ns.glob("*.keys.parquet"))) if ns.exists() else 0
        if inside_write:  # while a shard is being written (its temp file exists)
            killed = _kill_when(proc, lambda: _tmp_files(ns))
        else:  # a random moment once this run is writing
            killed = _kill_when(
                proc,
                lambda: ns.exists() and len(list(ns.glob("*.keys.parquet"))) > start_shards,  # noqa: B023
                delay=rng.uniform(0.0, 0.05),
            )
        assert killed, proc.stdout.read() if proc.stdout else ""
        kills += 1
        report = EmbeddingCache(tmp_path, enc.identity).verify()
        assert report.ok, report
        mid_write += inside_write and report.temp_files_removed > 0
        assert report.keys >= before  # progress is kept
        before = report.keys
    proc = _start([sys.executable, "-c", WRITER, str(tmp_path), str(n)])
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    newly, hits = map(int, out.split()[-2:])
    assert (newly, hits) == (n - before, before)  # only what was missing
    cache = EmbeddingCache(tmp_path, enc.identity)
    report = cache.verify()
    assert report.ok
    assert report.keys == n
    keys = [f"n-gram {i}" for i in range(n)]
    np.testing.assert_array_equal(cache.get(keys[::97]), enc.encode(keys[::97]))
    assert mid_write >= 4  # the odd kills landed inside a shard write
    print(f"kills={kills} mid_write={mid_write} kept={before}/{n}")


def _tmp_files(folder: Path) -> bool:
    return folder.exists() and any(folder.glob(".*.tmp"))


def _prepare(ws: Path, raw_dir: Path, dataset: str) -> Path:
    """Run ``prepare`` for ``dataset`` into ``ws/prepared`` with ``ws/params.yaml``."""
    args = ["--dataset", dataset, "--params", str(ws / "params.yaml"), "--root", str(REPO)]
    dirs = ["--raw-dir", str(raw_dir), "--out-dir", str(ws / "prepared")]
    assert run_main(prepare.main, [*args, *dirs, "--metrics-dir", str(ws / "m")]) == 0
    return ws


@pytest.fixture
def fashion(tmp_path: Path, raw_dir: Path, tiny_bert: Path) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["embed"]["encoder"].update(model=str(tiny_bert), layer=-1, batch_size=16)
    params["embed"]["cache_dir"] = str(tmp_path / "cache")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    params["embed"]["cache_dir"] = str(tmp_path / "reference-cache")
    (tmp_path / "reference.yaml").write_text(yaml.safe_dump(params))
    return _prepare(tmp_path, raw_dir, "amazon-fashion")


@pytest.mark.slow
def test_embed_stage_killed_at_four_points(fashion: Path) -> None:
    ws, ds = fashion, "amazon-fashion"
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{ws / 'mlflow.db'}"}

    def cmd(params: str, out: str, hold: float = 0.0) -> list[str]:
        held = [sys.executable, "-c", HELD_RUNNER, "embed", "glassworks.embed.index", str(hold)]
        return [
            *held, "--dataset", ds, "--params", str(ws / params), "--root", str(REPO),
            "--prepared-dir", str(ws / "prepared"), "--out-dir", str(ws / out),
            "--metrics-dir", str(ws / f"metrics-{out}"), "--shard-size", "256",
        ]  # fmt: skip

    ref = _start(cmd("reference.yaml", "reference"), env)
    assert ref.wait(timeout=300) == 0, ref.stdout.read() if ref.stdout else ""
    cache_root = ws / "cache"

    def shards() -> int:
        return sum(1 for _ in cache_root.rglob("*.keys.parquet"))

    points: dict[str, Callable[[], bool]] = {
        "starting up": lambda: True,
        "after the first shard": lambda: shards() >= 1,
        "in the middle of the n-grams": lambda: shards() >= 12,
        "while writing the output": lambda: _tmp_files(ws / "out"),
    }
    kept = []
    for point, ready in points.items():
        proc = _start(cmd("params.yaml", "out", hold=0.5), env)
        delay = 2.0 if point == "starting up" else 0.0
        assert _kill_when(proc, ready, delay), f"finished before the kill point {point!r}"
        assert not (ws / "out" / ds).exists(), point  # nothing partial where DVC caches
        assert not (ws / "metrics-out" / f"{ds}.json").exists(), point
        ns = next(cache_root.iterdir(), None) if cache_root.exists() else None
        if ns is not None:
            report = EmbeddingCache.open_dir(ns).verify()
            assert report.ok, (point, report)
            kept.append(report.keys)
    proc = _start(cmd("params.yaml", "out"), env)
    assert proc.wait(timeout=300) == 0, proc.stdout.read() if proc.stdout else ""
    assert not _tmp_files(ws / "out")
    metrics = json.loads((ws / "metrics-out" / f"{ds}.json").read_text())
    metrics.update(last_run_metrics("embed", env["MLFLOW_TRACKING_URI"]))
    assert metrics["cache_hits"] == kept[-1] > 0  # the rerun re-embedded only what was missing
    assert metrics["newly_embedded"] == metrics["ngrams_unique"] - kept[-1]
    keys, vecs, _, _ = read_index(ws / "out" / ds)
    ref_keys, ref_vecs, _, _ = read_index(ws / "reference" / ds)
    assert keys == ref_keys
    np.testing.assert_allclose(vecs, ref_vecs, atol=1e-5)  # same as an uninterrupted run


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_reads_as_an_interrupt(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    """Ctrl-C (SIGINT) or SIGTERM while ``prepare`` writes its output: one line, no traceback,
    exit status 130 / 143, no temp folder left, the MLflow run KILLED."""
    from mlflow.tracking import MlflowClient

    from glassworks import tracking

    raw = tmp_path / "raw" / "csv"
    raw.mkdir(parents=True)
    (raw / "t.csv").write_text("t,y\n" + "".join(f"text {i},{i % 2}\n" for i in range(60)))
    params = {"prepare": {"datasets": {"toy": {"source": "csv", "path": "t.csv", "label": "y",
                                               "text": "t"}}}}  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "prepared"
    proc = _start([
        sys.executable, "-c", HELD_RUNNER, "prepare", "glassworks.data.prepare", "30",
        "--dataset", "toy", "--params", str(tmp_path / "params.yaml"), "--root", str(REPO),
        "--raw-dir", str(tmp_path / "raw"), "--out-dir", str(out),
        "--metrics-dir", str(tmp_path / "m"),
    ])  # fmt: skip
    deadline = time.monotonic() + 120
    while not _tmp_files(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the stage ended before the signal"
    start = time.monotonic()
    os.kill(proc.pid, sig)
    assert proc.wait(timeout=30) == code
    assert time.monotonic() - start < 10
    text = proc.stdout.read() if proc.stdout else ""
    assert "interrupted: prepare (no half-written output" in text
    assert "Traceback" not in text
    assert not (out / "toy").exists()
    assert not _tmp_files(out)
    (run,) = tracking.find_runs("prepare", "toy")
    status = MlflowClient(tracking.tracking_uri(REPO)).get_run(run.info.run_id).info.status
    assert status == "KILLED"
