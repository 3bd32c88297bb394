"""DCNNS and CNNIQA as image heads on the shared training engine (``deepfeat_iqa.heads.image.ImageHead``).

Both cut LCN grayscale patches, give every patch its image's score (seed 000: "the patch score is the
image score in training", the engine's ``target_level="patch"``), train with an L1 loss, and score a
test image by the mean of its patches. DCNNS adds seed 000's scene task: k-means scene ids as a
second, cross-entropy target (``L = L_q + alpha * L_s``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.training._side_tasks import SideTasks
from deepfeat_iqa.heads.image._base import ImageHead
from deepfeat_iqa.inputs.views import Geometry
from deepfeat_iqa.patchcnn._aspects import aspect_targets
from deepfeat_iqa.patchcnn._nets import CNNIQANet, DCNNSNet, PatchLoss
from deepfeat_iqa.patchcnn._preprocess import GrayLCN, check_patch_sizes
from deepfeat_iqa.patchcnn._scenes import cluster_scenes, scene_descriptors


class _PatchHead(ImageHead):
    """What DCNNS and CNNIQA share: grayscale LCN input, patch-level targets, size checks, SCPQD aspects."""

    #: Seed 000 §3.3: Adam 1e-3, constant, 50 epochs, 128 patches per step (4 images x 32 random patches),
    #: every patch a sample with its image's score; fp32 (small convolutions gain nothing from bf16).
    option_defaults = {
        "epochs": 50, "batch_size": 4, "optimizer": "adam", "weight_decay": 0.0, "schedule": "constant",
        "crops_per_image": 32, "target_level": "patch", "precision": "fp32",
    }  # fmt: skip

    def fit(self, X: Dataset, y: Any = None, *, groups: Any = None, **side: Any) -> _PatchHead:
        """Train on the images of ``X``; with ``aspect`` set, on that SCPQD2020 aspect's ranks instead of ``y``."""
        X = self._check_images(X)
        if self.aspect is not None:
            y = aspect_targets(X, self.aspect, type(self).__name__)
        check_patch_sizes(X, self._patch(), self.upscale_small)
        return super().fit(X, y, groups=groups, **side)

    def predict(self, X: Dataset, exif: Any = None) -> np.ndarray:
        """Mean patch score per image (test views: ``test_views``), in the units of the training scores."""
        check_is_fitted(self, "network_")
        check_patch_sizes(self._check_images(X), self._patch(), self.upscale_small)
        return super().predict(X)

    def _patch(self) -> int:
        return int(self.crop_size)

    def _pipeline_parts(self) -> tuple[Geometry, GrayLCN]:
        size = self._patch()
        return Geometry((size, size), interpolation="bicubic"), GrayLCN(int(self.lcn_window), 1.0)

    def input_description(self) -> dict[str, Any]:
        return {"backbone": type(self).__name__.lower(), "weights": "trained from scratch", "layer": "end-to-end",
                "views": f"gray+lcn{self.lcn_window} {self._patch()}px patches, test {self.test_views}",
                "precision": self.precision}  # fmt: skip


class DCNNS(_PatchHead):
    """Seed 000's multi-task patch CNN: quality + k-means scene type, on 64 x 64 LCN grayscale patches.

    Parameters (own)
    ----------------
    n_scenes:
        k of the k-means scene clusters (seed 000: 4); ``0`` trains the quality task alone.
    alpha:
        Weight of the scene loss in ``L = L_q + alpha * L_s`` (seed 000: 1).
    dropout:
        Dropout after each FC-256 layer (seed 000: 0.5).
    lcn_window:
        Local contrast normalization window (seed 000: 3; C = 1).
    aspect:
        For SCPQD2020: train on that aspect's within-scene ranks (``"texture"``, ``"color"``, ``"noise"``,
        ``"exposure"``; lower = better), one model per aspect as seed 000 does.
    upscale_small:
        Upscale images smaller than one patch (views' rule) instead of refusing them.

    The engine's parameters (:class:`~deepfeat_iqa.training.TrainSettings`) default to seed 000 §3.3:
    Adam, learning rate 1e-3, constant, 50 epochs, 128 patches per step (``batch_size=4`` images x
    ``crops_per_image=32`` fresh random 64 x 64 patches each), ``target_level="patch"``. ``crop_size`` is the
    patch side (64). Test images average their patches at stride 160 (``test_views="patches"``).

    Notes
    -----
    RGB images are converted to grayscale (BT.601 luma) before LCN; grayscale files work as they are.
    Scene ids come from the dataset's ``scene_clusters`` table when it has one
    (:func:`deepfeat_iqa.patchcnn.with_scene_clusters`), else from k-means (``random_state`` seeds it) on
    the descriptors of the training images, which are cached per file.
    """

    option_defaults = {"crop_size": 64, "test_views": "patches"}

    def __init__(
        self, *, n_scenes: int = 4, alpha: float = 1.0, dropout: float = 0.5, lcn_window: int = 3,
        aspect: str | None = None, upscale_small: bool = False,
    ):  # fmt: skip
        self.n_scenes, self.alpha, self.dropout, self.lcn_window = n_scenes, alpha, dropout, lcn_window
        self.aspect, self.upscale_small = aspect, upscale_small

    def _side_labels(self, X: Dataset, side: dict[str, Any]) -> dict[str, Any]:
        """The k-means scene id of every training image, one-hot, as the scene task's target."""
        if not self.n_scenes:
            return {}
        table = X.scene_clusters
        if table is not None and "cluster" in table.columns:
            labels = table["cluster"].to_numpy(dtype=np.int64)
            if labels.min() < 0 or labels.max() >= self.n_scenes:
                raise DataError(
                    f"Dataset {X.name!r}: its scene_clusters table has cluster ids up to {labels.max()}, but "
                    f"DCNNS has n_scenes={self.n_scenes}; rebuild it with with_scene_clusters(ds, k={self.n_scenes})."
                )
        else:
            descriptors = scene_descriptors(X)
            labels = cluster_scenes(descriptors, k=self.n_scenes, seed=int(self.random_state)).labels_.astype(np.int64)
        self.scene_counts_ = np.bincount(labels, minlength=self.n_scenes).tolist()
        one_hot = np.eye(self.n_scenes, dtype=np.float32)[labels]
        return {"scenes": pd.DataFrame(one_hot, columns=[f"scene{k}" for k in range(self.n_scenes)])}

    def build_network(self, tasks: SideTasks, *, pretrained: bool) -> tuple[DCNNSNet, PatchLoss, Geometry, GrayLCN]:
        n_scenes = len(tasks.scene_names or ())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))
            network = DCNNSNet(n_scenes=n_scenes, dropout=float(self.dropout))
        return (network, PatchLoss(float(self.alpha)), *self._pipeline_parts())


class CNNIQA(_PatchHead):
    """Kang et al. 2014 (seed 000's CNN comparator): one 7x7 conv, max+min pooling, FC 800-800-1, L1.

    Parameters (own)
    ----------------
    filters, kernel, width, dropout:
        50 convolution filters of 7 x 7, FC width 800, dropout on the FC layers (0.5).
    lcn_window, aspect, upscale_small:
        As :class:`DCNNS`.

    Engine defaults as DCNNS (Adam 1e-3, 128 patches per step), on 32 x 32 patches (``crop_size=32``); test
    images average the ``"grid"`` view (32 x 32 at stride 16). Kang et al. trained with SGD + momentum on
    non-overlapping patches; see docs/patch-cnns.md for this and the other choices.
    """

    option_defaults = {"crop_size": 32, "test_views": "grid"}

    def __init__(
        self, *, filters: int = 50, kernel: int = 7, width: int = 800, dropout: float = 0.5, lcn_window: int = 3,
        aspect: str | None = None, upscale_small: bool = False,
    ):  # fmt: skip
        self.filters, self.kernel, self.width, self.dropout = filters, kernel, width, dropout
        self.lcn_window, self.aspect, self.upscale_small = lcn_window, aspect, upscale_small

    def _side_labels(self, X: Dataset, side: dict[str, Any]) -> dict[str, Any]:
        return {}  # quality only

    def build_network(self, tasks: SideTasks, *, pretrained: bool) -> tuple[CNNIQANet, PatchLoss, Geometry, GrayLCN]:
        if self.kernel > self._patch():
            raise ConfigError(f"CNNIQA kernel={self.kernel} is larger than its {self._patch()}px patches (crop_size).")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))
            network = CNNIQANet(filters=int(self.filters), kernel=int(self.kernel), width=int(self.width), dropout=float(self.dropout))
        return (network, PatchLoss(0.0), *self._pipeline_parts())
