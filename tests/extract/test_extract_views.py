"""Crop protocols and poolings: counts, sizes, seeding, small images, and spec strings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.extraction.pooling import flatten_size_message, parse_pooling
from deepfeat_iqa.inputs.views import Geometry, parse_views

GEOMETRY = Geometry((224, 224), crop_pct=0.875, interpolation="bicubic")


def _image(height: int = 384, width: int = 512) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("spec", "count"),
    [("center", 1), ("resize", 1), ("random10", 10), ("grid", 6), ("patches", 9), ("full", 1)],
)
def test_protocol_counts_and_sizes(spec: str, count: int) -> None:
    crops = parse_views(spec, GEOMETRY).crops(_image(), "a.jpg")
    assert len(crops) == count
    expected = (384, 512, 3) if spec == "full" else (224, 224, 3)
    assert all(crop.shape == expected and crop.dtype == np.uint8 for crop in crops)


def test_center_matches_timm_eval_transform() -> None:
    from timm.data import create_transform
    from PIL import Image

    image = _image(300, 400)
    ours = parse_views("center", GEOMETRY).crops(image)[0]
    timm_tf = create_transform(input_size=(3, 224, 224), crop_pct=0.875, interpolation="bicubic", mean=(0, 0, 0), std=(1, 1, 1))
    theirs = (timm_tf(Image.fromarray(image)).numpy().transpose(1, 2, 0) * 255).round().astype(int)
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_random_crops_are_seeded_per_image() -> None:
    image = _image()
    view = parse_views("random10", GEOMETRY, seed=3)
    assert view.spec == "random10@seed3"
    first, again = view.crops(image, "a.jpg"), view.crops(image, "a.jpg")
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other_seed = parse_views("random10@seed4", GEOMETRY, seed=3).crops(image, "a.jpg")
    other_image = view.crops(image, "b.jpg")
    assert not all(np.array_equal(a, b) for a, b in zip(first, other_seed))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other_image))


def test_random_crops_in_a_shrunk_photo_see_what_they_see_of_a_small_one() -> None:
    """``random9in512``: a 12-MP photo is first brought down to a 512-px shorter side, so its 224-px crops
    cover as much of the scene as crops of a 500x500 training photo; smaller photos are untouched."""
    view = parse_views("random9in512@seed0", GEOMETRY)
    assert view.spec == "random9in512@seed0" and view.max_short_side() == 512 and view.n_views == 9
    big, small = _image(1536, 2048), _image(384, 512)
    crops = view.crops(big, "big")
    assert len(crops) == 9 and all(crop.shape == (224, 224, 3) for crop in crops)
    shrunk = parse_views("full512", GEOMETRY).crops(big)[0]  # the same 512 x 683 photo the crops come from
    assert shrunk.shape == (512, 683, 3)
    native = parse_views("random9@seed0", GEOMETRY)
    assert all(np.array_equal(a, b) for a, b in zip(crops, native.crops(shrunk, "big")))
    assert all(np.array_equal(a, b) for a, b in zip(view.crops(small, "s"), native.crops(small, "s")))
    with pytest.raises(ConfigError, match="at least 32 px"):
        parse_views("random9in16", GEOMETRY)


def test_grid_uses_half_size_stride_for_other_input_sizes() -> None:
    view = parse_views("grid", Geometry((299, 299)))
    crops = view.crops(_image(600, 600))
    assert len(crops) == 3 * 3 and crops[0].shape == (299, 299, 3)  # starts 0, 149, 298
    assert view.reduce and view.n_views == 1


@pytest.mark.parametrize("spec", ["center", "resize", "random3", "grid", "patches", "full"])
def test_one_pixel_image_is_upscaled_not_an_error(spec: str) -> None:
    crops = parse_views(spec, GEOMETRY).crops(np.full((1, 1, 3), 7, dtype=np.uint8), "dot")
    assert crops and all(crop.shape == (224, 224, 3) for crop in crops)
    assert all((crop == 7).all() for crop in crops)


def test_small_image_keeps_its_aspect_when_upscaled() -> None:
    crops = parse_views("full", GEOMETRY).crops(_image(100, 200))
    assert crops[0].shape == (224, 448, 3)


def test_unknown_view_spec() -> None:
    with pytest.raises(ConfigError, match="random10@seed3"):
        parse_views("randomly", GEOMETRY)


@pytest.mark.parametrize(
    ("spec", "dim"),
    [("avg", 8), ("max", 8), ("avg+std", 16), ("grid2x2", 32), ("grid3x3", 72), ("flatten", 8 * 5 * 6)],
)
def test_pooling_dims(spec: str, dim: int) -> None:
    pooled = parse_pooling(spec)(torch.randn(2, 8, 5, 6, dtype=torch.bfloat16))
    assert pooled.shape == (2, dim) and pooled.dtype == torch.float32


def test_pooling_values() -> None:
    x = torch.arange(8.0).reshape(1, 2, 2, 2)
    assert parse_pooling("avg")(x).tolist() == [[1.5, 5.5]]
    assert parse_pooling("max")(x).tolist() == [[3.0, 7.0]]
    assert parse_pooling("avg+std")(x)[0, 2:].tolist() == pytest.approx([1.118034, 1.118034])


def test_vectors_pass_through_and_tokens_pool_over_tokens() -> None:
    vectors = torch.randn(3, 10)
    for spec in ("avg", "max", "avg+std", "grid2x2", "flatten"):
        assert torch.equal(parse_pooling(spec)(vectors), vectors)
    tokens = torch.randn(3, 7, 4)
    assert parse_pooling("avg")(tokens).shape == (3, 4)
    with pytest.raises(ConfigError, match="spatial"):
        parse_pooling("grid2x2")(tokens)


def test_unknown_pooling_and_flatten_message() -> None:
    with pytest.raises(ConfigError, match="grid2x2"):
        parse_pooling("mean")
    message = flatten_size_message(dim=100352, n_images=10000, n_views=1, bytes_per_value=2)
    assert "100,352 dims" in message and "2.01 GB" in message
