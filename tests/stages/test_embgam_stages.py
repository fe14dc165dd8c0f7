"""embed -> train_embgam -> explain on real (small) data, tiny BERT, MLflow in a temp store."""

import json
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from glassworks import tracking
from stages import embed, explain, prepare, train_embgam
from stages.common import run_main
from tests.fakes import last_run_metrics

REPO = Path(__file__).resolve().parents[2]
DS = "amazon-fashion"


@pytest.fixture
def workspace(tmp_path: Path, raw_dir: Path, tiny_bert: Path) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["embed"]["encoder"]["model"] = str(tiny_bert)
    params["embed"]["encoder"]["layer"] = -1
    params["embed"]["cache_dir"] = str(tmp_path / "cache")
    params["train_embgam"]["Cs"] = [0.1, 1.0]
    params["train_embgam"]["n_explain"] = 5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    code = run_main(
        prepare.main,
        [
            "--dataset",
            DS,
            "--params",
            str(tmp_path / "params.yaml"),
            "--root",
            str(REPO),
            "--raw-dir",
            str(raw_dir),
            "--out-dir",
            str(tmp_path / "prepared"),
            "--metrics-dir",
            str(tmp_path / "metrics/prepare"),
        ],
    )
    assert code == 0
    return tmp_path


def _embed(ws: Path, params: Path | None = None) -> int:
    return run_main(
        embed.main,
        [
            "--dataset",
            DS,
            "--params",
            str(params or ws / "params.yaml"),
            "--root",
            str(REPO),
            "--prepared-dir",
            str(ws / "prepared"),
            "--out-dir",
            str(ws / "embeddings"),
            "--metrics-dir",
            str(ws / "metrics/embed"),
        ],
    )


def test_embed_then_train(workspace: Path) -> None:
    ws = workspace
    assert _embed(ws) == 0
    first = json.loads((ws / "metrics/embed" / f"{DS}.json").read_text())
    assert set(first) == {"texts", "ngrams_total", "ngrams_unique", "unique_ratio"}
    machine = last_run_metrics("embed")  # machine state goes to MLflow only
    assert machine["newly_embedded"] == first["ngrams_unique"] > 1000
    assert machine["cache_hits"] == 0
    assert first["unique_ratio"] < 1
    files = sorted(p.name for p in (ws / "embeddings" / DS).iterdir())
    assert files == ["embed.json", "embeddings.npy", "ngrams.parquet", "texts.parquet"]
    # a rerun (DVC deleted the output) calls the model for nothing
    assert _embed(ws) == 0
    second = json.loads((ws / "metrics/embed" / f"{DS}.json").read_text())
    assert second == first  # DVC metrics do not depend on the cache's warmth
    machine = last_run_metrics("embed")
    assert (machine["newly_embedded"], machine["cache_hits"]) == (0, first["ngrams_unique"])

    code = run_main(
        train_embgam.main,
        [
            "--dataset",
            DS,
            "--params",
            str(ws / "params.yaml"),
            "--root",
            str(REPO),
            "--prepared-dir",
            str(ws / "prepared"),
            "--embeddings-dir",
            str(ws / "embeddings"),
            "--out-dir",
            str(ws / "models"),
            "--metrics-dir",
            str(ws / "metrics/train_embgam"),
        ],
    )
    assert code == 0
    metrics = json.loads((ws / "metrics/train_embgam" / f"{DS}.json").read_text())
    assert set(metrics) >= {"embgam", "bag_of_ngrams", "majority", "n_train", "n_test"}
    for name in ("embgam", "bag_of_ngrams", "majority"):
        assert 0 <= metrics[name]["accuracy"] <= 1
        assert "qwk" in metrics[name]  # star ratings are ordinal
    out = ws / "models" / DS
    assert (out / "examples.html").read_text().count("class='ex'") == 5
    assert len(list(out.glob("top_ngrams_*.png"))) == 5
    model = pickle.loads((out / "model.pkl").read_bytes())
    texts = ["Great fit and lovely colour", "Fell apart after a week"]
    np.testing.assert_allclose(
        model.decision_function(texts), model.decision_function_embeddings(texts), atol=1e-8
    )
    (run,) = tracking.find_runs("train_embgam", DS)
    assert run.data.metrics["embgam.accuracy"] == pytest.approx(metrics["embgam"]["accuracy"])
    import mlflow

    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    import pandas as pd

    proba = loaded.predict(pd.DataFrame({"text": texts}))
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(texts), atol=1e-9)

    # explain: the path engine against the exact decomposition, per example and n-gram
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["explain"]["settings"]["n_examples"] = 6
    params["explain"]["models"] = {"eg": {"kind": "embgam", "model": str(out), "dataset": DS}}
    (ws / "explain.yaml").write_text(yaml.safe_dump(params))
    argv = ["--model", "eg", "--params", str(ws / "explain.yaml"), "--root", str(REPO)]
    dirs = ["--prepared-dir", str(ws / "prepared"), "--out-dir", str(ws / "explanations")]
    code = run_main(explain.main, [*argv, *dirs, "--metrics-dir", str(ws / "metrics/explain")])
    assert code == 0
    stats = json.loads((ws / "metrics/explain/eg.json").read_text())
    assert stats["examples"] == 6
    assert stats["ig_vs_exact_max_abs"] < 1e-8
    table = pl.read_csv(ws / "explanations/eg/contributions.csv")
    assert table["example"].n_unique() == 6
    np.testing.assert_allclose(table["ig"], table["contribution"], atol=1e-8)
    assert (ws / "explanations/eg/summary.png").stat().st_size > 10_000


def test_bad_model_path_writes_nothing(workspace: Path, caplog: pytest.LogCaptureFixture) -> None:
    ws = workspace
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["embed"]["encoder"]["model"] = str(ws / "no-such-model")
    bad = ws / "bad.yaml"
    bad.write_text(yaml.safe_dump(params))
    assert _embed(ws, bad) == 1
    assert "no-such-model does not exist" in caplog.text
    assert not (ws / "embeddings" / DS).exists()
    assert not (ws / "cache").exists()
    assert not (ws / "metrics/embed").exists()
