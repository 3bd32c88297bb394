"""The center prior: where crops lie, center-weighted pooling and grid averages, and the crops' center-median."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.extraction._forward import per_image
from deepfeat_iqa.extraction.pooling import parse_pooling
from deepfeat_iqa.inputs.center_prior import GRID_STRENGTH, center_weights, map_weights, weighted_median
from deepfeat_iqa.inputs.images import decoded_size, load_rgb
from deepfeat_iqa.inputs.views import Geometry, parse_views

GEOMETRY = Geometry((64, 64), crop_pct=0.875, interpolation="bicubic")


def _located(height: int, width: int) -> np.ndarray:
    """An image whose pixels say where they are: red = row, green = column (both mod 256), blue = row // 256."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows % 256, cols % 256, rows // 256], axis=-1).astype(np.uint8)


def _origin(crop: np.ndarray) -> tuple[int, int]:
    return int(crop[0, 0, 0]) + 256 * int(crop[0, 0, 2]), int(crop[0, 0, 1])


@pytest.mark.parametrize("spec", ["random7@seed3", "random5in200@seed1", "grid", "grid200@center"])
@pytest.mark.parametrize("shape", [(150, 230), (400, 300), (40, 50)])
def test_crop_offsets_are_the_centers_of_the_crops_cut(spec: str, shape: tuple[int, int]) -> None:
    """The offsets a prior weighs are where :meth:`View.crops` really cut, whatever resizing came first."""
    view = parse_views(spec, GEOMETRY)
    image = _located(*shape)
    crops = view.crops(image, "sha256:abc")
    offsets = view.crop_offsets(*shape, "sha256:abc")
    assert offsets.shape == (len(crops), 2)
    if min(shape) < 64 or min(shape) > (view.max_short_side() or np.inf):
        return  # resized before cutting: pixel values no longer say where a crop began
    for crop, (dy, dx) in zip(crops, offsets):
        top, left = _origin(crop)
        assert (top + 32) / (shape[0] / 2) - 1 == pytest.approx(dy)
        assert (left + 32) / (shape[1] / 2) - 1 == pytest.approx(dx)


def test_offsets_of_a_resized_photo_are_those_of_the_same_photo_at_working_size() -> None:
    view = parse_views("random9in100@seed0", GEOMETRY)
    np.testing.assert_allclose(view.crop_offsets(400, 600, "id"), parse_views("random9@seed0", GEOMETRY).crop_offsets(100, 150, "id"))


def test_only_positioned_crops_have_offsets() -> None:
    with pytest.raises(ConfigError, match="no crop positions"):
        parse_views("full512", GEOMETRY).crop_offsets(100, 100)


def test_grid_at_center_is_a_spec_of_its_own_and_weighs_the_middle_crop_most() -> None:
    plain, centered = parse_views("grid512", GEOMETRY), parse_views("GRID512@center", GEOMETRY)
    assert (plain.spec, centered.spec) == ("grid512", "grid512@center")
    assert parse_views("grid@center", GEOMETRY).spec == "grid@center"
    assert plain.reduce_weights(128, 128) is None
    weights = centered.reduce_weights(128, 128)  # 3 x 3 crops of 64 at stride 32, the middle one centered
    assert weights.shape == (9,) and weights.argmax() == 4 and weights[4] == pytest.approx(1.0)
    np.testing.assert_allclose(weights, center_weights(centered.crop_offsets(128, 128), GRID_STRENGTH))
    for typed in ("full512@center", "random9@center", "gridx@center", "grid10@center"):
        with pytest.raises(ConfigError, match=f"Crop spec '{typed}'"):  # the spec as typed, whatever is wrong in it
            parse_views(typed, GEOMETRY)


def test_per_image_averages_reduced_crops_with_their_weights() -> None:
    pooled = torch.arange(12, dtype=torch.float32).reshape(6, 2)  # image 1: 2 crops, image 2: 4 crops
    weights = [np.array([1.0, 3.0]), None]
    out = per_image(pooled, [2, 4], weights)
    np.testing.assert_allclose(out[0, 0], 0.25 * pooled[0].numpy() + 0.75 * pooled[1].numpy())
    np.testing.assert_allclose(out[1, 0], pooled[2:].mean(0).numpy())
    assert per_image(pooled, [3, 3], None).shape == (2, 3, 2)


def test_center_avg_pooling_weighs_the_middle_of_the_map() -> None:
    pool = parse_pooling("center-avg")
    assert pool.spec == "center-avg"
    flat = torch.full((2, 3, 7, 5), 2.5)
    np.testing.assert_allclose(pool(flat).numpy(), 2.5, rtol=1e-6)  # weights sum to 1
    bright_middle, bright_corner = torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
    bright_middle[..., 3:5, 3:5], bright_corner[..., :2, :2] = 1.0, 1.0
    assert pool(bright_middle).item() > 2.5 * pool(bright_corner).item()
    assert parse_pooling("avg")(bright_middle).item() == parse_pooling("avg")(bright_corner).item()
    x = torch.randn(2, 4, 6, 9)
    np.testing.assert_allclose(pool(x).numpy(), (x * torch.from_numpy(map_weights(6, 9, 1.0))).sum((2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="spatial"):
        pool(torch.randn(2, 5, 8))  # transformer tokens have no center


def test_weighted_median_picks_the_value_where_the_weights_reach_half() -> None:
    values = np.array([[5.0, 1.0, 3.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(weighted_median(values, np.ones_like(values)), [3.0, 2.0])
    np.testing.assert_array_equal(weighted_median(values, np.array([[10.0, 1.0, 1.0], [1.0, 1.0, 5.0]])), [5.0, 3.0])
    if int(np.__version__.split(".")[0]) >= 2:  # NumPy's own weighted quantile agrees where it exists
        rng = np.random.default_rng(0)
        many, weights = rng.normal(size=(40, 9)), rng.random((40, 9))
        expected = [np.quantile(row, 0.5, weights=w, method="inverted_cdf") for row, w in zip(many, weights)]
        np.testing.assert_array_equal(weighted_median(many, weights), expected)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize(("shrink_to", "fmt"), [(None, "JPEG"), (200, "JPEG"), (90, "JPEG"), (200, "PNG")])
def test_decoded_size_is_what_load_rgb_returns_from_the_header_alone(tmp_path, orientation, shrink_to, fmt) -> None:
    """Turned (EXIF) and draft-decoded JPEGs included: crop positions must be those of the pixels decoded."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.fromarray(_located(450, 700)).save(path, format=fmt, exif=exif)
    assert decoded_size(path, shrink_to) == load_rgb(path, shrink_to=shrink_to).shape[:2]


def test_extract_averages_grid_crops_under_the_prior_and_stores_them_apart(tmp_path) -> None:
    """``grid@center`` is its own store key; on a photo whose crops all look alike it equals ``grid``."""
    import deepfeat_iqa as dfi
    from tests.helpers.image_sets import TINY

    flat, varied = tmp_path / "flat.png", tmp_path / "varied.png"
    Image.fromarray(np.full((300, 420, 3), 120, dtype=np.uint8)).save(flat)
    Image.fromarray(_located(300, 420)).save(varied)
    store = tmp_path / "store.zarr"
    kwargs = dict(backbone=TINY, weights="random", layers="stage2", pooling="avg", precision="fp32", store=store, progress=False)
    plain = dfi.extract([flat, varied], views="grid", **kwargs)["stage2"]
    centered = dfi.extract([flat, varied], views="grid@center", **kwargs)["stage2"]
    assert centered.key.views == "grid@center" and plain.key.views == "grid"
    np.testing.assert_allclose(centered.X[0], plain.X[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(centered.X[1], plain.X[1], rtol=1e-3)
    again = dfi.extract([flat, varied], views="grid@center", **kwargs)["stage2"]
    np.testing.assert_array_equal(again.X, centered.X)
