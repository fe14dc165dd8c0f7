import numpy as np
import polars as pl
import pytest

from glassworks.models.tabular import TABULAR_METHODS, TabularEncoder, make_tabular_model


def _frame(n: int = 200, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    city = np.array([f"c{i}" for i in rng.integers(0, 60, n)])  # high cardinality
    age = rng.normal(40, 10, n)
    age[:10] = np.nan
    label = ((colour == "red") | (age > 45)).astype(int)
    return pl.DataFrame(
        {
            "age": age,
            "colour": pl.Series(colour, dtype=pl.Enum(["blue", "green", "red"])),
            "city": city,
            "const": np.ones(n),
            "label": label,
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col("colour")).alias("colour"),
        pl.col("age").fill_nan(None),
    )


def test_onehot_imputes_groups_rare_categories_and_drops_constants() -> None:
    frame = _frame()
    enc = TabularEncoder(max_categories=8).fit(frame)
    x = enc.transform(frame)
    assert enc.dropped_ == ["const"]
    assert np.isfinite(x).all()
    assert "colour_<missing>" in enc.feature_names_
    city = [n for n in enc.feature_names_ if n.startswith("city_")]
    assert len(city) == 8
    assert "city_infrequent_sklearn" in city
    assert x.shape == (200, len(enc.feature_names_))
    # unseen categories at predict time do not fail
    other = frame.with_columns(pl.lit("nowhere").alias("city"))
    assert np.isfinite(enc.transform(other)).all()


def test_target_encoding_is_cross_fitted_on_train() -> None:
    frame = _frame()
    enc = TabularEncoder(nominal="target")
    cross = enc.fit_transform(frame)
    plain = enc.transform(frame)  # the full-train mapping: what valid/test rows get
    assert cross.shape == plain.shape == (200, 3)  # age, colour, city: one column each
    j = enc.feature_names_.index("city")
    assert not np.allclose(cross[:, j], plain[:, j])  # train rows never see their own label


def test_encoder_refusals() -> None:
    frame = _frame()
    with pytest.raises(ValueError, match="'ordinal' is not 'onehot' or 'target'"):
        TabularEncoder(nominal="ordinal").fit(frame)
    with pytest.raises(ValueError, match="no label column 'y'"):
        TabularEncoder(label="y").fit(frame)
    with pytest.raises(ValueError, match="every feature column is constant"):
        TabularEncoder().fit(frame.select("const", "label"))
    enc = TabularEncoder().fit(frame)
    with pytest.raises(ValueError, match=r"lacks feature columns \['city'\]"):
        enc.transform(frame.drop("city"))


@pytest.mark.parametrize("method", TABULAR_METHODS)
def test_every_method_fits_and_predicts_probabilities(method: str) -> None:
    frame = _frame(300)
    enc = TabularEncoder().fit(frame)
    x, y = enc.transform(frame), frame.get_column("label").to_numpy()
    small = {
        "inn": {"epochs": 8, "warmup_epochs": 1, "nr_restarts": 2, "device": "cpu"},
        "tabresnet": {"epochs": 8, "warmup_epochs": 1, "nr_restarts": 2, "device": "cpu"},
        "random_forest": {"n_estimators": 20},
        "catboost": {"iterations": 50, "thread_count": 1},
        "ebm": {"outer_bags": 2, "interactions": 0},
    }
    model = make_tabular_model(method, 0, small.get(method))
    proba = model.fit(x, y).predict_proba(x)
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    assert (proba.argmax(1) == y).mean() > 0.7


def test_unknown_method_and_hyperparameter() -> None:
    with pytest.raises(ValueError, match="unknown tabular method 'svm'"):
        make_tabular_model("svm", 0)
    with pytest.raises(TypeError, match="max_deep"):
        make_tabular_model("decision_tree", 0, {"max_deep": 3})


def test_regression_task_gives_each_method_its_regressor() -> None:
    from sklearn.base import is_regressor

    small = {"inn": {"device": "cpu"}, "tabresnet": {"device": "cpu"}}
    for method in TABULAR_METHODS:
        model = make_tabular_model(method, 3, small.get(method), task="regression")
        assert is_regressor(model), method
        assert not hasattr(model, "predict_proba"), method
        assert not is_regressor(make_tabular_model(method, 3, small.get(method))), method


def test_regressor_hyperparameters_keep_their_keys() -> None:
    """``C`` of logistic regression is ridge's ``alpha = 1 / C``; keys that only mean something
    for a classifier are ignored; any other key (and an unknown one) goes through as it is."""
    ridge = make_tabular_model(
        "logistic_regression", 0, {"C": 4.0, "max_iter": 50}, task="regression"
    )
    assert (type(ridge).__name__, ridge.alpha, ridge.max_iter) == ("Ridge", 0.25, 50)
    assert make_tabular_model("logistic_regression", 0, {}, task="regression").alpha == 1.0
    lr_only = {"penalty": "l2", "solver": "saga", "verbose": 0, "n_jobs": 2, "class_weight": None}
    assert make_tabular_model("logistic_regression", 0, lr_only, task="regression").solver == "auto"
    lr = make_tabular_model("logistic_regression", 0, {"C": 4.0})  # the classifier as it was
    assert (type(lr).__name__, lr.C, lr.max_iter) == ("LogisticRegression", 4.0, 2000)
    tree = make_tabular_model(
        "decision_tree", 0, {"class_weight": "balanced", "criterion": "entropy", "max_depth": 3},
        task="regression",
    )  # fmt: skip
    assert (tree.criterion, tree.max_depth, tree.random_state) == ("squared_error", 3, 0)
    forest = make_tabular_model("random_forest", 5, {"n_estimators": 7}, task="regression")
    assert (forest.n_estimators, forest.n_jobs, forest.random_state) == (7, -1, 5)
    cat = make_tabular_model("catboost", 2, {"iterations": 9, "auto_class_weights": "Balanced"},
                             task="regression")  # fmt: skip
    assert cat.get_params()["iterations"] == 9
    assert "auto_class_weights" not in cat.get_params()
    ebm = make_tabular_model("ebm", 1, {"outer_bags": 2}, task="regression")
    assert (ebm.outer_bags, ebm.random_state) == (2, 1)
    inn = make_tabular_model("inn", 4, {"weight_norm": 0.3, "oversample": True}, task="regression")
    assert (type(inn).__name__, inn.weight_norm, inn.seed) == ("INNRegressor", 0.3, 4)
    with pytest.raises(TypeError, match="max_deep"):
        make_tabular_model("decision_tree", 0, {"max_deep": 3}, task="regression")
    with pytest.raises(ValueError, match="C must be > 0"):
        make_tabular_model("logistic_regression", 0, {"C": 0}, task="regression")
    with pytest.raises(ValueError, match="task 'ordinal'"):
        make_tabular_model("decision_tree", 0, task="ordinal")
    with pytest.raises(ValueError, match="unknown tabular method 'svm'"):
        make_tabular_model("svm", 0, task="regression")
