"""BRISQUE features and NIQE scores as feature extractors in the zarr store, and the NIQE model script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfeat_iqa.classical import extract_classical, load_model
from deepfeat_iqa.classical.fit_niqe import write_model
from deepfeat_iqa.store._zarr import FeatureStore

from helpers.studies import make_dataset


def test_brisque_features_are_stored_and_reused(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "f.zarr"
    feats = extract_classical(tiny, "brisque", store=store, progress=False)
    lf = feats["features"]
    assert lf.X.shape == (len(tiny), 36) and np.isfinite(lf.X).all()
    assert lf.key.backbone == "brisque" and lf.key.weights.startswith("sha256:")
    # GGD shape (feature 0) falls with blur: blurred MSCN coefficients are peakier
    sharp, blurred = lf.X[0::4, 0], lf.X[3::4, 0]
    assert (blurred < sharp).mean() >= 0.8

    monkeypatch.setattr("deepfeat_iqa.classical._extract.load_rgb", lambda path: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = extract_classical(tiny, "brisque", store=FeatureStore(store), progress=False)
    np.testing.assert_array_equal(again["features"].X, lf.X)


def test_niqe_scores_rise_with_blur(tmp_path: Path, photos) -> None:
    ds = make_dataset(tmp_path / "niqe", photos, levels=3, size=200)  # 96 px patches need larger images
    scores = extract_classical(ds, "niqe", store=None, progress=False)["score"].X[:, 0].reshape(len(photos), 3)
    assert np.isfinite(scores).all()
    assert (scores[:, 2] > scores[:, 0]).all(), scores  # NIQE: higher is less natural


def test_niqe_model_script_writes_a_loadable_model(tmp_path: Path, photos) -> None:
    folder = tmp_path / "pristine"
    folder.mkdir()
    for name, array in photos.items():  # each photo in four orientations: enough sharp patches for 36x36
        for turn in range(4):
            Image.fromarray(np.rot90(array[..., :3], turn)).save(folder / f"{name}_{turn}.png")
    provenance = write_model(folder, tmp_path / "niqe.npz")
    model = load_model(str(tmp_path / "niqe.npz"))
    assert provenance["images"] == 4 * len(photos) and model.mean.shape == (36,) and model.cov.shape == (36, 36)
    assert np.isfinite(model.score(photos["astronaut"])) and np.all(np.linalg.eigvalsh(model.cov) > -1e-9)
    shipped = load_model()
    assert shipped.provenance["images"] == 92 and shipped.sha256 != model.sha256
