"""NIQE (Mittal et al., 2013): the distance of an image's patch statistics from a pristine-photo model.

No installed package ships NIQE's pristine model offline (piq has no NIQE; pyiqa downloads its
parameters at run time), so the model is fitted by :mod:`deepfeat_iqa.classical.fit_niqe` on pristine
photos and shipped as ``data/niqe_pristine.npz`` (36 means, a 36x36 covariance, and how it was made).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from deepfeat_iqa.errors import DataError
from deepfeat_iqa.classical._nss import half, luminance, patch_statistics

#: Patch side at full scale (the reference implementation's 96 px); the half scale uses half of it.
PATCH = 96
#: Pristine patches kept for the model: sharpness above this fraction of the image's sharpest patch.
SHARPNESS_FRACTION = 0.75
MODEL_FILE = "niqe_pristine.npz"


def patch_features(rgb: np.ndarray, *, sharp_only: bool = False) -> np.ndarray:
    """``(n_patches, 36)``: the 18 statistics of each patch at full scale next to those of its half-scale tile."""
    luma = luminance(rgb)
    full, sharpness = patch_statistics(luma, PATCH)
    small, _ = patch_statistics(half(luma), PATCH // 2)  # the same tile grid at half scale
    features = np.concatenate([full, small], axis=1) if len(full) == len(small) else np.zeros((0, 36))
    usable = np.isfinite(features).all(axis=1)
    if sharp_only and usable.any():
        usable &= sharpness > SHARPNESS_FRACTION * sharpness[usable].max()
    return features[usable]


@dataclass(frozen=True)
class NIQEModel:
    """The pristine multivariate Gaussian: mean and covariance of 36 patch statistics."""

    mean: np.ndarray
    cov: np.ndarray
    sha256: str
    provenance: dict

    def score(self, rgb: np.ndarray) -> float:
        """NIQE of one image: lower is more natural (``sqrt(d^T ((S1 + S2) / 2)^+ d)``)."""
        features = patch_features(rgb)
        if len(features) < 2:
            raise DataError(
                f"NIQE needs at least two {PATCH}x{PATCH} patches with texture; this {rgb.shape[1]}x{rgb.shape[0]} image has {len(features)}."
            )
        mean = features.mean(axis=0)
        cov = np.cov(features, rowvar=False)
        d = self.mean - mean
        return float(np.sqrt(d @ np.linalg.pinv((self.cov + cov) / 2) @ d))


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> NIQEModel:
    """The shipped pristine model (or one written by ``fit_niqe`` at ``path``)."""
    source = Path(path) if path is not None else files("deepfeat_iqa.classical") / "data" / MODEL_FILE
    raw = source.read_bytes()
    with np.load(source) as data:
        return NIQEModel(
            mean=data["mean"], cov=data["cov"], sha256="sha256:" + hashlib.sha256(raw).hexdigest(),
            provenance=json.loads(str(data["provenance"])),
        )  # fmt: skip


def fit_model(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and covariance of the sharp patches of pristine images, and how many patches went in."""
    features = np.concatenate([patch_features(image, sharp_only=True) for image in images], axis=0)
    if len(features) < 37:
        raise DataError(f"A NIQE model needs more than 36 sharp patches; these {len(images)} images gave {len(features)}.")
    return features.mean(axis=0), np.cov(features, rowvar=False), len(features)
