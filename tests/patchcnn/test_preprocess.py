"""Grayscale conversion, local contrast normalization against its direct formula, patch grids."""

from __future__ import annotations

import numpy as np
import pytest

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.patchcnn import GrayLCN, local_contrast_normalize, patch_grid, to_gray


def direct_lcn(gray: np.ndarray, window: int, c: float) -> np.ndarray:
    """Seed 000 Eq. 1-3 pixel by pixel: window mean and population std, mirror-padded borders."""
    r = window // 2
    padded = np.pad(gray, r, mode="symmetric")
    out = np.empty_like(gray)
    for i in range(gray.shape[0]):
        for j in range(gray.shape[1]):
            block = padded[i : i + window, j : j + window]
            mu = block.mean()
            sigma = np.sqrt(((block - mu) ** 2).mean())
            out[i, j] = (gray[i, j] - mu) / (sigma + c)
    return out


@pytest.mark.parametrize("window", [3, 7])
def test_lcn_matches_direct_formula(window: int) -> None:
    gray = np.random.default_rng(0).integers(0, 256, size=(13, 17)).astype(np.float64)
    np.testing.assert_allclose(local_contrast_normalize(gray, window=window, c=1.0), direct_lcn(gray, window, 1.0), atol=1e-4)


def test_lcn_flat_image_is_zero_and_bounded() -> None:
    assert np.all(local_contrast_normalize(np.full((8, 8), 200.0)) == 0)
    noisy = np.random.default_rng(1).integers(0, 256, size=(32, 32)).astype(float)
    # |I - mu| / sigma <= sqrt(n - 1) for a window of n pixels
    assert np.abs(local_contrast_normalize(noisy)).max() <= np.sqrt(8) + 1e-6


def test_lcn_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError, match="odd"):
        local_contrast_normalize(np.zeros((4, 4)), window=4)
    with pytest.raises(ConfigError, match="C must be > 0"):
        local_contrast_normalize(np.zeros((4, 4)), c=0)
    with pytest.raises(DataError, match="H x W"):
        local_contrast_normalize(np.zeros((4, 4, 3)))


def test_to_gray_converts_rgb_with_bt601_and_passes_gray() -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255
    np.testing.assert_allclose(to_gray(rgb), 0.299 * 255)
    gray = np.arange(4, dtype=np.uint8).reshape(2, 2)
    np.testing.assert_array_equal(to_gray(gray), gray)
    np.testing.assert_array_equal(to_gray(gray[..., None]), gray)
    with pytest.raises(DataError, match="shape"):
        to_gray(np.zeros((2, 2, 4)))


def test_patch_grid_positions_and_small_images() -> None:
    image = np.arange(400 * 300, dtype=np.float32).reshape(300, 400)
    patches = patch_grid(image, 64, 160)
    assert patches.shape == (2 * 3, 64, 64)  # rows 0, 160; cols 0, 160, 320
    np.testing.assert_array_equal(patches[4], image[160:224, 160:224])
    assert patch_grid(image, 32, 32).shape == (9 * 12, 32, 32)
    with pytest.raises(DataError, match="smaller than one 64 x 64 patch"):
        patch_grid(np.zeros((50, 80)), 64, 160)


@pytest.mark.parametrize("window", [3, 7])
def test_gray_lcn_stack_equals_per_crop(window: int) -> None:
    crops = list(np.random.default_rng(2).integers(0, 256, size=(700, 12, 9, 3), dtype=np.uint8))  # > 1 chunk
    transform = GrayLCN(window)
    stacked = transform.stack(crops)
    assert stacked.shape == (700, 1, 12, 9) and stacked.dtype == np.float32
    np.testing.assert_allclose(stacked, np.stack([transform(c) for c in crops]), rtol=0, atol=1e-5)
    with pytest.raises(ConfigError, match="odd"):
        GrayLCN(4).stack(crops)


def test_the_training_loader_normalizes_a_batch_of_patches_with_the_stacked_path(tmp_path, monkeypatch):
    from PIL import Image

    from deepfeat_iqa.training._data import TrainCrops
    from deepfeat_iqa.inputs.views import Geometry

    path = tmp_path / "texture.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(path)
    calls = []
    real = GrayLCN.stack
    monkeypatch.setattr(GrayLCN, "stack", lambda self, crops: calls.append(len(crops)) or real(self, crops))
    crops = TrainCrops([path], Geometry((32, 32)), GrayLCN(), None, count=16, seed=0)[(0, 1)][1]
    per_crop = TrainCrops([path], Geometry((32, 32)), GrayLCN().__call__, None, count=16, seed=0)[(0, 1)][1]
    assert calls == [16] and crops.shape == (16, 1, 32, 32)
    assert np.array_equal(crops.numpy(), per_crop.numpy())  # a bound __call__ has no .stack: the per-crop path
