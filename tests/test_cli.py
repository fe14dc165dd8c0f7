import json
from pathlib import Path

from rich.console import Console

from glassworks import cli
from glassworks.selection import RULE


def test_summary_table(tmp_path: Path) -> None:
    d = tmp_path / "metrics" / "prepare"
    d.mkdir(parents=True)
    (d / "sst2.json").write_text(
        json.dumps(
            {
                "rows": {"train": 60614, "valid": 6735, "test": 872, "total": 68221},
                "class_counts": {"train": {"negative": 1, "positive": 2}},
                "dropped": {"duplicates": 3},
            }
        )
    )
    console = Console(record=True, width=150)
    assert cli.summary(tmp_path, console) == 0
    text = console.export_text()
    for expected in ("sst2", "60,614", "872", "duplicates 3"):
        assert expected in text
    assert "make ui" in text


def test_summary_without_metrics(tmp_path: Path) -> None:
    console = Console(record=True)
    assert cli.summary(tmp_path, console) == 1
    assert "make run" in console.export_text()


def test_summary_model_tables(tmp_path: Path) -> None:
    d = tmp_path / "metrics" / "train_embgam"
    d.mkdir(parents=True)
    acc = {"accuracy": 0.8, "macro_f1": 0.7}
    (d / "sst2.json").write_text(
        json.dumps({"embgam": {**acc, "qwk": 0.5}, "bag_of_ngrams": acc, "majority": acc})
    )
    e = tmp_path / "metrics" / "embed"
    e.mkdir()
    (e / "sst2.json").write_text(
        json.dumps(
            {
                "texts": 1234,
                "ngrams_total": 1000,
                "ngrams_unique": 100,
                "unique_ratio": 0.1,
            }
        )
    )
    console = Console(record=True, width=200)
    assert cli.summary(tmp_path, console) == 0
    text = console.export_text()
    for expected in ("0.800 (0.700)", "0.500", "1,000", "1,234"):
        assert expected in text


def test_summary_explain_and_generic_tables(tmp_path: Path) -> None:
    d = tmp_path / "metrics" / "explain"
    d.mkdir(parents=True)
    (d / "mlp-x.json").write_text(
        json.dumps(
            {
                "ig_completeness_relative": {"max": 2.5e-7, "median": 1e-9},
                "eg_completeness_relative": {"median": 0.02},
            }
        )
    )
    g = tmp_path / "metrics" / "train_mlp"
    g.mkdir()
    (g / "x.json").write_text(json.dumps({"accuracy": 0.75, "f1_per_class": {"a": 1.0}}))
    console = Console(record=True, width=220)
    assert cli.summary(tmp_path, console) == 0
    text = console.export_text()
    for expected in ("mlp-x", "2.5e-07", "0.020", "0.750"):
        assert expected in text
    assert "f1 per class" not in text


def test_summary_text_tables(tmp_path: Path) -> None:
    for stage, name, data in (
        (
            "train_text",
            "sst2-minilm",
            {
                "seeds": [0, 1, 2],
                "valid_accuracy": {"mean": 0.871, "sd": 0.004, "ci95": [0.867, 0.874], "n": 3},
                "test_accuracy": {"mean": 0.8819, "sd": 0.003, "ci95": [0.879, 0.885], "n": 3},
                "n_train": 6000,
            },
        ),
        (
            "explain_text",
            "sst2-minilm",
            {
                "ig": {"deletion_auc": 0.21, "insertion_auc": 0.8, "completeness_rel_max": 2e-5},
                "random": {"deletion_auc": 0.55, "insertion_auc": 0.5},
            },
        ),
    ):
        d = tmp_path / "metrics" / stage
        d.mkdir(parents=True)
        (d / f"{name}.json").write_text(json.dumps(data))
    console = Console(record=True, width=200)
    assert cli.summary(tmp_path, console) == 0
    text = console.export_text()
    for expected in ("0.882 ± 0.003 [0.879, 0.885]", "0.871 ± 0.004", "6,000", "0.210 / 0.800",
                     "0.550 / 0.500", "2.0e-05", RULE[:40]):  # fmt: skip
        assert expected in text


def test_summary_cdep_tables(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    (m / "train_cdep" / "gender").mkdir(parents=True)
    acc = {"mean": 0.752, "sd": 0.01, "ci95": [0.741, 0.76], "n": 3}
    (m / "train_cdep" / "gender" / "lstm-cdep.json").write_text(
        json.dumps(
            {
                "chosen": {
                    "lambda": 3.0,
                    "seeds": [0, 1, 2],
                    "test_accuracy": acc,
                    "valid_accuracy": acc,
                    "ig_mass": acc,
                },
                "runs": [],
            }
        )  # fmt: skip
    )
    diff = {"mean": 0.02, "sd": 0.01, "ci95": [0.01, 0.03], "n": 3}
    wide = {"mean": 0.02, "sd": 0.4, "ci95": [-0.05, 0.09], "n": 117}
    (m / "compare_cdep.json").write_text(
        json.dumps(
            {
                "selection": {"metric": "valid_accuracy", "rule": RULE},
                "gender.lstm": {
                    "comparisons": [
                        {
                            "a": "lstm-cdep",
                            "b": "lstm-none",
                            "seeds": {"difference": diff},
                            "examples": {"difference": wide},
                            "verdict": "no significant difference",
                        }  # fmt: skip
                    ]
                },
            }
        )
    )
    console = Console(record=True, width=250)
    assert cli.summary(tmp_path, console) == 0
    text = console.export_text()
    for expected in ("0.752 ± 0.010 [0.741, 0.760]", "lstm-cdep − lstm-none",
                     "+0.020 [-0.050, +0.090]", "no significant difference"):  # fmt: skip
        assert expected in text


def test_summary_tabular_tables(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    for method, auroc in (("inn", 0.91), ("catboost", 0.93)):
        (m / "train_tabular" / method).mkdir(parents=True)
        (m / "train_tabular" / method / "openml-31.json").write_text(
            json.dumps({"test_auroc": {"mean": auroc, "std": 0.01, "per_seed": [auroc]}})
        )
    (m / "audit_tabular").mkdir()
    scores = {"spearman": 0.42, "top_k_overlap": 0.5}
    (m / "audit_tabular" / "openml-31.json").write_text(
        json.dumps({"inn": {"ig": scores}, "tabresnet": {"ig": {"faithfulness": 0.93}}})
    )
    (m / "compare_tabular.json").write_text(
        json.dumps(
            {
                "n_datasets": 1,
                "critical_difference": 1.39,
                "reference": "decision_tree",
                "mean_rank": {"inn": 2.0, "catboost": 1.0},
                "mean_auroc": {"inn": 0.91, "catboost": 0.93},
                "mean_normalized_auroc": {"inn": 1.2, "catboost": 1.25},
            }
        )
    )
    console = Console(record=True, width=250)
    assert cli.summary(tmp_path, console) == 0
    text = console.export_text()
    for expected in ("0.9100 ± 0.0100", "0.9300 ± 0.0100", "0.420", "0.930", "CD 1.39"):
        assert expected in text
    assert text.index("catboost", text.index("compare_tabular")) < text.index(
        "inn", text.index("compare_tabular")
    )


def test_summary_timings_from_the_mlflow_store(tmp_path: Path) -> None:
    """``summary --timings`` reads the stage runs of the (test) store: the latest run per name,
    nested runs left out, a running stage shown as such, slowest first, then per stage."""
    from mlflow.tracking import MlflowClient

    from glassworks import tracking

    client = MlflowClient(tracking.tracking_uri(tmp_path))

    def log(stage: str, item: str, start: int, seconds: int | None, status: str = "FINISHED",
            name: str | None = None, parent: str | None = None) -> str:  # fmt: skip
        exp = client.get_experiment_by_name(stage)
        exp_id = exp.experiment_id if exp else client.create_experiment(stage)
        tags = {"glassworks.stage": stage, "glassworks.item": item}
        if parent:
            tags["mlflow.parentRunId"] = parent
        r = client.create_run(exp_id, start_time=start * 1000, tags=tags,
                              run_name=name or f"{stage}@{item}")  # fmt: skip
        if seconds is not None:
            client.set_terminated(r.info.run_id, status, end_time=(start + seconds) * 1000)
        return r.info.run_id

    base = 1_700_000_000
    log("prepare", "sst2", base, 600)  # replaced by the rerun below
    log("prepare", "sst2", base + 1000, 7)
    parent = log("train_text", "sst2-small", base + 10, 83, name="sst2-small#0")
    log("train_text", "sst2-small", base + 20, 500, name="child", parent=parent)
    log("train_text", "sst2-small", base + 100, 3700, name="sst2-small#1", status="FAILED")
    log("embed", "sst2", base + 200, None)  # still RUNNING
    client.create_run(client.create_experiment("untagged"), start_time=base * 1000)

    console = Console(record=True, width=150)
    assert cli.timings(tmp_path, console) == 0
    text = console.export_text()
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines()]
    rows = [c for c in cells if len(c) == 5]
    assert rows[:4] == [
        ["train_text@sst2-small", "2", "1h 03m 03s", "99.8%", "1 FAILED"],
        ["prepare@sst2", "1", "7.0s", "0.2%", "FINISHED"],  # the rerun replaced the 600 s run
        ["embed@sst2", "1", "—", "—", "RUNNING"],
        ["total", "4", "1h 03m 10s", "100.0%", ""],  # 83 s + 3700 s + 7 s; the child left out
    ]
    assert rows[4:] == [
        ["train_text", "1", "2", "1h 03m 03s", "99.8%"],
        ["prepare", "1", "1", "7.0s", "0.2%"],
        ["embed", "1", "1", "—", "—"],
        ["total", "3", "4", "1h 03m 10s", "100.0%"],
    ]
    assert "child" not in text
    assert "RUNNING runs count no time" in text


def test_summary_timings_without_runs(tmp_path: Path) -> None:
    console = Console(record=True, width=150)
    assert cli.timings(tmp_path, console) == 1
    assert "No stage runs" in console.export_text()


def test_summary_timings_flag_is_parsed(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    seen = []
    monkeypatch.setattr(cli, "timings", lambda root, console: seen.append(root) or 0)
    assert cli.main(["summary", "--timings", "--root", str(tmp_path)]) == 0
    assert seen == [tmp_path]


def test_summary_timings_reads_runs_from_before_the_item_tag(tmp_path: Path) -> None:
    """A run logged before ``glassworks.item`` existed gives its ``glassworks.dataset`` tag."""
    from mlflow.tracking import MlflowClient

    from glassworks import tracking

    client = MlflowClient(tracking.tracking_uri(tmp_path))
    tags = {"glassworks.stage": "embed", "glassworks.dataset": "sst2"}
    r = client.create_run(client.create_experiment("embed"), start_time=1_000, tags=tags)
    client.set_terminated(r.info.run_id, end_time=43_000)
    (record,) = tracking.stage_run_records(tmp_path)
    assert (record["item"], record["start_ms"], record["end_ms"]) == ("sst2", 1_000, 43_000)
    console = Console(record=True, width=150)
    assert cli.timings(tmp_path, console) == 0
    assert "embed@sst2" in console.export_text()


def test_summary_timings_store_unavailable(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////nonexistent-dir/sub/mlflow.db")
    console = Console(record=True, width=150)
    assert cli.timings(tmp_path, console) == 1
    assert "nonexistent-dir" in console.export_text()
