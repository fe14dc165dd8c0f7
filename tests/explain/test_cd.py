"""Contextual decomposition: relevant + irrelevant == the model's output, for every layer type."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from glassworks.explain.cd import (
    RULES,
    UnsupportedLayerError,
    check_supported,
    contextual_decomposition,
    layers,
)
from glassworks.models.lstm import LastHiddenLSTM, LSTMTextModule
from glassworks.models.text_transformer import TextTransformer


def _fill(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BatchNorm statistics (so no rule is tested at a trivial point)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model.double().eval()


def _check(model: nn.Module, x: torch.Tensor, group: torch.Tensor, **kw: torch.Tensor) -> None:
    d = contextual_decomposition(model, x, group, **kw)
    expected = model(x, **kw) if kw else model(x)
    torch.testing.assert_close(d.total, expected, rtol=1e-10, atol=1e-10)
    # the decomposition is not trivial: both parts carry signal
    assert d.relevant.abs().max() > 1e-6
    assert d.irrelevant.abs().max() > 1e-6


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.1), nn.ELU(), nn.GELU(), nn.SiLU(), nn.Softplus(),
               nn.Tanh(), nn.Sigmoid()]  # fmt: skip


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: type(a).__name__)
def test_mlp_with_every_activation(act: nn.Module) -> None:
    model = _fill(nn.Sequential(nn.Linear(6, 8), act, nn.Dropout(0.3), nn.Linear(8, 3)))
    x = torch.randn(5, 6, dtype=torch.float64)
    group = torch.tensor([1, 0, 1, 0, 0, 1], dtype=torch.bool)
    _check(model, x, group)


def test_conv2d_batchnorm_pooling() -> None:
    model = _fill(
        nn.Sequential(
            nn.Conv2d(3, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 4, 3, padding=1),
            nn.Dropout2d(0.2),
            nn.AvgPool2d(2),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Linear(4, 2),
        )
    )
    x = torch.randn(3, 3, 10, 10, dtype=torch.float64)
    group = torch.zeros(3, 1, 10, 10, dtype=torch.bool)
    group[:, :, 2:6, 3:7] = True  # a pixel patch, all channels
    _check(model, x, group)


def test_conv1d_and_adaptive_pools() -> None:
    model = _fill(
        nn.Sequential(
            nn.Conv1d(2, 5, 3),
            nn.BatchNorm1d(5),
            nn.Tanh(),
            nn.MaxPool1d(2),
            nn.AvgPool1d(2),
            nn.AdaptiveAvgPool1d(2),
            nn.Flatten(),
            nn.Identity(),
            nn.Linear(10, 3),
        )
    )
    x = torch.randn(4, 2, 15, dtype=torch.float64)
    group = torch.zeros(1, 1, 15, dtype=torch.bool)
    group[..., 4:9] = True
    _check(model, x, group)


def test_nested_sequential_is_walked() -> None:
    inner = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    model = _fill(nn.Sequential(inner, nn.Sequential(nn.Linear(4, 2))))
    assert [p for p, _ in layers(model)] == ["model.0.0", "model.0.1", "model.1.0"]
    _check(model, torch.randn(3, 4, dtype=torch.float64), torch.tensor([True, False, True, False]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_text_model_any_token_group(seed: int) -> None:
    """The CDEP LSTM over right-padded texts of different lengths, random token groups."""
    torch.manual_seed(seed)
    model = _fill(LSTMTextModule(50, 2, embedding_dim=8, hidden_size=12, dropout=0.2), seed)
    ids = torch.randint(4, 50, (6, 11))
    mask = torch.ones_like(ids)
    for row, length in enumerate([11, 7, 3, 1, 9, 11]):
        ids[row, length:] = 0
        mask[row, length:] = 0
    group = (torch.rand(6, 11) < 0.4) & mask.bool()
    group[3, 0] = True  # a one-token text whose only token is the group
    _check(model, ids, group, attention_mask=mask)


def test_lstm_over_float_inputs_and_padding_is_ignored() -> None:
    """Float sequences work too, and padding after a text changes nothing."""
    model = _fill(nn.Sequential(LastHiddenLSTM(5, 7), nn.Linear(7, 2)))
    x = torch.randn(2, 6, 5, dtype=torch.float64)
    group = torch.zeros(2, 6, 1, dtype=torch.bool)
    group[:, 1] = True
    d_full = contextual_decomposition(model, x, group)
    torch.testing.assert_close(d_full.total, model(x), rtol=1e-10, atol=1e-10)
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[:, 6:] = 0
    padded = torch.cat([x, torch.randn(2, 2, 5, dtype=torch.float64)], 1)
    pgroup = torch.cat([group, torch.zeros(2, 2, 1, dtype=torch.bool)], 1)
    lstm, head = model[0], model[1]
    d_pad = contextual_decomposition(model, padded, pgroup, attention_mask=mask)
    torch.testing.assert_close(d_pad.relevant, d_full.relevant, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(d_pad.total, head(lstm(padded, mask)), rtol=1e-10, atol=1e-10)


def test_group_of_everything_or_nothing() -> None:
    """An empty group gives nothing to ``relevant`` from the inputs; the LSTM's bias terms stay
    with the irrelevant part, so relevant is exactly zero (no bias sneaks in)."""
    model = _fill(LSTMTextModule(30, 2, embedding_dim=6, hidden_size=5))
    ids = torch.randint(4, 30, (3, 5))
    none = contextual_decomposition(model, ids, torch.zeros_like(ids, dtype=torch.bool))
    assert none.relevant.abs().max() < 1e-12
    # every token in the group: irrelevant keeps only the head's bias share
    full = contextual_decomposition(model, ids, torch.ones_like(ids, dtype=torch.bool))
    torch.testing.assert_close(full.total, model(ids), rtol=1e-10, atol=1e-10)
    assert (full.relevant.abs() > full.irrelevant.abs()).all()


def test_decoy_model_puts_its_output_on_the_decoy() -> None:
    """A hand-built linear bag-of-embeddings model that reads only token 7: CD gives the decoy
    all of the non-bias output."""
    emb = nn.Embedding(10, 1)
    with torch.no_grad():
        emb.weight.zero_()
        emb.weight[7] = 3.0
    model = nn.Sequential(emb, nn.Flatten(), nn.Linear(4, 1, bias=False)).double()
    with torch.no_grad():
        model[2].weight.fill_(1.0)
    ids = torch.tensor([[1, 7, 2, 3]])
    with torch.no_grad():
        d = contextual_decomposition(model, ids, ids == 7)
    assert float(d.relevant) == pytest.approx(3.0)
    assert float(d.irrelevant) == pytest.approx(0.0)


def test_unsupported_layer_is_named() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Hardswish(), nn.Linear(4, 1))
    with pytest.raises(UnsupportedLayerError, match=r"'model\.1' \(Hardswish\)"):
        contextual_decomposition(model, torch.randn(2, 4), torch.ones(4, dtype=torch.bool))


def test_attention_is_refused_with_the_reason() -> None:
    model = TextTransformer(30, 2, d_model=8, n_heads=2, d_ff=16, n_layers=1)
    with pytest.raises(UnsupportedLayerError, match="attention"):
        check_supported(model)


def test_batchnorm_in_training_mode_is_refused() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).train()
    with pytest.raises(UnsupportedLayerError, match="eval mode"):
        contextual_decomposition(model, torch.randn(4, 3), torch.ones(3, dtype=torch.bool))


def test_training_mode_dropout_keeps_the_sum() -> None:
    """In training mode one dropout mask is shared by both parts, so they still add up to what
    the same mask gives the whole input."""
    model = _fill(nn.Sequential(nn.Linear(5, 6), nn.Dropout(0.5), nn.Linear(6, 1))).train()
    x = torch.randn(8, 5, dtype=torch.float64)
    torch.manual_seed(3)
    d = contextual_decomposition(model, x, torch.tensor([1, 1, 0, 0, 0], dtype=torch.bool))
    torch.manual_seed(3)
    mask = nn.functional.dropout(torch.ones(8, 6, dtype=torch.float64), 0.5, training=True)
    expected = model[2](model[0](x) * mask)
    torch.testing.assert_close(d.total, expected, rtol=1e-10, atol=1e-10)


def test_group_shape_errors() -> None:
    model = LSTMTextModule(30, 2, embedding_dim=6, hidden_size=5).eval()
    ids = torch.randint(4, 30, (2, 5))
    with pytest.raises(ValueError, match="must match the token ids"):
        contextual_decomposition(model, ids, torch.ones(2, 4, dtype=torch.bool))


def test_every_rule_is_exercised() -> None:
    """Guard: a rule added to RULES needs a test above."""
    tested = {
        nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.AvgPool1d,
        nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Identity,
        nn.MaxPool1d, nn.MaxPool2d, nn.Dropout, nn.Dropout2d, LastHiddenLSTM,
        *(type(a) for a in ACTIVATIONS),
    }  # fmt: skip
    untested = set(RULES) - tested - {nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.Dropout1d}
    assert not untested, untested
