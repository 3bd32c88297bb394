"""Decode a Dataset's images once into the patch tensors a patch CNN trains on, with their owner image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..datasets import Dataset
from ..errors import DataError
from ..images import load_rgb
from ..views import Geometry
from ._preprocess import local_contrast_normalize, patch_grid, to_gray


@dataclass(frozen=True)
class PatchRecipe:
    """How one model turns an image into patches (part of its saved config, so predict cuts alike).

    Attributes
    ----------
    size, stride:
        Patch side and step in pixels (DCNNS: 64 / 160; CNNIQA: 32 / 32).
    window, c:
        Local contrast normalization window side and constant (seed 000: 3 and 1).
    upscale_small:
        ``False``: an image smaller than one patch is an error naming it. ``True``: it is first
        upscaled (bicubic, aspect kept) so its shorter side equals the patch size, as the views do.
    """

    size: int
    stride: int
    window: int = 3
    c: float = 1.0
    upscale_small: bool = False

    def patches(self, image: np.ndarray, where: str = "image") -> np.ndarray:
        """``n x size x size`` float32 LCN patches of one RGB or grayscale ``uint8`` image."""
        h, w = image.shape[:2]
        if h < self.size or w < self.size:
            if not self.upscale_small:
                raise DataError(
                    f"{where} is {w} x {h} px, smaller than one {self.size} x {self.size} patch; "
                    "drop it, or fit with upscale_small=True to upscale such images (bicubic) first."
                )
            scale = max(self.size / h, self.size / w)
            size = (max(self.size, round(h * scale)), max(self.size, round(w * scale)))
            image = Geometry((self.size, self.size)).resize(np.ascontiguousarray(image), *size)
        return patch_grid(local_contrast_normalize(to_gray(image), self.window, self.c), self.size, self.stride)


@dataclass
class PatchSet:
    """Patches of several images: ``x`` is ``N x 1 x size x size`` float32, ``owner[i]`` the image row of patch ``i``."""

    x: torch.Tensor
    owner: np.ndarray
    n_images: int

    def image_means(self, patch_values: np.ndarray) -> np.ndarray:
        """Average patch values per image (seed 000 / Kang: the image score is the mean of its patches)."""
        counts = np.bincount(self.owner, minlength=self.n_images)
        return np.bincount(self.owner, weights=patch_values, minlength=self.n_images) / np.maximum(counts, 1)


def dataset_patches(dataset: Dataset, recipe: PatchRecipe) -> PatchSet:
    """Every image of ``dataset`` decoded (RGB, converted to gray), normalized and cut by ``recipe``."""
    parts, owners = [], []
    for row, path in enumerate(dataset.paths):
        patches = recipe.patches(load_rgb(path), where=f"Image {dataset.ids[row]!r} ({path})")
        parts.append(patches)
        owners.append(np.full(len(patches), row, dtype=np.int64))
    if not parts:
        raise DataError(f"Dataset {dataset.name!r} holds no images to cut into patches.")
    x = torch.from_numpy(np.concatenate(parts)).unsqueeze(1)
    return PatchSet(x=x, owner=np.concatenate(owners), n_images=len(dataset))
