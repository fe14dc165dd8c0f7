"""The overview page and the champion choice."""

from __future__ import annotations

import json
from pathlib import Path

from glassworks.report.overview import champions, champions_table, figure_links, metrics_tables


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_champions_pick_the_best_per_dataset_and_task(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    _write(m / "train_text/sst2-small.json", {"accuracy": 0.80, "macro_f1": 0.79})
    _write(m / "train_text/sst2-minilm.json", {"accuracy": 0.87, "macro_f1": 0.86})
    _write(m / "train_text/essays-small.json", {"accuracy": 0.49, "macro_f1": 0.40})
    _write(m / "train_tabular/inn/openml-31.json", {"test_auroc": {"mean": 0.66, "std": 0.02}})
    _write(m / "train_tabular/ebm/openml-31.json", {"test_auroc": {"mean": 0.70, "std": 0.01}})
    runs = {"sst2-small": "sst2", "sst2-minilm": "sst2", "essays-small": "essays"}
    got = {(c.task, c.dataset): c for c in champions(m, runs)}
    assert got["text", "sst2"].stage_item == "sst2-minilm"
    assert got["text", "sst2"].name == "glassworks-text-sst2"
    assert got["text", "essays"].value == 0.49
    tab = got["tabular", "openml-31"]
    assert (tab.run_name, tab.value) == ("ebm@openml-31#0", 0.70)
    table = champions_table([c.as_dict() | {"version": 3} for c in got.values()])
    assert "| glassworks-tabular-openml-31 | tabular | openml-31 | ebm@openml-31#0 |" in table


def test_metrics_tables_and_links(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    _write(m / "prepare/sst2.json", {"rows": {"train": 10, "test": 2}, "ok": True})
    _write(m / "prepare/essays.json", {"rows": {"train": 7}})
    _write(m / "compare_cdep.json", {"decoy": {"vanilla": 0.5}})
    text = metrics_tables(m)
    assert "### prepare" in text
    assert "| prepare/sst2.json | 10 | 2 |" in text
    assert "| prepare/essays.json | 7 |  |" in text  # missing leaves stay empty
    assert "### compare_cdep" in text
    figs = tmp_path / "data/reports/cdep"
    figs.mkdir(parents=True)
    (figs / "decoy.png").write_bytes(b"png")
    out = tmp_path / "reports"
    assert "(../data/reports/cdep/decoy.png)" in figure_links([tmp_path / "data/reports"], out)
