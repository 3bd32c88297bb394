"""The head registry: names, options, errors and the calls the fit/evaluate API makes."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge

from deepfeat_iqa import heads
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads import GPR, LinearSVRHead, MultitaskMLP, RBFSVRHead, list_heads, make_head, register_head


def test_builtin_names_map_to_the_documented_heads():
    assert {"svr", "linear-svr", "rbf-svr", "gpr"} <= set(list_heads())
    assert list_heads() == sorted(list_heads())
    assert type(make_head("svr")) is LinearSVRHead
    assert type(make_head("linear-svr")) is LinearSVRHead
    assert type(make_head("rbf-svr")) is RBFSVRHead
    assert type(make_head("GPR")) is GPR
    assert type(make_head("linear_svr")) is LinearSVRHead
    assert type(make_head("mlp")) is MultitaskMLP


def test_heads_are_listed_by_what_they_consume():
    assert set(list_heads("features")) | set(list_heads("images")) == set(list_heads())
    assert "gpr" in list_heads("features") and "spaq-bl" in list_heads("images")


@pytest.mark.parametrize("name", list_heads("features"))
def test_every_head_fits_with_blocks_like_the_api_does(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 10))
    y = X @ rng.normal(size=10) + 0.1 * rng.normal(size=60)  # learnable: a head that ignores X fails below
    options = {"gpr": {"max_iter": 5}, "mlp": {"max_epochs": 3}}.get(name, {})
    model = make_head(name, **options)
    assert isinstance(model, BaseEstimator)
    if "blocks" in model.get_params(deep=False):
        model.set_params(blocks=(6, 4))
    model.fit(X[:45], y[:45])
    predicted = model.predict(X[45:])
    assert predicted.shape == (15,) and np.corrcoef(predicted, y[45:])[0, 1] > 0.5, name


def test_options_reach_the_estimator():
    model = make_head("gpr", tune_trials=30, noise_floor=1e-3)
    assert model.tune_trials == 30 and model.noise_floor == 1e-3


def test_unknown_name_suggests_the_close_one():
    with pytest.raises(ConfigError, match="Unknown head 'gpt'.*'gpr'"):
        make_head("gpt")


def test_unknown_option_names_the_valid_parameters():
    with pytest.raises(ConfigError, match=r"no parameter 'noise_flor' \(did you mean 'noise_floor'\?\).*max_iter"):
        make_head("gpr", noise_flor=0.1)


def test_an_instance_is_cloned_and_takes_options():
    original = LinearSVRHead(C=0.5)
    made = make_head(original, epsilon=0.2)
    assert made is not original and made.C == 0.5 and made.epsilon == 0.2 and original.epsilon == 0.1
    assert isinstance(make_head(Ridge()), Ridge)
    with pytest.raises(ConfigError, match="Valid parameters"):
        make_head(Ridge(), C=1.0)


def test_a_non_head_spec_is_refused():
    with pytest.raises(ConfigError, match="list_heads"):
        make_head(42)


def test_duplicate_registration_warns(monkeypatch):
    monkeypatch.setattr(heads, "HEADS", copy.deepcopy(heads.HEADS))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_head("ridge")(Ridge)  # a new name is silent
    with pytest.warns(UserWarning, match="'gpr' was registered for GPR"):
        register_head("gpr")(Ridge)
    assert type(make_head("gpr")) is Ridge
