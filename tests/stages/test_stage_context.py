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


def test_experiment_kind_description_and_datasets_panel(tmp_path: Path) -> None:
    """The experiment opens on its runs in the MLflow UI (kind tag) and carries the stage's
    description; the run's Datasets panel lists the prepared splits it read, digest = DVC hash."""
    import json
    import subprocess

    from mlflow.tracking import MlflowClient

    from glassworks.config import FileDataset, SplitParams
    from glassworks.data import prepare_dataset, write_prepared

    raw = tmp_path / "raw"
    (raw / "csv").mkdir(parents=True)
    (raw / "csv" / "t.csv").write_text("t,y\n" + "".join(f"text {i},{i % 2}\n" for i in range(40)))
    ds = prepare_dataset("toy", FileDataset(source="csv", path="t.csv", label="y", text="t"),
                         SplitParams(), raw)  # fmt: skip
    write_prepared(ds, tmp_path / "data/prepared/toy")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  embed:\n    foreach: [toy]\n    do:\n      cmd: x\n"
        "      deps: ['data/prepared/${item}']\n      outs: ['data/embeddings/${item}']\n"
    )
    (tmp_path / "params.yaml").write_text("tracking:\n  best_effort: false\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    argv = ["--dataset", "toy", "--params", str(tmp_path / "params.yaml"), "--root", str(tmp_path)]
    doc = "Stage ``embed``: embed each n-gram once.\n\n    python -m stages.embed --dataset x\n"
    st: Stage[dict[str, Any]] = start("embed", doc, argv, _Loader())
    with st.run({}):
        pass
    client = MlflowClient(tracking.tracking_uri(tmp_path))
    exp = client.get_experiment_by_name("embed")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    assert exp.tags["mlflow.note.content"].startswith("Stage ``embed``: embed each n-gram once.")
    (run,) = tracking.find_runs("embed", "toy", root=tmp_path)
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"toy/train", "toy/valid", "toy/test"}
    train = inputs["toy/train"]
    assert train.dataset.digest == common.dvc_md5(tmp_path / "data/prepared/toy/train.parquet")
    assert json.loads(train.dataset.source)["uri"] == "data/prepared/toy/train.parquet"
    assert {c["name"] for c in json.loads(train.dataset.schema)["mlflow_colspec"]} == {
        "id", "text", "label"
    }  # fmt: skip
    assert {t.key: t.value for t in train.tags}["mlflow.data.context"] == "train"


def test_git_dirty_means_code_or_params_not_outputs(tmp_path: Path) -> None:
    """Pipeline outputs git tracks (dvc.lock, metrics, plots) rewritten by `dvc repro` are
    counted apart; only code or params make a run dirty."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)  # fmt: skip

    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  s:\n    foreach: [a]\n    do:\n      cmd: x\n"
        "      metrics: ['metrics/s/${item}.json']\n      plots: ['plots/s/${item}/p.csv']\n"
    )
    for rel in ("dvc.lock", "metrics/s/a.json", "plots/s/a/p.csv", "params.yaml", "src.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("0\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "x")
    for rel in ("dvc.lock", "metrics/s/a.json", "plots/s/a/p.csv"):
        (tmp_path / rel).write_text("1\n")
    tags = common.provenance(tmp_path, "s@a")
    assert tags["git.dirty"] == "False"
    assert tags["git.changed_outputs"] == "3"
    (tmp_path / "params.yaml").write_text("1\n")
    tags = common.provenance(tmp_path, "s@a")
    assert tags["git.dirty"] == "True"
    assert tags["git.changed_code"] == "params.yaml"
