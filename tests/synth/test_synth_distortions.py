"""Every distortion is a pure, seeded (image, level, rng) function that gets worse with level."""

from __future__ import annotations

import numpy as np
import pytest

from deepfeat_iqa import synth
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.synth._pseudo_mos import _tensor

#: The full-reference metric each type is checked on: the one most sensitive to what it destroys
#: (structure for compression/noise/quantization, coarse structure for blur, contrast and shifts).
OWN_METRIC = {
    "jpeg": "ssim",
    "jpeg2000": "ssim",
    "gaussian_blur": "ms_ssim",
    "white_noise": "ssim",
    "pink_noise": "ms_ssim",
    "contrast_change": "ms_ssim",
    "color_quantization": "fsim",
    "over_exposure": "ssim",
    "under_exposure": "ssim",
    "motion_blur": "ms_ssim",
    "defocus": "ms_ssim",
    "vignetting": "ms_ssim",
    "contrast_reduction": "ms_ssim",
}

ALL = [("synthetic", n) for n in synth.SYNTHETIC_DISTORTIONS] + [("authentic", n) for n in synth.AUTHENTIC_DISTORTIONS]


def _registry(kind: str) -> dict[str, synth.Distortion]:
    return synth.SYNTHETIC_DISTORTIONS if kind == "synthetic" else synth.AUTHENTIC_DISTORTIONS


def test_label_counts_match_seed_002() -> None:
    assert len(synth.SYNTHETIC_DISTORTIONS) == 9
    assert len(synth.SYNTHETIC_CLASSES) == 39
    assert len(synth.AUTHENTIC_DISTORTIONS) == 7
    assert len(synth.AUTHENTIC_LABELS) == 26 == len(set(synth.AUTHENTIC_LABELS))
    levels = {name: d.n_levels for name, d in synth.AUTHENTIC_DISTORTIONS.items()}
    assert levels["over_exposure"] == levels["under_exposure"] == 2
    assert all(n == 3 for name, n in levels.items() if "exposure" not in name)


@pytest.mark.parametrize(("kind", "name"), ALL)
def test_distortion_is_pure_and_seeded(kind: str, name: str, small_photos: dict[str, np.ndarray]) -> None:
    photo = small_photos["chelsea"]
    before = photo.copy()
    distortion = _registry(kind)[name]
    first = distortion(photo, distortion.n_levels, np.random.default_rng(7))
    again = distortion(photo, distortion.n_levels, np.random.default_rng(7))
    assert first.dtype == np.uint8 and first.shape == photo.shape
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(photo, before)  # the input is not modified
    assert not np.array_equal(first, photo)


@pytest.mark.parametrize(("kind", "name"), ALL)
def test_distortion_is_monotone_in_level(kind: str, name: str, small_photos: dict[str, np.ndarray]) -> None:
    metric = synth.FR_METRICS[OWN_METRIC[name]]
    distortion = _registry(kind)[name]
    monotone = 0
    for photo in small_photos.values():
        reference = _tensor(photo)
        scores = [
            float(metric.compute(_tensor(distortion(photo, level, np.random.default_rng(0))), reference))
            for level in range(1, distortion.n_levels + 1)
        ]
        quality = scores if metric.higher_is_better else [-s for s in scores]
        monotone += all(a > b for a, b in zip(quality, quality[1:]))
    assert monotone >= len(small_photos) - 1, f"{name}: monotone on {metric.name} for {monotone}/{len(small_photos)}"


def test_bad_level_and_bad_image_raise(small_photos: dict[str, np.ndarray]) -> None:
    jpeg = synth.SYNTHETIC_DISTORTIONS["jpeg"]
    with pytest.raises(ConfigError, match="levels 1..5"):
        jpeg(small_photos["chelsea"], 6)
    with pytest.raises(DataError, match="uint8 RGB"):
        jpeg(small_photos["chelsea"].astype(float), 1)
    with pytest.raises(DataError, match="uint8 RGB"):
        jpeg(small_photos["chelsea"][..., 0], 1)


def test_mixtures_are_valid_and_labelled() -> None:
    rng = np.random.default_rng(0)
    order = list(synth.AUTHENTIC_DISTORTIONS)
    for _ in range(200):
        mixture = synth.sample_mixture(rng)
        names = [name for name, _ in mixture]
        assert 1 <= len(mixture) <= synth.MAX_MIXTURE
        assert not {"over_exposure", "under_exposure"} <= set(names)
        assert names == sorted(names, key=order.index)
        labels = synth.multi_hot(mixture)
        assert labels.shape == (26,) and labels.sum() == 2 * len(mixture)
        on = {synth.AUTHENTIC_LABELS[i] for i in np.flatnonzero(labels)}
        assert on == set(names) | {f"{n}@{lv}" for n, lv in mixture}


def test_apply_mixture_is_seeded(small_photos: dict[str, np.ndarray]) -> None:
    mixture = [("motion_blur", 2), ("vignetting", 1), ("jpeg", 3)]
    photo = small_photos["coffee"]
    first = synth.apply_mixture(photo, mixture, np.random.default_rng(1))
    np.testing.assert_array_equal(first, synth.apply_mixture(photo, mixture, np.random.default_rng(1)))
    with pytest.raises(ConfigError, match="Unknown authentic distortion"):
        synth.apply_mixture(photo, [("blurr", 1)], np.random.default_rng(1))
