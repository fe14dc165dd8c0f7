"""prepare -> train_tabular (4 methods x 2 seeds) -> compare_tabular, audit_tabular, explain
on real diabetes data (openml-37), MLflow in a temp store; and a prepared regression dataset
through train_tabular -> compare_tabular, audit_tabular and the champion choice."""

import json
import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

from glassworks.data.prepare import write_prepared
from glassworks.data.schema import PreparedDataset
from glassworks.io import read_bundle
from stages import audit_tabular, compare_tabular, explain, prepare, train_tabular
from stages.common import run_main

REPO = Path(__file__).resolve().parents[2]
DS = "openml-37"
METHODS = ["inn", "tabresnet", "logistic_regression", "decision_tree"]
NET = {"epochs": 6, "warmup_epochs": 1, "nr_restarts": 2, "hidden_size": 32, "batch_size": 64}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("tabular")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    t = params["train_tabular"]
    t.update(seeds=[0, 1], datasets=[DS], methods=METHODS, device="cpu")
    t["hyperparameters"].update(inn=NET, tabresnet=NET)
    params["audit_tabular"].update(
        datasets=[DS],
        n_examples=6,
        eg_samples=16,
        lime_samples=40,
        kernel_shap_samples=40,
        n_steps=16,
        background=40,
    )
    params["explain"]["settings"].update(n_examples=5, eg_samples=8, background=30, ih_steps=4)
    params["explain"]["models"] = {
        "trn": {
            "kind": "tabular",
            "model": str(tmp / "tabular/tabresnet" / DS / "0"),
            "dataset": DS,
            "interactions": "expected",
        }
    }
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", str(tmp / "params.yaml"), "--root", str(REPO)]
    prepared = ["--prepared-dir", str(tmp / "prepared")]
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: set the MLflow store here
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        assert (
            run_main(
                prepare.main,
                [
                    "--dataset",
                    DS,
                    *common,
                    "--raw-dir",
                    str(raw_dir),
                    "--out-dir",
                    str(tmp / "prepared"),
                    "--metrics-dir",
                    str(tmp / "m/prepare"),
                ],
            )
            == 0
        )
        for m in METHODS:
            assert (
                run_main(
                    train_tabular.main,
                    [
                        "--dataset",
                        DS,
                        "--method",
                        m,
                        *common,
                        *prepared,
                        "--out-dir",
                        str(tmp / "tabular"),
                        "--metrics-dir",
                        str(tmp / "m/train"),
                    ],
                )
                == 0
            )
        assert (
            run_main(
                compare_tabular.main,
                [
                    *common,
                    "--results",
                    str(tmp / "tabular"),
                    "--out-dir",
                    str(tmp / "report"),
                    "--metrics",
                    str(tmp / "m/compare.json"),
                ],
            )
            == 0
        )
        assert (
            run_main(
                audit_tabular.main,
                [
                    "--dataset",
                    DS,
                    *common,
                    *prepared,
                    "--models-dir",
                    str(tmp / "tabular"),
                    "--out-dir",
                    str(tmp / "audit"),
                    "--metrics-dir",
                    str(tmp / "m/audit"),
                ],
            )
            == 0
        )
        assert (
            run_main(
                explain.main,
                [
                    "--model",
                    "trn",
                    *common,
                    *prepared,
                    "--out-dir",
                    str(tmp / "expl"),
                    "--metrics-dir",
                    str(tmp / "m/explain"),
                ],
            )
            == 0
        )
    return tmp


def test_train_tabular_writes_output_info_per_seed(pipeline: Path) -> None:
    for m in METHODS:
        for seed in (0, 1):
            info = json.loads(
                (pipeline / "tabular" / m / DS / str(seed) / "output_info.json").read_text()
            )
            assert info["method"] == m
            assert info["seed"] == seed
            assert info["dataset"] == DS
            assert 0.5 < info["test_auroc"] <= 1.0
            assert (pipeline / "tabular" / m / DS / str(seed) / "model.pkl").exists()
        summary = json.loads((pipeline / "m/train" / m / f"{DS}.json").read_text())
        assert summary["seeds"] == [0, 1]
        assert len(summary["test_auroc"]["per_seed"]) == 2
    assert (
        json.loads((pipeline / "tabular/inn" / DS / "0/output_info.json").read_text())[
            "hyperparameters"
        ]["weight_norm"]
        == 0.1
    )


def test_train_tabular_timings_go_to_mlflow_only(pipeline: Path) -> None:
    """Train and inference seconds are run facts: in each seed's MLflow run, in no DVC output
    (``output_info.json``, the metrics summary, the pickled model)."""
    for m in METHODS:
        for seed in (0, 1):
            folder = pipeline / "tabular" / m / DS / str(seed)
            info = json.loads((folder / "output_info.json").read_text())
            assert not {"train_time", "inference_time"} & set(info)
            model = read_bundle(folder, "train_tabular")["model"]
            assert not hasattr(model, "fit_seconds_")
        summary = (pipeline / "m/train" / m / f"{DS}.json").read_text()
        assert "time" not in summary
    mlflow.set_tracking_uri(f"sqlite:///{pipeline / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["train_tabular"])
    assert (runs["metrics.train_time"] > 0).all()
    assert (runs["metrics.inference_time"] > 0).all()
    assert runs["metrics.test_auroc"].notna().all()


def test_one_mlflow_run_per_seed_with_a_loadable_model(pipeline: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{pipeline / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["train_tabular"])
    assert len(runs) == len(METHODS) * 2
    assert set(runs["tags.glassworks.method"]) == set(METHODS)
    assert (runs["status"] == "FINISHED").all()
    inn = runs[(runs["tags.glassworks.method"] == "inn") & (runs["tags.glassworks.seed"] == "0")]
    model = mlflow.pyfunc.load_model(f"runs:/{inn['run_id'].iloc[0]}/model")
    raw = pd.read_parquet(pipeline / "prepared" / DS / "test.parquet").drop(columns="label")
    proba = model.predict(raw.head(5))
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_compare_tabular_table_and_metrics(pipeline: Path) -> None:
    text = (pipeline / "report/comparison.md").read_text()
    assert text.splitlines()[0] == "| dataset | " + " | ".join(METHODS) + " |"
    assert f"| {DS} |" in text
    metrics = json.loads((pipeline / "m/compare.json").read_text())
    assert set(metrics["mean_rank"]) == set(METHODS)
    assert metrics["mean_normalized_auroc"]["decision_tree"] == pytest.approx(1.0)
    assert "time" not in json.dumps(metrics)  # training cost: benchmarks/inn_cost.py
    assert "train time" not in text
    assert "benchmarks/results/inn_cost.json" in text
    records = pd.read_csv(pipeline / "report/records.csv")
    assert "train_time" not in records.columns
    assert (pipeline / "report/ranks.png").exists()
    assert (pipeline / "report/normalized_auroc.png").exists()


def test_audit_tabular_audit(pipeline: Path) -> None:
    audit = json.loads((pipeline / "m/audit" / f"{DS}.json").read_text())
    assert "seconds" not in json.dumps(audit)  # timings: MLflow only
    assert set(audit["inn"]) == {"ig", "eg", "lime", "kernel_shap"}
    assert audit["best_inn_explainer"] in audit["inn"]
    agree = audit["agreement_with_inn_decomposition"]
    assert agree["full_model"]["means"] == audit["inn"]  # the old key repeats (a)
    assert audit["best_explainer_of_inn_decomposition"] == audit["best_inn_explainer"]
    frozen = agree["frozen_hypernetwork"]
    assert frozen["means"]["ig"]["l1_relative"] < 1e-8  # exact IG scores ~0 with W(x) frozen
    assert frozen["intervals"]["ig"]["spearman"]["n"] >= 1
    assert agree["decomposition_gap"]["bias_gap_abs_mean"] >= 0
    assert set(audit["tabresnet"]["ig"]) == {"faithfulness", "monotonicity", "monotonic_fraction"}
    for name in (
        "audit.csv",
        "audit_frozen.csv",
        "black_box.csv",
        "audit.png",
        "audit_frozen.png",
        "inn_contributions.png",
    ):
        assert (pipeline / "audit" / DS / name).exists()
    npz = np.load(pipeline / "audit" / DS / "attributions.npz")
    assert npz["exact"].shape == npz["inn_ig"].shape == npz["inn_frozen_ig"].shape == (6, 8)
    np.testing.assert_allclose(npz["inn_frozen_ig"], npz["exact"], atol=1e-6)


def test_explain_stage_on_tabresnet_with_expected_hessians(pipeline: Path) -> None:
    stats = json.loads((pipeline / "m/explain/trn.json").read_text())
    assert "seconds" not in json.dumps(stats)
    assert stats["interactions"] == "expected"
    assert stats["ig_completeness_relative"]["max"] < 0.05
    assert (pipeline / "expl/trn/interactions.png").exists()


def test_bad_hyperparameter_and_unlisted_method(pipeline: Path, caplog) -> None:
    params = yaml.safe_load((pipeline / "params.yaml").read_text())
    params["train_tabular"]["hyperparameters"]["decision_tree"] = {"max_deep": 3}
    bad = pipeline / "bad.yaml"
    bad.write_text(yaml.safe_dump(params))
    args = [
        "--dataset",
        DS,
        "--params",
        str(bad),
        "--root",
        str(REPO),
        "--prepared-dir",
        str(pipeline / "prepared"),
        "--out-dir",
        str(pipeline / "bad_out"),
        "--metrics-dir",
        str(pipeline / "bad_m"),
    ]
    with caplog.at_level(logging.ERROR):
        assert run_main(train_tabular.main, [*args, "--method", "decision_tree"]) == 1
        assert run_main(train_tabular.main, [*args, "--method", "catboost"]) == 1
    assert "train_tabular.hyperparameters.decision_tree" in caplog.text
    assert "max_deep" in caplog.text
    assert "'catboost' is not listed" in caplog.text
    assert not (pipeline / "bad_out").exists()  # nothing half-written


def test_train_tabular_tunes_with_the_budget_in_params(pipeline: Path) -> None:
    params = yaml.safe_load((pipeline / "params.yaml").read_text())
    params["train_tabular"]["tuning"] = {"n_trials": 3}
    tuned = pipeline / "tuned.yaml"
    tuned.write_text(yaml.safe_dump(params))
    out, metrics = pipeline / "tuned_out", pipeline / "tuned_m"
    args = ["--dataset", DS, "--method", "logistic_regression", "--params", str(tuned),
            "--root", str(REPO), "--prepared-dir", str(pipeline / "prepared"),
            "--out-dir", str(out), "--metrics-dir", str(metrics)]  # fmt: skip
    assert run_main(train_tabular.main, args) == 0
    search = json.loads((out / "logistic_regression" / DS / "tuning.json").read_text())
    assert search["n_trials"] == 3
    assert len(search["trials"]) == 3
    assert search["trials"][0]["params"] == {}  # the configured setting comes first
    assert search["best_valid_auroc"] == max(t["valid_auroc"] for t in search["trials"])
    summary = json.loads((metrics / "logistic_regression" / f"{DS}.json").read_text())
    assert summary["tuning"] == {k: v for k, v in search.items() if k != "trials"}
    for seed in (0, 1):
        info = json.loads(
            (out / "logistic_regression" / DS / str(seed) / "output_info.json").read_text()
        )
        assert info["hyperparameters"] == search["best"]
    first = json.loads((out / "logistic_regression" / DS / "0" / "output_info.json").read_text())
    assert first["valid_auroc"] == pytest.approx(
        search["best_valid_auroc"]
    )  # seed 0 fit the trials


# ---- a regression dataset through train_tabular -> compare_tabular, audit_tabular, champions ---

REG = "houses"


def _regression_dataset() -> PreparedDataset:
    """A prepared regression dataset as ``prepare`` writes one: Float64 target (not standardised),
    no label names, numeric (with missing values) and nominal features; y is a known linear
    function of x plus small noise."""

    def split(n: int, seed: int) -> pl.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3))
        zone = rng.choice(["north", "south", "east"], n)
        y = 200 + 30 * x[:, 0] - 10 * x[:, 1] + 20 * (zone == "south") + rng.normal(0, 1, n)
        rooms = np.where(rng.random(n) < 0.05, np.nan, x[:, 2])
        return pl.DataFrame(
            {
                "area": x[:, 0],
                "age": x[:, 1],
                "rooms": rooms,
                "zone": pl.Series(zone, dtype=pl.Enum(["east", "north", "south"])),
                "label": y,
            }
        ).with_columns(pl.col("rooms").fill_nan(None))

    splits = {"train": split(400, 0), "valid": split(100, 1), "test": split(150, 2)}
    columns = {"area": "m²", "age": "years", "rooms": "count", "zone": "where", "label": "price"}
    return PreparedDataset(REG, "csv", "tabular", "regression", [], splits, columns, {})


@pytest.fixture(scope="module")
def regression_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tabular_regression")
    write_prepared(_regression_dataset(), tmp / "prepared" / REG)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    t = params["train_tabular"]
    t.update(seeds=[0, 1], datasets=[REG], methods=METHODS, device="cpu")
    t["hyperparameters"].update(inn={**NET, "epochs": 12}, tabresnet={**NET, "epochs": 12})
    params["audit_tabular"].update(
        datasets=[REG], n_examples=6, eg_samples=16, lime_samples=40, kernel_shap_samples=40,
        n_steps=16, background=40,
    )  # fmt: skip
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", str(tmp / "params.yaml"), "--root", str(REPO)]
    prepared = ["--prepared-dir", str(tmp / "prepared")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        for m in METHODS:
            out = ["--out-dir", str(tmp / "tabular"), "--metrics-dir", str(tmp / "m/train_tabular")]
            args = ["--dataset", REG, "--method", m, *common, *prepared, *out]
            assert run_main(train_tabular.main, args) == 0
        args = [*common, "--results", str(tmp / "tabular"), "--out-dir", str(tmp / "report"),
                "--metrics", str(tmp / "m/compare.json")]  # fmt: skip
        assert run_main(compare_tabular.main, args) == 0
        args = ["--dataset", REG, *common, *prepared, "--models-dir", str(tmp / "tabular"),
                "--out-dir", str(tmp / "audit"), "--metrics-dir", str(tmp / "m/audit")]  # fmt: skip
        assert run_main(audit_tabular.main, args) == 0
    return tmp


def test_train_tabular_on_a_regression_target(regression_pipeline: Path) -> None:
    tmp = regression_pipeline
    test = pd.read_parquet(tmp / "prepared" / REG / "test.parquet")
    train = pd.read_parquet(tmp / "prepared" / REG / "train.parquet")
    mean_rmse = float(np.sqrt(np.mean((test["label"] - train["label"].mean()) ** 2)))
    for m in METHODS:
        for seed in (0, 1):
            folder = tmp / "tabular" / m / REG / str(seed)
            info = json.loads((folder / "output_info.json").read_text())
            assert (info["method"], info["seed"], info["dataset"]) == (m, seed, REG)
            assert not {"test_auroc", "valid_auroc", "test_accuracy"} & set(info)
            assert info["test_rmse"] < 0.5 * mean_rmse, (m, info["test_rmse"], mean_rmse)
            assert info["test_r2"] > 0.7
            bundle = read_bundle(folder, "train_tabular")
            assert bundle["label_names"] == []
        summary = json.loads((tmp / "m/train_tabular" / m / f"{REG}.json").read_text())
        assert summary["seeds"] == [0, 1]
        assert {"test_rmse", "valid_rmse", "test_mae", "test_r2"} <= set(summary)
        assert len(summary["valid_rmse"]["per_seed"]) == 2
        assert "time" not in json.dumps(summary)


def test_regression_pyfunc_predicts_values(regression_pipeline: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{regression_pipeline / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["train_tabular"])
    assert len(runs) == len(METHODS) * 2
    assert runs["metrics.test_rmse"].notna().all()
    assert runs["metrics.valid_rmse"].notna().all()
    assert "metrics.test_auroc" not in runs.columns
    raw = pd.read_parquet(regression_pipeline / "prepared" / REG / "test.parquet")
    raw = raw.astype({"zone": str})  # categories as plain strings, as the input example has them
    for method in ("inn", "logistic_regression"):
        run = runs[
            (runs["tags.glassworks.method"] == method) & (runs["tags.glassworks.seed"] == "0")
        ]
        model = mlflow.pyfunc.load_model(f"runs:/{run['run_id'].iloc[0]}/model")
        out = model.predict(raw.drop(columns="label").head(5))
        assert list(out.columns) == ["prediction"]
        folder = regression_pipeline / "tabular" / method / REG / "0"
        bundle = read_bundle(folder, "train_tabular")
        x = bundle["encoder"].transform(pl.from_pandas(raw.head(5)))
        np.testing.assert_allclose(out["prediction"].to_numpy(), bundle["model"].predict(x))


def test_compare_tabular_on_regression_results(regression_pipeline: Path) -> None:
    tmp = regression_pipeline
    text = (tmp / "report/comparison.md").read_text()
    assert text.startswith("## Regression datasets: test RMSE (lower is better)")
    assert "| dataset (test RMSE, lower is better) | " + " | ".join(METHODS) + " |" in text
    assert "AUROC" not in text
    metrics = json.loads((tmp / "m/compare.json").read_text())
    assert set(metrics) == {"reference", "regression"}  # no AUROC numbers without AUROC data
    reg = metrics["regression"]
    assert reg["mean_normalized_rmse"]["decision_tree"] == pytest.approx(1.0)
    assert reg["mean_normalized_rmse"]["logistic_regression"] < 1  # a linear target
    assert set(reg["mean_rank"]) == set(METHODS)
    assert set(reg["inn_vs"]) == set(METHODS) - {"inn"}
    records = pd.read_csv(tmp / "report/records_regression.csv")
    assert list(records.columns) == ["dataset", "method", "seed", "test_rmse"]
    for name in ("table_regression.csv", "ranks_regression.png", "normalized_rmse.png"):
        assert (tmp / "report" / name).exists(), name
    assert not (tmp / "report/records.csv").exists()


def test_audit_tabular_on_regression_models(regression_pipeline: Path) -> None:
    audit = json.loads((regression_pipeline / "m/audit" / f"{REG}.json").read_text())
    assert audit["task"] == "regression"
    assert "none is skipped" in audit["explained_output"]
    frozen = audit["agreement_with_inn_decomposition"]["frozen_hypernetwork"]
    assert frozen["means"]["ig"]["l1_relative"] < 1e-8  # IG of the frozen model = W(x)*x
    assert set(audit["tabresnet"]) == {"ig", "eg", "lime", "kernel_shap"}
    npz = np.load(regression_pipeline / "audit" / REG / "attributions.npz")
    np.testing.assert_allclose(npz["inn_frozen_ig"], npz["exact"], atol=1e-6)


def test_champion_of_a_regression_dataset(regression_pipeline: Path) -> None:
    """The report's champion: the lowest mean validation RMSE over seeds (test not read)."""
    from glassworks.report.overview import champions

    root = regression_pipeline / "m"
    (champion,) = champions(root, {})
    valid = {
        m: json.loads((root / "train_tabular" / m / f"{REG}.json").read_text())["valid_rmse"][
            "mean"
        ]
        for m in METHODS
    }
    best = min(valid, key=valid.get)
    assert (champion.metric, champion.value) == ("valid_rmse", valid[best])
    assert champion.run_name == f"{best}@{REG}#0"
    assert champion.test_metric == "test_rmse"
