"""embed -> train_embgam -> explain on a synthetic text *regression* dataset (Float64 ``label``,
no label names), tiny BERT, MLflow in a temp store: the Emb-GAM part of the pipeline end to end."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

from glassworks.data import PreparedDataset, write_prepared
from glassworks.models.emb_gam import EmbGAMRegressor
from stages import embed, explain, train_embgam
from stages.common import run_main

REPO = Path(__file__).resolve().parents[2]
DS = "toy-regression"
VALUES = {"sunny": 2.0, "warm": 1.0, "cold": -1.0, "storm": -2.0}
FILL = ["the", "day", "was", "a", "bit", "very"]


def _split(n: int, seed: int, prefix: str) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    texts, y = [], []
    for _ in range(n):
        words = [*rng.choice(list(VALUES), 2), *rng.choice(FILL, 3)]
        texts.append(" ".join(rng.permutation(words)))
        y.append(sum(VALUES.get(w, 0.0) for w in words) + 0.2 * rng.standard_normal())
    return pl.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "text": texts,
            "label": pl.Series(y, dtype=pl.Float64),
        }
    )


def _run(main: object, ws: Path, item: list[str], dirs: dict[str, Path]) -> int:
    argv = [*item, "--params", str(ws / "params.yaml"), "--root", str(REPO)]
    for flag, path in dirs.items():
        argv += [flag, str(path)]
    return run_main(main, argv)


def test_regression_dataset_through_embed_train_and_explain(
    tmp_path: Path, tiny_bert: Path
) -> None:
    ws = tmp_path
    splits = {"train": _split(120, 0, "t"), "valid": _split(40, 1, "v"), "test": _split(40, 2, "s")}
    write_prepared(
        PreparedDataset(
            name=DS,
            source="csv",
            modality="text",
            task="regression",
            label_names=[],
            splits=splits,
            columns={"id": "row id", "text": "the text", "label": "the target"},
            info={},
        ),
        ws / "prepared" / DS,
    )
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["embed"]["encoder"].update(model=str(tiny_bert), layer=-1)
    params["embed"]["cache_dir"] = str(ws / "cache")
    params["embed"]["datasets"] = {DS: {"ngram_order": 2}}
    params["train_embgam"].update(Cs=[0.1, 1.0], baseline_Cs=[0.1, 1.0], n_explain=4, top_k=5)
    models = ws / "models"
    params["explain"]["settings"]["n_examples"] = 5
    target = {"kind": "embgam", "model": str(models / DS), "dataset": DS}
    params["explain"]["models"] = {"r": target}
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    prepared = {"--prepared-dir": ws / "prepared"}

    dirs = {**prepared, "--out-dir": ws / "embeddings", "--metrics-dir": ws / "metrics/embed"}
    assert _run(embed.main, ws, ["--dataset", DS], dirs) == 0
    dirs = {
        **prepared,
        "--embeddings-dir": ws / "embeddings",
        "--out-dir": models,
        "--metrics-dir": ws / "metrics/train_embgam",
    }
    assert _run(train_embgam.main, ws, ["--dataset", DS], dirs) == 0
    metrics = json.loads((ws / "metrics/train_embgam" / f"{DS}.json").read_text())
    assert set(metrics) == {
        "embgam", "bag_of_ngrams", "train_mean", "test_intervals", "n_train", "n_test",
    }  # fmt: skip
    for name in ("embgam", "bag_of_ngrams", "train_mean"):
        assert metrics[name]["rmse"] >= 0
        assert {"mae", "r2", "valid_rmse"} <= set(metrics[name])
    assert metrics["embgam"]["C"] in (0.1, 1.0)
    assert metrics["bag_of_ngrams"]["rmse"] < metrics["train_mean"]["rmse"]
    assert metrics["test_intervals"]["differences"][0]["a"] == "embgam"
    out = models / DS
    assert sorted(p.name for p in out.iterdir()) == [
        "examples.html", "model.pkl", "top_ngrams.csv", "top_ngrams.png",
    ]  # fmt: skip
    assert (out / "examples.html").read_text().count("class='ex'") == 4
    model = pickle.loads((out / "model.pkl").read_bytes())
    assert isinstance(model, EmbGAMRegressor)
    texts = splits["test"]["text"].to_list()[:5]
    np.testing.assert_allclose(
        model.predict(texts), model.decision_function_embeddings(texts), atol=1e-8
    )
    error = model.predict(splits["test"]["text"].to_list()) - splits["test"]["label"].to_numpy()
    rmse = float(np.sqrt(np.mean(error**2)))
    assert metrics["embgam"]["rmse"] == pytest.approx(rmse)
    # the MLflow model serves predicted values (one column), as the registry will
    import mlflow.pyfunc

    from glassworks import tracking

    (run,) = tracking.find_runs("train_embgam", DS)
    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(
        pd.DataFrame({"text": texts})
    )
    assert list(served.columns) == ["prediction"]
    np.testing.assert_allclose(served["prediction"], model.predict(texts), atol=1e-8)

    dirs = {**prepared, "--out-dir": ws / "explanations", "--metrics-dir": ws / "metrics/explain"}
    assert _run(explain.main, ws, ["--model", "r"], dirs) == 0
    stats = json.loads((ws / "metrics/explain/r.json").read_text())
    assert stats["examples"] == 5
    assert stats["decomposition_vs_model_max_abs"] < 1e-8
    assert stats["ig_vs_exact_max_abs"] < 1e-8
    table = pl.read_csv(ws / "explanations/r/contributions.csv")
    np.testing.assert_allclose(table["ig"], table["contribution"], atol=1e-8)
