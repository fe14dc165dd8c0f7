from pathlib import Path

import pytest
import torch

from glassworks.explain.text import explain_texts


@pytest.fixture(scope="module")
def classifier(tiny_bert: Path):  # noqa: ANN201
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    config = BertConfig.from_pretrained(tiny_bert)
    config.num_labels = 3
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).double().eval()
    return model, AutoTokenizer.from_pretrained(tiny_bert)


TEXTS = ["a gorgeous, witty film", "dull", "the plot never comes together at all"]


def test_token_scores_are_complete(classifier) -> None:  # noqa: ANN001
    model, tok = classifier
    res = explain_texts(model, tok, TEXTS, n_steps=32)
    rel = res.delta.abs() / res.output_gap.abs().clamp_min(1e-12)
    assert (rel < 1e-4).all()
    for tokens, scores, gap in zip(res.tokens, res.scores, res.output_gap, strict=True):
        assert tokens[0] == "[CLS]"
        assert tokens[-1] == "[SEP]"
        assert scores[0] == 0
        assert scores[-1] == 0
        assert float(scores.sum()) == pytest.approx(float(gap), rel=1e-4)


def test_padding_does_not_change_a_texts_scores(classifier) -> None:  # noqa: ANN001
    model, tok = classifier
    batch = explain_texts(model, tok, TEXTS, target=[0, 1, 2], baseline="mask")
    alone = explain_texts(model, tok, TEXTS[1:2], target=[1], baseline="mask")
    torch.testing.assert_close(batch.scores[1], alone.scores[0], atol=1e-8, rtol=1e-6)


def test_token_interactions_certificates(classifier) -> None:  # noqa: ANN001
    model, tok = classifier
    res = explain_texts(
        model, tok, TEXTS[:2], target=[2, 0], baseline="zeros", interactions=True, ih_steps=16
    )
    for inter, scores, gap in zip(res.interactions, res.scores, res.output_gap, strict=True):
        n = len(scores)
        assert inter.shape == (n, n)
        assert float(inter.sum()) == pytest.approx(float(gap), rel=1e-3)
        torch.testing.assert_close(inter.sum(1), scores, atol=1e-3 * float(gap.abs()), rtol=0)
