from pathlib import Path

import numpy as np

from glassworks.report.html import text_plot
from glassworks.report.plots import (
    bar_interaction_plot,
    matrix_interaction_plot,
    scatter_plot,
    summary_plot,
)


def test_text_plot_escapes_html() -> None:
    page = text_plot(["<script>alert(1)</script>", "ok"], [0.5, -0.2], "t <b>", "c&d")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "t &lt;b&gt;" in page
    assert "c&amp;d" in page
    assert "rgba(39,174,96" in page  # positive score: green
    assert "rgba(192,57,43" in page  # negative score: red


def test_plots_write_pngs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    labels = ["a", "b", "c", "d", "e"]
    matrix_interaction_plot(m, labels, tmp_path / "m.png")
    bar_interaction_plot(m, labels, tmp_path / "b.png", top_k=4)
    attr, vals = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    summary_plot(attr, vals, labels, tmp_path / "s.png")
    scatter_plot(attr, vals, labels, 0, tmp_path / "sc.png", color_by=2)
    for name in ("m", "b", "s", "sc"):
        data = (tmp_path / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.png", "m.png", "s.png", "sc.png"]
