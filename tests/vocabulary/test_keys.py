"""Issue 13 items 5 and 8: concatenated layers keep a tuple of per-layer keys; stage names equal module paths."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import FeatureKeyError
from deepfeat_iqa.features._sets import ConcatKey, FeatureKey, FeatureSet, LayerFeatures, key_from_dict

KEY = FeatureKey("efficientnet_lite0", "sha256:00ff", "blocks.4", "avg+std", "center", "fp32")


def _feature_set(poolings=("avg+std", "avg")) -> FeatureSet:
    ds = Dataset.from_paths([f"{i}.png" for i in range(6)])
    rng = np.random.default_rng(0)
    layers = {
        name: LayerFeatures(key=replace(KEY, layer=path, pooling=pooling), per_view=rng.normal(size=(6, 2, dim)), dataset=ds)
        for (name, path, dim), pooling in zip([("block4", "blocks.4", 4), ("block5", "blocks.5", 3)], poolings)
    }
    return FeatureSet(layers, aliases={"stage_four": "block4"})


def test_concatenated_key_is_the_tuple_of_layer_keys_even_with_plus_in_pooling():
    joined = _feature_set().concat(["block4", "block5"])
    assert isinstance(joined.key, ConcatKey)
    assert joined.key.layer == ("blocks.4", "blocks.5") and joined.key.pooling == ("avg+std", "avg")
    assert [part.layer for part in joined.key] == ["blocks.4", "blocks.5"]
    assert joined.key.backbone == "efficientnet_lite0" and joined.blocks == (("blocks.4", 4), ("blocks.5", 3))
    assert joined.X.shape == (6, 7)
    record = json.loads(json.dumps(joined.key.to_dict()))
    assert key_from_dict(record) == joined.key and key_from_dict(KEY.to_dict()) == KEY


def test_concatenated_keys_name_the_part_that_differs():
    fitted = _feature_set().concat(["block4", "block5"]).key
    fitted.check_matches(_feature_set().concat(["block4", "block5"]).key)
    with pytest.raises(FeatureKeyError, match=r"layer 1 \(blocks.5\): pooling: fitted on 'avg', given 'max'"):
        fitted.check_matches(_feature_set(("avg+std", "max")).concat(["block4", "block5"]).key)
    with pytest.raises(FeatureKeyError, match="2 concatenated layers"):
        fitted.check_matches(KEY)
    with pytest.raises(FeatureKeyError, match="one layer"):
        KEY.check_matches(fitted)


def test_layers_are_found_by_requested_name_module_path_and_stage_alias():
    feats = _feature_set()
    assert feats["blocks.4"] is feats["block4"] is feats["stage_four"]
    assert "blocks.5" in feats and "block5" in feats and "blocks.6" not in feats
    assert feats.concat(["blocks.4", "block5"]).key == feats.concat(["block4", "blocks.5"]).key
    assert "block4 (blocks.4)" in repr(feats)
    with pytest.raises(FeatureKeyError, match=r"block4 \(blocks.4\), block5 \(blocks.5\)"):
        feats["blocks.6"]


def test_extract_accepts_stage_names_and_module_paths_alike(tmp_path):
    from PIL import Image

    import deepfeat_iqa as dfi

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    fast = {"model": "resnet18", "weights": "random", "num_workers": 0, "progress": False, "store": None}
    feats = dfi.extract(tmp_path, layers=["stage3", "layer4"], **fast)
    assert feats["layer3"] is feats["stage3"] and feats["stage4"] is feats["layer4"]
    assert "stage3 (layer3)" in repr(feats)
    by_path = dfi.extract(tmp_path, layers="layer3", **fast)
    assert by_path["stage3"].key == feats["stage3"].key
    np.testing.assert_array_equal(by_path["stage3"].X, feats["layer3"].X)
