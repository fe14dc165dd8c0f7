"""Real DVC end to end: pull the raw data from the shared remote, reproduce prepare stages,
check dvc.lock against the MLflow provenance tags, and that a second repro does nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from glassworks import tracking
from tests.e2e.conftest import BIN
from tests.e2e.conftest import run_in as _run

STAGES = ["prepare@openml-37", "prepare@amazon-appliances"]

pytestmark = pytest.mark.slow


def test_pull_repro_lock_and_noop(clone: Path) -> None:
    pointers = sorted(str(p.relative_to(clone)) for p in (clone / "data/raw").glob("*.dvc"))
    pulled = _run([str(BIN / "dvc"), "pull", *pointers], clone)  # as `make run` does
    assert "35 files fetched" in pulled
    raw = [p for p in (clone / "data" / "raw").rglob("*") if p.is_file() and p.suffix != ".dvc"]
    assert len([p for p in raw if p.name != ".gitignore"]) == 31

    _run([str(BIN / "dvc"), "repro", *STAGES], clone)
    lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    for address in STAGES:
        dataset = address.split("@")[1]
        runs = tracking.find_runs("prepare", dataset)
        assert len(runs) == 1, address
        tags = runs[0].data.tags
        assert tags["git.commit"] == commit
        for dep in lock[address]["deps"]:
            assert tags[f"dvc.dep.{dep['path']}"] == dep["md5"], dep["path"]
        metrics = json.loads((clone / "metrics" / "prepare" / f"{dataset}.json").read_text())
        assert runs[0].data.metrics["rows.total"] == metrics["rows"]["total"]
    shown = json.loads(
        _run([str(BIN / "dvc"), "metrics", "show", "--json"], clone, stdout_only=True)
    )
    assert '"test": 154' in json.dumps(shown)

    again = _run([str(BIN / "dvc"), "repro", *STAGES], clone)
    assert "didn't change, skipping" in again
    for address in STAGES:
        assert len(tracking.find_runs("prepare", address.split("@")[1])) == 1
