"""Seed 002's nine synthetic distortion types at 39 type-level classes, as pure uint8 RGB functions.

Each public operation here takes its physical parameter (a JPEG quality, a blur sigma, ...);
:data:`SYNTHETIC_DISTORTIONS` binds each to its level table so that every registry entry is a pure
function ``(image, level, rng) -> image`` with levels numbered 1 (mild) to n (strong).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, features
from skimage.filters import gaussian
from skimage.util import random_noise

from deepfeat_iqa.errors import ConfigError, DataError, unknown_name_error

#: An operation ``(image, parameter, rng) -> image`` that a :class:`Distortion` binds to levels.
Operation = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Distortion:
    """One distortion type: an operation and the parameter it uses at each level.

    Calling it as ``distortion(image, level, rng)`` is the pure ``(image, level, rng) -> image``
    function the builder and the tests use; ``rng`` matters only for the noisy operations and the
    randomly oriented ones (motion blur, channel shift), so the same seed gives the same image;
    ``rng=None`` means a generator seeded with 0, so the call stays pure.

    Attributes
    ----------
    name:
        Registry key and the label written to the CSV.
    operation:
        The operation taking the physical parameter.
    levels:
        The parameter at level 1, 2, ... (mild to strong).
    parameter:
        What the parameter means, for the level table in the docs and in ``build.json``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((32, 32, 3), 128, dtype=np.uint8)
    >>> noisy = SYNTHETIC_DISTORTIONS["white_noise"](image, 5, np.random.default_rng(0))
    >>> noisy.dtype, noisy.shape, SYNTHETIC_DISTORTIONS["white_noise"].n_levels
    (dtype('uint8'), (32, 32, 3), 5)
    """

    name: str
    operation: Operation
    levels: tuple[float, ...]
    parameter: str

    @property
    def n_levels(self) -> int:
        """How many levels this type has."""
        return len(self.levels)

    def __call__(self, image: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
        if not 1 <= int(level) <= self.n_levels:
            raise ConfigError(f"Distortion {self.name!r} has levels 1..{self.n_levels} (mild to strong), got {level}.")
        rng = np.random.default_rng(0) if rng is None else rng
        return self.operation(as_rgb_uint8(image), self.levels[int(level) - 1], rng)


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Check that ``image`` is an ``HxWx3`` uint8 array (the one format every distortion takes)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise DataError(
            f"Distortions take HxWx3 uint8 RGB arrays, got dtype {image.dtype} and shape {image.shape}. "
            "Convert with np.asarray(PIL.Image.open(path).convert('RGB'))."
        )
    return image


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round a float image in [0, 1] back to uint8, clipping what the operation pushed outside."""
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def _registry(distortions: Sequence[Distortion]) -> dict[str, Distortion]:
    """Build a name -> Distortion dict, refusing a repeated name instead of silently replacing it."""
    table: dict[str, Distortion] = {}
    for distortion in distortions:
        if distortion.name in table:
            raise ConfigError(f"Distortion {distortion.name!r} is registered twice.")
        table[distortion.name] = distortion
    return table


def get_distortion(registry: dict[str, Distortion], name: str, kind: str) -> Distortion:
    """Look ``name`` up in ``registry``, with an error that suggests the closest names."""
    try:
        return registry[name]
    except KeyError:
        raise unknown_name_error(f"{kind} distortion", name, registry) from None


# -- operations (Pillow / scikit-image do the work; only the glue is ours) ----------------------------
def jpeg(image: np.ndarray, quality: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """JPEG-compress with Pillow at ``quality`` (1-95, lower is stronger), 4:2:0 chroma subsampling."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality), subsampling=2)
    return np.asarray(Image.open(buffer).convert("RGB"))


def jpeg2000(image: np.ndarray, ratio: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """JPEG 2000-compress with Pillow's OpenJPEG codec at a compression ``ratio`` (higher is stronger).

    The irreversible 9/7 wavelet is used, as in LIVE's and Waterloo's JPEG 2000 sets.
    """
    if not features.check("jpg_2000"):
        raise ConfigError(
            "This Pillow was built without OpenJPEG, so JPEG 2000 is unavailable; install the official "
            "Pillow wheels (pip install --force-reinstall pillow), which bundle it."
        )
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer, format="JPEG2000", quality_mode="rates", quality_layers=[float(ratio)], irreversible=True
    )
    return np.asarray(Image.open(buffer).convert("RGB"))


def gaussian_blur(image: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Blur each channel with an isotropic Gaussian of standard deviation ``sigma`` pixels."""
    return _to_uint8(gaussian(image, sigma=float(sigma), channel_axis=-1, mode="reflect"))


def white_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add i.i.d. Gaussian noise of standard deviation ``sigma`` (on the [0, 1] scale) per channel."""
    return _to_uint8(random_noise(image, mode="gaussian", var=float(sigma) ** 2, rng=rng))


def pink_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add 1/f ("pink") noise of standard deviation ``sigma`` (on the [0, 1] scale) per channel.

    White Gaussian noise is shaped in the Fourier domain so its power falls as 1/f (amplitude as
    f^-1/2), then rescaled to unit variance; low frequencies dominate, giving blotchy noise.
    """
    height, width = image.shape[:2]
    white = rng.standard_normal((height, width, 3))
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    radius[0, 0] = np.inf  # drop the DC term so the noise has zero mean
    shaped = np.fft.ifft2(np.fft.fft2(white, axes=(0, 1)) / np.sqrt(radius)[..., None], axes=(0, 1)).real
    shaped /= shaped.std(axis=(0, 1), keepdims=True)
    return _to_uint8(image / 255.0 + float(sigma) * shaped)


def contrast_change(image: np.ndarray, factor: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Scale contrast with Pillow's ``ImageEnhance.Contrast`` (blend toward the mean grey; ``factor`` < 1 lowers it)."""
    return np.asarray(ImageEnhance.Contrast(Image.fromarray(image)).enhance(float(factor)))


def color_quantization(image: np.ndarray, colors: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Quantize to an adaptive palette of ``colors`` colours with Floyd-Steinberg dithering (Pillow).

    The palette comes from Pillow's fast octree quantizer (median cut looks alike and is ~40x slower).
    """
    palette = Image.fromarray(image).quantize(
        colors=int(colors), method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG
    )
    return np.asarray(palette.convert("RGB"))


def brightness(image: np.ndarray, factor: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Multiply intensities by ``factor`` with Pillow's ``ImageEnhance.Brightness``, clipping at 0-255.

    ``factor`` > 1 over-exposes (highlights saturate and detail there is lost); ``factor`` < 1
    under-exposes (shadows are crushed into fewer grey levels).
    """
    return np.asarray(ImageEnhance.Brightness(Image.fromarray(image)).enhance(float(factor)))


# -- level tables (levels 1..n, mild to strong) --------------------------------------------------
#: The nine synthetic types of seed 002 (after DB-CNN): seven at five levels and the two exposure
#: types at two, 7 x 5 + 2 x 2 = 39 type-level classes. Parameters are for photos of ~384-512 px.
SYNTHETIC_DISTORTIONS: dict[str, Distortion] = _registry(
    [
        Distortion("jpeg", jpeg, (43, 20, 10, 6, 3), "Pillow JPEG quality"),
        Distortion("jpeg2000", jpeg2000, (24, 48, 96, 192, 384), "JPEG 2000 compression ratio"),
        Distortion("gaussian_blur", gaussian_blur, (0.8, 1.5, 2.5, 4.0, 7.0), "Gaussian sigma (px)"),
        Distortion("white_noise", white_noise, (0.02, 0.04, 0.07, 0.12, 0.2), "noise std on [0, 1]"),
        Distortion("pink_noise", pink_noise, (0.02, 0.04, 0.07, 0.12, 0.2), "1/f noise std on [0, 1]"),
        Distortion("contrast_change", contrast_change, (0.7, 0.5, 0.35, 0.22, 0.12), "Pillow contrast factor"),
        Distortion("color_quantization", color_quantization, (64, 32, 16, 8, 4), "palette colours (dithered)"),
        Distortion("over_exposure", brightness, (1.5, 2.2), "brightness factor"),
        Distortion("under_exposure", brightness, (0.5, 0.25), "brightness factor"),
    ]
)

#: The 39 classes in label order: ``(type, level)``; a class index is a position in this list.
SYNTHETIC_CLASSES: list[tuple[str, int]] = [
    (name, level) for name, distortion in SYNTHETIC_DISTORTIONS.items() for level in range(1, distortion.n_levels + 1)
]
