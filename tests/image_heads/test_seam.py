"""The seam: image heads and feature heads through the same fit/evaluate/compare/save/load."""

from __future__ import annotations

import numpy as np
import pytest

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.features._sets import FeatureKey, LayerFeatures
from deepfeat_iqa.heads import list_heads, make_head
from deepfeat_iqa.heads._adapter import consumes

from .conftest import FAST


def _features(ds) -> LayerFeatures:
    rng = np.random.default_rng(0)
    per_view = (ds.mos[:, None, None] + rng.normal(size=(len(ds), 1, 4))).astype(np.float32)
    key = FeatureKey("resnet50", "sha256:00", "layer3", "avg", "center", "fp32")
    return LayerFeatures(key=key, per_view=per_view, dataset=ds)


def test_registry_names_image_heads_and_one_factory_builds_both_kinds():
    assert {"spaq-bl", "spaq-mt-e", "spaq-mt-a", "spaq-mt-s"} <= set(list_heads())
    head = make_head("spaq-mt-e", epochs=2)
    assert head.task == "mt-e" and head.epochs == 2 and consumes(head) == "images"
    copy = make_head(head, lr=0.5)
    assert copy is not head and copy.lr == 0.5 and head.lr != 0.5 and copy.task == "mt-e"
    assert consumes(make_head("gpr")) == "features"


def test_unknown_head_option_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="no parameter 'epoch'.*did you mean 'epochs'.*Valid parameters:.*trunk_lr"):
        make_head("spaq-bl", epoch=3)


def test_image_and_feature_heads_share_splits_and_the_paired_test(images):
    options = {k: v for k, v in FAST.items() if k != "progress"}  # evaluate's own progress= is the splits bar
    image_result = dfi.evaluate(images, head="spaq-bl", n_splits=2, seed=3, progress=False, epochs=1, **options)
    feature_result = dfi.evaluate(_features(images), head="linear-svr", n_splits=2, seed=3, progress=False)
    assert image_result.signatures == feature_result.signatures
    assert image_result.info["consumes"] == "images" and feature_result.info["consumes"] == "features"
    assert image_result.info["feature_key"]["backbone"] == FAST["backbone"]
    comparison = dfi.compare(feature_result, image_result)
    assert comparison.n_splits == 2 and "linear-svr" in str(comparison)


def test_feature_head_given_a_dataset_says_to_extract_first(images):
    with pytest.raises(ConfigError, match="run dfi.extract"):
        dfi.fit(images, head="gpr")


def test_image_head_fit_predict_save_load_round_trip(images, tmp_path):
    model = dfi.fit(images, head="spaq-bl", epochs=1, **FAST)
    assert model.key is None and model.consumes == "images"
    before = model.predict(images)
    assert before.shape == (len(images),) and np.isfinite(before).all()
    assert np.allclose(model.predict([str(p) for p in images.paths[:3]]), before[:3])
    path = dfi.save_model(model, tmp_path / "bl.model")
    again = dfi.load_model(path)
    assert np.allclose(again.predict(images), before)


def test_evaluate_cross_trains_an_image_head_on_one_database_and_tests_on_another(images, tmp_path):
    from .conftest import make_images

    other = make_images(tmp_path / "other", n_groups=3, seed=5)
    options = {k: v for k, v in FAST.items() if k != "progress"}
    result = dfi.evaluate_cross(images, other, head="spaq-bl", progress=False, epochs=1, **options)
    assert result.info["protocol"] == "cross" and result.info["consumes"] == "images"
    assert result.per_split.loc[0, "n_test"] == len(other)
