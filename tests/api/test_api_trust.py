"""Results that cannot mislead: ignored parameters refused, misspellings named, PLCC never flips the sign."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from deepfeat_iqa.api import fit
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.evaluation._evaluate import evaluate
from deepfeat_iqa.features._sets import LayerFeatures
from deepfeat_iqa.datasets.splits import Split


@pytest.mark.parametrize(("given", "named"), [({"n_splits": 5}, "n_splits=5"), ({"seed": 1}, "seed=1"), ({"by": None}, "by=None")])
def test_official_protocol_refuses_split_settings_it_would_ignore(feats: LayerFeatures, given: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=rf"protocol='official' fixes its own split, so {named} would be ignored.*protocol='repeated'"):
        evaluate(feats, head=Ridge(), protocol="official", progress=False, **given)


def test_explicit_splits_refuse_split_settings(feats: LayerFeatures) -> None:
    split = Split(train=np.arange(30), test=np.arange(30, 60))
    with pytest.raises(ConfigError, match="explicit splits= fixes its own split, so seed=3"):
        evaluate(feats, head=Ridge(), splits=[split], seed=3, progress=False)


def test_a_misspelled_evaluate_keyword_names_the_right_parameter(feats: LayerFeatures) -> None:
    with pytest.raises(ConfigError, match=r"evaluate\(\) got repeats= \(did you mean n_splits=\?\)") as info:
        evaluate(feats, head="gpr", repeats=5, progress=False)
    assert "has no parameter" not in str(info.value)
    with pytest.raises(ConfigError, match=r"test_sise= \(did you mean test_size=\?\)"):
        evaluate(feats, head="svr", test_sise=0.3, progress=False)
    with pytest.raises(ConfigError, match=r"fit\(\) got layer= \(did you mean layers=\?\)"):
        fit(feats, head="svr", layer=["layer3"])


class _Counted(Ridge):
    """Ridge that counts how often it is constructed (make_head clones an instance by constructing it)."""

    built = 0

    def __init__(self, alpha: float = 1.0) -> None:
        type(self).built += 1
        super().__init__(alpha=alpha)


def test_head_options_are_checked_once_by_the_head_factory(feats: LayerFeatures) -> None:
    """fit builds the head once (make_head checks the options); no throwaway head is built to check them first."""
    _Counted.built = 0
    head = _Counted()
    fit(feats, head=head, alpha=0.5)
    assert _Counted.built == 2  # the caller's instance and make_head's clone
    with pytest.raises(ConfigError, match=r"fit\(\) got alfa= \(did you mean alpha=\?\): not a parameter of fit\(\) .* nor of the head '_Counted' \(alpha\)"):
        fit(feats, head=head, alfa=0.5)
    with pytest.raises(ConfigError, match=r"evaluate\(\) got noise_flor= \(did you mean noise_floor=\?\).* nor of the head 'gpr' \(.*noise_floor"):
        evaluate(feats, head="gpr", noise_flor=0.1, progress=False)


def test_head_options_still_reach_the_head(feats: LayerFeatures) -> None:
    result = evaluate(feats, head="svr", n_splits=2, C=1.0, random_state=3, progress=False)
    assert result.info["head_params"]["C"] == "1.0" and result.info["head_params"]["random_state"] == "3"


def test_small_test_splits_warn(feats: LayerFeatures) -> None:
    with pytest.warns(UserWarning, match="fewer than 20 images"):
        evaluate(feats, head=Ridge(), n_splits=2, progress=False)


class _Backwards(RegressorMixin, BaseEstimator):
    """Predicts the negated least-squares fit: its predictions fall as the scores rise."""

    def fit(self, X, y):  # noqa: ANN001, ANN201, N803
        self.ridge_ = Ridge().fit(X, y)
        return self

    def predict(self, X):  # noqa: ANN001, ANN201, N803
        return -self.ridge_.predict(X)


def test_a_decreasing_head_gets_a_negative_plcc_and_the_result_says_raw(make_feats) -> None:  # noqa: ANN001
    feats = make_feats(n_groups=40, per_group=3)
    with pytest.warns(UserWarning, match="PLCC and RMSE there are the raw values"):
        result = evaluate(feats, head=_Backwards(), n_splits=3, progress=False)
    assert result.info["plcc_raw_fallback_splits"] == [0, 1, 2] and result.info["plcc_mapping"] == ["raw"] * 3
    assert (result.per_split["srocc"] < -0.9).all() and (result.per_split["plcc"] < -0.9).all()
    np.testing.assert_array_equal(result.per_split["plcc"], result.per_split["plcc_raw"])
    good = evaluate(feats, head=Ridge(), n_splits=3, progress=False)
    assert good.info["plcc_mapping"] == ["logistic4"] * 3 and good.info["plcc_raw_fallback_splits"] == []
