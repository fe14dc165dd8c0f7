"""Contextual decomposition: relevant + irrelevant == the model's output, for every layer type."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from glassworks.explain import cd
from glassworks.explain.cd import (
    RULES,
    Parts,
    UnsupportedLayerError,
    check_supported,
    contextual_decomposition,
    last_real_step,
    layers,
    lstm_last_hidden,
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


# ---------------------------------------------------------------- the LSTM rule against its oracle


def reference_lstm_last_hidden(
    module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, ctx: dict
) -> Parts:
    """The LSTM rule as it was before issue 18 (a plain autograd loop over the steps), kept as
    the oracle the fast rule must reproduce: values and gradients."""
    lstm: nn.LSTM = module.lstm
    group = ctx["token_group"]  # (B, T) bool
    mask = ctx.get("attention_mask")
    b, t_len, _ = rel.shape
    h = lstm.hidden_size
    scale = torch.ones(4 * h, 1, dtype=rel.dtype, device=rel.device)
    scale[2 * h : 3 * h] = 2.0
    w_ih, w_hh = lstm.weight_ih_l0 * scale, lstm.weight_hh_l0 * scale
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0) * scale[:, 0] if lstm.bias else scale[:, 0] * 0
    if ctx.get("token_split"):  # rel/irrel are whole tokens: project once, split by the mask
        x_tot = F.linear(rel + irrel, w_ih)
        x_rel = x_tot * group[:, :t_len].unsqueeze(-1)
        x_irrel = x_tot - x_rel
    else:
        x_rel, x_irrel = F.linear(rel, w_ih), F.linear(irrel, w_ih)  # (B, T, 4H), no bias
    f_bias = torch.sigmoid(bias)
    s_i, s_f = f_bias[:h], f_bias[h : 2 * h]
    t_g = 2 * f_bias[2 * h : 3 * h] - 1  # tanh of the cell gate's bias
    bias_bias = (s_i * t_g).expand(b, h)
    in_group = group[:, :t_len].unsqueeze(-1)
    bb_rel = torch.where(in_group, bias_bias.unsqueeze(1), 0.0)  # (B, T, H)
    bb_irrel = bias_bias.unsqueeze(1) - bb_rel
    c_rel = c_irrel = h_rel = h_irrel = rel.new_zeros(b, h)
    outs_rel, outs_irrel = [], []
    for t in range(t_len):
        hh = F.linear(torch.cat([h_rel, h_irrel]), w_hh)
        ac = x_rel[:, t] + hh[:b] + bias
        bc = x_irrel[:, t] + hh[b:] + bias
        o = torch.sigmoid(ac[:, 3 * h :] + bc[:, 3 * h :] - bias[3 * h :])
        ac, bc = ac[:, : 3 * h], bc[:, : 3 * h]
        f_ac, f_bc, f_abc = torch.sigmoid(torch.stack([ac, bc, ac + bc - bias[: 3 * h]])).unbind(0)
        d, e = f_ac - f_bc, f_abc - f_bias[: 3 * h]
        part_a, part_b = 0.5 * (e + d), 0.5 * (e - d)
        ri, rf, rg = part_a[:, :h], part_a[:, h : 2 * h], 2 * part_a[:, 2 * h :]
        ii, if_, ig = part_b[:, :h], part_b[:, h : 2 * h], 2 * part_b[:, 2 * h :]
        new_rel = ri * (rg + t_g) + s_i * rg + bb_rel[:, t]
        new_irrel = ii * (rg + ig + t_g) + (ri + s_i) * ig + bb_irrel[:, t]
        if t > 0:
            new_rel = new_rel + (rf + s_f) * c_rel
            new_irrel = new_irrel + (rf + if_ + s_f) * c_irrel + if_ * c_rel
        c_rel, c_irrel = new_rel, new_irrel
        th_a, th_b, th_ab = torch.tanh(torch.stack([c_rel, c_irrel, c_rel + c_irrel])).unbind(0)
        h_rel = o * 0.5 * (th_a + th_ab - th_b)
        h_irrel = o * th_ab - h_rel
        outs_rel.append(h_rel)
        outs_irrel.append(h_irrel)
    last = last_real_step(mask, b, t_len, rel.device)
    rows = torch.arange(b, device=rel.device)
    return torch.stack(outs_rel, 1)[rows, last], torch.stack(outs_irrel, 1)[rows, last]


@pytest.fixture(params=[0, 1, 2], ids=["one chunk", "a step per chunk", "two steps per chunk"])
def chunking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The fast rule's buffers in one chunk, or in chunks of one or two steps (every chunk
    boundary crossed, forward and backward, saved and scratch buffers)."""
    per: int = request.param
    if per:

        def chunks(t_len: int, step_bytes: int, budget: int) -> list[tuple[int, int]]:
            return [(lo, min(lo + per, t_len)) for lo in range(0, t_len, per)]

        monkeypatch.setattr(cd, "_chunks", chunks)
    return per


def _random_lstm(seed: int, e_dim: int, h: int, scale: float, bias: bool = True) -> LastHiddenLSTM:
    gen = torch.Generator().manual_seed(seed)
    lstm = LastHiddenLSTM(e_dim, h)
    if not bias:
        lstm.lstm = nn.LSTM(e_dim, h, batch_first=True, bias=False)
    with torch.no_grad():
        for p in lstm.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return lstm.double()


CASES = [  # seed, batch, steps, embedding, hidden, weight scale, token split, mask, bias
    (0, 1, 1, 3, 4, 0.5, True, False, True),
    (1, 5, 7, 4, 6, 0.8, True, True, True),
    (2, 8, 12, 6, 9, 1.5, True, True, True),
    (3, 3, 9, 2, 5, 3.0, True, True, True),
    (4, 6, 5, 5, 7, 0.8, False, True, True),
    (5, 2, 11, 3, 8, 1.2, False, False, True),
    (6, 4, 6, 4, 5, 0.8, True, True, False),
    (7, 7, 3, 3, 10, 0.6, False, True, False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}")
def test_lstm_rule_equals_the_reference_with_gradients(case: tuple, chunking: int) -> None:
    """Issue 18: the fast LSTM rule gives today's relevant and irrelevant parts and the same
    gradients (parameters and both inputs) to 1e-10 in float64: tokens or float sequences,
    right-padded or not, groups of any shape, with and without bias, any chunking."""
    seed, b, t_len, e_dim, h, scale, token_split, with_mask, bias = case
    lstm = _random_lstm(seed, e_dim, h, scale, bias)
    gen = torch.Generator().manual_seed(100 + seed)
    x = torch.randn(b, t_len, e_dim, generator=gen, dtype=torch.float64)
    group = torch.rand(b, t_len, generator=gen) < 0.4
    group[0, 0] = True
    lengths = torch.randint(1, t_len + 1, (b,), generator=gen)
    lengths[-1] = t_len
    mask = (torch.arange(t_len) < lengths[:, None]).long() if with_mask else None
    if token_split:  # whole tokens in or out of the group (right after an embedding)
        rel = x * group.unsqueeze(-1)
    else:  # any split of a float sequence
        rel = x * torch.rand(b, t_len, e_dim, generator=gen, dtype=torch.float64)
    irrel = x - rel
    ctx = {"token_group": group, "attention_mask": mask, "token_split": token_split}
    weights = torch.randn(2, b, h, generator=gen, dtype=torch.float64)
    results = []
    for rule in (reference_lstm_last_hidden, lstm_last_hidden):
        lstm.zero_grad()
        r_in, i_in = rel.clone().requires_grad_(), irrel.clone().requires_grad_()
        r, i = rule(lstm, r_in, i_in, ctx)
        (r * weights[0]).sum().add((i * weights[1]).sin().sum()).backward()
        grads = [p.grad.clone() for p in lstm.parameters()] + [r_in.grad, i_in.grad]
        results.append((r.detach(), i.detach(), grads))
    (r_ref, i_ref, g_ref), (r_new, i_new, g_new) = results
    torch.testing.assert_close(r_new, r_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(i_new, i_ref, rtol=1e-10, atol=1e-10)
    for got, want in zip(g_new, g_ref, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    with torch.no_grad():  # the no-grad path (scratch buffers) gives the same parts
        r_ng, i_ng = lstm_last_hidden(lstm, rel, irrel, ctx)
    torch.testing.assert_close(r_ng, r_new, rtol=0, atol=1e-14)
    torch.testing.assert_close(i_ng, i_new, rtol=0, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_cdep_penalty_through_the_classifier_matches_the_reference(
    seed: int, chunking: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CDEP penalty (L1 of the relevant logits) of the whole classifier and its gradient
    with respect to every parameter, embedding table included: fast rule == reference."""
    torch.manual_seed(seed)
    model = _fill(LSTMTextModule(40, 3, embedding_dim=5, hidden_size=6, dropout=0.2), seed)
    ids = torch.randint(4, 40, (5, 8))
    mask = torch.ones_like(ids)
    for row, length in enumerate([8, 3, 1, 6, 8]):
        ids[row, length:] = 0
        mask[row, length:] = 0
    group = (torch.rand(5, 8) < 0.3) & mask.bool()
    results = []
    for rule in (reference_lstm_last_hidden, lstm_last_hidden):
        monkeypatch.setitem(RULES, LastHiddenLSTM, rule)
        model.zero_grad()
        d = contextual_decomposition(model, ids, group, attention_mask=mask)
        d.relevant.abs().sum(-1).mean().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        results.append((d.relevant.detach(), d.irrelevant.detach(), grads))
    (r_ref, i_ref, g_ref), (r_new, i_new, g_new) = results
    torch.testing.assert_close(r_new, r_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(i_new, i_ref, rtol=1e-10, atol=1e-10)
    for name, want in g_ref.items():
        torch.testing.assert_close(g_new[name], want, rtol=1e-10, atol=1e-10, msg=name)


def test_lstm_rule_backward_twice_with_retained_graph() -> None:
    """``retain_graph=True`` keeps what the hand-written backward reads: a second backward
    gives the same gradients."""
    lstm = _random_lstm(9, 3, 4, 0.8)
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    group = torch.rand(3, 5) < 0.5
    ctx = {"token_group": group, "attention_mask": None, "token_split": True}
    r, i = lstm_last_hidden(lstm, x * group.unsqueeze(-1), x * ~group.unsqueeze(-1), ctx)
    loss = r.sum() + i.pow(2).sum()
    (first,) = torch.autograd.grad(loss, lstm.lstm.weight_hh_l0, retain_graph=True)
    (second,) = torch.autograd.grad(loss, lstm.lstm.weight_hh_l0)
    torch.testing.assert_close(second, first, rtol=0, atol=0)
