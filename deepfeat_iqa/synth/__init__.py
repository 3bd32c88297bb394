"""Distorted training sets with pseudo-MOS from pristine photos (seed 002's data augmentation).

``build`` writes a set (and returns it); read a built set back like any database, with
``dfi.datasets.load("synth", root=out_dir)``.

``build`` distorts each reference with seed 002's synthetic set (9 types, 39 type-level classes) or
its authentic-like mixtures (7 types, 26 multi-hot labels), scores every image against its
reference with six full-reference metrics, and averages them into a 0-100 pseudo-MOS.
"""

from deepfeat_iqa.synth._authentic import (
    AUTHENTIC_DISTORTIONS,
    AUTHENTIC_LABELS,
    MAX_MIXTURE,
    apply_mixture,
    motion_blur,
    multi_hot,
    sample_mixture,
    vignetting,
)
from deepfeat_iqa.synth._build import DEFAULT_MAX_SIDE, DEFAULT_PER_IMAGE, build, load_synth
from deepfeat_iqa.synth._pseudo_mos import FR_METRICS, fr_metrics, ms_ssim_scales, pseudo_mos
from deepfeat_iqa.synth._references import SHIPPED_PHOTOS, reference_photos
from deepfeat_iqa.synth._synthetic import (
    SYNTHETIC_CLASSES,
    SYNTHETIC_DISTORTIONS,
    Distortion,
    brightness,
    color_quantization,
    contrast_change,
    gaussian_blur,
    jpeg,
    jpeg2000,
    pink_noise,
    white_noise,
)

__all__ = [
    "AUTHENTIC_DISTORTIONS",
    "AUTHENTIC_LABELS",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_PER_IMAGE",
    "Distortion",
    "FR_METRICS",
    "MAX_MIXTURE",
    "SHIPPED_PHOTOS",
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_DISTORTIONS",
    "apply_mixture",
    "brightness",
    "build",
    "load_synth",
    "color_quantization",
    "contrast_change",
    "fr_metrics",
    "gaussian_blur",
    "jpeg",
    "jpeg2000",
    "motion_blur",
    "ms_ssim_scales",
    "multi_hot",
    "pink_noise",
    "pseudo_mos",
    "reference_photos",
    "sample_mixture",
    "vignetting",
    "white_noise",
]


def __getattr__(name: str) -> object:
    if name == "load":
        import warnings

        from deepfeat_iqa.synth._build import load

        warnings.warn(
            'dfi.synth.load(dir) is now dfi.datasets.load("synth", root=dir): a built set is read like any database '
            "(one loader vocabulary); synth.load goes in 0.3.",
            DeprecationWarning,
            stacklevel=2,
        )
        return load
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
