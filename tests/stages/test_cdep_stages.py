"""prepare -> prepare_sst_variants -> train_cdep -> compare_cdep on real SST-2 with tiny models,
through the stage entry points (real MLflow store, real files)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from glassworks import tracking
from glassworks.models.text_classifier import TextClassifier
from glassworks.report.cdep import choose_lambda
from stages import compare_cdep, prepare, prepare_sst_variants, train_cdep
from stages.common import run_main

REPO = Path(__file__).resolve().parents[2]
ARMS = ["lstm-clean", "lstm-none", "lstm-cdep", "lstm-cdep_int", "lstm-clp", "transformer-eg"]


def _params(tmp: Path, **train_cdep_overrides: object) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    t = params["train_cdep"]
    t.update(variants=["decoy"], arms=ARMS, max_train=300, n_probe=12, ig_steps=8, seeds=[0, 1])
    t["lambdas"] = {
        "cdep": [1.0, 10.0],
        "cdep_int": [1.0],
        "clp": [1.0],
        "rrr": [10.0],
        "eg": [1.0],
    }
    for model in t["models"].values():
        model.update(epochs=1, vocab_size=2000, d_model=50 if model["backbone"] == "small" else 16)
    t.update(train_cdep_overrides)
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> dict:
    tmp = tmp_path_factory.mktemp("cdep")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        p = _params(tmp)
        common = ["--params", str(p), "--root", str(REPO)]
        assert (
            run_main(
                prepare.main,
                [
                    "--dataset",
                    "sst2",
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
        assert (
            run_main(
                prepare_sst_variants.main,
                [
                    "--variant",
                    "decoy",
                    *common,
                    "--prepared-dir",
                    str(tmp / "prepared"),
                    "--out-dir",
                    str(tmp / "variants"),
                    "--metrics-dir",
                    str(tmp / "m/variants"),
                ],
            )
            == 0
        )
        for arm in ARMS:
            code = run_main(
                train_cdep.main,
                [
                    "--variant",
                    "decoy",
                    "--arm",
                    arm,
                    *common,
                    "--variants-dir",
                    str(tmp / "variants"),
                    "--out-dir",
                    str(tmp / "cdep"),
                    "--metrics-dir",
                    str(tmp / "m/train_cdep"),
                    "--plots-dir",
                    str(tmp / "plots/train_cdep"),
                ],
            )
            assert code == 0, arm
        assert (
            run_main(
                compare_cdep.main,
                [
                    *common,
                    "--results",
                    str(tmp / "m/train_cdep"),
                    "--out-dir",
                    str(tmp / "reports"),
                    "--plots-dir",
                    str(tmp / "plots/compare_cdep"),
                    "--metrics",
                    str(tmp / "m/compare_cdep.json"),
                ],
            )
            == 0
        )
        runs = tracking.find_runs("train_cdep")
    return {"tmp": tmp, "uri": uri, "runs": runs}


def test_variant_outputs(pipeline: dict) -> None:
    tmp = pipeline["tmp"]
    m = json.loads((tmp / "m/variants/decoy.json").read_text())
    assert m["with_spurious_word"]["train"] == 1.0
    assert m["with_spurious_word"]["probe"] == 1.0
    assert m["with_spurious_word"]["test"] < 0.05  # clean (a few SST-2 sentences say "video")
    schema = json.loads((tmp / "variants/decoy/schema.json").read_text())
    assert schema["spurious_words"] == ["text", "video"]


def test_train_cdep_outputs(pipeline: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", pipeline["uri"])
    tmp = pipeline["tmp"]
    result = json.loads((tmp / "m/train_cdep/decoy/lstm-cdep.json").read_text())
    rows = result["runs"]
    grid = [r for r in rows if r["in_grid"]]
    assert [(r["lambda"], r["seed"]) for r in grid] == [(1.0, 0), (10.0, 0)]
    # lambda chosen on validation accuracy of the seed-0 grid, then trained on the other seed
    chosen = result["selection"]["lambda"]
    assert result["selection"]["metric"] == "valid_accuracy"
    assert chosen == choose_lambda(grid)
    assert [(r["lambda"], r["seed"]) for r in rows if r["chosen"]] == [(chosen, 0), (chosen, 1)]
    assert result["chosen"]["seeds"] == [0, 1]
    accs = [r["test_accuracy"] for r in rows if r["chosen"]]
    assert result["chosen"]["test_accuracy"]["mean"] == pytest.approx(sum(accs) / 2)
    assert result["chosen"]["test_accuracy"]["n"] == 2
    for r in rows:
        assert r["n_train"] == 300
        assert r["n_test"] == 872
        assert r["n_probe"] == 872
        assert 0 <= r["valid_accuracy"] <= 1
        assert len(r["test_correct"]) == 872
        assert sum(r["test_correct"]) / 872 == pytest.approx(r["test_accuracy"])
        assert 0 <= r["ig_mass"] <= 1
        assert 0 <= r["cd_mass"] <= 1
        assert 0 <= r["cd_int_mass"] <= 1
        assert r["ig_max_relative_delta"] < 0.05  # IG completeness on the LSTM
        assert r["n_spurious_missing"] == 0
    eg = json.loads((tmp / "m/train_cdep/decoy/transformer-eg.json").read_text())["runs"]
    assert "cd_mass" not in eg[0]
    assert "cd_int_mass" not in eg[0]
    assert [r["seed"] for r in eg] == [0, 1]
    assert {f.name for f in (tmp / "cdep/decoy/lstm-cdep").iterdir()} == {
        "lambda-1",
        "lambda-10",
        f"lambda-{chosen:g}-seed-1",
    }
    model = TextClassifier.load(tmp / "cdep/decoy/lstm-cdep/lambda-10")
    assert model.penalty == "cdep"
    assert model.penalty_weight == 10.0
    assert len(model.spurious_ids_) == 2
    assert TextClassifier.load(tmp / f"cdep/decoy/lstm-cdep/lambda-{chosen:g}-seed-1").seed == 1
    # one MLflow run per model, each with its pyfunc model
    assert len(pipeline["runs"]) == 2 + 2 + 3 + 2 + 2 + 2
    run = next(r for r in pipeline["runs"] if r.info.run_name == "decoy-lstm-cdep lambda=10 seed=0")
    assert run.data.metrics["test_accuracy"] == pytest.approx(grid[1]["test_accuracy"])
    # training seconds: in every MLflow run, in no DVC output (rows, plots, saved models)
    assert all(r.data.metrics["train_seconds"] > 0 for r in pipeline["runs"])
    assert not any("train_seconds" in r for r in rows + eg)
    assert "seconds" not in (tmp / "cdep/decoy/lstm-cdep/lambda-10/glassworks.json").read_text()
    loaded = tracking.load_text_model(f"runs:/{run.info.run_id}/model")
    assert loaded.predict(["a charming film"]).shape == (1,)
    plot = pd.read_csv(tmp / "plots/train_cdep/decoy/lstm-cdep.csv")
    assert list(plot["lambda"]) == [1.0, 10.0, chosen]
    assert "test_correct" not in plot.columns
    assert "train_seconds" not in plot.columns


def test_compare_cdep_outputs(pipeline: dict) -> None:
    tmp = pipeline["tmp"]
    summary = json.loads((tmp / "m/compare_cdep.json").read_text())
    assert summary["selection"]["metric"] == "valid_accuracy"
    lstm = summary["decoy.lstm"]
    assert set(lstm) == {"none", "clean", "cdep", "cdep_int", "clp", "comparisons"}
    assert lstm["cdep"]["lambda"] in (1.0, 10.0)
    records = pd.read_csv(tmp / "reports/records.csv")
    assert "train_seconds" not in records.columns
    assert "seconds" not in json.dumps(summary)
    vanilla = records[records.arm == "lstm-none"].test_accuracy
    assert lstm["none"]["test_accuracy"]["mean"] == pytest.approx(vanilla.mean())
    assert lstm["none"]["test_accuracy"]["n"] == 2
    pairs = {(c["a"], c["b"]): c for c in lstm["comparisons"]}
    assert set(pairs) == {
        ("lstm-cdep", "lstm-none"),
        ("lstm-cdep_int", "lstm-none"),
        ("lstm-clean", "lstm-none"),
        ("lstm-clp", "lstm-none"),
        ("lstm-cdep", "lstm-cdep_int"),  # every penalty against every other
        ("lstm-cdep", "lstm-clp"),
        ("lstm-cdep_int", "lstm-clp"),
    }
    for c in pairs.values():
        assert c["seeds"]["difference"]["n"] == 2
        assert c["examples"]["difference"]["n"] == 872
        assert c["verdict"] in (
            "no significant difference",
            f"{c['a']} beats {c['b']}",
            f"{c['b']} beats {c['a']}",
        )
    curve = pd.read_csv(tmp / "plots/compare_cdep/decoy/lstm-cdep.csv")
    assert list(curve["lambda"]) == [0.0, 1.0, 10.0]  # the vanilla model is the lambda-0 point
    assert "valid_accuracy" in curve.columns
    seed0 = records[(records.arm == "lstm-none") & (records.seed == 0)].test_accuracy.item()
    assert curve["test_accuracy"].iloc[0] == pytest.approx(seed0)
    assert (tmp / "reports/decoy.png").stat().st_size > 10_000
    table = (tmp / "reports/cdep.md").read_text()
    assert "| lstm | cdep | 10 |" in table
    assert "| lstm-cdep − lstm-none |" in table
    assert "valid_accuracy" in table
    assert "| CD mass with interactions |\n" in table  # the last column: no training seconds
    assert "train s" not in table


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"lambdas": {"cdep": [-1.0], "cdep_int": [1.0], "clp": [1], "rrr": [1.0], "eg": [1.0]}},
            "lambda must be >= 0",
        ),
        ({"arms": ["transformer-cdep_int"]}, "not defined for attention"),
        ({"arms": ["transformer-cdep"]}, "not defined for attention"),
        ({"arms": ["lstm-lasso"]}, "unknown penalty 'lasso'"),
    ],
)
def test_bad_params_fail_before_training(
    tmp_path: Path, override: dict, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    p = _params(tmp_path, **override)
    arm = override.get("arms", ["lstm-cdep"])[0]
    code = run_main(
        train_cdep.main,
        [
            "--variant",
            "decoy",
            "--arm",
            arm,
            "--params",
            str(p),
            "--variants-dir",
            str(tmp_path / "none"),
            "--out-dir",
            str(tmp_path / "out"),
        ],
    )
    assert code == 1
    assert message in caplog.text
    assert not (tmp_path / "out").exists()
