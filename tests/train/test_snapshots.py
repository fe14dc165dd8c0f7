import numpy as np
import pytest
import torch
from torch import nn

from glassworks.train.snapshots import augment, oversample_indices, train_snapshots


def test_oversampling_balances_every_class() -> None:
    labels = np.array([0] * 50 + [1] * 5 + [2] * 20)
    idx = oversample_indices(labels, np.random.default_rng(0))
    counts = np.bincount(labels[idx])
    assert counts.tolist() == [50, 50, 50]
    assert set(idx[labels[idx] == 0]) == set(range(50))  # the majority is kept as is


def test_mixup_and_cutmix_mix_labels_like_inputs() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6)
    y = torch.eye(3)[torch.randint(0, 3, (64,))]
    for kind in ("mixup", "cutmix"):
        xa, ya = augment(kind, x, y, gen)
        assert xa.shape == x.shape
        np.testing.assert_allclose(ya.sum(1).numpy(), 1.0, atol=1e-6)
        assert not torch.equal(xa, x)


def test_cutout_only_zeroes_features_and_keeps_labels() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 10)
    y = torch.ones(200, 1)
    xa, ya = augment("cutout", x, y, gen)
    changed = xa != x
    assert bool((xa[changed] == 0).all())
    assert 0.1 < changed.float().mean() < 0.3
    assert torch.equal(ya, y)


def test_fgsm_moves_along_the_loss_gradient_sign() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 3)
    y = torch.zeros(4, 1)
    grad = torch.tensor([[1.0, -2.0, 0.5]]).expand(4, 3)
    xa, _ = augment("fgsm", x, y, gen, lambda a, b: grad)
    assert torch.all(torch.sign(xa) == torch.sign(grad))


def test_unknown_augmentation_is_named() -> None:
    with pytest.raises(ValueError, match="unknown kind 'flip'"):
        augment("flip", torch.zeros(2, 2), torch.zeros(2, 1), torch.Generator())


def test_schedule_warms_up_restarts_and_snapshots() -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    module = nn.Linear(3, 1)

    def loss(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(m(xb), yb)

    fit = train_snapshots(
        module,
        loss,
        x,
        y,
        epochs=11,
        batch_size=16,
        lr=0.1,
        weight_decay=0.0,
        warmup_epochs=2,
        nr_restarts=3,
    )
    assert len(fit.snapshots) == 3
    # the lr in force after each epoch: warm-up reaches the peak at epoch 2, three cosine
    # cycles of 3 epochs follow, each restarting at the peak
    lrs = [h["lr"] for h in fit.history]
    assert lrs[0] == pytest.approx(0.1 * 5 / 8, rel=1e-6)  # step 4 of an 8-step linear warm-up
    for start in (1, 4, 7):
        assert lrs[start] == pytest.approx(0.1, rel=1e-6)
        assert lrs[start] > lrs[start + 1] > lrs[start + 2]
    assert lrs[start + 1] == pytest.approx(0.075, rel=1e-6)  # 0.1 * (1 + cos(pi / 3)) / 2
    assert lrs[-1] == 0.0
    assert fit.history[-1]["loss"] < fit.history[0]["loss"]
    snap = [s["weight"] for s in fit.snapshots]
    assert not torch.equal(snap[0], snap[2])


def test_too_few_epochs_is_refused() -> None:
    with pytest.raises(ValueError, match="warmup_epochs"):
        train_snapshots(
            nn.Linear(2, 1),
            lambda m, a, b: m(a).sum(),
            np.zeros((4, 2)),
            np.zeros((4, 1)),
            epochs=3,
            batch_size=2,
            lr=0.1,
            weight_decay=0,
            warmup_epochs=2,
            nr_restarts=2,
        )
