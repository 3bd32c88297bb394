"""The center prior: the middle of a photo says more about its rating than its edges.

People rating a photo look mostly at its middle, where photographers put the subject (a blurred
background behind a sharp subject is a good photo). Plain averages treat every region alike. On clive-dev's real
ratings, weighing positions by their distance to the photo's center lifted every member of the
recommended recipe and the recipe itself (SROCC 0.834 -> 0.840 on the seed-0 splits, 0.829 -> 0.840 on
seed 1; docs/real-accuracy.md).

Every place that weighs positions uses one shape, ``w = exp(-k (dy^2 + dx^2))``, where ``(dy, dx)`` is the
position's offset from the photo's center in half-sides (0 at the center, 1 at the middle of an edge,
sqrt(2) at a corner) and ``k`` the prior's strength, measured per use on the seed-0 splits:
"""

from __future__ import annotations

import numpy as np

#: ``center-avg`` pooling of a whole-photo feature map (Lite0 full512 alone: 0.807 -> 0.820; k=2 scored more alone, less in the recipe).
POOLING_STRENGTH = 1.0
#: ``gridN@center``: the grid crops' features averaged with these weights (Lite1 grid512 in the recipe; 4 of 0-4 tried).
GRID_STRENGTH = 4.0
#: ``crop_summary="center-median"``: a per-crop member's weighted median of its crops' predictions (2 of 2-20 tried).
CROP_STRENGTH = 2.0


def center_weights(offsets: np.ndarray, strength: float) -> np.ndarray:
    """Weights ``exp(-strength * |offset|^2)`` of positions given as ``(..., 2)`` offsets in half-sides."""
    offsets = np.asarray(offsets, dtype=np.float64)
    return np.exp(-strength * (offsets**2).sum(axis=-1))


def map_weights(height: int, width: int, strength: float) -> np.ndarray:
    """``(height, width)`` float32 weights of a feature map's cells (at their centers), summing to 1."""
    dy = (np.arange(height) + 0.5) / height * 2 - 1
    dx = (np.arange(width) + 0.5) / width * 2 - 1
    weights = center_weights(np.stack(np.meshgrid(dy, dx, indexing="ij"), axis=-1), strength)
    return (weights / weights.sum()).astype(np.float32)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row of ``(n, V)`` values, the lower weighted median: the first sorted value whose weights reach half.

    NumPy's weighted quantile (``np.quantile(..., weights=, method="inverted_cdf")``) needs NumPy 2.0; the
    project's floor is 1.25, so the four lines live here.
    """
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    cumulative = np.take_along_axis(weights, order, axis=1).cumsum(axis=1)
    below_half = (cumulative < 0.5 * cumulative[:, -1:]).sum(axis=1)
    return sorted_values[np.arange(len(values)), below_half]
