"""Token explainers (IG, EG, LIME, Kernel SHAP, occlusion) and faithfulness metrics on a model whose
exact token contributions are known: logit = sum of w . embedding over the real tokens."""

import numpy as np
import pytest
import torch

from glassworks.explain.metrics import faithfulness, summarize
from glassworks.explain.perturbation import perturbation_tokens
from glassworks.explain.summary import compare_text_explainers
from glassworks.explain.text import (
    _targets,
    expected_gradients_tokens,
    integrated_gradients_tokens,
)
from tests.fakes import TOKEN_TEXTS as TEXTS
from tests.fakes import additive_token_setup


@pytest.fixture(scope="module")
def setup():  # noqa: ANN201
    model, tok, enc, target = additive_token_setup()
    exact = ((enc.embeds - enc.baseline) @ model.w).detach()
    return model, tok, enc, target, exact


def test_ig_and_occlusion_are_exact_on_an_additive_model(setup) -> None:  # noqa: ANN001
    model, _, enc, target, exact = setup
    ig, delta = integrated_gradients_tokens(enc, target, n_steps=4)
    torch.testing.assert_close(ig, exact, atol=1e-5, rtol=1e-5)
    assert delta.abs().max() < 1e-5
    occ = perturbation_tokens(enc, target, "occlusion")
    torch.testing.assert_close(occ, exact * enc.candidates, atol=1e-5, rtol=1e-5)
    assert float(exact[~enc.candidates].abs().max()) == 0.0  # [CLS] and padding: no credit


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_surrogates_recover_the_ranking(setup, method: str) -> None:  # noqa: ANN001
    _, _, enc, target, exact = setup
    scores = perturbation_tokens(enc, target, method, n_samples=400)
    for i, n in enumerate(enc.lengths):
        cand = enc.candidates[i, :n]
        rho = np.corrcoef(scores[i, :n][cand].numpy(), exact[i, :n][cand].numpy())[0, 1]
        assert rho > 0.95, (method, i, rho)


def test_eg_completeness_in_expectation(setup) -> None:  # noqa: ANN001
    model, tok, enc, target, _ = setup
    scores, delta = expected_gradients_tokens(model, enc, target, n_samples=64)
    assert scores.shape == enc.input_ids.shape
    assert float(scores[~enc.candidates].abs().max()) == 0.0
    assert delta.abs().max() < 1e-4  # linear model: exact for every sample


def test_faithfulness_prefers_the_true_ranking(setup) -> None:  # noqa: ANN001
    _, _, enc, target, exact = setup
    true, reverse = [], []
    for i in range(len(TEXTS)):
        args = (enc.forward, enc.embeds[i], enc.baseline[i], enc.attention_mask[i])
        true.append(faithfulness(*args, exact[i], enc.candidates[i], 1))
        reverse.append(faithfulness(*args, -exact[i], enc.candidates[i], 1))
    t, r = summarize(true), summarize(reverse)
    assert t["deletion_auc"] < r["deletion_auc"]
    assert t["insertion_auc"] > r["insertion_auc"]
    assert t["comprehensiveness_20"] > r["comprehensiveness_20"]
    assert t["sufficiency_20"] < r["sufficiency_20"]
    f = true[0]
    # deleting nothing keeps the full probability; inserting everything restores it
    full = torch.softmax(enc.logits()[0].double(), -1)[1].item()
    assert f.deletion[0] == pytest.approx(full)
    assert f.insertion[-1] == pytest.approx(full)


def test_compare_ranks_path_methods_above_random(setup) -> None:  # noqa: ANN001
    model, tok, *_ = setup
    comp = compare_text_explainers(
        model, tok, TEXTS, methods=("ig", "occlusion", "random"), n_steps=4, n_interactions=2
    )
    s = comp.summary()
    assert s["ig"]["deletion_auc"] <= s["random"]["deletion_auc"]
    assert s["ig"]["completeness_abs_max"] < 1e-5
    assert s["ih"]["n_texts"] == 2
    assert s["ih"]["rows_vs_ig_abs_max"] < 1e-4  # IH rows add up to IG
    pd = s["ih"]["pair_deletion"]  # IH pairs vs IG tokens vs random pairs, on the IH texts
    assert pd["n_examples"] == 2
    assert pd["removed"]["k=1"] == 2.0  # one pair: two tokens
    for j, i in enumerate(comp.interaction_rows):  # the pairs come from that text's own matrix
        ih = comp.interactions[j].double()
        sym = (ih + ih.T) / 2
        cand = comp.enc.candidates[i, : ih.shape[0]].cpu()
        allowed = cand[:, None] & cand[None, :] & ~torch.eye(len(cand), dtype=torch.bool)
        best = torch.where(allowed, sym, -torch.inf).argmax()
        a, b = divmod(int(best), ih.shape[0])
        assert comp.pair_deletion[j].pairs[0] == (min(a, b), max(a, b))
    assert set(comp.scores) == {"ig", "occlusion", "random"}
    assert not any("seconds_per_text" in row for row in s.values())  # timings: not results
    assert set(comp.seconds_per_text()) == {"ig", "occlusion", "random", "ih"}
    assert _targets(comp.enc.logits(), None).tolist() == comp.target.tolist()
