"""DCNNS and CNNIQA end to end on a tiny image set through the engine and the API: fit, predict, save/load, bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import deepfeat_iqa as dfi
from deepfeat_iqa.evaluation import within_scene_srocc
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.heads.image import CNNIQA, DCNNS
from deepfeat_iqa.patchcnn import with_scene_clusters

FAST = {"epochs": 2, "batch_size": 4, "crops_per_image": 2, "num_workers": 0, "progress": False}


@pytest.mark.parametrize("name", [pytest.param("dcnns", marks=pytest.mark.slow), "cnniqa"])
def test_registered_fit_predict_save_load(name, blur_set, tmp_path) -> None:
    model = dfi.fit(blur_set, head=name, **FAST)
    head = model.estimator
    assert 1 <= head.best_epoch_ <= 2 and len(head.history_) == 2 and "val_srocc" in head.history_[0]
    scores = model.predict(blur_set)
    assert scores.shape == (len(blur_set),) and np.isfinite(scores).all()
    path = dfi.save_model(model, tmp_path / f"{name}.dfi")
    np.testing.assert_allclose(dfi.load_model(path).predict(blur_set), scores, rtol=1e-5, atol=1e-5)


def test_evaluate_and_compare_on_the_same_splits(blur_set) -> None:
    options = {k: v for k, v in FAST.items() if k != "progress"}
    a = dfi.evaluate(blur_set, head="cnniqa", n_splits=2, seed=0, progress=False, **options)
    b = dfi.evaluate(blur_set, head="dcnns", n_splits=2, seed=0, progress=False, n_scenes=2, **options)
    assert a.signatures == b.signatures
    assert np.isfinite(a.aggregate.loc["mean", "srocc"])
    comparison = dfi.compare(a, b)  # its result was discarded before: now checked against the per-split values
    d = a.per_split["srocc"].to_numpy() - b.per_split["srocc"].to_numpy()
    assert comparison.n_splits == 2 and comparison.metric == "srocc"
    assert comparison.mean_a == pytest.approx(a.per_split["srocc"].mean())
    assert comparison.mean_b == pytest.approx(b.per_split["srocc"].mean())
    if np.std(d) > 0:  # paired t from its definition: mean(d) / (sd(d) / sqrt(n))
        assert comparison.statistic == pytest.approx(d.mean() / (d.std(ddof=1) / np.sqrt(d.size)))
        assert dfi.compare(b, a).statistic == pytest.approx(-comparison.statistic)
    assert dfi.compare(a, a).verdict == 0


def test_same_seed_same_model(blur_set) -> None:
    a = CNNIQA(random_state=3, **FAST).fit(blur_set).predict(blur_set)
    b = CNNIQA(random_state=3, **FAST).fit(blur_set).predict(blur_set)
    np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.slow
def test_dcnns_learns_the_blur_ranking(blur_set) -> None:
    from deepfeat_iqa.evaluation.metrics import srocc

    from deepfeat_iqa.evaluation.metrics import per_group_srocc

    groups = np.asarray(blur_set.groups)
    held_out = np.isin(groups, np.unique(groups)[-2:])  # two photos the network never saw
    train, test = blur_set.subset(np.flatnonzero(~held_out)), blur_set.subset(np.flatnonzero(held_out))
    head = DCNNS(crop_size=32, test_views="grid", epochs=10, batch_size=4, crops_per_image=8, val_fraction=0, num_workers=0,
                 progress=False).fit(train)  # 32 px patches keep it fast
    predicted = head.predict(test)
    assert srocc(test.mos, predicted) > 0.6  # on held-out photos, not the training rows
    assert per_group_srocc(test.mos, predicted, np.asarray(test.groups), min_size=4) > 0.6  # blur order in each
    assert sum(head.scene_counts_) == len(train)


def test_dcnns_uses_stored_scene_clusters(blur_set) -> None:
    ds = with_scene_clusters(blur_set, k=3)
    head = DCNNS(n_scenes=3, **FAST).fit(ds)
    assert head.scene_counts_ == np.bincount(ds.scene_clusters["cluster"], minlength=3).tolist()
    assert head.network_.scene[-1].out_features == 3
    with pytest.raises(DataError, match="n_scenes=2"):
        DCNNS(n_scenes=2, **FAST).fit(ds)


def test_dcnns_without_scene_task(blur_set) -> None:
    head = DCNNS(n_scenes=0, **FAST).fit(blur_set)
    assert head.network_.scene is None


def test_kmeans_more_clusters_than_images(blur_set) -> None:
    with pytest.raises(ConfigError, match="4 scene clusters but there are only 3 images"):
        DCNNS(**{**FAST, "batch_size": 2}, val_fraction=0).fit(blur_set.subset([0, 1, 2]))


def test_images_smaller_than_a_patch(tmp_path, blur_set) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(small)
    ds = Dataset(ids=[*blur_set.ids, "small.png"], paths=[*blur_set.paths, small], mos=[*blur_set.mos, 50.0],
                 groups=[*blur_set.groups, "small"])  # fmt: skip
    with pytest.raises(DataError, match=r"smaller than one 64 x 64 patch \(first: 'small.png' \(50 x 40 px\)\).*upscale_small=True"):
        DCNNS(**FAST).fit(ds)
    head = DCNNS(upscale_small=True, **FAST).fit(ds)
    assert np.isfinite(head.predict(ds.subset([len(ds) - 1]))).all()
    with pytest.raises(DataError, match="smaller than one 64 x 64 patch"):
        DCNNS(**FAST).fit(blur_set).predict(ds.subset([len(ds) - 1]))


def test_rgb_and_grayscale_files_both_work(tmp_path, blur_set) -> None:
    head = CNNIQA(**FAST).fit(blur_set)  # RGB PNGs, converted to gray
    gray = tmp_path / "gray.png"
    Image.open(blur_set.paths[0]).convert("L").save(gray)
    rgb_score = head.predict(blur_set.subset([0]))
    gray_score = head.predict(Dataset.from_paths([gray]))
    np.testing.assert_allclose(gray_score, rgb_score, atol=0.05 * abs(rgb_score).max())  # same luma up to rounding


def test_aspect_needs_scpqd_ranks(blur_set) -> None:
    with pytest.raises(DataError, match=r"aspect='texture'.*has no aspect ranks.*scpqd2020"):
        DCNNS(aspect="texture", **FAST).fit(blur_set)
    ranks = pd.DataFrame({"color": np.tile([1, 2, 3, 4], 5)})
    with pytest.raises(DataError, match="aspect ranks for color only"):
        DCNNS(aspect="texture", **FAST).fit(replace(blur_set, aspects=ranks))
    with pytest.raises(ConfigError, match="aspects are"):
        DCNNS(aspect="sharpness", **FAST).fit(blur_set)


def test_aspect_trains_on_within_scene_ranks(blur_set) -> None:
    ranks = pd.DataFrame({a: np.tile([1, 2, 3, 4], 5) for a in ("texture", "color", "noise", "exposure")})
    ds = replace(blur_set, aspects=ranks, mos=None)
    head = CNNIQA(aspect="texture", **FAST).fit(ds)
    assert head.y_mean_ == pytest.approx(2.5)


def test_scpqd_fixture_per_aspect(tmp_path) -> None:
    """The SCPQD2020 loader's layout, one DCNNS per aspect, scenes as content groups."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "datasets" / "fixtures" / "scpqd2020"
    if not root.is_dir():
        pytest.skip("no SCPQD2020 fixture")
    ds = dfi.datasets.load("scpqd2020", root, target="noise")
    options = {**FAST, "batch_size": 2, "aspect": "noise", "upscale_small": True, "val_fraction": 0}
    del options["progress"]
    result = dfi.evaluate(ds, head="cnniqa", n_splits=2, test_size=0.5, seed=0, progress=False, **options)
    within = within_scene_srocc(result, ds)
    # Recomputed here (an SROCC in [-1, 1] could not fail): per split, scipy's SROCC inside each scene of at
    # least 3 test photos, averaged over those scenes.
    from scipy.stats import spearmanr

    scene = dict(zip(ds.ids, np.asarray(ds.group_ids)))
    expected = {}
    for split, rows in result.predictions.groupby("split"):
        per_scene = [spearmanr(g["y_true"], g["y_pred"]).statistic
                     for _, g in rows.groupby(rows["id"].map(scene)) if len(g) >= 3]  # fmt: skip
        expected[split] = np.mean(per_scene)
    assert len(within) == 2
    np.testing.assert_allclose(within.to_numpy(), [expected[k] for k in within.index], atol=1e-12)
    with pytest.raises(DataError, match="not in dataset"):
        within_scene_srocc(result, ds.subset([0, 1]))


def test_unfitted_and_bad_input() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CNNIQA().predict(Dataset.from_paths(["x.png"]))
    with pytest.raises(ConfigError, match="trains on images"):
        CNNIQA(**FAST).fit(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="kernel=40"):
        CNNIQA(kernel=40, **FAST).build_network(None, pretrained=True)
    with pytest.raises(ConfigError, match="has no parameter 'patch_size'"):
        dfi.heads.make_head("dcnns", patch_size=32)


def test_network_shapes() -> None:
    from deepfeat_iqa.patchcnn import CNNIQANet, DCNNSNet

    out = DCNNSNet()(torch.zeros(3, 1, 64, 64))
    assert out["quality"].shape == (3,) and out["scene"].shape == (3, 4)
    net = DCNNSNet()
    assert net.trunk(torch.zeros(1, 1, 64, 64)).shape == (1, 128)
    convs = [m for m in net.trunk if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64, 128, 128] and all(c.kernel_size == (3, 3) for c in convs)
    assert "scene" not in DCNNSNet(n_scenes=0)(torch.zeros(1, 1, 64, 64))
    assert CNNIQANet()(torch.zeros(2, 1, 32, 32))["quality"].shape == (2,)
    assert CNNIQANet().trunk.weight.shape == (50, 1, 7, 7)


def test_cnniqa_ranks_blur_on_photos_it_never_saw(blur_set) -> None:
    """An image head checked on held-out photos outside the slow tests: CNNIQA (one small conv layer) learns that
    blur lowers quality well enough to order the blur levels of two photos it never trained on."""
    from deepfeat_iqa.evaluation.metrics import srocc

    groups = np.asarray(blur_set.groups)
    held_out = np.isin(groups, np.unique(groups)[-2:])
    train, test = blur_set.subset(np.flatnonzero(~held_out)), blur_set.subset(np.flatnonzero(held_out))
    head = CNNIQA(test_views="grid", epochs=8, batch_size=4, crops_per_image=8, val_fraction=0, num_workers=0,
                  progress=False, random_state=0).fit(train)  # fmt: skip
    assert srocc(test.mos, head.predict(test)) > 0.6
