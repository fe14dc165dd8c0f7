"""prepare -> train_text -> explain_text on real SST-2 with a tiny transformer, then the
``glassworks explain-text`` command on the model folder and on its MLflow URI."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

from glassworks import cli, tracking
from glassworks.models.text_classifier import TextClassifier
from stages import explain_text, prepare, train_text
from stages.common import run_main
from tests.fakes import last_run_metrics

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path) -> dict:
    tmp = tmp_path_factory.mktemp("text")
    # a module-scoped fixture runs before the per-test MLflow fixture: use a store of its own
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        return _run_stages(tmp, raw_dir) | {"uri": uri}


def _run_stages(tmp: Path, raw_dir: Path) -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train_text"]["models"]["small"].update(
        vocab_size=400, d_model=32, d_ff=64, epochs=3, batch_size=16
    )
    params["train_text"]["runs"] = {
        "tiny": {
            "dataset": "sst2",
            "model": "small",
            "max_train": 300,
            "max_length": 40,
            "window_stride": 16,  # whole texts: the longest SST-2 sentences need 2-4 windows
            # chosen on validation macro-F1 among the losses that beat the majority class
            "choose": {"loss": ["weighted_ce", "ce"], "floor": "majority"},
        }
    }
    params["train_text"]["seeds"] = [0, 1]
    params["explain_text"]["settings"].update(
        n_texts=4,
        eg_samples=8,
        lime_samples=40,
        n_interactions=1,
        ih_steps=8,
        n_steps=16,
        methods=["ig", "eg", "lime", "occlusion", "random"],
        replacements=["pad", "mask", "random", "remove"],
    )
    params["explain_text"]["runs"] = {}
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(params))
    common = ["--params", str(p), "--root", str(REPO)]
    prep = [
        "--raw-dir",
        str(raw_dir),
        "--out-dir",
        str(tmp / "prepared"),
        "--metrics-dir",
        str(tmp / "m/prepare"),
    ]
    assert run_main(prepare.main, ["--dataset", "sst2", *common, *prep]) == 0
    dirs = ["--prepared-dir", str(tmp / "prepared"), "--metrics-dir"]
    assert (
        run_main(
            train_text.main,
            [
                "--run",
                "tiny",
                *common,
                *dirs,
                str(tmp / "m/train_text"),
                "--out-dir",
                str(tmp / "models"),
                "--plots-dir",
                str(tmp / "plots/train_text"),
            ],
        )
        == 0
    )
    mlflow_runs = tracking.find_runs("train_text", "tiny")  # before the store is swapped
    assert (
        run_main(
            explain_text.main,
            [
                "--run",
                "tiny",
                *common,
                *dirs,
                str(tmp / "m/explain_text"),
                "--models-dir",
                str(tmp / "models"),
                "--out-dir",
                str(tmp / "expl"),
                "--plots-dir",
                str(tmp / "plots/explain_text"),
            ],
        )
        == 0
    )
    return {"tmp": tmp, "runs": mlflow_runs, "explain_runs": tracking.find_runs("explain_text")}


def test_train_text_outputs(trained: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    tmp = trained["tmp"]
    m = json.loads((tmp / "m/train_text/tiny.json").read_text())
    assert m["seeds"] == [0, 1]
    assert m["n_train"] == 300
    assert m["n_test"] == 872
    assert m["n_valid"] > 0
    accs = [r["test"]["accuracy"] for r in m["per_seed"]]
    assert all(0.4 < a <= 1 for a in accs)
    acc = m["test_accuracy"]
    assert (acc["mean"], acc["n"]) == (pytest.approx(sum(accs) / 2), 2)
    assert acc["ci95"][0] <= acc["mean"] <= acc["ci95"][1]
    assert set(m) >= {"valid_accuracy", "valid_macro_f1", "test_macro_f1"}
    first = m["per_seed"][0]
    assert set(first["test"]["recall_per_class"]) == {"negative", "positive"}
    assert set(first["valid"]) == {"accuracy", "macro_f1"}
    out = tmp / "models/tiny"  # the first seed's model (what explain_text reads)
    assert {"glassworks.json", "model.pt", "tokenizer", "confusion.png", "per_class.png"} <= {
        f.name for f in out.iterdir()
    }
    assert TextClassifier.load(out).seed == 0
    assert TextClassifier.load(out / "seed-1").seed == 1
    preds = pd.read_csv(tmp / "plots/train_text/tiny/predictions.csv")
    assert len(preds) == 872
    assert set(preds.columns) == {"actual", "predicted"}
    assert len(pd.read_csv(tmp / "plots/train_text/tiny/history.csv")) >= 1
    assert sorted(r.info.run_name for r in trained["runs"]) == ["tiny#0", "tiny#1"]
    run = next(r for r in trained["runs"] if r.info.run_name == "tiny#0")
    assert run.data.metrics["test.accuracy"] == pytest.approx(accs[0])
    assert run.data.metrics["valid.accuracy"] == pytest.approx(first["valid"]["accuracy"])
    # the logged pyfunc takes raw text and returns one probability per class
    model = tracking.load_text_model(f"runs:/{run.info.run_id}/model")
    assert model.predict(["a charming journey"]).shape == (1,)
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    out = pyfunc.predict(pd.DataFrame({"text": ["a charming journey", "bleak"]}))
    assert out.shape == (2, 2)


def test_train_text_chooses_on_validation(trained: dict) -> None:
    tmp = trained["tmp"]
    m = json.loads((tmp / "m/train_text/tiny.json").read_text())
    choice = m["choice"]
    cands = choice["candidates"]
    assert [c["loss"] for c in cands] == ["weighted_ce", "ce"]
    # the floor: the training split's most frequent class, scored on validation
    train = pd.read_parquet(tmp / "prepared/sst2/train.parquet")
    valid = pd.read_parquet(tmp / "prepared/sst2/valid.parquet")
    majority = np.bincount(train["label"]).argmax()  # the smallest label on ties
    floor = choice["floor"]["majority_valid_accuracy"]
    assert floor == pytest.approx((valid["label"] == majority).mean())
    above = [c for c in cands if c["valid_accuracy"] > floor]
    if above:
        best = max(above, key=lambda c: c["valid_macro_f1"])
    else:
        best = max(cands, key=lambda c: c["valid_accuracy"])
    assert choice["chosen"] == {"loss": best["loss"]}
    # the kept model is the chosen one
    assert m["per_seed"][0]["valid"]["macro_f1"] == best["valid_macro_f1"]
    best = best["loss"]
    for folder in ("tiny", "tiny/seed-1"):  # every seed trains with the chosen loss
        model = TextClassifier.load(tmp / "models" / folder)
        assert (model.loss, model.window_stride) == (best, 16)
        assert model.n_windows_ > 300  # long sentences read as several windows


def test_explain_text_stitches_windows(trained: dict) -> None:
    tmp = trained["tmp"]
    m = json.loads((tmp / "m/explain_text/tiny.json").read_text())
    win = m["windows"]
    assert win["window_stride"] == 16
    assert win["mean_windows"] >= 1
    assert win["max_abs_delta"] < 0.05
    table = pd.read_parquet(tmp / "expl/tiny/stitched_ig.parquet")
    assert sorted(table["text"].unique()) == list(range(m["n_texts"]))
    assert list(table.columns) == ["text", "position", "token", "score"]


def test_explain_text_outputs(trained: dict) -> None:
    tmp = trained["tmp"]
    m = json.loads((tmp / "m/explain_text/tiny.json").read_text())
    assert set(m) >= {"ig", "eg", "lime", "occlusion", "random", "ih"}
    assert m["ig"]["completeness_rel_max"] < 1e-3
    assert m["ih"]["rows_vs_ig_rel_max"] < 1e-2
    assert m["ih"]["total_rel_max"] < 1e-2
    for method in ("ig", "lime", "occlusion"):
        assert 0 <= m[method]["deletion_auc"] <= 1
    page = (tmp / "expl/tiny/highlights.html").read_text()
    assert page.count("class='ex g-") == 4 * 5  # 4 texts x 5 explainers (toggled)
    assert (tmp / "expl/tiny/interactions_0.png").stat().st_size > 0
    curve = pd.read_csv(tmp / "plots/explain_text/tiny/deletion.csv")
    assert list(curve.columns) == ["fraction", "ig", "eg", "lime", "occlusion", "random"]
    assert len(trained["explain_runs"]) == 1


def test_explain_text_faithfulness_under_every_replacement(trained: dict) -> None:
    tmp = trained["tmp"]
    m = json.loads((tmp / "m/explain_text/tiny.json").read_text())
    assert m["n_texts"] == m["n_texts_requested"] == 4
    f = m["faithfulness"]
    # the small transformer ignores right padding (masked attention and pooling): remove runs
    assert f["replacements"] == ["pad", "mask", "random", "remove"]
    assert f["skipped"] == {}
    assert f["replacement_tokens"]["mask"] == "[MASK]"
    assert f["n_texts"] == 4
    explainers = {"ig", "eg", "lime", "occlusion", "random"}
    for rep in f["replacements"]:
        assert set(f["scores"][rep]) == explainers
        for s in f["scores"][rep].values():
            auc = s["deletion_auc"]
            assert auc["n"] == 4
            assert auc["ci95"][0] <= auc["mean"] <= auc["ci95"][1]
            assert {"comprehensiveness_10", "sufficiency_50", "insertion_auc"} <= set(s)
        for row in f["comparison"][rep].values():
            assert row["result"] == "no significant difference" or (
                row["winner"] and row["result"] == f"{row['winner']} wins"
            )
    # under pad (= the explainers' baseline) the legacy top-level means are the same numbers
    assert f["scores"]["pad"]["ig"]["deletion_auc"]["mean"] == pytest.approx(
        m["ig"]["deletion_auc"]
    )
    table = pd.read_csv(tmp / "expl/tiny/faithfulness_comparison.csv")
    assert set(table["replacement"]) == {"pad", "mask", "random", "remove"}
    assert "seconds" not in json.dumps(m)  # machine state (per part, per text): MLflow only
    run = last_run_metrics("explain_text")
    assert 0 < run["seconds.faithfulness"] < run["seconds.total"]
    for method in (*explainers, "ih"):
        assert run[f"{method}.seconds_per_text"] > 0


def test_explain_text_params_explain_at_least_100_texts() -> None:
    from glassworks.config import ExplainTextParams

    params = ExplainTextParams(**yaml.safe_load((REPO / "params.yaml").read_text())["explain_text"])
    assert params.settings.n_texts >= 100
    for run in yaml.safe_load((REPO / "params.yaml").read_text())["train_text"]["runs"]:
        s = params.for_run(run)
        assert s.n_texts >= 100 or s.n_texts_note, run  # fewer only with a stated reason
        assert {"pad", "mask", "random"} <= set(s.replacements)
    assert "remove" in params.for_run("sst2-minilm").replacements


def test_cli_explain_text(trained: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    model_dir = trained["tmp"] / "models/tiny"
    console = Console(record=True, width=200)
    html = tmp_path / "e.html"
    long_text = "good " * 100
    code = cli.explain_text(str(model_dir), ["a <b>charming</b> film", long_text], html, 8, console)
    assert code == 0
    text = console.export_text()
    assert "IG completeness" in text
    assert "only the first 40" not in text + html.read_text()  # read whole, in windows
    assert "windows of 40 tokens" in html.read_text()
    assert "&lt;b&gt;" in html.read_text()
    assert "<b>charming" not in html.read_text()
    run_id = trained["runs"][0].info.run_id
    assert cli.explain_text(f"runs:/{run_id}/model", ["fine"], html, 8, console) == 0


@pytest.mark.parametrize(
    ("model", "texts", "message"),
    [
        ("/no/such/model", ["hi"], "not a glassworks text model"),
        ("runs:/0123456789abcdef/model", ["hi"], "no MLflow model there"),
        (None, ["  "], "empty text"),
    ],
)
def test_cli_explain_text_errors(trained: dict, model, texts, message) -> None:  # noqa: ANN001
    console = Console(record=True, width=200)
    ref = model or str(trained["tmp"] / "models/tiny")
    assert cli.explain_text(ref, texts, Path("unused.html"), 8, console) == 1
    assert message in console.export_text()


def test_unknown_run(tmp_path: Path) -> None:
    assert run_main(train_text.main, ["--run", "nope", "--root", str(REPO)]) == 1
    assert run_main(explain_text.main, ["--run", "nope", "--root", str(REPO)]) == 1
