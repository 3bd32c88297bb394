"""Synthetic features for the API tests: a small labeled Dataset and LayerFeatures built from arrays."""

from __future__ import annotations

import numpy as np
import pytest

from deepfeat_iqa.datasets import Dataset, Scale
from deepfeat_iqa.features._sets import FeatureKey, FeatureSet, LayerFeatures

KEY = FeatureKey(backbone="resnet50", weights="sha256:0123abcd", layer="layer3", pooling="avg", views="center", precision="fp32")


def make_features(
    n_groups: int = 20, per_group: int = 3, dim: int = 8, *, seed: int = 0, name: str = "synthetic",
    scale: Scale | None = None, layer: str = "layer3", noise: float = 0.1,
) -> LayerFeatures:
    """Features whose first coordinates carry the score, grouped like distorted versions of references."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    per_view = rng.normal(size=(n, 2, dim)).astype(np.float32)
    signal = per_view.mean(axis=1)[:, :3] @ np.array([1.0, 0.5, -0.5])
    mos = 50 + 10 * signal + noise * rng.normal(size=n)
    scale = scale or Scale(0, 100, True, "MOS")
    if not scale.higher_is_better:
        mos = 100 - mos
    ids = [f"{name}_{i:03d}.png" for i in range(n)]
    ds = Dataset(ids=ids, paths=ids, mos=mos, scale=scale, groups=np.repeat(np.arange(n_groups), per_group), name=name)
    from dataclasses import replace

    return LayerFeatures(key=replace(KEY, layer=layer), per_view=per_view, dataset=ds)


@pytest.fixture()
def make_feats():
    """The :func:`make_features` factory, for tests that need several synthetic databases."""
    return make_features


@pytest.fixture()
def feats() -> LayerFeatures:
    return make_features()


@pytest.fixture()
def feature_set() -> FeatureSet:
    a = make_features(layer="layer3", seed=0)
    b = make_features(layer="layer4", seed=1, dim=4)
    b = LayerFeatures(key=b.key, per_view=b.per_view, dataset=a.dataset)
    return FeatureSet({"layer3": a, "layer4": b})
