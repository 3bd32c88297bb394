"""Images in memory and the random square crops both stages of seed 002 train on, normalized for the trunk."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch

from ..backbones import BackboneConfig
from ..datasets import Dataset
from ..images import load_rgb
from ..views import Geometry


class ImageBank:
    """A dataset's images decoded once (RGB ``uint8``; grayscale files become 3 equal channels).

    Parameters
    ----------
    dataset:
        The images.
    crop:
        Side of the crops that will be cut; images smaller than that are upscaled (aspect kept) so
        their shorter side equals it, the rule the views use.
    resize:
        ``(height, width)`` to resize every image to first (seed 002's stage 1 scales to 256 x 256);
        ``None`` keeps the native size (stage 2 crops from the full image).
    interpolation:
        Resampling filter for resizing and upscaling.
    """

    def __init__(self, dataset: Dataset, crop: int, resize: tuple[int, int] | None = None, interpolation: str = "bicubic") -> None:
        self.ids = list(dataset.ids)
        self.crop = int(crop)
        geometry = Geometry((1, 1), interpolation=interpolation)
        self.images = []
        for path in dataset.paths:
            image = load_rgb(path)
            if resize is not None:
                image = geometry.resize(image, *resize)
            h, w = image.shape[:2]
            if h < self.crop or w < self.crop:
                scale = max(self.crop / h, self.crop / w)
                image = geometry.resize(image, max(self.crop, round(h * scale)), max(self.crop, round(w * scale)))
            self.images.append(image)

    def __len__(self) -> int:
        return len(self.images)

    def positions(self, rows: Sequence[int], n: int, seed: int) -> np.ndarray:
        """``len(rows) * n`` crop positions ``(row, top, left)``, drawn per image from ``(seed, crc32(id))``.

        A given seed and image always give the same crops, whatever the batch or row order; callers pass
        a new seed per epoch for fresh crops and a fixed one for test crops.
        """
        out = np.empty((len(rows) * n, 3), dtype=np.int64)
        for k, row in enumerate(rows):
            h, w = self.images[row].shape[:2]
            rng = np.random.default_rng([int(seed), zlib.crc32(self.ids[row].encode())])
            block = out[k * n : (k + 1) * n]
            block[:, 0] = row
            block[:, 1] = rng.integers(0, h - self.crop + 1, size=n)
            block[:, 2] = rng.integers(0, w - self.crop + 1, size=n)
        return out

    def gather(self, positions: np.ndarray) -> np.ndarray:
        """The ``N x crop x crop x 3`` crops at ``positions`` (rows of ``(row, top, left)``)."""
        c = self.crop
        return np.stack([self.images[r][t : t + c, s : s + c] for r, t, s in positions])


class Normalizer:
    """``uint8`` ``N x H x W x 3`` crops -> float ``N x 3 x H x W`` normalized with the backbone's mean/std."""

    def __init__(self, config: BackboneConfig) -> None:
        self.mean = torch.tensor(config.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(config.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0

    def __call__(self, crops: np.ndarray, device: torch.device) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(device).permute(0, 3, 1, 2).float()
        return (x - self.mean.to(device)) / self.std.to(device)
