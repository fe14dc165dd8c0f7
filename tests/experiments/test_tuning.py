import pytest

from glassworks.experiments.tabular import encode_splits, fit_and_score
from glassworks.experiments.tuning import SEARCH_SPACES, tune
from glassworks.models.tabular import TABULAR_METHODS

from .test_tabular import _prepared


def test_every_tabular_method_has_a_search_space() -> None:
    assert set(SEARCH_SPACES) == set(TABULAR_METHODS)


def test_tune_starts_at_the_configured_setting_and_never_ends_below_it() -> None:
    data = encode_splits(_prepared())
    found = tune("decision_tree", {"max_depth": 2}, data, 2, 5, seed=0)
    assert [t["number"] for t in found.trials] == [0, 1, 2, 3, 4]
    assert found.trials[0]["params"] == {}  # trial 0: the configured setting, nothing overridden
    assert set(found.trials[1]["params"]) == {"max_depth", "min_samples_leaf"}
    configured = fit_and_score("decision_tree", {"max_depth": 2}, 0, data, 2)[1]["valid_auroc"]
    assert found.trials[0]["valid_auroc"] == pytest.approx(configured)
    assert found.valid_auroc == max(t["valid_auroc"] for t in found.trials)
    assert found.valid_auroc >= configured
    # the best setting reproduces its score: it is what the winning trial fitted
    best = fit_and_score("decision_tree", found.params, 0, data, 2)[1]["valid_auroc"]
    assert best == pytest.approx(found.valid_auroc)


def test_tune_is_seeded_and_keeps_unsearched_arguments() -> None:
    data = encode_splits(_prepared())
    a = tune("random_forest", {"n_estimators": 20}, data, 2, 3, seed=1)
    b = tune("random_forest", {"n_estimators": 20}, data, 2, 3, seed=1)
    assert a.trials == b.trials
    assert a.params["n_estimators"] == 20
    assert set(a.params) == {"n_estimators", "max_features", "min_samples_leaf"}


def test_a_configured_value_outside_the_space_is_still_a_candidate() -> None:
    data = encode_splits(_prepared())
    # hidden_size 100 is not among the searched choices; INN keeps it when it scores best
    net = {"hidden_size": 100, "epochs": 3, "warmup_epochs": 1, "nr_restarts": 1, "device": "cpu"}
    found = tune("inn", net, data, 2, 1)
    assert found.params == net
    assert len(found.trials) == 1


def test_tune_rejects_what_it_cannot_search() -> None:
    data = encode_splits(_prepared())
    with pytest.raises(ValueError, match="no search space for tabular method 'svm'"):
        tune("svm", {}, data, 2, 3)
    with pytest.raises(ValueError, match="n_trials must be >= 1"):
        tune("logistic_regression", {}, data, 2, 0)
    reg = encode_splits(_prepared(task="regression"))
    with pytest.raises(ValueError, match="classification"):
        tune("logistic_regression", {}, reg, 2, 1)


def test_inn_searches_its_smoothness_and_the_fit_uses_it() -> None:
    """INN's space holds both regularisers; a searched smoothness reaches the fitted model."""
    optuna = pytest.importorskip("optuna")
    trial = optuna.trial.FixedTrial(
        {
            "lr": 1e-3,
            "hidden_size": 64,
            "nr_blocks": 1,
            "dropout": 0.1,
            "weight_decay": 1e-5,
            "weight_norm": 0.1,
            "smoothness": 3.0,
            "numeric_bins": 8,
        }  # fmt: skip
    )
    space = SEARCH_SPACES["inn"](trial)
    assert space["smoothness"] == 3.0
    assert space["weight_norm"] == 0.1
    assert space["numeric_bins"] == 8
    assert "smoothness" not in SEARCH_SPACES["tabresnet"](trial)
    assert "numeric_bins" not in SEARCH_SPACES["tabresnet"](trial)
    data = encode_splits(_prepared())
    net = {"epochs": 3, "warmup_epochs": 1, "nr_restarts": 1, "device": "cpu", **space}
    model, _ = fit_and_score("inn", net, 0, data, 2)
    assert model.smoothness == 3.0
    assert model.module_.members[0].encoding is not None  # the searched bins reach the model
    # and training felt it: the same seed without the penalty fits another model
    free, _ = fit_and_score("inn", {**net, "smoothness": 0.0}, 0, data, 2)
    x = data.x["test"]
    assert abs(model.decision_function(x) - free.decision_function(x)).max() > 1e-6
