"""Big JPEGs are decoded at the size a ``fullN`` view uses (DCT scaling), within a documented tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.inputs.views import Geometry, parse_views


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    Image.fromarray(photos["astronaut"]).resize((2400, 1800), Image.Resampling.BICUBIC).save(path, quality=95)
    return path


def test_a_big_jpeg_is_decoded_reduced_but_never_below_the_size_asked_for(big_jpeg: Path) -> None:
    assert load_rgb(big_jpeg).shape == (1800, 2400, 3)
    assert load_rgb(big_jpeg, shrink_to=256).shape == (450, 600, 3)  # 1/4: the largest reduction keeping ≥ 256
    assert load_rgb(big_jpeg, shrink_to=512).shape == (900, 1200, 3)  # 1/2
    assert load_rgb(big_jpeg, shrink_to=1000).shape == (1800, 2400, 3)  # under 2x: decoded whole


def test_a_png_is_always_decoded_whole(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(photos["astronaut"]).resize((1200, 900)).save(path)
    assert load_rgb(path, shrink_to=128).shape == (900, 1200, 3)


def test_the_view_of_a_reduced_decode_matches_the_full_decode_within_one_gray_level(big_jpeg: Path) -> None:
    """The tolerance docs/extraction.md states: mean |difference| under 1 of 255 after the exact resize."""
    view = parse_views("full256", Geometry((224, 224)))
    whole = view.crops(load_rgb(big_jpeg))[0].astype(float)
    reduced = view.crops(load_rgb(big_jpeg, shrink_to=256))[0].astype(float)
    assert whole.shape == reduced.shape == (256, 341, 3)
    assert np.abs(whole - reduced).mean() < 1.0
    assert not np.array_equal(whole, reduced)  # the reduced decode really ran


def test_image_head_training_decodes_big_photos_reduced_for_its_resize(big_jpeg: Path) -> None:
    """The engine's decoder (``resize=N`` of the image heads) uses the same reduced decode, within the same tolerance."""
    from deepfeat_iqa.training._data import _Images, resize_short_side

    geometry = Geometry((224, 224))
    images = _Images([big_jpeg], geometry, transform=lambda crop: crop, short_side=256)
    reduced = images._decode(0).astype(float)
    whole = resize_short_side(load_rgb(big_jpeg), 256, geometry).astype(float)
    assert reduced.shape == whole.shape == (256, 341, 3)
    assert np.abs(whole - reduced).mean() < 1.0
    assert not np.array_equal(whole, reduced)  # the reduced decode really ran
    assert _Images([big_jpeg], geometry, transform=lambda crop: crop, short_side=None)._decode(0).shape == (1800, 2400, 3)
