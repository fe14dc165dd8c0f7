"""Your own data end to end, with real DVC and a real MLflow store: files of every format (slices
of the real shared data) through ``glassworks add-dataset`` and ``dvc repro`` of their stages,
up to a registered champion. The clone's params are cut to the new datasets and small settings
so the test fits CI (the shapes of the outputs, not their accuracy, are under test)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.e2e.conftest import BIN, make_clone, run_in

pytestmark = pytest.mark.slow

TEXT, TABULAR, REGRESSION = "sst-slice", "pima", "progression"


def _files(shared: Path, out: Path) -> dict[str, Path]:
    """A text CSV (SST-2 sentences, worded labels), the diabetes ARFF under another name, and the
    same diabetes rows as JSONL, Parquet, TSV and a saved Hugging Face dataset."""
    out.mkdir()
    sst = pl.read_csv(shared / "sst2" / "train.tsv", separator="\t", quote_char=None)
    sst = sst.filter(pl.col("sentence").str.split(" ").list.len() >= 8).head(600)
    sst.select(
        pl.col("sentence").alias("review"),
        pl.col("label").replace_strict({0: "negative", 1: "positive"}).alias("sentiment"),
    ).write_csv(out / "sst_slice.csv")
    arff = out / "pima.arff"
    arff.write_bytes((shared / "openml" / "arff" / "37_diabetes.arff").read_bytes())
    from glassworks.data.files import read_arff_frame

    frame = read_arff_frame(arff).with_columns(pl.col("class").cast(pl.String))
    frame.write_ndjson(out / "pima_lines.jsonl")
    frame.write_parquet(out / "pima_table.parquet")
    frame.write_csv(out / "pima_tabs.tsv", separator="\t")
    import datasets

    datasets.Dataset.from_polars(frame).save_to_disk(str(out / "pima_saved"))
    # a headerless numeric CSV with a continuous target: Efron et al.'s diabetes progression,
    # as scikit-learn ships it (10 raw features, then the target)
    import sklearn

    sk = Path(sklearn.__file__).parent / "datasets" / "data"
    x = pl.read_csv(sk / "diabetes_data_raw.csv.gz", separator=" ", has_header=False)
    y = pl.read_csv(sk / "diabetes_target.csv.gz", has_header=False, new_columns=["y"])
    pl.concat([x, y], how="horizontal").write_csv(out / "progression.csv", include_header=False)
    return {
        REGRESSION: out / "progression.csv",
        TEXT: out / "sst_slice.csv",
        TABULAR: arff,
        "pima-lines": out / "pima_lines.jsonl",
        "pima-table": out / "pima_table.parquet",
        "pima-tabs": out / "pima_tabs.tsv",
        "pima-saved": out / "pima_saved",
    }


def _small(params_path: Path) -> None:
    """Cut the clone's pipeline to the new datasets and test-sized settings."""
    p = yaml.safe_load(params_path.read_text())
    p["embed"]["datasets"] = {TEXT: p["embed"]["datasets"][TEXT]}
    p["train_text"]["runs"] = {f"{TEXT}-small": p["train_text"]["runs"][f"{TEXT}-small"]}
    p["train_text"]["seeds"] = [0]
    p["train_text"]["models"]["small"]["epochs"] = 1
    p["explain_text"]["settings"].update(n_texts=5, methods=["ig", "occlusion", "random"])
    p["train_tabular"].update(
        datasets=[TABULAR, REGRESSION], seeds=[0], methods=["inn", "tabresnet", "decision_tree"]
    )
    for net in ("inn", "tabresnet"):
        p["train_tabular"]["hyperparameters"][net].update(epochs=4, warmup_epochs=1)
    p["audit_tabular"].update(datasets=[TABULAR, REGRESSION], n_examples=10)
    params_path.write_text(yaml.safe_dump(p, sort_keys=False))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    base = tmp_path_factory.mktemp("own")
    clone = make_clone(base)
    return clone, _files(clone.parent / "shared" / "data", base / "files")


def test_add_dataset_then_dvc_repro_to_a_champion(project: tuple[Path, dict[str, Path]]) -> None:
    clone, files = project
    glassworks = str(BIN / "glassworks")
    shown = run_in(
        [glassworks, "add-dataset", str(files[TEXT]), "--label", "sentiment", "--text", "review",
         "--name", TEXT],
        clone,
    )  # fmt: skip
    assert "modality text, task binary" in shown
    assert "tracked by data/raw/csv.dvc" in shown
    run_in([glassworks, "add-dataset", str(files[TABULAR]), "--label", "class"], clone)
    for name in ("pima-lines", "pima-table", "pima-tabs", "pima-saved"):
        run_in([glassworks, "add-dataset", str(files[name]), "--label", "class", "--name", name],
               clone)  # fmt: skip
    shown = run_in([glassworks, "add-dataset", str(files[REGRESSION]), "--no-header", "--label",
                    "column_11"], clone)  # fmt: skip
    assert "modality tabular, task regression (inferred)" in shown
    params = yaml.safe_load((clone / "params.yaml").read_text())
    assert params["prepare"]["datasets"][TABULAR] == {
        "source": "arff",
        "path": "pima.arff",
        "label": "class",
    }
    assert params["prepare"]["datasets"]["pima-saved"]["source"] == "hf"
    assert TEXT in params["embed"]["datasets"]
    assert params["train_text"]["runs"][f"{TEXT}-small"] == {"dataset": TEXT, "model": "small"}
    assert TABULAR in params["train_tabular"]["datasets"]
    assert TABULAR in params["audit_tabular"]["datasets"]
    for source in ("csv", "arff", "jsonl", "parquet", "tsv", "hf"):
        assert (clone / "data" / "raw" / f"{source}.dvc").is_file(), source
    # the same name twice: one error, nothing changed
    before = (clone / "params.yaml").read_text()
    again = run_in([glassworks, "add-dataset", str(files[TABULAR]), "--label", "class"], clone,
                   check=False)  # fmt: skip
    assert "error: prepare.datasets: 'pima' exists already" in again
    assert (clone / "params.yaml").read_text() == before

    # every format prepares to the same splits
    dvc = str(BIN / "dvc")
    names = [TABULAR, "pima-lines", "pima-table", "pima-tabs", "pima-saved"]
    run_in([dvc, "repro", *(f"prepare@{n}" for n in names)], clone)
    ref = {
        s: pl.read_parquet(clone / "data/prepared" / TABULAR / f"{s}.parquet")
        for s in ("train", "valid", "test")
    }
    for name in names[1:]:
        for s, frame in ref.items():
            assert pl.read_parquet(clone / "data/prepared" / name / f"{s}.parquet").equals(frame)

    _small(clone / "params.yaml")
    stages = [
        f"embed@{TEXT}",
        f"train_embgam@{TEXT}",
        f"explain@embgam-{TEXT}",
        f"train_text@{TEXT}-small",
        f"explain_text@{TEXT}-small",
        *(
            f"train_tabular@{d}-{m}"
            for d in (TABULAR, REGRESSION)
            for m in ("inn", "tabresnet", "decision_tree")
        ),
        f"audit_tabular@{TABULAR}",
        f"audit_tabular@{REGRESSION}",
    ]
    run_in([dvc, "repro", *stages], clone)
    run_in([dvc, "repro", "-s", "compare_tabular"], clone)
    run_in([dvc, "repro", "-s", "report"], clone)

    metrics = clone / "metrics"
    embgam = json.loads((metrics / "train_embgam" / f"{TEXT}.json").read_text())
    assert 0.0 <= embgam["embgam"]["accuracy"] <= 1.0
    assert (clone / "data/explanations/text" / f"{TEXT}-small").is_dir()
    explained = json.loads((metrics / "explain" / f"embgam-{TEXT}.json").read_text())
    assert explained["ig_vs_exact_max_abs"] < 1e-6  # IG equals Emb-GAM's exact contributions
    inn = json.loads((metrics / "train_tabular" / "inn" / f"{TABULAR}.json").read_text())
    assert 0.5 < inn["test_auroc"]["mean"] <= 1.0
    assert (clone / "data/explanations/tabular" / TABULAR).is_dir()
    champions = {
        r["dataset"]: r for r in json.loads((clone / "reports/champions.json").read_text())
    }
    reg = json.loads((metrics / "train_tabular" / "inn" / f"{REGRESSION}.json").read_text())
    assert 0 < reg["test_rmse"]["mean"] < 77.1  # beats the target's sd (predicting the mean)
    assert champions[REGRESSION]["metric"] == "valid_rmse"
    for dataset, task in ((TEXT, "text"), (TABULAR, "tabular"), (REGRESSION, "tabular")):
        row = champions[dataset]
        assert row["name"] == f"glassworks-{task}-{dataset}"
        assert row["version"] == 1
        # the store the stages used (not mlflow's process-wide URI, which other tests may set)
        client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
        version = client.get_model_version_by_alias(row["name"], "champion")
        assert version.run_id == row["run_id"]
    status = run_in([dvc, "status", *stages], clone, stdout_only=True)
    assert "changed" not in status
