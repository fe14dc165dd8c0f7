from pathlib import Path
from typing import Any

import pytest

from glassworks import tracking


def test_env_uri_wins_and_default_is_sqlite_under_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tracking.tracking_uri(tmp_path).startswith("sqlite:///")
    assert "mlruns" not in tracking.tracking_uri(tmp_path).split("/")[-2:]  # the test store
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert (
        tracking.tracking_uri(tmp_path) == f"sqlite:///{(tmp_path / 'mlruns/mlflow.db').resolve()}"
    )


def test_flatten_sanitises_keys() -> None:
    assert tracking.flatten({"a": {"<=50K": 1, "b c": {"d": 2}}}) == {"a.__50K": 1, "a.b c.d": 2}


def test_stage_run_logs_and_fails_cleanly(tmp_path: Path) -> None:
    with tracking.stage_run(
        "demo", "ds1", params={"x": {"y": 1}}, tags={"git.commit": "abc"}, root=tmp_path
    ) as run:
        run.log_metrics({"rows": {"train": 3}, "flag": True, "name": "skip"})
        run.log_dict({"k": 1}, "m.json")
    with pytest.raises(RuntimeError), tracking.stage_run("demo", "ds2", root=tmp_path):
        raise RuntimeError("stage died")
    (done,) = tracking.find_runs("demo", "ds1")
    assert done.info.status == "FINISHED"
    assert done.data.metrics == {"rows.train": 3.0}
    assert done.data.params == {"x.y": "1"}
    assert done.data.tags["git.commit"] == "abc"
    assert done.data.tags["glassworks.stage"] == "demo"
    (failed,) = tracking.find_runs("demo", "ds2")
    assert failed.info.status == "FAILED"
    assert len(tracking.find_runs("demo")) == 2
    assert tracking.find_runs("missing-stage") == []


def test_register_champion_moves_the_alias_once_per_run(tmp_path: Path) -> None:
    """A champion is registered with its alias; registering the same run again adds no version;
    a better run gets the next version and the alias moves to it; the alias loads the model."""
    from mlflow import MlflowClient

    ids = []
    for i in range(2):
        with tracking.stage_run("train_text", f"tiny-{i}", root=tmp_path) as run:
            folder, model = _text_model(tmp_path, i)
            tracking.log_text_model(folder, ["good", "bad"], model=model)
        ids.append(run.run_id)
    assert tracking.register_champion(ids[0], "glassworks-text-tiny", root=tmp_path) == 1
    assert tracking.register_champion(ids[0], "glassworks-text-tiny", root=tmp_path) == 1
    assert tracking.register_champion(ids[1], "glassworks-text-tiny", root=tmp_path) == 2
    client = MlflowClient(tracking.tracking_uri(tmp_path))
    champion = client.get_model_version_by_alias("glassworks-text-tiny", "champion")
    assert (str(champion.version), champion.run_id) == ("2", ids[1])
    model = tracking.load_text_model("models:/glassworks-text-tiny@champion", root=tmp_path)
    assert model.predict(["good"]).shape == (1,)


def _text_model(tmp_path: Path, seed: int) -> tuple[Path, Any]:
    """A tiny fitted ``TextClassifier`` saved as a folder: (folder, model)."""
    from glassworks.models.text_classifier import TextClassifier

    texts = ["good film", "bad film", "great fun", "awful mess"] * 3
    model = TextClassifier(backbone="lstm", tokenizer="word", vocab_size=50, d_model=4, epochs=1,
                           seed=seed, device="cpu").fit(texts, [1, 0, 1, 0] * 3)  # fmt: skip
    folder = tmp_path / f"model-{seed}"
    model.save(folder)
    return folder, model


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://alice:s3cret@mlflow.example.com/api", "https://***@mlflow.example.com/api"),
        ("postgresql+psycopg2://u:p@db:5432/mlflow", "postgresql+psycopg2://***@db:5432/mlflow"),
        ("sqlite:////tmp/x/mlflow.db", "sqlite:////tmp/x/mlflow.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_tracking_uri_credentials_are_redacted(uri: str, shown: str) -> None:
    """What ``stage_run`` logs about its store (``redact``): no user or password."""
    assert tracking.redact(uri) == shown


def test_store_failing_mid_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Best-effort: the first failing call detaches the run (one warning, later calls are no-ops,
    the body finishes, the run ends FAILED in the store). Required: the store's error propagates
    and the run ends FAILED."""
    import mlflow

    calls = []

    def broken(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise ConnectionError("store went away")

    finished_body = False
    with tracking.stage_run("demo", "effort", root=tmp_path, best_effort=True) as run:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(mlflow, "log_metrics", broken)
            mp.setattr(mlflow, "log_dict", broken)
            run.log_metrics({"a": 1})
            run.log_metrics({"b": 2})
            run.log_dict({"k": 1}, "m.json")
        run.log_metrics({"c": 3})  # the store works again, but the run stays detached
        finished_body = True
    assert finished_body
    assert run.detached
    assert len(calls) == 1
    assert caplog.text.count("best-effort") == 1
    assert "store went away" in caplog.text
    (effort,) = tracking.find_runs("demo", "effort")
    assert effort.info.status == "FAILED"  # incomplete: not shown as a finished run
    assert effort.data.metrics == {}

    with (  # noqa: PT012
        pytest.raises(ConnectionError, match="went away"),
        tracking.stage_run("demo", "required", root=tmp_path) as run,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setattr(mlflow, "log_metrics", broken)
        run.log_metrics({"a": 1})
    (required,) = tracking.find_runs("demo", "required")
    assert required.info.status == "FAILED"


def test_a_model_folder_needs_the_model_in_memory(tmp_path: Path) -> None:
    """Logging a folder without the model would leave MLflow no way to read it back."""
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="model="):
        tracking.log_text_model(tmp_path / "folder", ["good"])


def _open_run(root: str, item: str) -> str:
    from glassworks.tracking import stage_run

    with stage_run("race", item, root=root) as run:
        return str(run.run_id)


def test_stages_starting_at_once_on_a_fresh_store(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Parallel stages on a new sqlite store: one creates it, none fails on MLflow's migration."""
    import multiprocessing

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        ids = pool.starmap(_open_run, [(str(tmp_path), f"item{k}") for k in range(4)])
    assert len(set(ids)) == 4
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
