"""The explanation card per champion: self-contained (figures as data URIs, highlights in a
sandboxed srcdoc frame), escaped, with the faithfulness and audit tables it finds."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from glassworks.report.card import card_inputs, model_card, write_cards

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _text_outputs(root: Path) -> None:
    folder = root / "data/explanations/text/run-a"
    folder.mkdir(parents=True)
    (folder / "deletion.png").write_bytes(PNG)
    (folder / "interactions_0.png").write_bytes(PNG)
    (folder / "faithfulness_comparison.csv").write_text("metric,winner\ndeletion_auc,lime\n")
    (folder / "highlights.html").write_text(
        "<html><body><span title='+0.1'>good</span> \"quoted\" <script>x()</script></body></html>"
    )
    metrics = root / "metrics/explain_text"
    metrics.mkdir(parents=True)
    (metrics / "run-a.json").write_text(json.dumps({
        "ig": {"deletion_auc": 0.08, "insertion_auc": 0.94, "completeness_rel_max": 1e-5},
        "random": {"deletion_auc": 0.56, "insertion_auc": 0.56},
    }))  # fmt: skip


ROW = {
    "name": "glassworks-text-toy<b>", "version": 2, "dataset": "toy", "stage": "train_text",
    "stage_item": "run-a", "run_name": "run-a#0", "metric": "valid_accuracy", "value": 0.8,
    "test_metric": "test_accuracy", "test": {"mean": 0.79, "ci95": [0.77, 0.81]},
    "gate": {"passed": True, "reason": "passed: drift 0.00"},
}  # fmt: skip


def test_text_card_is_self_contained_and_escaped(tmp_path: Path) -> None:
    _text_outputs(tmp_path)
    inputs = card_inputs(ROW, tmp_path)
    assert [p.name for p in inputs.figures] == ["deletion.png", "interactions_0.png"]
    page = model_card(ROW, inputs)
    assert "glassworks-text-toy&lt;b&gt; · version 2" in page
    assert page.count("data:image/png;base64,") == 2
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched
    assert "<iframe sandbox" in page
    frame = page.split('srcdoc="', 1)[1].split('"></iframe>', 1)[0]
    assert "<" not in frame  # the inner page is escaped into the attribute
    assert "&lt;script&gt;" in frame
    assert "0.080" in page  # IG deletion AUC
    assert "1.00e-05" in page  # completeness
    assert "lime" in page  # the paired comparison table
    assert "passed: drift 0.00" in page
    assert "0.7900 [0.7700, 0.8100]" in page


def test_tabular_card_and_rows_without_a_version(tmp_path: Path) -> None:
    folder = tmp_path / "data/explanations/tabular/credit"
    folder.mkdir(parents=True)
    (folder / "inn_contributions.png").write_bytes(PNG)
    (folder / "audit.csv").write_text("explainer,spearman\nig,0.79\n")
    row = {"name": "glassworks-tabular-credit", "version": 1, "dataset": "credit",
           "stage": "train_tabular", "stage_item": "credit-inn", "metric": "valid_auroc",
           "value": 0.9}  # fmt: skip
    written = write_cards([row, {**row, "name": "unregistered", "version": None}],
                          tmp_path, tmp_path / "cards")  # fmt: skip
    assert list(written) == ["glassworks-tabular-credit"]
    page = written["glassworks-tabular-credit"].read_text()
    assert "Explainers against INN&#x27;s exact decomposition" in page
    assert "0.79" in page
    assert page.count("data:image/png;base64,") == 1
    empty = model_card({"name": "m"}, card_inputs({"stage": "train_tabular"}, tmp_path / "none"))
    assert "No explanation outputs found" in empty
