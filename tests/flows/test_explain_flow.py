"""The explain flow: a logged text model explains new texts; batches fan out on threads and on a
2-worker Dask LocalCluster; the result lands in one MLflow run."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from flows.explain import explain, read_texts
from flows.runners import dask_runner
from glassworks import tracking
from tests.fakes import REVIEWS, tiny_lstm, toy_tabular

pytestmark = pytest.mark.usefixtures("prefect_harness")

TEXTS = REVIEWS


@pytest.fixture
def model_uri(tmp_path: Path) -> str:
    model = tiny_lstm()
    model.save(tmp_path / "model")
    with tracking.stage_run("train_text", "tiny") as run:
        tracking.log_text_model(tmp_path / "model", TEXTS[:2], model=model)
    return f"runs:/{run.run_id}/model"


def _artifacts(run_id: str, tmp_path: Path) -> tuple[str, pd.DataFrame]:
    import mlflow  # the test reads back what the flow logged

    folder = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path)))
    page = (folder / "explanations/highlights.html").read_text()
    return page, pd.read_csv(folder / "explanations/predictions.csv")


def test_explain_flow_logs_highlights(model_uri: str, tmp_path: Path) -> None:
    file = tmp_path / "texts.txt"
    file.write_text("\n".join(TEXTS[:5]) + "\n\n")
    out = explain(model_uri=model_uri, file=str(file), texts=["an extra one"], batch_size=2)
    assert out["n_texts"] == 6
    assert out["batches"] == 3
    page, table = _artifacts(out["run_id"], tmp_path / "a")
    assert list(table["text"]) == ["an extra one", *TEXTS[:5]]  # texts, then the file; in order
    assert set(table["label"]) <= {"negative", "positive"}
    assert "charming" in page
    assert page.count("class='ex'") == 6
    assert table["delta"].abs().max() < 0.05  # IG completeness on the LSTM, 32 steps
    # the shared page helper: a colour legend, each text's prediction and completeness, and no
    # special tokens among the highlighted ones
    assert page.count("class='legend'") == 1
    assert page.count("prediction: <span class='label'>") == 6
    assert page.count("completeness: ") == 6
    assert "[CLS]" not in re.findall(r"<span class='tok'[^>]*>(.*?)</span>", page)


def test_explain_flow_on_a_dask_local_cluster(model_uri: str, tmp_path: Path) -> None:
    flow = explain.with_options(task_runner=dask_runner("local", n_workers=2))
    threads = explain(model_uri=model_uri, texts=TEXTS, batch_size=3)
    dask = flow(model_uri=model_uri, texts=TEXTS, batch_size=3)
    assert dask["batches"] == 3
    for a, b in zip(threads["rows"], dask["rows"], strict=True):
        assert a["label"] == b["label"]
        assert a["p"] == pytest.approx(b["p"], rel=1e-5)


def test_bad_input(tmp_path: Path, model_uri: str) -> None:
    with pytest.raises(ValueError, match="give texts"):
        explain(model_uri=model_uri)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_texts(tmp_path / "missing.txt")
    bad = tmp_path / "t.csv"
    bad.write_text("sentence\nhello\n")
    with pytest.raises(ValueError, match="'text' column"):
        read_texts(bad)


@pytest.mark.parametrize("method", ["inn", "logistic_regression"])
def test_explain_flow_on_tabular_rows(tmp_path: Path, method: str) -> None:
    """Rows of raw features -> attributions: INN's exact contributions add up to its logit;
    other models get Kernel SHAP."""
    import pickle

    import numpy as np
    import polars as pl

    from glassworks.models.tabular import TabularEncoder, make_tabular_model

    frame = toy_tabular(120)
    enc = TabularEncoder().fit(frame)
    x = enc.transform(frame)
    hyper = {"epochs": 4, "warmup_epochs": 1, "nr_restarts": 1, "device": "cpu"}
    hyper = hyper if method == "inn" else {}
    model = make_tabular_model(method, 0, hyper).fit(x, frame["label"].to_numpy())
    bundle = {"encoder": enc, "model": model, "label_names": ["no", "yes"], "method": method}
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(bundle))
    raw = frame.drop("label").with_columns(pl.col("colour").cast(pl.String))  # as MLflow sends
    example = raw.head(2).to_pandas()
    with tracking.stage_run("train_tabular", "toy") as run:
        tracking.log_tabular_model(path, bundle, example)
    rows = raw.head(5).to_pandas().to_dict("records")
    out = explain(model_uri=f"runs:/{run.run_id}/model", rows=rows, batch_size=2, n_samples=60)
    assert out["n_rows"] == 5
    assert out["batches"] == 3
    assert out["method"] == ("inn_exact" if method == "inn" else "kernel_shap")
    attrs = np.array([[r[f"attr:{n}"] for n in enc.feature_names_] for r in out["rows"]])
    if method == "inn":
        contrib = model.explain(x[:5])
        logit = contrib.output[:, 0] - contrib.bias[:, 0]
        np.testing.assert_allclose(attrs.sum(1), logit, rtol=1e-6, atol=1e-8)
    else:
        assert np.abs(attrs).sum() > 0
    with pytest.raises(ValueError, match="one kind"):
        explain(model_uri="runs:/x/model", rows=rows, texts=["a"])
