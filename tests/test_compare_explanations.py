"""``glassworks compare-explanations`` between two real registered versions (a real MLflow
store): an honest retrain and a model that learnt a planted shortcut column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from glassworks import cli, tracking
from glassworks.data.prepare import write_prepared
from glassworks.data.schema import PreparedDataset
from glassworks.experiments.tabular import input_example
from glassworks.io import write_pickle
from glassworks.models.tabular import TabularEncoder, make_tabular_model
from glassworks.report.overview import Champion

NAME = "glassworks-tabular-toy"


def _frame(seed: int, n: int, shortcut: bool) -> pl.DataFrame:
    """y depends on a and b; with ``shortcut`` the column ``leak`` copies y (train only)."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, n))
    y = (2 * a - b + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    leak = y + 0.01 * rng.normal(size=n) if shortcut else rng.normal(size=n)
    return pl.DataFrame({"a": a, "b": b, "c": c, "leak": leak, "label": y})


def _register(root: Path, train: pl.DataFrame, seed: int) -> int:
    run_id = _log(root, train, seed)
    return tracking.register_champion(run_id, NAME, alias="champion", root=root)


def _log(root: Path, train: pl.DataFrame, seed: int) -> str:
    """A ``train_tabular`` run (item ``toy-<seed>``) logging a logistic regression bundle."""
    enc = TabularEncoder()
    x = enc.fit_transform(train)
    model = make_tabular_model("logistic_regression", seed, {"C": 1.0}).fit(x, train["label"])
    bundle = {"encoder": enc, "model": model, "label_names": ["no", "yes"], "method": "lr"}
    path = root / f"model-{seed}.pkl"
    write_pickle(path, bundle)
    tags = {"dvc.dep.data/prepared/toy": "x"}
    with tracking.stage_run("train_tabular", f"toy-{seed}", root=root, tags=tags) as run:
        run.log_tabular_model(path, bundle, input_example(train))
    assert run.run_id is not None
    return run.run_id


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    clean = _frame(0, 400, shortcut=False)
    test = _frame(9, 120, shortcut=False)
    splits = {"train": clean, "valid": clean.head(40), "test": test}
    columns = {c: "numeric feature" for c in ("a", "b", "c", "leak")} | {"label": "class"}
    write_prepared(
        PreparedDataset("toy", "csv", "tabular", "binary", ["no", "yes"], splits, columns, {}),
        tmp_path / "data/prepared/toy",
    )
    assert _register(tmp_path, clean, 1) == 1
    assert _register(tmp_path, _frame(1, 400, shortcut=False), 2) == 2
    assert _register(tmp_path, _frame(2, 400, shortcut=True), 3) == 3
    return tmp_path


def test_honest_retrain_vs_shortcut(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = registry
    card = root / "honest.html"
    args = ["--root", str(root), "--top-k", "2", "--card"]
    assert cli.main(["compare-explanations", f"models:/{NAME}/1", f"models:/{NAME}/2",
                     *args, str(card)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "top-2 Jaccard" in out
    page = card.read_text()
    assert "<svg" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    runs = MlflowClient(tracking.tracking_uri(root)).search_runs(
        [MlflowClient(tracking.tracking_uri(root)).get_experiment_by_name(
            "compare_explanations").experiment_id]
    )  # fmt: skip
    honest = runs[0].data.metrics
    assert honest["jaccard_top_k"] == 1.0  # a and b on top for both

    shortcut_card = root / "shortcut.html"
    assert cli.main(["compare-explanations", f"models:/{NAME}/1", f"models:/{NAME}/3",
                     *args, str(shortcut_card), "--no-log"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "leak" in out.split("top B", 1)[1].splitlines()[0]
    assert "leak" in shortcut_card.read_text()


def test_bad_uri_is_one_error(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["compare-explanations", f"models:/{NAME}/1", f"models:/{NAME}/9",
                     "--root", str(registry), "--no-log"])  # fmt: skip
    assert code == 1
    assert "error:" in capsys.readouterr().out


def test_summary_is_json() -> None:
    from glassworks.explain.drift import explanation_drift

    d = explanation_drift(np.eye(3), np.eye(3), ["x", "y", "z"])
    assert json.loads(json.dumps(d.summary()))["jaccard_top_k"] == 1.0


def _champion(seed: int) -> Champion:
    return Champion(
        NAME, "tabular", "toy", "train_tabular", f"toy-{seed}", None, "valid_auroc", 0.9
    )


@pytest.mark.parametrize(
    ("seed", "shortcut", "force", "promoted", "reason"),
    [(4, True, False, False, "refused"), (5, False, False, True, "passed"),
     (6, True, True, True, "forced")],
)  # fmt: skip
def test_promotion_gate(
    registry: Path, tmp_path: Path, seed: int, shortcut: bool, force: bool, promoted: bool,
    reason: str,
) -> None:  # fmt: skip
    """The report's gate: a retrain that learnt the planted shortcut is registered but not
    promoted (reason on the version, card written); an honest retrain is promoted; force
    promotes and says so."""
    from glassworks.config import DriftGateParams
    from glassworks.report.champions import drift_gate, register_champions

    root = registry
    client = MlflowClient(tracking.tracking_uri(root))
    client.set_registered_model_alias(NAME, "champion", "1")  # the honest model is in production
    run_id = _log(root, _frame(seed, 400, shortcut=shortcut), seed)
    params = DriftGateParams(threshold=0.3, top_k=2, rows=80, force=force)
    with tracking.stage_run("report", "all", root=root) as handle:
        gate = drift_gate(handle, params, root / "data/prepared", tmp_path / "cards", root)
        (row,) = register_champions([_champion(seed)], handle, "champion", True, root, gate=gate)
    champion = client.get_model_version_by_alias(NAME, "champion")
    assert (champion.run_id == run_id) is promoted
    assert row["gate"]["reason"].startswith(reason)
    assert (tmp_path / "cards" / f"{NAME}.html").is_file()
    version = client.get_model_version(NAME, str(row["version"]))
    assert version.tags["glassworks.gate"] == row["gate"]["reason"]
    if not promoted:
        assert row["champion_version"] == 1  # production stays on the honest version
        # a second report does not register the refused candidate again
        with tracking.stage_run("report", "all", root=root) as handle:
            gate = drift_gate(handle, params, root / "data/prepared", tmp_path / "cards", root)
            (again,) = register_champions([_champion(seed)], handle, "champion", True, root,
                                          gate=gate)  # fmt: skip
        assert again["version"] == row["version"]
