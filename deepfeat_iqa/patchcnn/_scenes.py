"""DCNNS scene labels (seed 000 §3.2): a 37-dim block-statistics + MPEG-7 edge descriptor, then k-means.

The descriptor of one image is computed once per file (cached by file identity: resolved path, size,
modification time), and :func:`with_scene_clusters` stores descriptor and cluster id on the Dataset as
its ``scene_clusters`` table, so repeated splits, refits and saved datasets never recompute them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import correlate
from sklearn.cluster import KMeans

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.patchcnn._preprocess import to_gray

#: Sub-blocks per side (seed 000: "horizontally and vertically divided by 8").
BLOCKS_PER_SIDE = 8
#: Histogram bins for the block means and for the block standard deviations.
HIST_BINS = 16
#: Block means lie in [0, 255]; a block's std of 0-255 values is at most 127.5.
MEAN_RANGE = (0.0, 255.0)
STD_RANGE = (0.0, 127.5)
#: MPEG-7 edge-histogram threshold on the filter response of 0-255 intensities (ISO/IEC 15938-3, T_edge = 11).
EDGE_THRESHOLD = 11.0
_R2 = float(np.sqrt(2.0))
#: The five MPEG-7 edge filters of seed 000 Fig. 2: vertical, horizontal, 45°, 135°, non-directional.
EDGE_FILTERS = {
    "vertical": np.array([[1.0, -1.0], [1.0, -1.0]]),
    "horizontal": np.array([[1.0, 1.0], [-1.0, -1.0]]),
    "diagonal_45": np.array([[_R2, 0.0], [0.0, -_R2]]),
    "diagonal_135": np.array([[0.0, _R2], [-_R2, 0.0]]),
    "non_directional": np.array([[2.0, -2.0], [-2.0, 2.0]]),
}
DESCRIPTOR_COLUMNS = (
    tuple(f"mean_hist{i:02d}" for i in range(HIST_BINS))
    + tuple(f"std_hist{i:02d}" for i in range(HIST_BINS))
    + tuple(f"edge_{name}" for name in EDGE_FILTERS)
)
DESCRIPTOR_DIM = len(DESCRIPTOR_COLUMNS)  # 37

_CACHE: dict[tuple[str, int, int], np.ndarray] = {}
_CACHE_LOCK = threading.Lock()


def _block_edges(length: int) -> np.ndarray:
    """Start index of each of the 8 sub-blocks along one axis (sizes differ by at most one pixel)."""
    return np.array([part[0] for part in np.array_split(np.arange(length), BLOCKS_PER_SIDE)])


def _block_sums(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (``H x W`` or ``H x W x K``) inside each of the 8 x 8 sub-blocks."""
    return np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)


def scene_descriptor(image: np.ndarray) -> np.ndarray:
    """Seed 000's 37-dim scene descriptor of one image (RGB or grayscale, 0-255).

    * 16-bin histogram of the 64 sub-block means, as shares of the blocks (sums to 1);
    * 16-bin histogram of the 64 sub-block standard deviations (sums to 1);
    * for each of the 5 MPEG-7 edge filters, the share of the image's pixels whose dominant 2 x 2
      filter response is that filter's and reaches the MPEG-7 threshold, averaged over the sub-blocks.

    Raises
    ------
    DataError
        For an image smaller than 16 x 16 px (8 sub-blocks of at least 2 x 2 pixels each per side).
    """
    gray = to_gray(image)
    h, w = gray.shape
    if h < 2 * BLOCKS_PER_SIDE or w < 2 * BLOCKS_PER_SIDE:
        raise DataError(f"The scene descriptor needs images of at least 16 x 16 px; got {w} x {h}.")
    rows, cols = _block_edges(h), _block_edges(w)
    counts = _block_sums(np.ones_like(gray), rows, cols)
    means = _block_sums(gray, rows, cols) / counts
    stds = np.sqrt(np.maximum(_block_sums(gray * gray, rows, cols) / counts - means**2, 0.0))
    mean_hist = np.histogram(np.clip(means, *MEAN_RANGE), bins=HIST_BINS, range=MEAN_RANGE)[0] / means.size
    std_hist = np.histogram(np.clip(stds, *STD_RANGE), bins=HIST_BINS, range=STD_RANGE)[0] / stds.size

    # Each filter at every pixel's 2 x 2 neighbourhood (origin top-left); the strongest response names the edge.
    responses = np.stack([np.abs(correlate(gray, f, mode="nearest", origin=(-1, -1))) for f in EDGE_FILTERS.values()], axis=-1)
    strongest = responses.argmax(axis=-1)
    is_edge = responses.max(axis=-1) >= EDGE_THRESHOLD
    one_hot = (strongest[..., None] == np.arange(len(EDGE_FILTERS))) & is_edge[..., None]
    shares = _block_sums(one_hot.astype(np.float64), rows, cols) / counts[..., None]
    edge = shares.reshape(-1, len(EDGE_FILTERS)).mean(axis=0)
    return np.concatenate([mean_hist, std_hist, edge]).astype(np.float64)


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = os.stat(path)
    return (str(Path(path).resolve()), int(stat.st_size), int(stat.st_mtime_ns))


def file_descriptor(path: str | Path) -> np.ndarray:
    """:func:`scene_descriptor` of an image file, computed once per file content (path, size, mtime)."""
    path = Path(path)
    try:
        key = _file_key(path)
    except OSError as error:
        raise DataError(f"Cannot read image {str(path)!r} for its scene descriptor: {error}") from error
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    try:
        descriptor = scene_descriptor(load_rgb(path))
    except DataError as error:
        raise DataError(f"{path}: {error}") from error
    with _CACHE_LOCK:
        _CACHE[key] = descriptor
    return descriptor


def scene_descriptors(dataset: Dataset) -> np.ndarray:
    """``n x 37`` descriptors of a Dataset's images: from its ``scene_clusters`` table when it has one."""
    table = dataset.scene_clusters
    if table is not None and set(DESCRIPTOR_COLUMNS) <= set(table.columns):
        return table[list(DESCRIPTOR_COLUMNS)].to_numpy(dtype=np.float64)
    return np.stack([file_descriptor(p) for p in dataset.paths]) if len(dataset) else np.zeros((0, DESCRIPTOR_DIM))


def cluster_scenes(descriptors: np.ndarray, k: int = 4, seed: int = 0) -> KMeans:
    """A fitted scikit-learn ``KMeans`` (k = 4 in seed 000) on the descriptors as they are.

    Every part of the descriptor is a share in [0, 1], so no rescaling is needed before clustering.

    Raises
    ------
    ConfigError
        When ``k`` is below 2 or above the number of images.
    """
    n = len(descriptors)
    if int(k) < 2:
        raise ConfigError(f"k-means needs k >= 2 scene clusters, got k={k}.")
    if int(k) > n:
        raise ConfigError(
            f"k-means was asked for {k} scene clusters but there are only {n} images; "
            f"use k <= {n} (seed 000 uses 4) or cluster more images."
        )
    return KMeans(n_clusters=int(k), n_init=10, random_state=int(seed)).fit(descriptors)


def with_scene_clusters(dataset: Dataset, k: int = 4, *, seed: int = 0) -> Dataset:
    """A copy of ``dataset`` whose ``scene_clusters`` table holds each image's descriptor and cluster id.

    Seed 000 clusters every photo of the database once, without labels; DCNNS reads the ``cluster``
    column of this table when it is there (and clusters its training images itself when it is not).

    Examples
    --------
    >>> ds = with_scene_clusters(dfi.datasets.load("scpqd2020", root), k=4)  # doctest: +SKIP
    >>> ds.scene_clusters["cluster"].value_counts()                           # doctest: +SKIP
    """
    descriptors = scene_descriptors(dataset)
    kmeans = cluster_scenes(descriptors, k=k, seed=seed)
    table = pd.DataFrame(descriptors, columns=list(DESCRIPTOR_COLUMNS))
    table["cluster"] = kmeans.labels_.astype(np.int64)
    return replace(dataset, scene_clusters=table)
