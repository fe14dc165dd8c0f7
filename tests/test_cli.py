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
