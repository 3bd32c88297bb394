"""Distorted training sets with pseudo-MOS from pristine photos (seed 002's data augmentation).

``build`` writes a set (and returns it); read a built set back like any database, with
``dfi.datasets.load("synth", root=out_dir)``.

``build`` distorts each reference with seed 002's synthetic set (9 types, 39 type-level classes) or
its authentic-like mixtures (7 types, 26 multi-hot labels), scores every image against its
reference with six full-reference metrics, and averages them into a 0-100 pseudo-MOS.

Names load their module on first use (``_lazy_exports``): the full-reference metrics import torch and piq, which
reading a built set back (``build`` on a finished folder, ``dfi.datasets.load("synth", ...)``) never needs.
"""

from deepfeat_iqa._lazy_exports import lazy_exports

_LAZY = {
    "AUTHENTIC_DISTORTIONS": "_authentic",
    "AUTHENTIC_LABELS": "_authentic",
    "MAX_MIXTURE": "_authentic",
    "apply_mixture": "_authentic",
    "motion_blur": "_authentic",
    "multi_hot": "_authentic",
    "sample_mixture": "_authentic",
    "vignetting": "_authentic",
    "DEFAULT_MAX_SIDE": "_build",
    "DEFAULT_PER_IMAGE": "_build",
    "build": "_build",
    "load_synth": "_build",
    "FR_METRICS": "_pseudo_mos",
    "fr_metrics": "_pseudo_mos",
    "ms_ssim_scales": "_pseudo_mos",
    "pseudo_mos": "_pseudo_mos",
    "SHIPPED_PHOTOS": "_references",
    "reference_photos": "_references",
    "SYNTHETIC_CLASSES": "_synthetic",
    "SYNTHETIC_DISTORTIONS": "_synthetic",
    "Distortion": "_synthetic",
    "brightness": "_synthetic",
    "color_quantization": "_synthetic",
    "contrast_change": "_synthetic",
    "gaussian_blur": "_synthetic",
    "jpeg": "_synthetic",
    "jpeg2000": "_synthetic",
    "pink_noise": "_synthetic",
    "white_noise": "_synthetic",
}

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



_exports, __dir__ = lazy_exports(__name__, _LAZY, __all__)


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
    return _exports(name)
