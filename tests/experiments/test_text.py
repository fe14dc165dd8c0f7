"""The splits a train_text run sees, and one seed's fit-and-score wiring."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest

from glassworks.config import TextChoice, TextRun, TrainTextParams
from glassworks.data.schema import PreparedDataset
from glassworks.errors import ConfigError
from glassworks.experiments.text import (
    TextScores,
    TextSplits,
    choose_on_valid,
    fit_and_score_text,
    majority_accuracy,
    text_splits,
)


def _frame(texts: list[str], labels: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts, "label": labels})


def _prepared(modality: str = "text") -> PreparedDataset:
    train = _frame(["a b c", "a", "a b", "a b c d"] * 5, [0, 1, 0, 1] * 5)
    valid = _frame([f"v {i}" for i in range(100)], [0] * 80 + [1] * 20)
    test = _frame(["x y", "y z"], [1, 0])
    splits = {"train": train, "valid": valid, "test": test}
    return PreparedDataset("toy", "sst2", modality, "binary", ["neg", "pos"], splits, {}, {})


def test_text_splits_filters_train_and_caps_valid_once() -> None:
    run = TextRun(dataset="toy", model="small", min_words=3, max_valid=20)
    s = text_splits(_prepared(), run, seed=0, where="train_text.runs.toy")
    assert set(s.train["text"]) == {"a b c", "a b c d"}
    assert s.valid.height == 20
    assert Counter(s.valid["label"].to_list()) == {0: 16, 1: 4}  # proportions kept
    assert s.test.equals(_prepared().splits["test"])
    again = text_splits(_prepared(), run, seed=0, where="x")
    assert again.valid.equals(s.valid)
    whole = text_splits(_prepared(), TextRun(dataset="toy", model="small"), 0, "x")
    assert whole.train.height == 20
    assert whole.valid.height == 100


def test_text_splits_refusals_name_the_run() -> None:
    run = TextRun(dataset="toy", model="small")
    with pytest.raises(ConfigError, match=r"train_text.runs.r.dataset: 'toy' is not a text"):
        text_splits(_prepared("tabular"), run, 0, "train_text.runs.r")
    long = TextRun(dataset="toy", model="small", min_words=9)
    with pytest.raises(ConfigError, match=r"runs.r.min_words: no training text has 9 words"):
        text_splits(_prepared(), long, 0, "train_text.runs.r")


class _Model:
    """Predicts the label from the text's first word; records what it was fitted on."""

    best_epoch_ = 2
    n_truncated_ = 1

    def fit(self, x, y, xv, yv, n_classes, on_step, label_names):  # noqa: ANN001, ANN201, PLR0913
        self.fitted = (list(x), list(y), list(xv), list(yv), n_classes, list(label_names))
        self.history_ = [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]
        if on_step is not None:
            on_step(len(x))

    def predict(self, texts: list[str]) -> np.ndarray:
        return np.array([1 if t.startswith("p") else 0 for t in texts])


def test_fit_and_score_text_scores_valid_and_test() -> None:
    train = _frame(["p a", "n b"], [1, 0])
    valid = _frame(["p c", "n d", "p e"], [1, 0, 0])  # the last one wrong
    test = _frame(["p f", "n g"], [1, 0])
    steps: list[int] = []
    model = _Model()
    s = fit_and_score_text(
        model, train, TextSplits(train, valid, test), "binary", ["neg", "pos"], steps.append
    )
    assert model.fitted[0] == ["p a", "n b"]
    assert model.fitted[4] == 2
    assert steps == [2]
    assert s.valid["accuracy"] == pytest.approx(2 / 3)
    assert s.test["accuracy"] == 1.0
    assert s.predicted.tolist() == [1, 0]
    assert s.counts == {"best_epoch": 2, "epochs_run": 3, "n_train": 2, "n_truncated_train": 1}


def _scores(valid: dict[str, float]) -> TextScores:
    return TextScores(valid, {}, np.zeros(0), {})


def test_choose_on_valid_takes_the_best_validation_score_first_on_ties() -> None:
    cands = [_scores({"qwk": 0.5}), _scores({"qwk": 0.7}), _scores({"qwk": 0.7})]
    assert choose_on_valid(cands, "qwk") == 1
    assert choose_on_valid([_scores({})], "loss") == 0  # one candidate: nothing to compare
    with pytest.raises(ConfigError, match="cannot be compared on 'loss'"):
        choose_on_valid(cands, "loss")


def test_choose_on_valid_with_a_floor_keeps_candidates_above_it() -> None:
    cands = [
        _scores({"accuracy": 0.70, "macro_f1": 0.50}),  # best macro-F1, below the floor
        _scores({"accuracy": 0.85, "macro_f1": 0.40}),
        _scores({"accuracy": 0.90, "macro_f1": 0.30}),
    ]
    assert choose_on_valid(cands, "macro_f1") == 0
    assert choose_on_valid(cands, "macro_f1", floor=0.80) == 1
    assert choose_on_valid(cands, "macro_f1", floor=0.85) == 2  # "above": 0.85 does not pass
    # none above the floor: the most accurate candidate (the first on ties)
    assert choose_on_valid(cands, "macro_f1", floor=0.95) == 2
    level = [_scores({"accuracy": 0.6, "macro_f1": f}) for f in (0.1, 0.9)]
    assert choose_on_valid(level, "macro_f1", floor=0.7) == 0


def test_majority_accuracy_scores_the_training_mode_on_validation() -> None:
    y_train = np.array([2, 2, 1, 0, 2])
    assert majority_accuracy(y_train, np.array([2, 1, 2, 0])) == 0.5
    assert majority_accuracy(np.array([1, 0]), np.array([0, 0, 1])) == pytest.approx(2 / 3)  # tie
    with pytest.raises(ValueError, match="no training labels"):
        majority_accuracy(np.array([]), np.array([0]))


def test_text_choice_candidates_and_errors() -> None:
    choice = TextChoice(loss=("ordinal", "ce"), window_stride=(None, 96))
    assert choice.candidates() == [
        {"loss": "ordinal", "window_stride": None},
        {"loss": "ordinal", "window_stride": 96},
        {"loss": "ce", "window_stride": None},
        {"loss": "ce", "window_stride": 96},
    ]
    assert TextChoice().candidates() == [{}]
    # the floor is a rule for the choice, not a setting to try
    assert TextChoice(loss=("ce", "weighted_ce"), floor="majority").candidates() == [
        {"loss": "ce"},
        {"loss": "weighted_ce"},
    ]
    with pytest.raises(ValueError, match="floor"):
        TextChoice(floor="median")
    with pytest.raises(ValueError, match=r"choose.loss: \['ce', 'ce'\] repeats a value"):
        TextChoice(loss=("ce", "ce"))
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        TextChoice(window_stride=(0,))
    models = {"small": {}, "mini": {"backbone": "default"}}
    floor = {"dataset": "d", "model": "small", "choose": {"loss": ["ce"], "floor": "majority"}}
    with pytest.raises(ValueError, match="runs.r.choose.floor: no effect with fewer than two"):
        TrainTextParams(models=models, runs={"r": floor})
    floor["choose"] = {"loss": ["ce", "weighted_ce"], "floor": "majority"}
    TrainTextParams(models=models, runs={"r": floor})  # two losses on macro-F1: accepted
    with pytest.raises(ValueError, match="choose.floor: no effect with select_on accuracy"):
        TrainTextParams(models=models, runs={"r": {**floor, "select_on": "accuracy"}})
    bad_loss = {"dataset": "d", "model": "mini", "choose": {"loss": ["ce", "ordinal"]}}
    with pytest.raises(ValueError, match="runs.r: loss 'ordinal' needs a small backbone"):
        TrainTextParams(models=models, runs={"r": bad_loss})
    on_loss = {
        "dataset": "d",
        "model": "small",
        "select_on": "loss",
        "choose": {"loss": ["ce", "weighted_ce"]},
    }
    with pytest.raises(ValueError, match="runs.r.choose: candidates are compared on select_on"):
        TrainTextParams(models=models, runs={"r": on_loss})
    no_stride = {"dataset": "d", "model": "small", "window_pool": "sum"}
    with pytest.raises(ValueError, match="runs.r.window_pool: no effect without window_stride"):
        TrainTextParams(models=models, runs={"r": no_stride})
    pool_only = {"dataset": "d", "model": "small", "choose": {"window_pool": ["mean", "sum"]}}
    with pytest.raises(ValueError, match="runs.r.choose.window_pool: no effect without"):
        TrainTextParams(models=models, runs={"r": pool_only})
    run = {"dataset": "d", "model": "small", "window_stride": 64}
    params = TrainTextParams(models=models, runs={"r": run})
    assert params.estimator_params("r")["window_stride"] == 64
    assert params.estimator_params("r")["window_pool"] == "mean"
