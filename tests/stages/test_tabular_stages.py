"""prepare -> train_tabular (4 methods x 2 seeds) -> compare_tabular, audit_tabular, explain
on real diabetes data (openml-37), MLflow in a temp store."""

import json
import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

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
