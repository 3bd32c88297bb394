"""DCNNS's 37-dim scene descriptor and its k-means scene clusters."""

from __future__ import annotations

import numpy as np
import pytest

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.patchcnn import (
    DESCRIPTOR_DIM,
    _scenes,
    cluster_scenes,
    scene_descriptor,
    scene_descriptors,
    with_scene_clusters,
)


def test_descriptor_parts() -> None:
    rng = np.random.default_rng(0)
    d = scene_descriptor(rng.integers(0, 256, size=(120, 90, 3)).astype(np.uint8))
    assert d.shape == (DESCRIPTOR_DIM,) == (37,)
    assert d[:16].sum() == pytest.approx(1.0) and d[16:32].sum() == pytest.approx(1.0)
    assert np.all((d[32:] >= 0) & (d[32:] <= 1)) and d[32:].sum() <= 1 + 1e-9


def test_descriptor_reads_image_content() -> None:
    flat = scene_descriptor(np.full((64, 64), 10, np.uint8))
    assert flat[0] == 1.0 and flat[16] == 1.0  # every block dark and flat: first bins
    assert np.all(flat[32:] == 0)  # no edges at all
    stripes = np.zeros((64, 64), np.uint8)
    stripes[:, ::2] = 255  # vertical stripes: only the vertical filter fires
    edges = scene_descriptor(stripes)[32:]
    assert edges[0] > 0.9 and edges[1:].sum() == 0
    bars = stripes.T.copy()
    assert scene_descriptor(bars)[33] > 0.9  # horizontal


def test_descriptor_refuses_tiny_images() -> None:
    with pytest.raises(DataError, match="16 x 16"):
        scene_descriptor(np.zeros((10, 40), np.uint8))


def test_kmeans_errors() -> None:
    descriptors = np.random.default_rng(0).random((3, 37))
    with pytest.raises(ConfigError, match="4 scene clusters but there are only 3 images"):
        cluster_scenes(descriptors, k=4)
    with pytest.raises(ConfigError, match="k >= 2"):
        cluster_scenes(descriptors, k=1)


def test_clusters_are_stored_with_the_dataset_and_computed_once(blur_set, monkeypatch) -> None:
    ds = with_scene_clusters(blur_set, k=4, seed=0)
    table = ds.scene_clusters
    assert table.shape == (len(blur_set), 38) and set(table["cluster"]) == {0, 1, 2, 3}  # k=4: all four used
    # the ids are k-means clusters of the stored descriptors: each image sits nearest its own cluster's mean
    descriptors, ids = table.iloc[:, :37].to_numpy(), table["cluster"].to_numpy()
    means = np.stack([descriptors[ids == j].mean(axis=0) for j in range(4)])
    nearest = np.linalg.norm(descriptors[:, None, :] - means[None], axis=2).argmin(axis=1)
    np.testing.assert_array_equal(nearest, ids)
    assert list(table.index) == blur_set.ids
    sub = ds.subset([0, 5, 9])  # the table follows row selections
    assert list(sub.scene_clusters.index) == [blur_set.ids[i] for i in (0, 5, 9)]

    def no_recompute(image):
        raise AssertionError("descriptor recomputed")

    monkeypatch.setattr(_scenes, "scene_descriptor", no_recompute)
    np.testing.assert_array_equal(scene_descriptors(ds), table.iloc[:, :37].to_numpy())
    np.testing.assert_array_equal(scene_descriptors(blur_set), table.iloc[:, :37].to_numpy())  # file-identity cache
    with pytest.raises(ConfigError, match="only 20 images"):
        with_scene_clusters(blur_set, k=21)
