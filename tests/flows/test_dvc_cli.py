"""flows.dvc_cli: DVC reads dvc.lock with its fast reader when it updates it, and writes the same
bytes as plain ``dvc``."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from dvc.utils.serialize import _yaml

from flows import dvc_cli
from flows.dvc_project import dvc as flow_dvc
from flows.dvc_project import reproduce

from .conftest import dvc, set_params

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "parse_yaml_for_update", _yaml.parse_yaml_for_update)
    assert dvc_cli.patch_lockfile_reader()
    assert dvc_cli.patch_lockfile_reader()  # twice: still one layer


def test_the_committed_lock_round_trips_to_the_same_bytes(patched: None) -> None:
    text = (REPO / "dvc.lock").read_text(encoding="utf-8")
    data = _yaml.parse_yaml_for_update(text, REPO / "dvc.lock")
    assert type(data) is dict  # the fast reader's plain dicts, not ruamel's commented maps
    out = io.StringIO()
    _yaml._dump(data, out)
    assert out.getvalue() == text
    assert data == _yaml.parse_yaml(text, "dvc.lock", typ="rt")  # the same values as DVC's own


def test_other_yaml_files_keep_the_round_trip(patched: None) -> None:
    text = "# a comment users wrote\nstages:\n  a:\n    cmd: echo\n"
    data = _yaml.parse_yaml_for_update(text, "dvc.yaml")
    assert type(data) is not dict  # ruamel's CommentedMap keeps the comment
    out = io.StringIO()
    _yaml._dump(data, out)
    assert out.getvalue() == text


def test_unknown_dvc_layout_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(_yaml, "parse_yaml_for_update")
    assert dvc_cli.patch_lockfile_reader() is False


def test_the_entry_point_patches_before_dvc_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "parse_yaml_for_update", _yaml.parse_yaml_for_update)
    seen = []
    monkeypatch.setattr(
        "dvc.cli.main",
        lambda argv: seen.append((argv, _yaml.parse_yaml_for_update.glassworks_patched)) or 0,
    )
    assert dvc_cli.main(["status"]) == 0
    assert seen == [(["status"], True)]


def test_repro_through_the_shim_writes_what_dvc_writes(project: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(project, twin)
    assert dvc(project, "repro").returncode == 0
    for stage in ("make", "count", "upper", "check"):
        reproduce(twin, stage)
    assert (twin / "dvc.lock").read_bytes() == (project / "dvc.lock").read_bytes()
    # an update of an existing lock entry, through the flows' dvc() helper
    set_params(project, make={"n": 5})
    set_params(twin, make={"n": 5})
    assert dvc(project, "repro").returncode == 0
    assert flow_dvc(twin, "repro").returncode == 0
    assert (twin / "dvc.lock").read_bytes() == (project / "dvc.lock").read_bytes()
    assert "chars: 5" not in (twin / "dvc.lock").read_text()  # metrics are not in the lock
    assert flow_dvc(twin, "status", "--json").stdout.strip() == "{}"
