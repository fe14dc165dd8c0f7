"""Sliding windows over long texts and Integrated Gradients stitched across them: windows that
cover the whole tokenisation, completeness of the stitched scores for the text's mean logit,
agreement with plain IG on a text that fits one window."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from glassworks.explain.text import explain_texts
from glassworks.explain.windows import (
    WindowedExplanation,
    explain_windows,
    overlap_agreement,
    sliding_windows,
    window_capacity,
)
from glassworks.models.text_classifier import TextClassifier
from glassworks.train.losses import ordinal_log_probs


@pytest.fixture(scope="module")
def essays(shared_data: Path) -> list[str]:
    frame = pl.read_csv(shared_data / "sst2" / "dev.tsv", separator="\t", quote_char=None)
    sentences = [s.strip() for s in frame["sentence"].head(60)]
    # long "essays": a dozen sentences each, plus two short texts
    return [" ".join(sentences[i : i + 12]) for i in range(0, 48, 12)] + [
        "a fine film .",
        "dull .",
    ]


@pytest.fixture(scope="module")
def model(essays: list[str]) -> TextClassifier:
    y = np.arange(len(essays)) % 2
    clf = TextClassifier(
        vocab_size=400, max_length=24, d_model=16, d_ff=32, epochs=2, batch_size=8,
        device="cpu", window_stride=10, dropout=0.0,
    )  # fmt: skip
    return clf.fit(essays, y, n_classes=2)


def _content(tokenizer, text: str) -> list[int]:  # noqa: ANN001
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("step", [1, 7, 22])
def test_windows_cover_every_token_at_their_start(model: TextClassifier, essays, step) -> None:  # noqa: ANN001
    tok = model.tokenizer_
    win = sliding_windows(tok, essays, 24, step)
    capacity = window_capacity(tok, 24)
    assert capacity == 24 - tok.num_special_tokens_to_add()
    for text_index, text in enumerate(essays):
        full = _content(tok, text)
        rows = np.flatnonzero(win.owner == text_index)
        covered = np.zeros(len(full), dtype=bool)
        for r in rows:
            special = set(tok.all_special_ids)
            content = [t for t in win.input_ids[r] if t not in special]
            lo = int(win.start[r])
            assert content == full[lo : lo + len(content)]  # the window is the slice at start
            assert len(win.input_ids[r]) <= 24
            covered[lo : lo + len(content)] = True
        assert covered.all()
        assert list(win.start[rows]) == [step * k for k in range(len(rows))]
    assert list(win.counts(len(essays))[-2:]) == [1, 1]  # a short text is one window


def test_a_bad_stride_names_the_parameter(model: TextClassifier, essays) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="window_stride: 0 must be between 1 and"):
        sliding_windows(model.tokenizer_, essays, 24, 0)
    with pytest.raises(ValueError, match="pool: unknown 'max'"):
        explain_windows(model.module_, model.tokenizer_, essays, 24, 10, pool="max")
    y = np.arange(len(essays)) % 2
    kw = {"max_length": 24, "window_stride": 10, "epochs": 1, "device": "cpu"}
    with pytest.raises(ValueError, match="penalties read one window per text"):
        TextClassifier(**kw, penalty="rrr", penalty_weight=1.0, spurious_words=["the"]).fit(
            essays, y, n_classes=2
        )
    with pytest.raises(ValueError, match="window_pool: unknown 'max'"):
        TextClassifier(**kw, window_pool="max").fit(essays, y, n_classes=2)
    with pytest.raises(ValueError, match="window_stride: 99"):
        TextClassifier(max_length=24, window_stride=99, epochs=1, device="cpu").fit(
            essays, np.arange(len(essays)) % 2, n_classes=2
        )


def test_classifier_trains_on_windows_and_averages_their_logits(model, essays) -> None:  # noqa: ANN001
    win = sliding_windows(model.tokenizer_, essays, 24, 10)
    assert model.n_windows_ == len(win.input_ids) > len(essays)
    assert model.n_truncated_ == 0
    with torch.no_grad():
        per_window = np.stack(
            [
                model.module_(
                    input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids))
                ).numpy()[0]
                for ids in win.input_ids
            ]
        )
    expected = np.stack([per_window[win.owner == i].mean(0) for i in range(len(essays))])
    np.testing.assert_allclose(model.decision_function(essays), expected, atol=1e-5)


def _window_outputs(model: TextClassifier, rows: list[list[int]]) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat(
            [
                model._window_outputs(
                    {"input_ids": torch.tensor([r]), "attention_mask": torch.ones(1, len(r))}
                )
                for r in rows
            ]
        )


@pytest.mark.parametrize("loss", ["ce", "ordinal"])
def test_sum_pool_and_ordinal_windows(essays, loss) -> None:  # noqa: ANN001
    y = np.arange(len(essays)) % 3
    model = TextClassifier(
        vocab_size=400, max_length=24, d_model=16, d_ff=32, epochs=2, batch_size=4,
        device="cpu", window_stride=12, window_pool="sum", loss=loss, dropout=0.0,
    ).fit(essays, y, n_classes=3)  # fmt: skip
    win = sliding_windows(model.tokenizer_, essays, 24, 12)
    out = _window_outputs(model, win.input_ids)
    counts = torch.as_tensor(win.counts(len(essays)), dtype=out.dtype).unsqueeze(1)
    pooled = torch.stack([out[torch.as_tensor(win.owner == i)].sum(0) for i in range(len(essays))])
    if loss == "ordinal":  # the windows' scores add up, the thresholds count once
        assert out.shape[1] == 2
        theta = model.module_.thresholds.detach()
        score = pooled + (counts - 1) * theta
        np.testing.assert_allclose(  # one shared score: every cumulative logit moves alike
            (score + theta)[:, 0].numpy(), (score + theta)[:, 1].numpy(), atol=1e-5
        )
        pooled = ordinal_log_probs(score)
    np.testing.assert_allclose(model.decision_function(essays), pooled.numpy(), atol=1e-5)
    predicted = model.predict(essays)
    ex = explain_windows(
        model.module_, model.tokenizer_, essays, 24, 12, target=predicted, n_steps=48, pool="sum"
    )  # stitched IG of a sum adds up to the summed logit (ordinal: score) gap
    for e, k in zip(ex, predicted, strict=True):
        assert e.target == k
        assert e.scores.sum() == pytest.approx(e.output_gap, abs=1e-3)
    assert ex[0].n_windows > 1
    if loss == "ordinal":
        with pytest.raises(ValueError, match="needs the predicted classes"):
            explain_windows(model.module_, model.tokenizer_, essays, 24, 12)


def test_unknown_tokens_keep_their_place(model: TextClassifier) -> None:
    text = "the film ☃ is ☃ a " * 8  # ☃ was never seen: [UNK], which stands for text
    tok = model.tokenizer_
    full = tok.convert_ids_to_tokens(_content(tok, text))
    assert tok.unk_token in full
    (e,) = explain_windows(model.module_, tok, [text], 24, 10, n_steps=16)
    assert e.tokens == full
    assert all(isinstance(t, str) for t in e.tokens)
    assert all(e.scores[i] == 0.0 for i, t in enumerate(full) if t == tok.unk_token)


def test_windowed_model_round_trips(model, essays, tmp_path: Path) -> None:  # noqa: ANN001
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.window_stride == 10
    assert loaded.n_windows_ == model.n_windows_
    np.testing.assert_allclose(
        loaded.decision_function(essays), model.decision_function(essays), atol=1e-5
    )


def test_stitched_scores_add_up_to_the_mean_window_logit(model, essays) -> None:  # noqa: ANN001
    ex = explain_windows(model.module_, model.tokenizer_, essays, 24, 10, n_steps=48)
    logits = model.decision_function(essays)
    for text, e in zip(essays, ex, strict=True):
        assert e.target == int(logits[essays.index(text)].argmax())
        assert len(e.scores) == len(_content(model.tokenizer_, text))
        assert abs(e.delta) < 1e-3 * max(1.0, abs(e.output_gap))
        assert e.scores.sum() == pytest.approx(e.output_gap, abs=1e-3)
    long = ex[0]
    assert long.n_windows > 1
    assert long.overlap.shape[1] == 2
    assert len(long.overlap) > 0


def test_one_window_equals_plain_integrated_gradients(model, essays) -> None:  # noqa: ANN001
    short = essays[-2:]
    ex = explain_windows(model.module_, model.tokenizer_, short, 24, 10, n_steps=32)
    plain = explain_texts(model.module_, model.tokenizer_, short, n_steps=32, max_length=24)
    for e, scores, tokens in zip(ex, plain.scores, plain.tokens, strict=True):
        special = [t in model.tokenizer_.all_special_tokens for t in tokens]
        np.testing.assert_allclose(e.scores, scores.numpy()[~np.asarray(special)], atol=1e-6)
        assert e.n_windows == 1
        assert len(e.overlap) == 0


def test_overlap_agreement() -> None:
    def ex(pairs: np.ndarray) -> WindowedExplanation:
        return WindowedExplanation([], np.zeros(0), 0.0, 0.0, 2, 0, pairs)

    same = np.array([[1.0, 1.0], [-2.0, -2.0], [3.0, 3.0], [0.5, 0.5]])
    assert overlap_agreement([ex(same)]) == {"n_pairs": 4, "spearman": 1.0, "sign_agreement": 1.0}
    flipped = same * np.array([1.0, -1.0])
    got = overlap_agreement([ex(flipped)])
    assert got["spearman"] == pytest.approx(-1.0)
    assert got["sign_agreement"] == 0.0
    assert overlap_agreement([ex(np.zeros((0, 2)))])["spearman"] is None
