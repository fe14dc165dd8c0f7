"""flows.dvc_cli: DVC reads dvc.lock with its fast reader when it updates it, and writes the same
bytes as plain ``dvc``."""

from __future__ import annotations

import copy
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    monkeypatch.setattr(_yaml, "_dump", _yaml._dump)
    seen = []
    monkeypatch.setattr(
        "dvc.cli.main",
        lambda argv: (
            seen.append(
                (
                    argv,
                    _yaml.parse_yaml_for_update.glassworks_patched,
                    getattr(_yaml._dump, "glassworks_patched", False),
                )
            )
            or 0
        ),
    )
    assert dvc_cli.main(["status"]) == 0
    assert seen == [(["status"], True, True)]


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


@pytest.fixture
def yaml_cache(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The YAML cache over a counting parser; the list records what was really parsed."""
    from dvc.utils import serialize, strictyaml

    parsed: list[tuple[str, str]] = []
    plain = _yaml.parse_yaml

    def counting(text: str, path: object, typ: str = "safe") -> object:
        parsed.append((text, typ))
        return plain(text, path, typ=typ)

    for module in (_yaml, serialize, strictyaml):
        monkeypatch.setattr(module, "parse_yaml", counting)
    assert dvc_cli.patch_yaml_cache()
    assert dvc_cli.patch_yaml_cache()  # twice: still one layer
    return parsed


def test_yaml_text_is_parsed_once_and_each_caller_gets_its_own_copy(
    yaml_cache: list[tuple[str, str]],
) -> None:
    from dvc.utils import strictyaml

    text = "train:\n  seeds: [0, 1, 2]\n  lr: 0.001\n"
    first = _yaml.parse_yaml(text, "params.yaml")
    first["train"]["seeds"].append(99)  # a caller changing what it read
    second = strictyaml.parse_yaml(text, "params.yaml")
    assert second == {"train": {"seeds": [0, 1, 2], "lr": 0.001}}
    assert len(yaml_cache) == 1
    assert _yaml.parse_yaml(text + "  epochs: 3\n", "params.yaml")["train"]["epochs"] == 3
    assert _yaml.parse_yaml(text, "other.yaml") == second  # another file: parsed on its own
    assert len(yaml_cache) == 3
    _yaml.parse_yaml(text, "params.yaml", typ="rt")  # round trip: never shared
    _yaml.parse_yaml(text, "params.yaml", typ="rt")
    assert [typ for _, typ in yaml_cache].count("rt") == 2


def test_yaml_cache_keeps_a_bounded_number_of_texts(yaml_cache: list[tuple[str, str]]) -> None:
    for i in range(dvc_cli.YAML_CACHE_SIZE + 1):
        _yaml.parse_yaml(f"n: {i}\n", "params.yaml")
    _yaml.parse_yaml("n: 0\n", "params.yaml")  # the oldest was dropped: parsed again
    _yaml.parse_yaml(f"n: {dvc_cli.YAML_CACHE_SIZE}\n", "params.yaml")  # the newest was kept
    assert len(yaml_cache) == dvc_cli.YAML_CACHE_SIZE + 2


def test_yaml_errors_are_dvcs_own_and_not_cached(yaml_cache: list[tuple[str, str]]) -> None:
    from dvc.utils.serialize import YAMLFileCorruptedError

    for _ in range(2):
        with pytest.raises(YAMLFileCorruptedError):
            _yaml.parse_yaml("a: [1, 2\n", "params.yaml")
    assert len(yaml_cache) == 2


PARAMS = {
    "train": {"seeds": [0, 1, 2], "models": {"small": {"lr": 0.001}}, "cap": None},
    "7": {"x": 1},
    8: {"y": 2},  # YAML reads `8:` as an integer key
}


@pytest.mark.parametrize(
    "key",
    ["train", "train.seeds", "train.seeds.1", "train.models.small.lr", "train.cap", "7.x", "8.y"],
)
def test_plain_param_keys_find_what_dpath_finds(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import dpath

    expected = dpath.get(PARAMS, key, separator=".")
    fast = dvc_cli._FastDpath(dpath)
    if key != "8.y":  # string keys are walked without dpath: its get is never called
        monkeypatch.setattr(fast, "_get", lambda *a, **k: pytest.fail("fell back to dpath"))
    assert fast.get(PARAMS, key, separator=".") == expected


@pytest.mark.parametrize("key", ["train..seeds", "train.seeds.²", ""])
def test_odd_param_keys_get_dpaths_answer(key: str) -> None:
    """An empty part or a non-ASCII digit: whatever dpath does (its error included)."""
    import dpath

    fast = dvc_cli._FastDpath(dpath)
    try:
        expected: object = dpath.get(PARAMS, key, separator=".")
    except Exception as exc:  # noqa: BLE001 - the same error type is what is asserted
        with pytest.raises(type(exc)):
            fast.get(PARAMS, key, separator=".")
    else:
        assert fast.get(PARAMS, key, separator=".") == expected


def test_an_ambiguous_key_goes_to_dpath() -> None:
    import dpath

    both = {"a": {"1": "str", 1: "int"}}
    seen: list[str] = []
    fast = dvc_cli._FastDpath(dpath)
    fast._get = lambda obj, glob, **kw: seen.append(glob) or "dpath's"  # type: ignore[method-assign]
    assert fast.get(both, "a.1", separator=".") == "dpath's"
    assert seen == ["a.1"]


@pytest.mark.parametrize("key", ["train.epochs", "train.seeds.5", "train.seeds.x", "nope"])
def test_missing_param_keys_raise_dpaths_error(key: str) -> None:
    import dpath

    fast = dvc_cli._FastDpath(dpath)
    with pytest.raises(KeyError):
        dpath.get(PARAMS, key, separator=".")
    with pytest.raises(KeyError):
        fast.get(PARAMS, key, separator=".")


def test_glob_param_keys_go_to_dpath(monkeypatch: pytest.MonkeyPatch) -> None:
    import dpath

    seen: list[str] = []
    monkeypatch.setattr(dpath, "get", lambda obj, glob, **kw: seen.append(glob) or "dpath's")
    fast = dvc_cli._FastDpath(dpath)
    assert fast.get(PARAMS, "train.mod*.small", separator=".") == "dpath's"
    assert fast.get(PARAMS, "train.epochs", separator=".") == "dpath's"  # not found: dpath
    assert fast.get(PARAMS, "train.seeds", separator=".") == [0, 1, 2]
    assert seen == ["train.mod*.small", "train.epochs"]
    assert fast.search is dpath.search  # the rest of dpath is dpath's


def test_param_lookup_patch_is_applied_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from dvc.dependency import param

    monkeypatch.setattr(param, "dpath", param.dpath)
    assert dvc_cli.patch_param_lookup()
    assert dvc_cli.patch_param_lookup()
    assert isinstance(param.dpath, dvc_cli._FastDpath)
    assert not isinstance(param.dpath._dpath, dvc_cli._FastDpath)


def test_the_patched_status_names_the_same_changed_params(project: Path) -> None:
    """A stale project (changed values, a list, a None, an added key) reports the same status
    through the patched reads as through plain ``dvc``."""
    assert dvc(project, "repro").returncode == 0
    set_params(project, commit=False, make={"n": 7}, check={"message": None, "extra": [1, 2]})
    plain = dvc(project, "status", "--json")
    patched = flow_dvc(project, "status", "--json")
    assert plain.returncode == 0
    assert patched.stdout.strip() == plain.stdout.strip()
    assert "make.n" in plain.stdout
    assert "check" in plain.stdout


def test_the_patched_status_of_this_repo_is_dvcs(tmp_path: Path) -> None:
    """This project's own status (123 stages) with and without the patched reads."""
    code = (
        "import json, sys; sys.path.insert(0, {repo!r})\n"
        "if {patched}:\n    from flows.dvc_cli import patch_reads; patch_reads()\n"
        "from dvc.repo import Repo\n"
        "with Repo({repo!r}) as r: print(json.dumps(r.status(), sort_keys=True, default=str))\n"
    )
    import subprocess
    import sys

    out = [
        subprocess.run(
            [sys.executable, "-c", code.format(repo=str(REPO), patched=patched)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout  # fmt: skip
        for patched in (False, True)
    ]
    assert out[0] == out[1]
    assert out[0].startswith("{")


@pytest.fixture
def writer(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, int]]:
    """The lock reader and the block writer patched (undone after the test), over DVC's dumper
    wrapped to record what it is asked to dump: per call, whether the document has the schema
    line (a whole lock, or the writer's header check) and how many stages it holds."""
    monkeypatch.setattr(_yaml, "parse_yaml_for_update", _yaml.parse_yaml_for_update)
    plain = getattr(_yaml._dump, "__wrapped__", _yaml._dump)
    calls: list[tuple[bool, int]] = []

    def counting(data: Any, stream: Any) -> Any:
        calls.append(("schema" in data, len(data.get("stages", {}))))
        return plain(data, stream)

    monkeypatch.setattr(_yaml, "_dump", counting)
    assert dvc_cli.patch_lockfile_reader()
    assert dvc_cli.patch_lockfile_writer()
    assert dvc_cli.patch_lockfile_writer()  # twice: still one layer
    return calls


def _update(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    with _yaml.modify_yaml(path) as data:
        change(data)


def _dvc_dump(data: dict[str, Any]) -> str:
    """What DVC's own dumper writes for ``data`` (the whole lock through ruamel)."""
    out = io.StringIO()
    getattr(_yaml._dump, "__wrapped__", _yaml._dump)(data, out)
    return out.getvalue()


def _edits(data: dict[str, Any]) -> None:
    stages = data["stages"]
    names = list(stages)
    first = stages[names[0]]
    first["outs"][0]["md5"] = "0" * 32  # an output changed
    stages[names[1]]["params"] = {"params.yaml": {"x": 1.0}}  # a float where an int may be
    del stages[names[2]]  # a stage removed from dvc.yaml
    stages["brand_new@item"] = copy.deepcopy(first)  # a stage added: appended
    stages[names[3]] = dict(reversed(list(stages[names[3]].items())))  # same values, new order
    assert any(_int_to_float(stages[n].get("params", {})) for n in names[4:])  # 3 -> 3.0


def _int_to_float(node: Any) -> bool:
    """The first int under ``node`` made a float (equal, but dumped as ``3.0``)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if type(value) is int:
            node[key] = float(value)
            return True
        if isinstance(value, dict | list) and _int_to_float(value):
            return True
    return False


@pytest.mark.parametrize("edit", ["none", "edits"])
def test_the_block_writer_writes_dvcs_bytes(
    writer: list[tuple[bool, int]], tmp_path: Path, edit: str
) -> None:
    lock = tmp_path / "dvc.lock"
    shutil.copy(REPO / "dvc.lock", lock)
    expected = _yaml.parse_yaml((REPO / "dvc.lock").read_text(), "dvc.lock")
    if edit == "edits":
        _edits(expected)
    _update(lock, _edits if edit == "edits" else lambda data: None)
    dumped = list(writer)
    assert lock.read_text() == _dvc_dump(expected)
    if edit == "none":
        assert lock.read_bytes() == (REPO / "dvc.lock").read_bytes()
    # spliced: only the schema line and single changed stages went through DVC's dumper
    assert (True, 0) in dumped
    assert all(call in {(True, 0), (False, 1)} for call in dumped), dumped
    assert dumped.count((False, 1)) == (5 if edit == "edits" else 0)  # new, changed x2, ...


def test_a_lock_of_another_layout_is_dumped_whole(
    writer: list[tuple[bool, int]], tmp_path: Path
) -> None:
    lock = tmp_path / "dvc.lock"
    text = "schema: '2.0'\nstages:\n  a:\n    cmd: echo 1\ndatasets:\n- name: d\n"
    lock.write_text(text)
    assert dvc_cli._cut(text, _yaml.parse_yaml(text, "dvc.lock")) is None
    _update(lock, lambda data: data["stages"]["a"].update(cmd="echo 2"))
    assert lock.read_text() == text.replace("echo 1", "echo 2")


@pytest.mark.parametrize(
    "text",
    [
        "schema: '2.0'\nstages:\n  'odd: name':\n    cmd: echo 1\n",  # a quoted stage name
        "# a hand-written comment\nschema: '2.0'\nstages:\n  a:\n    cmd: echo 1\n",
    ],
)
def test_a_lock_the_writer_cannot_vouch_for_is_dumped_whole(
    writer: list[tuple[bool, int]], tmp_path: Path, text: str
) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text(text)
    expected = _yaml.parse_yaml(text, "dvc.lock")
    _update(lock, lambda data: None)
    assert lock.read_text() == _dvc_dump(expected)
    assert writer[-1] == (True, len(expected["stages"]))  # dumped whole


def test_entries_sharing_an_object_are_dumped_whole(
    writer: list[tuple[bool, int]], tmp_path: Path
) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text("schema: '2.0'\nstages:\n  a:\n    cmd: echo 1\n  b:\n    cmd: echo 2\n")

    def share(data: dict[str, Any]) -> None:
        deps = [{"path": "x", "md5": "0" * 32}]
        data["stages"]["a"]["deps"] = data["stages"]["b"]["deps"] = deps

    _update(lock, share)
    assert "&id001" in lock.read_text()  # DVC's anchor, as its full dump writes it
    assert writer[-1] == (True, 2)  # dumped whole


def test_an_update_that_failed_leaves_nothing_for_the_next_dump(
    writer: list[tuple[bool, int]], tmp_path: Path
) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text("schema: '2.0'\nstages:\n  a:\n    cmd: \"echo 1\"\n")  # quoted by hand
    with pytest.raises(RuntimeError), _yaml.modify_yaml(lock):
        raise RuntimeError("the update's body failed")
    same_values = {"schema": "2.0", "stages": {"a": {"cmd": "echo 1"}}}
    _yaml.dump_yaml(lock, same_values)  # not the update's data: DVC's own layout, not the old text
    assert (
        lock.read_text()
        == _dvc_dump(same_values)
        == "schema: '2.0'\nstages:\n  a:\n    cmd: echo 1\n"
    )


def test_equal_but_differently_dumped_values_are_not_the_same() -> None:
    assert not dvc_cli._same({"n": 1}, {"n": 1.0})
    assert not dvc_cli._same({"n": 0.0}, {"n": -0.0})
    assert not dvc_cli._same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not dvc_cli._same({1: "a"}, {1.0: "a"})
    assert not dvc_cli._same([True], [1])
    assert dvc_cli._same(
        {"a": [1, {"b": "c"}], "f": float("nan")}, {"a": [1, {"b": "c"}], "f": float("nan")}
    )


def test_the_writer_over_dvcs_own_reader_writes_dvcs_bytes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the fast reader the writer still records the text (ruamel's round-trip maps)."""
    monkeypatch.setattr(_yaml, "parse_yaml_for_update", _yaml.parse_yaml_for_update)
    monkeypatch.setattr(_yaml, "_dump", getattr(_yaml._dump, "__wrapped__", _yaml._dump))
    assert dvc_cli.patch_lockfile_writer()
    lock = tmp_path / "dvc.lock"
    shutil.copy(REPO / "dvc.lock", lock)
    expected = _yaml.parse_yaml((REPO / "dvc.lock").read_text(), "dvc.lock")

    def rehash(data: dict[str, Any]) -> None:  # an output changed (rt maps: no type edits)
        data["stages"][list(data["stages"])[5]]["outs"][0]["md5"] = "0" * 32
        data["stages"]["brand_new@item"] = {"cmd": "echo"}

    rehash(expected)
    _update(lock, rehash)
    assert lock.read_text() == _dvc_dump(expected)
