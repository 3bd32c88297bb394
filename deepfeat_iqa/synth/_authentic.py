"""Seed 002's authentic-like distortions, applied as random mixtures with 26 multi-hot labels.

Seven types model what goes wrong in a real photograph (after the authentic-distortion analysis
seed 002 cites): over- and under-exposure (two levels each) and motion blur, defocus, vignetting
with per-channel shift, global contrast reduction and JPEG (three levels each) -- 19 type-levels.
The 26 labels are the 7 type indicators followed by the 19 type-level indicators, so a
multi-label head learns both "is there blur" and "how much".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.draw import line_aa

from deepfeat_iqa.synth._synthetic import (
    Distortion,
    _registry,
    _to_uint8,
    as_rgb_uint8,
    brightness,
    contrast_change,
    gaussian_blur,
    get_distortion,
    jpeg,
)

#: How many types one mixture combines at most (at least one); drawn uniformly in 1..MAX_MIXTURE.
MAX_MIXTURE = 3

#: Types that cannot appear together in one mixture (a photo is not over- and under-exposed at once).
EXCLUSIVE = frozenset({"over_exposure", "under_exposure"})


def motion_blur(image: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    """Blur along a straight camera path of ``length`` pixels at a random angle (from ``rng``).

    The kernel is an anti-aliased line (scikit-image ``line_aa``) through the kernel centre,
    normalised to sum 1, and convolved with each channel (SciPy, reflecting borders).
    """
    size = int(length) | 1  # odd, so the line is centred on a pixel
    half = size // 2
    angle = rng.uniform(0.0, np.pi)
    dy, dx = half * np.sin(angle), half * np.cos(angle)
    rows, cols, values = line_aa(
        int(round(half - dy)), int(round(half - dx)), int(round(half + dy)), int(round(half + dx))
    )
    kernel = np.zeros((size, size))
    kernel[rows, cols] = values
    kernel /= kernel.sum()
    blurred = ndimage.convolve(image / 255.0, kernel[..., None], mode="reflect")
    return _to_uint8(blurred)


def vignetting(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Shift the red and blue channels apart and darken the corners, as a cheap lens does.

    Seed 002 simulates vignetting "by shifting the pixels of each channel"; the red channel moves
    ``strength`` pixels one way and the blue channel the other way (a random direction from ``rng``;
    lateral chromatic aberration), and brightness falls off radially by up to ``strength / 10``
    at the corners (so 6 px of shift comes with a 60% corner falloff).
    """
    angle = rng.uniform(0.0, 2.0 * np.pi)
    offset = float(strength) * np.array([np.sin(angle), np.cos(angle)])
    values = image / 255.0
    shifted = values.copy()
    shifted[..., 0] = ndimage.shift(values[..., 0], offset, order=1, mode="nearest")
    shifted[..., 2] = ndimage.shift(values[..., 2], -offset, order=1, mode="nearest")
    height, width = image.shape[:2]
    rows, cols = np.ogrid[:height, :width]
    radius = np.hypot((rows - (height - 1) / 2) / (height / 2), (cols - (width - 1) / 2) / (width / 2)) / np.sqrt(2)
    falloff = 1.0 - min(float(strength) / 10.0, 0.9) * radius**2
    return _to_uint8(shifted * falloff[..., None])


#: The seven authentic-like types, in the order a mixture applies them: exposure happens at capture,
#: then the optics and shake blur, the lens shifts/darkens, processing lowers contrast, and JPEG
#: encoding comes last.
AUTHENTIC_DISTORTIONS: dict[str, Distortion] = _registry(
    [
        Distortion("over_exposure", brightness, (1.4, 1.9), "brightness factor"),
        Distortion("under_exposure", brightness, (0.6, 0.35), "brightness factor"),
        Distortion("motion_blur", motion_blur, (5, 11, 21), "motion path length (px), random angle"),
        Distortion("defocus", gaussian_blur, (1.0, 2.5, 5.0), "Gaussian low-pass sigma (px)"),
        Distortion("vignetting", vignetting, (1.0, 3.0, 6.0), "R/B channel shift (px); corner falloff = shift/10"),
        Distortion("contrast_reduction", contrast_change, (0.7, 0.5, 0.3), "Pillow contrast factor"),
        Distortion("jpeg", jpeg, (35, 15, 6), "Pillow JPEG quality"),
    ]
)

#: The 26 multi-hot label names: 7 type indicators, then 19 ``type@level`` indicators.
AUTHENTIC_LABELS: list[str] = list(AUTHENTIC_DISTORTIONS) + [
    f"{name}@{level}"
    for name, distortion in AUTHENTIC_DISTORTIONS.items()
    for level in range(1, distortion.n_levels + 1)
]


def sample_mixture(rng: np.random.Generator) -> list[tuple[str, int]]:
    """Draw one mixture: 1..MAX_MIXTURE distinct types (never both exposures), each at a random level.

    Returned in application order (the registry order), so a mixture is also a canonical key.
    """
    names = list(AUTHENTIC_DISTORTIONS)
    while True:
        count = int(rng.integers(1, MAX_MIXTURE + 1))
        chosen = set(rng.choice(names, size=count, replace=False).tolist())
        if not EXCLUSIVE <= chosen:
            break
    return [(name, int(rng.integers(1, AUTHENTIC_DISTORTIONS[name].n_levels + 1))) for name in names if name in chosen]


def apply_mixture(image: np.ndarray, mixture: list[tuple[str, int]], rng: np.random.Generator) -> np.ndarray:
    """Apply ``mixture`` (``[(type, level), ...]``) in the registry's order, one distortion after another."""
    image = as_rgb_uint8(image)
    steps = [(get_distortion(AUTHENTIC_DISTORTIONS, name, "authentic"), level) for name, level in mixture]
    order = list(AUTHENTIC_DISTORTIONS)
    for distortion, level in sorted(steps, key=lambda step: order.index(step[0].name)):
        image = distortion(image, level, rng)
    return image


def multi_hot(mixture: list[tuple[str, int]]) -> np.ndarray:
    """The 26-long 0/1 label vector of ``mixture``, in :data:`AUTHENTIC_LABELS` order."""
    index = {label: i for i, label in enumerate(AUTHENTIC_LABELS)}
    labels = np.zeros(len(AUTHENTIC_LABELS), dtype=np.int8)
    for name, level in mixture:
        labels[index[name]] = 1
        labels[index[f"{name}@{level}"]] = 1
    return labels
