from pathlib import Path

import numpy as np

from glassworks.explain.summary import EmbGamExplained, Explained
from glassworks.report.explanations import (
    audit_plots,
    embgam_explanation_plot,
    interaction_partner,
    tabular_explanation_plots,
)
from tests.explain.test_audit import _hand_audit


def test_interaction_partner_is_the_strongest_other_feature() -> None:
    ih = np.zeros((2, 3, 3))
    ih[:, 0, 0] = 9.0  # the feature itself never counts
    ih[0, 0, 2], ih[1, 0, 2] = -2.0, -2.0
    ih[0, 0, 1], ih[1, 0, 1] = 3.0, -1.5  # mean |.|: 2.25 against 2.0
    assert interaction_partner(ih, 0) == 1
    ih[1, 0, 1] = -0.5
    assert interaction_partner(ih, 0) == 2
    assert ih[0, 0, 0] == 9.0  # the input is not changed


def test_tabular_explanation_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ih = rng.normal(size=(10, 4, 4))
    res = Explained(list("abcd"), rng.normal(size=(10, 4)), rng.normal(size=(10, 4)),
                    rng.normal(size=(10, 4)), ih, np.zeros(10, dtype=int))  # fmt: skip
    tabular_explanation_plots(res, tmp_path, "toy", "expected")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "interactions.png", "scatter_top_feature.png", "summary_eg.png", "summary_ig.png",
        "top_interactions.png",
    ]  # fmt: skip


def test_embgam_and_audit_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 2, size=(5, 6)).astype(float)
    res = EmbGamExplained(list("uvwxyz"), counts, counts * 0.5, counts * 0.5, np.zeros(5), {})
    embgam_explanation_plot(res, tmp_path)
    audit_plots(_hand_audit(), tmp_path, "toy")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audit.png", "audit_frozen.png", "inn_contributions.png", "summary.png",
    ]  # fmt: skip
