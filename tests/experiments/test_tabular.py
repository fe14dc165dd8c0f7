from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.data.schema import PreparedDataset
from glassworks.errors import DataError
from glassworks.experiments.tabular import (
    REGRESSION_SCORES,
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
    scores_for,
    scores_in,
    summarize_seeds,
    target_copies,
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
    with pytest.raises(DataError, match="'ordinal' target; the tabular comparison handles"):
        check_tabular(_prepared("ordinal"), "data/prepared/toy")
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


# ---- regression targets ------------------------------------------------------------------------

COEF = np.array([2.0, -1.0, 0.5])


def _reg_split(n: int, seed: int) -> pl.DataFrame:
    """y = 3 + 2a - b + 0.5c (+1 when colour is red) + N(0, 0.1²): a known linear function."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    colour = rng.choice(["red", "blue"], n)
    y = 3 + x @ COEF + (colour == "red") + rng.normal(scale=0.1, size=n)
    return pl.DataFrame(
        {
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
            "colour": pl.Series(colour, dtype=pl.Enum(["blue", "red"])),
            "label": y,
        }
    )


def _reg_prepared(**over: pl.DataFrame) -> PreparedDataset:
    splits = {"train": _reg_split(300, 0), "valid": _reg_split(80, 1), "test": _reg_split(120, 2)}
    splits.update(over)
    return PreparedDataset("toyreg", "csv", "tabular", "regression", [], splits, {}, {})


def test_regression_is_accepted_and_bad_targets_are_refused() -> None:
    check_tabular(_reg_prepared(), "data/prepared/toyreg")
    where = "data/prepared/toyreg"
    constant = _reg_split(300, 0).with_columns(pl.lit(1.5).alias("label"))
    with pytest.raises(DataError, match="train split of toyreg holds a constant target"):
        check_tabular(_reg_prepared(train=constant), where)
    nan = _reg_split(80, 1).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(float("nan")).otherwise("label").alias("label")
    )
    with pytest.raises(DataError, match="valid split of toyreg has 1 missing or infinite target"):
        check_tabular(_reg_prepared(valid=nan), where)
    inf = _reg_split(120, 2).with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(float("inf")).otherwise("label").alias("label")
    )
    with pytest.raises(DataError, match="test split of toyreg has 2 missing or infinite target"):
        check_tabular(_reg_prepared(test=inf), where)
    null = _reg_split(80, 1).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("label").alias("label")
    )
    with pytest.raises(DataError, match="valid split of toyreg has 1 missing"):
        check_tabular(_reg_prepared(valid=null), where)
    text = _reg_split(80, 1).with_columns(pl.col("label").cast(pl.String))
    with pytest.raises(DataError, match="regression target must be numeric, not String"):
        check_tabular(_reg_prepared(valid=text), where)
    with pytest.raises(DataError, match="the test split of toyreg is empty"):
        check_tabular(_reg_prepared(test=_reg_split(5, 3).head(0)), where)


def test_target_copies_flag_copies_not_continuous_features() -> None:
    train = _reg_split(300, 0)
    y = pl.col("label")
    # the classification check maps every all-distinct column one to one onto the target
    assert set(leaky_columns(train)) >= {"a", "b", "c"}
    assert leaky_columns(train, continuous=True) == []  # what check_tabular runs: no misfire
    leaky = train.with_columns(y.alias("copy"), (y * 1.8 + 32).alias("in_fahrenheit"))
    assert target_copies(leaky) == ["copy", "in_fahrenheit"]
    assert leaky_columns(leaky, continuous=True) == ["copy", "in_fahrenheit"]
    with pytest.raises(DataError, match=r"\['copy', 'in_fahrenheit'\] of toyreg copy the label"):
        check_tabular(_reg_prepared(train=leaky), "data/prepared/toyreg")


def test_regression_scores() -> None:
    assert scores_for("regression") == REGRESSION_SCORES
    assert scores_for("binary") == scores_for("multiclass") == SCORES
    assert scores_in({"test_rmse": 1.0}) == REGRESSION_SCORES
    assert scores_in({"test_auroc": 1.0}) == SCORES


REG_PARAMS = {
    "inn": {"epochs": 30, "warmup_epochs": 2, "nr_restarts": 2, "hidden_size": 32,
            "batch_size": 32, "device": "cpu"},
    "tabresnet": {"epochs": 30, "warmup_epochs": 2, "nr_restarts": 2, "hidden_size": 32,
                  "batch_size": 32, "device": "cpu"},
    "logistic_regression": {"C": 1.0},
    "decision_tree": {"min_samples_leaf": 1},
    "random_forest": {"n_estimators": 30, "n_jobs": 1},
    "catboost": {"iterations": 100, "thread_count": 1},
    "ebm": {"outer_bags": 2, "interactions": 0, "n_jobs": 1},
}  # fmt: skip


@pytest.fixture(scope="module")
def reg_data() -> object:
    return encode_splits(_reg_prepared())


@pytest.mark.parametrize("method", list(REG_PARAMS))
def test_every_method_fits_a_regression_and_beats_the_train_mean(reg_data, method: str) -> None:
    """A linear target plus small noise: every method's test RMSE is well below that of
    predicting the train mean, and the seed's fields are the regression scores."""
    data = reg_data
    assert data.task == "regression"
    assert data.y["train"].dtype == np.float64
    model, info, seconds = fit_score_and_time(method, REG_PARAMS[method], 0, data, 0)
    mean_rmse = float(np.sqrt(np.mean((data.y["test"] - data.y["train"].mean()) ** 2)))
    assert info["test_rmse"] < 0.6 * mean_rmse, (info["test_rmse"], mean_rmse)
    assert info["test_r2"] > 0.6
    assert 0 < info["test_mae"] <= info["test_rmse"]
    assert info["valid_rmse"] > 0
    assert not {"test_auroc", "valid_auroc", "test_accuracy"} & set(info)
    assert set(REGRESSION_SCORES) <= set(info)
    assert (info["n_train"], info["n_test"], info["n_features"]) == (300, 120, 5)
    assert set(seconds) == set(TIMINGS)
    pred = np.asarray(model.predict(data.x["test"])).reshape(-1)
    rmse = float(np.sqrt(np.mean((pred - data.y["test"]) ** 2)))
    assert info["test_rmse"] == pytest.approx(rmse)


def test_ridge_recovers_the_known_coefficients(reg_data) -> None:
    """``logistic_regression`` on a regression target is ridge: with little noise and a weak
    penalty it recovers the linear function (coefficients on the standardised features)."""
    model, info = fit_and_score("logistic_regression", {"C": 1e6}, 0, reg_data, 0)
    scale = reg_data.encoder.transformer_.named_transformers_["num"][-1].scale_
    np.testing.assert_allclose(model.coef_[:3] / scale, COEF, atol=0.03)
    assert info["test_rmse"] < 0.13  # the noise sd is 0.1


def test_summarize_regression_seeds(tmp_path: Path, reg_data) -> None:
    infos = [fit_and_score("decision_tree", {}, s, reg_data, 0)[1] for s in (0, 1)]
    out = summarize_seeds(infos)
    assert set(out) == {"seeds", *REGRESSION_SCORES}
    assert out["valid_rmse"]["per_seed"] == [i["valid_rmse"] for i in infos]
    for run in ("a", "b"):  # the regressor's pickle is a function of the inputs too
        model, info = fit_and_score("catboost", {"iterations": 20, "thread_count": 1}, 0,
                                    reg_data, 0)  # fmt: skip
        save_seed(tmp_path / run, info, {"encoder": reg_data.encoder, "model": model,
                                         "label_names": []})  # fmt: skip
    for name in ("output_info.json", "model.pkl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
