"""DCNNS and CNNIQA end to end on a tiny image set: fit, predict, state round trip, bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.patchcnn import CNNIQA, DCNNS, with_scene_clusters

FAST = {"epochs": 2, "batch_size": 32, "progress": False}


@pytest.mark.parametrize("head", [DCNNS(patch_size=32, stride=32, **FAST), CNNIQA(**FAST)], ids=["dcnns", "cnniqa"])
def test_fit_predict_and_state_round_trip(head, blur_set) -> None:
    head.fit(blur_set)
    assert 1 <= head.best_epoch_ <= 2 and len(head.history_) == 2
    assert {"loss", "val_srocc"} <= set(head.history_[0])
    scores = head.predict(blur_set)
    assert scores.shape == (len(blur_set),) and np.isfinite(scores).all()
    config, arrays = head._dfi_state()
    import json

    json.dumps(config)  # the config is JSON-able
    again = type(head)._dfi_from_state(config, {k: v.numpy() for k, v in arrays.items()})
    np.testing.assert_allclose(again.predict(blur_set), scores, rtol=1e-5, atol=1e-5)


def test_same_seed_same_model(blur_set) -> None:
    a = CNNIQA(random_state=3, **FAST).fit(blur_set).predict(blur_set)
    b = CNNIQA(random_state=3, **FAST).fit(blur_set).predict(blur_set)
    np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.slow
def test_dcnns_learns_the_blur_ranking(blur_set) -> None:
    head = DCNNS(patch_size=32, stride=32, epochs=15, batch_size=64, val_fraction=0, progress=False).fit(blur_set)
    from deepfeat_iqa.metrics import srocc

    assert srocc(blur_set.mos, head.predict(blur_set)) > 0.6
    assert sum(head.scene_counts_) == len(blur_set)


def test_dcnns_uses_stored_scene_clusters(blur_set) -> None:
    ds = with_scene_clusters(blur_set, k=3)
    head = DCNNS(patch_size=32, stride=32, n_scenes=3, **FAST).fit(ds)
    assert sum(head.scene_counts_) < len(ds)  # only the training rows (validation held out)
    with pytest.raises(DataError, match="n_scenes=2"):
        DCNNS(patch_size=32, stride=32, n_scenes=2, **FAST).fit(ds)


def test_kmeans_more_clusters_than_images(blur_set) -> None:
    with pytest.raises(ConfigError, match="only 3 images"):
        DCNNS(patch_size=32, stride=32, val_fraction=0, **FAST).fit(blur_set.subset([0, 1, 2]))


def test_images_smaller_than_a_patch(tmp_path, blur_set) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(small)
    ds = Dataset(ids=[*blur_set.ids, "small.png"], paths=[*blur_set.paths, small], mos=[*blur_set.mos, 50.0],
                 groups=[*blur_set.groups, "small"])  # fmt: skip
    with pytest.raises(DataError, match=r"'small.png'.*50 x 40 px, smaller than one 64 x 64 patch.*upscale_small=True"):
        DCNNS(**FAST).fit(ds)
    head = DCNNS(upscale_small=True, **FAST).fit(ds)
    assert np.isfinite(head.predict(ds.subset([len(ds) - 1]))).all()


def test_rgb_and_grayscale_files_both_work(tmp_path, blur_set) -> None:
    head = CNNIQA(**FAST).fit(blur_set)  # RGB PNGs, converted to gray
    gray = tmp_path / "gray.png"
    Image.open(blur_set.paths[0]).convert("L").save(gray)
    rgb_score = head.predict(blur_set.subset([0]))
    gray_score = head.predict(Dataset.from_paths([gray]))
    np.testing.assert_allclose(gray_score, rgb_score, atol=0.5)  # same luma up to 8-bit rounding


def test_aspect_needs_scpqd_ranks(blur_set) -> None:
    with pytest.raises(DataError, match=r"aspect='texture'.*has no aspect ranks.*scpqd2020"):
        DCNNS(aspect="texture", **FAST).fit(blur_set)
    ranks = pd.DataFrame({"color": np.tile([1, 2, 3, 4], 5)})
    with pytest.raises(DataError, match="aspect ranks for color"):
        DCNNS(aspect="texture", **FAST).fit(replace(blur_set, aspects=ranks))
    with pytest.raises(ConfigError, match="aspects are"):
        DCNNS(aspect="sharpness", **FAST).fit(blur_set)


def test_aspect_trains_on_within_scene_ranks(blur_set) -> None:
    ranks = pd.DataFrame({a: np.tile([1, 2, 3, 4], 5) for a in ("texture", "color", "noise", "exposure")})
    ds = replace(blur_set, aspects=ranks, mos=None)
    head = CNNIQA(aspect="texture", **FAST).fit(ds)
    assert head.y_mean_ == pytest.approx(2.5)
    assert "val_srocc" in head.history_[0]


def test_unfitted_predict_and_bad_input() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CNNIQA().predict(["x.png"])
    with pytest.raises(ConfigError, match="learns from images"):
        CNNIQA(**FAST).fit(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="kernel=40"):
        CNNIQA(kernel=40, **FAST)._build_net()


def test_network_shapes() -> None:
    from deepfeat_iqa.patchcnn import CNNIQANet, DCNNSNet

    q, s = DCNNSNet()(torch.zeros(3, 1, 64, 64))
    assert q.shape == (3,) and s.shape == (3, 4)
    net = DCNNSNet()
    assert net.features(torch.zeros(1, 1, 64, 64)).shape == (1, 128)
    assert DCNNSNet(n_scenes=0)(torch.zeros(1, 1, 64, 64))[1] is None
    assert CNNIQANet()(torch.zeros(2, 1, 32, 32))[0].shape == (2,)
    assert CNNIQANet().conv.weight.shape == (50, 1, 7, 7)
