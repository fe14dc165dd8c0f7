"""The stage context every stage opens (stages.common.start / Stage / log_files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import stages.common as common
from glassworks import tracking
from stages.common import Stage, log_files, start


class _Loader:
    """A ``load_config`` recording the keys it was asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, str]] = []

    def __call__(self, params: Path, key: str) -> dict[str, str]:
        self.calls.append((params, key))
        return {"key": key}


def test_start_parses_options_and_loads_the_config(tmp_path: Path) -> None:
    load = _Loader()
    options = {"--out-dir": "data/x", "--shard-size": {"type": int, "default": 7}}
    st = start("prepare", "doc", ["--dataset", "sst2", "--params", "p.yaml"], load, options)
    assert st.args.out_dir == Path("data/x")
    assert st.args.shard_size == 7
    assert st.args.root == Path(".")
    assert load.calls == [(Path("p.yaml"), "sst2")]
    assert st.config == {"key": "sst2"}
    assert (st.name, st.item, st.item_kind) == ("prepare", "sst2", "dataset")
    assert st.address == "prepare@sst2"
    again = start(
        "prepare", "doc", ["--dataset", "sst2", "--out-dir", str(tmp_path)], load, options
    )
    assert again.args.out_dir == tmp_path


def test_start_with_a_matrix_key_and_without_an_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVC_STAGE", raising=False)
    load = _Loader()
    argv = ["--dataset", "openml-31", "--method", "inn"]
    st = start("train_tabular", None, argv, load, matrix=["method"])
    assert load.calls[-1][1] == "openml-31-inn"
    assert st.address == "train_tabular@openml-31-inn"
    assert (st.item, st.item_kind) == ("openml-31-inn", "dataset-method")
    run = start("train_text", None, ["--run", "sst2-minilm"], load, item="run")
    assert (run.item, run.item_kind, run.args.run) == ("sst2-minilm", "run", "sst2-minilm")
    with pytest.raises(SystemExit):  # a text-run stage takes --run, not --dataset
        start("train_text", None, ["--dataset", "sst2-minilm"], load, item="run")
    monkeypatch.setenv("DVC_STAGE", "train_tabular@openml-31-inn-from-dvc")
    assert (
        start("x", None, ["--dataset", "d"], load).address == "train_tabular@openml-31-inn-from-dvc"
    )
    whole = start("compare_tabular", None, [], load, item=None)
    assert load.calls[-1][1] == ""
    assert (whole.item, whole.address) == ("all", "compare_tabular")
    assert not hasattr(whole.args, "dataset")


def test_start_refuses_bad_arguments() -> None:
    with pytest.raises(SystemExit):
        start("prepare", None, [], _Loader())  # --dataset is required
    with pytest.raises(SystemExit):
        start("prepare", None, ["--dataset", "../etc"], _Loader())  # not a plain name
    with pytest.raises(SystemExit):
        start("prepare", None, ["--dataset", "sst2", "--nope", "1"], _Loader())


def test_run_tags_provenance_once_and_logs_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, str]] = []

    def fake_provenance(root: Path, address: str) -> dict[str, str]:
        calls.append((root, address))
        return {"dvc.stage": address, "git.commit": "abc"}

    monkeypatch.setattr(common, "provenance", fake_provenance)
    (tmp_path / "params.yaml").write_text("tracking:\n  best_effort: false\n")
    argv = ["--dataset", "toy", "--params", str(tmp_path / "params.yaml"), "--root", str(tmp_path)]
    st: Stage[dict[str, Any]] = start("prepare", None, argv, _Loader())
    assert calls == []  # nothing computed before a run opens
    with st.run({"a": {"b": 1}}) as run:
        run.log_metrics({"m": 2.0})
    with st.run({"a": {"b": 2}}, run_name="toy#1", tags={"glassworks.seed": "1"}):
        pass
    assert calls == [(tmp_path, "prepare@toy")]  # computed once, when the first run opened
    runs = tracking.find_runs("prepare", "toy", root=tmp_path)
    assert len(runs) == 2
    by_name = {r.info.run_name: r for r in runs}
    assert set(by_name) == {"prepare@toy", "toy#1"}
    first, second = by_name["prepare@toy"], by_name["toy#1"]
    assert first.data.params == {"a.b": "1"}
    assert first.data.metrics == {"m": 2.0}
    assert first.data.tags["git.commit"] == "abc"
    assert first.data.tags["glassworks.item"] == "toy"
    assert first.data.tags["glassworks.item_kind"] == "dataset"
    assert second.data.tags["glassworks.seed"] == "1"
    assert second.data.tags["dvc.stage"] == "prepare@toy"
    assert "glassworks.seed" not in first.data.tags


class _Run:
    def __init__(self) -> None:
        self.logged: list[tuple[str, str | None]] = []

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self.logged.append((Path(path).name, folder))


def test_log_files_logs_sorted_files_with_the_suffixes(tmp_path: Path) -> None:
    for name in ("b.png", "a.csv", "c.png", "d.html"):
        (tmp_path / name).write_text("x")
    run = _Run()
    log_files(run, tmp_path, "plots", (".png",))  # type: ignore[arg-type]
    assert run.logged == [("b.png", "plots"), ("c.png", "plots")]
    run = _Run()
    log_files(run, tmp_path, "all")  # type: ignore[arg-type]
    assert [n for n, _ in run.logged] == ["a.csv", "b.png", "c.png", "d.html"]
