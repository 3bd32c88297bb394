"""Natural-scene statistics shared by BRISQUE and NIQE, built on piq's BRISQUE implementation.

BRISQUE's 36 features (GGD of the MSCN coefficients and AGGD of their four neighbour products, at two
scales) are piq's own code (``piq.brisque._natural_scene_statistics``, ``imresize``, ``rgb2yiq``), so
they match the reference MATLAB features piq validates against. NIQE fits the same 18 statistics per
patch; piq has no NIQE, so the per-patch variant below applies piq's GGD/AGGD estimators to patches of
the MSCN map of the whole image (as the NIQE reference code does), rather than re-deriving them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch convention
from piq.brisque import _aggd_parameters, _ggd_parameters, _natural_scene_statistics
from piq.functional import gaussian_filter, imresize, rgb2yiq

#: Gaussian window of the local mean/contrast normalization (the BRISQUE/NIQE reference values).
KERNEL_SIZE = 7
KERNEL_SIGMA = 7 / 6
#: Neighbour directions of the pairwise MSCN products: horizontal, vertical, two diagonals.
SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def luminance(rgb: np.ndarray) -> torch.Tensor:
    """``(1, 1, H, W)`` float64 luma in [0, 255], rounded like MATLAB's uint8 ``rgb2gray`` (piq's BRISQUE convention)."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].to(torch.float64)
    return torch.round(rgb2yiq(x)[:, :1])


def half(luma: torch.Tensor) -> torch.Tensor:
    """The image at half size (MATLAB ``imresize`` bicubic, as piq implements it)."""
    return imresize(luma, sizes=(luma.size(2) // 2, luma.size(3) // 2))


def brisque_features(rgb: np.ndarray) -> np.ndarray:
    """BRISQUE's 36 features of one ``H x W x 3`` uint8 image (18 statistics at full and half scale)."""
    luma = luminance(rgb)
    features = []
    for _ in range(2):
        features.append(_natural_scene_statistics(luma, KERNEL_SIZE, KERNEL_SIGMA))
        luma = half(luma)
    return torch.cat(features, dim=-1).reshape(-1).numpy().astype(np.float64)


def mscn(luma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean-subtracted contrast-normalized coefficients and the local contrast map (``sigma``)."""
    kernel = gaussian_filter(KERNEL_SIZE, KERNEL_SIGMA, dtype=luma.dtype, device=luma.device).view(1, 1, KERNEL_SIZE, KERNEL_SIZE)
    mu = F.conv2d(luma, kernel, padding=KERNEL_SIZE // 2)
    sigma = (F.conv2d(luma**2, kernel, padding=KERNEL_SIZE // 2) - mu**2).abs().sqrt()
    return (luma - mu) / (sigma + 1), sigma


def patch_statistics(luma: torch.Tensor, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-tile 18 NSS statistics and sharpness (mean local contrast) over non-overlapping ``patch`` tiles.

    Tiles are in row-major order; a tile whose statistics are undefined (flat: no contrast, or products
    of one sign) has NaN statistics, so callers can align tiles across scales before dropping them.
    """
    coefficients, sigma = mscn(luma)
    rows, cols = luma.size(2) // patch, luma.size(3) // patch
    if rows == 0 or cols == 0:
        return np.zeros((0, 18)), np.zeros(0)
    h, w = rows * patch, cols * patch

    def tiles(x: torch.Tensor) -> torch.Tensor:
        return F.unfold(x[:, :, :h, :w], kernel_size=patch, stride=patch).transpose(1, 2).reshape(-1, 1, patch, patch)

    base = tiles(coefficients)
    products = [tiles(coefficients * torch.roll(coefficients, shifts=s, dims=(-2, -1))) for s in SHIFTS]
    usable = base.flatten(1).std(dim=1) > 1e-8
    for product in products:
        flat = product.flatten(1)
        usable &= (flat < 0).any(dim=1) & (flat > 0).any(dim=1)
    sharpness = tiles(sigma).mean(dim=(1, 2, 3)).numpy()
    stats = np.full((base.size(0), 18), np.nan)
    if usable.any():
        alpha, spread = _ggd_parameters(base[usable])
        columns = [alpha, spread.pow(2)]
        for product in products:
            a, left, right = _aggd_parameters(product[usable])
            eta = (right - left) * torch.exp(torch.lgamma(2.0 / a) - (torch.lgamma(1.0 / a) + torch.lgamma(3.0 / a)) / 2)
            columns.extend((a, eta, left.pow(2), right.pow(2)))
        stats[usable.numpy()] = torch.stack([c.reshape(-1) for c in columns], dim=1).numpy()
    return stats, sharpness
