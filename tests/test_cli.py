import json
from pathlib import Path

from rich.console import Console

from glassworks import cli


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
