from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.data.schema import PreparedDataset
from glassworks.errors import DataError
from glassworks.experiments.tabular import (
    SCORES,
    TIMINGS,
    auroc,
    check_tabular,
    encode_splits,
    fit_and_score,
    fit_score_and_time,
    input_example,
    leaky_columns,
    save_seed,
    summarize_seeds,
)
from glassworks.io import read_bundle, read_json


def _split(n: int, seed: int, classes: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    label = np.digitize(x[:, 0] + 0.3 * x[:, 1], np.linspace(-1, 1, classes - 1))
    return pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label})


def _prepared(task: str = "binary", classes: int = 2, **over: pl.DataFrame) -> PreparedDataset:
    splits = {
        "train": _split(300, 0, classes),
        "valid": _split(60, 1, classes),
        "test": _split(100, 2, classes),
    }
    splits.update(over)
    return PreparedDataset(
        "toy", "openml", "tabular", task, [str(i) for i in range(classes)], splits, {}, {}
    )


def test_fit_and_score_writes_the_seed_fields() -> None:
    data = encode_splits(_prepared())
    model, info = fit_and_score("logistic_regression", {"C": 1.0}, 0, data, 2)
    assert info["test_auroc"] > 0.95
    assert 0 <= info["test_accuracy"] <= 1
    assert info["hyperparameters"] == {"C": 1.0}
    assert (info["n_train"], info["n_test"], info["n_features"]) == (300, 100, 3)
    assert not set(TIMINGS) & set(info)  # run facts: MLflow only


def test_timings_come_apart_from_the_seed_fields() -> None:
    data = encode_splits(_prepared())
    _, info, seconds = fit_score_and_time("logistic_regression", {"C": 1.0}, 0, data, 2)
    assert set(seconds) == set(TIMINGS)
    assert all(v >= 0 for v in seconds.values())
    assert not set(TIMINGS) & set(info)
    assert not set(TIMINGS) & set(SCORES)
    assert info == fit_and_score("logistic_regression", {"C": 1.0}, 0, data, 2)[1]


def test_max_train_subsamples_only_train() -> None:
    data = encode_splits(_prepared(), max_train=50)
    assert len(data.y["train"]) == 50
    assert len(data.y["test"]) == 100


def test_multiclass_auroc_and_missing_classes() -> None:
    data = encode_splits(_prepared("multiclass", 4))
    _, info = fit_and_score("random_forest", {"n_estimators": 30}, 0, data, 4)
    assert info["test_auroc"] > 0.8
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    assert auroc(y, proba, 3) == pytest.approx(1.0)  # class 2 absent from this split


def test_refusals_name_the_split() -> None:
    one_class = _split(60, 1).with_columns(pl.lit(0).alias("label"))
    with pytest.raises(DataError, match="the valid split of toy holds a single class"):
        check_tabular(_prepared(valid=one_class), "data/prepared/toy")
    with pytest.raises(DataError, match="'regression' target"):
        check_tabular(_prepared("regression"), "data/prepared/toy")
    with pytest.raises(DataError, match="the test split of toy is empty"):
        check_tabular(_prepared(test=_split(10, 3).head(0)), "data/prepared/toy")


def test_summarize_seeds() -> None:
    infos = [
        {
            "seed": s,
            "test_auroc": a,
            "valid_auroc": a,
            "test_accuracy": 0.5,
        }
        for s, a in [(0, 0.8), (1, 0.9), (2, 1.0)]
    ]
    out = summarize_seeds(infos)
    assert out["seeds"] == [0, 1, 2]
    assert set(out) == {"seeds", *SCORES}  # no train/inference seconds
    assert out["test_auroc"]["mean"] == pytest.approx(0.9)
    assert out["test_auroc"]["std"] == pytest.approx(0.1)
    assert summarize_seeds(infos[:1])["test_auroc"]["std"] == 0.0


def test_label_copies_are_refused_as_leakage() -> None:
    train = _split(300, 0, 3)
    y = train.get_column("label")
    leaky = train.with_columns(
        (y == 1).cast(pl.Float64).alias("is_one"),
        y.replace_strict({0: "a", 1: "b", 2: "c"}).alias("copy"),
    )
    assert sorted(leaky_columns(leaky)) == [
        "copy",
        "is_one",
    ]
    with pytest.raises(DataError, match=r"\['is_one', 'copy'\] of toy copy the label"):
        check_tabular(_prepared("multiclass", 3, train=leaky), "data/prepared/toy")
    check_tabular(_prepared("multiclass", 3), "data/prepared/toy")  # clean data passes


def test_input_example_is_raw_features_with_plain_strings() -> None:
    frame = pl.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "colour": pl.Series(["red", "blue", "red", "red"], dtype=pl.Enum(["red", "blue"])),
            "size": pl.Series(["s", "m", "l", "s"], dtype=pl.Categorical),
            "label": [0, 1, 0, 1],
        }
    )
    example = input_example(frame)
    assert list(example.columns) == ["x", "colour", "size"]
    assert len(example) == 3
    assert example["colour"].tolist() == ["red", "blue", "red"]
    assert all(isinstance(v, str) for v in example["size"])
    assert len(input_example(frame, 10)) == 4


def test_save_seed_writes_info_and_a_readable_bundle(tmp_path: Path) -> None:
    data = encode_splits(_prepared())
    model, info = fit_and_score("logistic_regression", {"C": 1.0}, 0, data, 2)
    bundle = {"encoder": data.encoder, "model": model, "label_names": ["0", "1"], "method": "lr"}
    save_seed(tmp_path / "0", info, bundle)
    assert sorted(p.name for p in (tmp_path / "0").iterdir()) == ["model.pkl", "output_info.json"]
    assert read_json(tmp_path / "0" / "output_info.json")["test_auroc"] == info["test_auroc"]
    back = read_bundle(tmp_path / "0", "train_tabular")
    assert back["method"] == "lr"
    x = data.x["test"]
    np.testing.assert_array_equal(back["model"].predict(x), model.predict(x))


def test_summarize_seeds_covers_every_logged_score() -> None:
    infos = [{"seed": s, **{k: float(s + i) for i, k in enumerate(SCORES)}} for s in (0, 2)]
    out = summarize_seeds(infos)
    assert set(out) == {"seeds", *SCORES}
    assert out["test_auroc"]["mean"] == 1.0
    assert out["test_auroc"]["per_seed"] == [0.0, 2.0]


NET = {"epochs": 2, "warmup_epochs": 1, "nr_restarts": 1, "device": "cpu"}


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("logistic_regression", {"C": 1.0}),
        ("catboost", {"iterations": 20}),  # its metadata holds the finish time and a random id
        ("tabresnet", NET),  # fitted nets kept their fit seconds (fit_seconds_)
        ("inn", NET),
    ],
)
def test_seed_outputs_are_a_function_of_the_inputs(
    tmp_path: Path, method: str, params: dict
) -> None:
    """Two fits with the same data, hyperparameters and seed write byte-identical seed folders:
    no wall-clock time (train/inference seconds, a fit time, a finish timestamp) in
    ``output_info.json`` or in the pickled model, so DVC hashes them the same wherever and
    whenever they run."""
    data = encode_splits(_prepared())
    for run in ("a", "b"):
        model, info = fit_and_score(method, params, 0, data, 2)
        bundle = {"encoder": data.encoder, "model": model, "label_names": ["0", "1"]}
        save_seed(tmp_path / run, info, bundle)
    for name in ("output_info.json", "model.pkl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not set(TIMINGS) & set(read_json(tmp_path / "a" / "output_info.json"))
    assert not hasattr(read_bundle(tmp_path / "a", "train_tabular")["model"], "fit_seconds_")
