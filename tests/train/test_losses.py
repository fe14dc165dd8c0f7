"""Losses: class weights, CORAL ordinal loss and its class probabilities."""

import numpy as np
import pytest
import torch

from glassworks.train.losses import (
    OrdinalLoss,
    balanced_class_weights,
    make_loss,
    ordinal_log_probs,
    ordinal_targets,
)


def test_balanced_weights_match_sklearn() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0, 0, 0, 0, 1, 2, 2])
    ours = balanced_class_weights(y, 3).numpy()
    ref = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert balanced_class_weights(np.array([0, 0, 2]), 3)[1] == 0  # absent class


def test_ordinal_targets_are_cumulative() -> None:
    t = ordinal_targets(torch.tensor([0, 2, 3]), 4)
    assert t.tolist() == [[0, 0, 0], [1, 1, 0], [1, 1, 1]]


def test_ordinal_log_probs_are_a_distribution() -> None:
    cum = torch.tensor([[3.0, 0.5, -2.0], [-1.0, -2.0, -4.0]])  # monotone decreasing
    p = ordinal_log_probs(cum).exp()
    torch.testing.assert_close(p.sum(1), torch.ones(2))
    s = torch.sigmoid(cum[0])
    torch.testing.assert_close(p[0], torch.stack([1 - s[0], s[0] - s[1], s[1] - s[2], s[2]]))


def test_ordinal_loss_is_mean_summed_bce() -> None:
    cum = torch.tensor([[1.0, -1.0], [2.0, 0.5]])
    y = torch.tensor([1, 2])
    manual = (
        -(
            torch.log(torch.sigmoid(torch.tensor(1.0)))
            + torch.log(1 - torch.sigmoid(torch.tensor(-1.0)))
            + torch.log(torch.sigmoid(torch.tensor(2.0)))
            + torch.log(torch.sigmoid(torch.tensor(0.5)))
        )
        / 2
    )
    torch.testing.assert_close(OrdinalLoss(3)(cum, y), manual)


def test_make_loss() -> None:
    y = np.array([0, 1, 1, 1])
    assert isinstance(make_loss("ordinal", y, 2), OrdinalLoss)
    weighted = make_loss("weighted_ce", y, 2)
    assert weighted.weight[0] > weighted.weight[1]
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge", y, 2)  # type: ignore[arg-type]
