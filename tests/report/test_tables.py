"""The table specs: one per stage that writes metrics, each read by ``glassworks summary`` and the
``report`` stage."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from glassworks import cli
from glassworks.errors import DataError
from glassworks.report.overview import metrics_tables, text_table
from glassworks.report.tables import (
    NOT_SUMMARISED,
    SPECS,
    TRAIN_TEXT,
    flatten,
    read_sources,
    render,
    summary_tables,
)

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _summ(mean: float, n: int = 3) -> dict[str, Any]:
    return {"mean": mean, "sd": 0.01, "ci95": [mean - 0.01, mean + 0.01], "n": n}


def _metrics_outputs() -> dict[str, list[str]]:
    """``dvc.yaml``: each stage's metrics paths, ``${...}`` as ``*``."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    out: dict[str, list[str]] = {}
    for stage, body in stages.items():
        body = body.get("do", body)
        for entry in body.get("metrics", []):
            path = next(iter(entry)) if isinstance(entry, dict) else entry
            out.setdefault(stage, []).append(re.sub(r"\$\{[^}]+\}", "*", path))
    return out


def test_every_stage_with_metrics_has_a_spec_in_pipeline_order() -> None:
    outputs = _metrics_outputs()
    assert outputs, "dvc.yaml declares no metrics"
    assert not set(SPECS) & NOT_SUMMARISED
    assert set(outputs) == set(SPECS) | NOT_SUMMARISED
    assert list(SPECS) == [s for s in outputs if s in SPECS]  # dvc.yaml order
    for stage, spec in SPECS.items():
        where = f"metrics/{stage}/{spec.files}" if spec.files else f"metrics/{stage}.json"
        assert outputs[stage] == [where], stage  # the spec reads what the stage writes


def test_every_spec_fills_its_columns_on_the_committed_metrics() -> None:
    """A renamed key in a stage's output shows up as a column of only ``-``."""
    for stage, spec in SPECS.items():
        sources = read_sources(spec, REPO / "metrics")
        assert sources, f"no committed metrics for {stage}"
        table = render(spec, sources)
        assert table.rows, stage
        for i, label in enumerate(table.labels):
            cells = {row[i] for row in table.rows}
            assert cells - {"-", "- / -"}, f"{stage}: column {label!r} is empty"


@pytest.fixture
def metrics(tmp_path: Path) -> Path:
    """A metrics tree with a file or two per stage (and a folder no spec knows)."""
    m = tmp_path / "metrics"
    rows = {"train": 60614, "valid": 6735, "test": 872, "total": 68221}
    dropped = {"duplicates": 3, "no_text": 0}
    classes = {"train": {"neg": 1, "pos": 2}}
    _write(m / "prepare/sst2.json", {"rows": rows, "class_counts": classes, "dropped": dropped})
    text = {"valid_accuracy": _summ(0.871), "test_accuracy": _summ(0.882), "n_train": 6000}
    _write(m / "train_text/sst2-minilm.json", {"seeds": [0, 1, 2], **text})
    chosen = {"lambda": 3.0, "seeds": [0, 1], "valid_accuracy": _summ(0.7),
              "test_accuracy": _summ(0.6, n=1), "ig_mass": _summ(0.1)}  # fmt: skip
    _write(m / "train_cdep/gender/lstm-cdep.json", {"chosen": chosen})
    _write(m / "train_cdep/gender/lstm-none.json", {"runs": []})  # no choice yet: no row
    for method, dataset, auroc in (
        ("inn", "openml-31", 0.91),
        ("catboost", "openml-31", 0.93),
        ("catboost", "openml-37", 0.8),
    ):
        _write(m / f"train_tabular/{method}/{dataset}.json",
               {"test_auroc": {"mean": auroc, "std": 0.01}})  # fmt: skip
    ig = {"deletion_auc": 0.21, "insertion_auc": 0.8, "completeness_rel_max": 2e-5}
    _write(
        m / "explain_text/a.json", {"ig": ig, "random": {"deletion_auc": 0.5, "insertion_auc": 0.5}}
    )
    _write(m / "explain_text/b.json", {"eg": {"deletion_auc": 0.3, "insertion_auc": 0.7}})
    agree = {"full_model": {"means": {"ig": {"spearman": 0.5}}},
             "frozen_hypernetwork": {"means": {"ig": {"spearman": 1.0}}}}  # fmt: skip
    tabresnet = {"ig": {"faithfulness": 0.9}}
    _write(m / "audit_tabular/new.json", {"agreement_with_inn_decomposition": agree,
           "inn": {"ig": {"spearman": 0.1}}, "tabresnet": tabresnet})  # fmt: skip
    _write(m / "audit_tabular/old.json", {"inn": {"eg": {"spearman": 0.25}}, "tabresnet": {}})
    _write(m / "compare_tabular.json", {"n_datasets": 2, "critical_difference": 1.386,
           "reference": "decision_tree", "mean_rank": {"inn": 2.0, "catboost": 1.0},
           "mean_auroc": {"inn": 0.91, "catboost": 0.93},
           "mean_normalized_auroc": {"inn": 1.2}})  # fmt: skip
    comparisons = [
        {"a": "lstm-cdep", "b": "lstm-none", "seeds": {"difference": _summ(0.02)},
         "examples": {"difference": {"mean": 0.02, "ci95": [-0.05, 0.09]}},
         "verdict": "no significant difference"},
        {"a": "lstm-rrr", "b": "lstm-none", "seeds": {"difference": _summ(0.1)},
         "examples": None, "verdict": "lstm-rrr beats lstm-none"},
    ]  # fmt: skip
    _write(m / "compare_cdep.json",
           {"selection": {"rule": "x"}, "gender.lstm": {"comparisons": comparisons}})  # fmt: skip
    _write(m / "brand_new/x.json", {"score": 0.5, "n": 3, "per": {"a": 1e-5}, "flag": True})
    return m


def _table(metrics: Path, stage: str) -> dict[str, Any]:
    (table,) = (t for t in summary_tables(metrics) if t.stage == stage)
    return {"labels": table.labels, "rows": [list(r) for r in table.rows], "title": table.title}


def test_rows_named_and_formatted_by_each_spec(metrics: Path) -> None:
    t = _table(metrics, "prepare")
    assert t["rows"] == [["sst2", "60,614", "6,735", "872", "68,221", "2", "duplicates 3"]]
    t = _table(metrics, "train_text")
    assert t["labels"][:3] == ("run", "seeds", "valid accuracy")
    assert t["rows"] == [["sst2-minilm", "3", "0.871 ± 0.010 [0.861, 0.881]",
                          "0.882 ± 0.010 [0.872, 0.892]", "-", "-", "6,000"]]  # fmt: skip
    t = _table(metrics, "train_cdep")  # variant / model / penalty from the path; no choice no row
    assert t["rows"] == [["gender", "lstm", "cdep", "3", "0.700 ± 0.010 [0.690, 0.710]",
                          "0.600 (1 seed)", "0.100 ± 0.010 [0.090, 0.110]", "2"]]  # fmt: skip
    t = _table(metrics, "train_tabular")  # datasets x methods, a missing pair is "-"
    assert t["labels"] == ("dataset", "catboost", "inn")
    assert t["rows"] == [["openml-31", "0.9300 ± 0.0100", "0.9100 ± 0.0100"],
                         ["openml-37", "0.8000 ± 0.0100", "-"]]  # fmt: skip
    t = _table(metrics, "explain_text")  # a method's column only where some run has it
    assert t["labels"] == ("run", "IG", "EG", "random", "IG completeness (rel.)")
    assert t["rows"] == [["a", "0.210 / 0.800", "-", "0.500 / 0.500", "2.0e-05"],
                         ["b", "-", "0.300 / 0.700", "-", "-"]]  # fmt: skip
    t = _table(metrics, "audit_tabular")  # older files: agreement of f under "inn"
    assert t["rows"][0][1] == "0.500 / 1.000"
    assert t["rows"][0][5] == "0.900"
    assert t["rows"][1][:3] == ["old", "- / -", "0.250 / -"]
    t = _table(metrics, "compare_tabular")  # best rank first; the reference in a header
    assert "Nemenyi CD 1.39" in t["title"]
    assert t["labels"][2] == "AUROC / decision_tree"
    assert t["rows"] == [["catboost", "0.930", "-", "1.000"], ["inn", "0.910", "1.200", "2.000"]]
    t = _table(metrics, "compare_cdep")
    assert t["rows"] == [
        ["gender · lstm", "lstm-cdep − lstm-none", "0.020 ± 0.010 [0.010, 0.030]",
         "+0.020 [-0.050, +0.090]", "no significant difference"],
        ["gender · lstm", "lstm-rrr − lstm-none", "0.100 ± 0.010 [0.090, 0.110]", "-",
         "lstm-rrr beats lstm-none"],
    ]  # fmt: skip


def test_table_order_and_a_folder_without_a_spec(metrics: Path) -> None:
    stages = [t.stage for t in summary_tables(metrics)]
    folders = sorted(p.name for p in metrics.iterdir() if p.is_dir())
    assert stages == [*folders, "compare_cdep", "compare_tabular"]
    t = _table(metrics, "brand_new")  # its numeric leaves (booleans are not numbers)
    assert t["labels"] == ("dataset", "n", "per.a", "score")
    assert t["rows"] == [["x", "3", "1.0e-05", "0.500"]]
    assert summary_tables(metrics.parent / "nothing") == []


def test_cli_and_report_render_the_same_spec(metrics: Path) -> None:
    console = Console(record=True, width=300)
    assert cli.summary(metrics.parent, console) == 0
    printed = console.export_text()
    for table in summary_tables(metrics):
        assert table.title[:30] in printed
        for row in table.rows:
            assert all(cell in printed for cell in row)
    report = text_table(metrics)  # the report's text table: the same spec, without n train
    rendered = render(TRAIN_TEXT, read_sources(TRAIN_TEXT, metrics) or [])
    assert report == rendered.without("n train").markdown()
    assert report.splitlines()[0] == "| run | seeds | " + " | ".join(rendered.labels[2:6]) + " |"
    assert "| sst2-minilm | 3 | 0.871 ± 0.010 [0.861, 0.881] |" in report


def test_markdown_inventory_keeps_dotted_keys_and_paths(metrics: Path) -> None:
    text = metrics_tables(metrics)
    assert "### brand_new\n\n| file | n | per.a | score |\n|---|---:|---:|---:|" in text
    assert "| brand_new/x.json | 3 | 1e-05 | 0.5 |" in text
    assert "| train_tabular/inn/openml-31.json |" in text


def test_a_damaged_metrics_file_is_named(metrics: Path) -> None:
    (metrics / "train_text" / "sst2-minilm.json").write_text("{not json")
    with pytest.raises(DataError, match=r"sst2-minilm\.json: not valid JSON"):
        summary_tables(metrics)
    with pytest.raises(DataError, match=r"sst2-minilm\.json: not valid JSON"):
        metrics_tables(metrics)


def test_flatten() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": [1]}, "e": 2}) == {"a.b.c": 1, "a.d": [1], "e": 2}


def test_regression_rows_show_rmse(tmp_path: Path) -> None:
    """A regression dataset's Emb-GAM and tabular cells read RMSE where classes read accuracy or
    AUROC; the train-mean column appears only with a regression."""
    cls = {"accuracy": 0.8, "macro_f1": 0.7}
    reg = {"rmse": 12.5, "r2": 0.25}
    _write(
        tmp_path / "train_embgam" / "cls.json",
        dict.fromkeys(("embgam", "bag_of_ngrams", "majority"), cls),
    )
    _write(
        tmp_path / "train_embgam" / "reg.json",
        dict.fromkeys(("embgam", "bag_of_ngrams", "train_mean"), reg),
    )
    _write(tmp_path / "train_tabular" / "inn" / "reg.json",
           {"test_rmse": {"mean": 55.25, "std": 1.5}})  # fmt: skip
    tables = {t.stage: t for t in summary_tables(tmp_path)}
    emb = tables["train_embgam"]
    assert emb.labels == ("dataset", "Emb-GAM", "bag-of-n-grams", "majority", "train mean",
                          "Emb-GAM QWK")  # fmt: skip
    acc, rmse = "0.800 (0.700)", "RMSE 12.5 (0.250)"
    assert [list(r) for r in emb.rows] == [["cls", acc, acc, acc, "-", "-"],
                                           ["reg", rmse, rmse, "-", rmse, "-"]]  # fmt: skip
    assert [list(r) for r in tables["train_tabular"].rows] == [["reg", "RMSE 55.25 ± 1.5"]]


def test_compare_tabular_with_regression_only(tmp_path: Path) -> None:
    """Only regression datasets: the comparison table reads the ``regression`` entry (lower RMSE
    ranks first) instead of failing on the absent classification keys."""
    reg = {"n_datasets": 1, "critical_difference": 2.5, "mean_rank": {"inn": 2.0, "ebm": 1.0},
           "mean_rmse": {"inn": 50.0, "ebm": 40.0},
           "mean_normalized_rmse": {"inn": 0.9, "ebm": 0.8}}  # fmt: skip
    _write(tmp_path / "compare_tabular.json", {"reference": "decision_tree", "regression": reg})
    t = _table(tmp_path, "compare_tabular")
    assert "1 regression datasets, ranks by test RMSE, lower is better" in t["title"]
    assert t["labels"][2:4] == ("mean RMSE", "AUROC or RMSE / decision_tree")
    assert t["rows"][0][:3] == ["ebm (RMSE)", "-", "40.000"]
