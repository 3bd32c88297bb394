"""dfi.fit / QualityModel.predict on synthetic features: shapes, key checks, uncertainty, side labels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import Ridge

from deepfeat_iqa.api import QualityModel, fit
from deepfeat_iqa.errors import ConfigError, DataError, FeatureKeyError
from deepfeat_iqa.features._sets import FeatureSet, LayerFeatures


def test_fit_predict_learns_the_signal(feats: LayerFeatures, make_feats) -> None:
    model = fit(feats, head=Ridge(alpha=1.0))
    assert isinstance(model, QualityModel)
    assert model.key == feats.key and model.blocks == (("layer3", 8),)
    assert model.info["n_train"] == len(feats) and "scikit-learn" in model.info["versions"]
    new = make_feats(seed=5)
    pred = model.predict(new)
    assert pred.shape == (len(new),)
    assert stats.spearmanr(pred, new.y).statistic > 0.95


def test_instance_is_not_mutated(feats: LayerFeatures) -> None:
    head = Ridge()
    fit(feats, head=head, alpha=3.0)
    assert not hasattr(head, "coef_") and head.alpha == 1.0


def test_predict_refuses_features_of_another_kind(feats: LayerFeatures) -> None:
    """fp32 and bf16 stand in for each other since issue 17 (tests/api/test_score_photos.py); fp16 does not."""
    model = fit(feats, head=Ridge())
    other = LayerFeatures(key=replace(feats.key, precision="fp16"), per_view=feats.per_view, dataset=feats.dataset)
    with pytest.raises(FeatureKeyError, match="precision: fitted on 'fp32', given 'fp16'"):
        model.predict(other)
    pooled = LayerFeatures(key=replace(feats.key, pooling="max"), per_view=feats.per_view, dataset=feats.dataset)
    with pytest.raises(FeatureKeyError, match="pooling: fitted on 'avg', given 'max'"):
        model.predict(pooled)


def test_feature_set_layers_are_concatenated_and_reduced(feature_set: FeatureSet) -> None:
    model = fit(feature_set, head=Ridge(), layers=["layer3", "layer4"])
    assert model.layers == ["layer3", "layer4"] and model.key.layer == ("layer3", "layer4")
    assert model.predict(feature_set).shape == (len(feature_set.dataset),)
    with pytest.raises(ConfigError, match="layers"):
        fit(feature_set, head=Ridge())  # two layers, none chosen


def test_one_layer_name_is_taken_whole_not_letter_by_letter(feature_set: FeatureSet) -> None:
    """``layers="layer3"`` is one layer, as in extract (a plain string was once split into its letters)."""
    single = fit(feature_set, head=Ridge(), layers="layer3")
    assert single.key.layer == fit(feature_set, head=Ridge(), layers=["layer3"]).key.layer
    assert np.allclose(single.predict(feature_set), fit(feature_set, head=Ridge(), layers=["layer3"]).predict(feature_set))


def test_return_std_only_where_the_head_has_it(feats: LayerFeatures) -> None:
    mean, std = fit(feats, head=GaussianProcessRegressor(normalize_y=True)).predict(feats, return_std=True)
    assert mean.shape == std.shape == (len(feats),) and np.all(std >= 0)
    with pytest.raises(ConfigError, match="gpr"):
        fit(feats, head=Ridge()).predict(feats, return_std=True)


def test_unlabeled_and_missing_scores_are_named(feats: LayerFeatures) -> None:
    unlabeled = replace(feats, dataset=replace(feats.dataset, mos=None, scale=None))
    with pytest.raises(DataError, match="no quality scores"):
        fit(unlabeled, head=Ridge())
    feats.dataset.mos[[1, 4]] = np.nan  # a Dataset edited after validation
    with pytest.raises(DataError, match=r"2 images have no score \(first: \['synthetic_001.png', 'synthetic_004.png'\]"):
        fit(feats, head=Ridge())


class _Recorder(RegressorMixin, BaseEstimator):
    """A head that declares blocks and side labels, recording what fit handed it."""

    def __init__(self, *, blocks=()):
        self.blocks = blocks

    def fit(self, X, y, attributes=None, exif=None):
        self.seen_ = {"blocks": self.blocks, "attributes": attributes, "exif": exif}
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_blocks_and_side_labels_reach_heads_that_declare_them(feature_set: FeatureSet) -> None:
    lf = feature_set.concat()
    attributes = pd.DataFrame({"sharpness": np.arange(len(lf), dtype=float)})
    lf = replace(lf, dataset=replace(lf.dataset, attributes=attributes))
    seen = fit(lf, head=_Recorder()).estimator.seen_
    assert seen["blocks"] == (8, 4)
    assert seen["attributes"]["sharpness"].tolist() == attributes["sharpness"].tolist()
    assert seen["exif"] is None  # the dataset has no EXIF table, so none is passed


def test_not_an_estimator_is_refused(feats: LayerFeatures) -> None:
    with pytest.raises(ConfigError, match="scikit-learn style estimator"):
        fit(feats, head=42)
