"""DCNNS and CNNIQA as image heads: scikit-learn style estimators that learn from a Dataset's images.

Both cut each image into LCN grayscale patches, give every patch its image's score (seed 000: "the
patch score is the image score in training"), train with an L1 loss, and score a test image by the
mean of its patches. DCNNS adds seed 000's scene task: k-means scene ids as a second, cross-entropy
target (``L = L_q + alpha * L_s``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from ..datasets import Dataset
from ..errors import ConfigError, DataError
from ..metrics import per_group_srocc, srocc
from ._nets import CNNIQANet, DCNNSNet
from ._patches import PatchRecipe, PatchSet, dataset_patches
from ._scenes import cluster_scenes, scene_descriptors
from ._train import resolve_device, run_epochs, validation_rows

#: Batch size for scoring patches (no gradients, so larger than the training batch).
_PREDICT_BATCH = 1024
ASPECTS = ("texture", "color", "noise", "exposure")


def as_image_dataset(X: Any, head: str) -> Dataset:  # noqa: N803 - scikit-learn naming
    """The Dataset an image head reads: a Dataset, the dataset of extracted features, or image paths."""
    if isinstance(X, Dataset):
        return X
    dataset = getattr(X, "dataset", None)
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(X, (list, tuple)) and all(isinstance(p, str) or hasattr(p, "__fspath__") for p in X):
        return Dataset.from_paths(X)
    raise ConfigError(f"{head} learns from images: pass a Dataset (or a list of image paths), got {type(X).__name__}.")


class _PatchCNN(RegressorMixin, BaseEstimator, ABC):
    """Shared fit/predict of the patch CNNs; subclasses say how to cut patches and build the network."""

    _dfi_consumes: ClassVar[str] = "images"
    _name: ClassVar[str] = "patch-cnn"

    # -- what subclasses provide ---------------------------------------------------------------------
    def _recipe(self) -> PatchRecipe:
        return PatchRecipe(self.patch_size, self.stride, self.lcn_window, 1.0, self.upscale_small)

    @abstractmethod
    def _build_net(self) -> torch.nn.Module:
        """The untrained network for this head's parameters."""

    def _scene_labels(self, dataset: Dataset, fit_rows: np.ndarray) -> np.ndarray | None:
        return None

    # -- fitting -------------------------------------------------------------------------------------------
    def _targets(self, dataset: Dataset, y: Any) -> np.ndarray:
        if self.aspect is not None:
            if self.aspect not in ASPECTS:
                raise ConfigError(f"aspect={self.aspect!r}; SCPQD2020 aspects are {', '.join(ASPECTS)}.")
            table = dataset.aspects
            if table is None or self.aspect not in table.columns:
                have = "no aspect ranks" if table is None else f"aspect ranks for {', '.join(map(str, table.columns))}"
                raise DataError(
                    f"{self._name}(aspect={self.aspect!r}) trains on SCPQD2020-style within-scene ranks, but dataset "
                    f"{dataset.name!r} has {have}. Load it with dfi.datasets.load('scpqd2020', root) "
                    f"(its label table needs a {self.aspect!r} column), or fit with aspect=None."
                )
            values = table[self.aspect].to_numpy(dtype=np.float64, na_value=np.nan)
        elif y is not None:
            values = np.asarray(y, dtype=np.float64)
        elif dataset.mos is not None:
            values = dataset.mos
        else:
            raise DataError(f"Dataset {dataset.name!r} has no quality scores to fit {self._name} on.")
        if values.shape != (len(dataset),):
            raise DataError(f"{self._name}: {values.shape[0]} scores for {len(dataset)} images.")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(f"{self._name}: {bad.size} images have no score (first: {dataset.ids[bad[0]]!r}).")
        return values

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> _PatchCNN:  # noqa: N803
        """Train on the images of ``X`` (a Dataset); ``y`` overrides its scores, ``groups`` its content groups."""
        dataset = as_image_dataset(X, self._name)
        targets = self._targets(dataset, y)
        groups = np.asarray(groups if groups is not None else dataset.group_ids).astype(str)
        seed = int(self.random_state or 0)
        device = resolve_device(self.device)
        fit_rows, val_rows = validation_rows(groups, self.val_fraction, seed)
        patches = dataset_patches(dataset, self._recipe())
        scenes = self._scene_labels(dataset, fit_rows)

        self.y_mean_ = float(targets[fit_rows].mean())
        self.y_scale_ = float(targets[fit_rows].std()) or 1.0
        with torch.random.fork_rng(devices=[]):  # initialization and dropout draw from a seeded, private stream
            torch.manual_seed(seed)
            net, log = self._train(targets, groups, patches, scenes, fit_rows, val_rows, seed, device)
        self.net_ = net.cpu()
        self.best_epoch_ = int(log.best_epoch)
        self.history_ = log.history
        self.n_patches_ = int(np.isin(patches.owner, fit_rows).sum())
        self.n_features_in_ = 1
        return self

    def _train(self, targets, groups, patches, scenes, fit_rows, val_rows, seed, device) -> tuple[torch.nn.Module, Any]:
        """Build the network and run the epoch loop (the part the shared engine will take over)."""
        patch_y = torch.from_numpy(((targets - self.y_mean_) / self.y_scale_)[patches.owner]).float()
        patch_s = torch.from_numpy(scenes[patches.owner]) if scenes is not None else None
        train_idx = torch.from_numpy(np.flatnonzero(np.isin(patches.owner, fit_rows)))
        net = self._build_net().to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        x_all = patches.x

        def batches(epoch: int):
            order = train_idx[torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(seed * 1000 + epoch))]
            for start in range(0, len(order), self.batch_size):
                yield order[start : start + self.batch_size]

        def loss(index: torch.Tensor) -> torch.Tensor:
            quality, scene_logits = net(x_all[index].to(device, non_blocking=True))
            value = torch.nn.functional.l1_loss(quality, patch_y[index].to(device))
            if scene_logits is not None and patch_s is not None:
                value = value + self.alpha * torch.nn.functional.cross_entropy(scene_logits, patch_s[index].to(device))
            return value

        validate = None
        if len(val_rows):
            val_set = _subset_patches(patches, val_rows)

            def validate() -> float:
                predicted = _image_scores(net, val_set, device)
                if self.aspect is not None:
                    return per_group_srocc(targets[val_rows], predicted, groups[val_rows], min_size=3)
                return srocc(targets[val_rows], predicted)

        log = run_epochs(
            net, optimizer, epochs=self.epochs, batches=batches, loss=loss, validate=validate,
            lr_hint=self.lr, desc=f"fit {self._name}", progress=self.progress,
        )  # fmt: skip
        return net, log

    # -- prediction -------------------------------------------------------------------------------------
    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """Mean patch score per image, in the units of the training scores."""
        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(dataset) first.")
        dataset = as_image_dataset(X, self._name)
        patches = dataset_patches(dataset, self._recipe())
        device = resolve_device(self.device)
        net = self.net_.to(device).eval()
        with torch.no_grad():
            scores = _image_scores(net, patches, device)
        self.net_ = net.cpu()
        return scores * self.y_scale_ + self.y_mean_

    def input_description(self) -> dict[str, Any]:
        """How this head sees images, for reports (in place of a feature key)."""
        recipe = self._recipe()
        return {
            "backbone": self._name, "weights": "trained from scratch", "layer": "end-to-end",
            "views": f"gray+lcn{recipe.window} patches {recipe.size}px stride {recipe.stride}",
        }  # fmt: skip

    # -- model files (persist.py) ----------------------------------------------------------------------------
    def _dfi_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """JSON-able config (parameters and fitted scalars) and the network's tensors."""
        config = {
            "params": self.get_params(deep=False),
            "fitted": {"y_mean_": self.y_mean_, "y_scale_": self.y_scale_, "best_epoch_": self.best_epoch_,
                       "n_patches_": self.n_patches_, "history_": self.history_},
        }  # fmt: skip
        return config, {f"net.{k}": v.detach().cpu() for k, v in self.net_.state_dict().items()}

    @classmethod
    def _dfi_from_state(cls, config: dict, arrays: dict[str, Any]) -> _PatchCNN:
        """Rebuild a fitted head from :meth:`_dfi_state`'s output, running no stored code."""
        head = cls(**config["params"])
        for name, value in config["fitted"].items():
            setattr(head, name, value)
        net = head._build_net()
        state = {k[len("net.") :]: torch.as_tensor(np.asarray(v)) for k, v in arrays.items() if k.startswith("net.")}
        net.load_state_dict(state, strict=True)
        head.net_ = net.eval()
        head.n_features_in_ = 1
        return head


def _subset_patches(patches: PatchSet, rows: np.ndarray) -> PatchSet:
    """The patches of ``rows`` only, renumbered ``0..len(rows)-1`` in ``rows`` order."""
    keep = np.isin(patches.owner, rows)
    position = np.full(patches.n_images, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return PatchSet(x=patches.x[torch.from_numpy(np.flatnonzero(keep))], owner=position[patches.owner[keep]], n_images=len(rows))


def _image_scores(net: torch.nn.Module, patches: PatchSet, device: torch.device) -> np.ndarray:
    """Quality output per patch, averaged per image (standardized units)."""
    outputs = [net(patches.x[s : s + _PREDICT_BATCH].to(device))[0].float().cpu() for s in range(0, len(patches.x), _PREDICT_BATCH)]
    return patches.image_means(torch.cat(outputs).numpy().astype(np.float64))


class DCNNS(_PatchCNN):
    """Seed 000's multi-task patch CNN: quality + k-means scene type, on 64 x 64 LCN grayscale patches.

    Parameters
    ----------
    epochs, batch_size, lr:
        Adam training (seed 000: 50 epochs, batch 128, learning rate 1e-3).
    n_scenes:
        k of the k-means scene clusters (seed 000: 4); ``0`` trains the quality task alone.
    alpha:
        Weight of the scene loss in ``L = L_q + alpha * L_s`` (seed 000: 1).
    dropout:
        Dropout after each FC-256 layer (seed 000: 0.5).
    patch_size, stride:
        Patch side and step (seed 000: 64 and 160).
    lcn_window:
        Local contrast normalization window (seed 000: 3; C = 1).
    aspect:
        For SCPQD2020: train on that aspect's within-scene ranks (``"texture"``, ``"color"``,
        ``"noise"``, ``"exposure"``; lower = better) and select the epoch by within-scene SROCC.
    val_fraction:
        Share of the training content groups held out to pick the best epoch by SROCC (0: last epoch).
    upscale_small:
        Upscale images smaller than one patch instead of refusing them.
    random_state:
        Seeds the initialization, the validation split, the k-means and the batch order.
    device:
        ``None``: CUDA when present, else CPU.
    progress:
        Show a progress bar over epochs (only on a terminal).

    Attributes
    ----------
    net_ : DCNNSNet
    best_epoch_ : int
    history_ : list of dict
        Per epoch: loss and validation SROCC.
    scene_counts_ : list of int
        Training images per scene cluster.

    Notes
    -----
    RGB images are converted to grayscale (BT.601 luma) before LCN; grayscale files work as they are.
    Scene ids come from the dataset's ``scene_clusters`` table when it has one
    (:func:`deepfeat_iqa.patchcnn.with_scene_clusters`), else k-means on the training images' descriptors.
    """

    _name = "dcnns"

    def __init__(
        self, *, epochs: int = 50, batch_size: int = 128, lr: float = 1e-3, n_scenes: int = 4, alpha: float = 1.0,
        dropout: float = 0.5, patch_size: int = 64, stride: int = 160, lcn_window: int = 3, aspect: str | None = None,
        val_fraction: float = 0.2, upscale_small: bool = False, random_state: int | None = 0,
        device: str | None = None, progress: bool = True,
    ) -> None:  # fmt: skip
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.n_scenes = n_scenes
        self.alpha = alpha
        self.dropout = dropout
        self.patch_size = patch_size
        self.stride = stride
        self.lcn_window = lcn_window
        self.aspect = aspect
        self.val_fraction = val_fraction
        self.upscale_small = upscale_small
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def _build_net(self) -> torch.nn.Module:
        return DCNNSNet(n_scenes=self.n_scenes, dropout=self.dropout)

    def _scene_labels(self, dataset: Dataset, fit_rows: np.ndarray) -> np.ndarray | None:
        if not self.n_scenes:
            return None
        table = dataset.scene_clusters
        if table is not None and "cluster" in table.columns:
            labels = table["cluster"].to_numpy(dtype=np.int64)
            if labels.min() < 0 or labels.max() >= self.n_scenes:
                raise DataError(
                    f"Dataset {dataset.name!r}: its scene_clusters table has cluster ids up to {labels.max()}, "
                    f"but DCNNS has n_scenes={self.n_scenes}; rebuild it with with_scene_clusters(ds, k={self.n_scenes})."
                )
        else:
            descriptors = scene_descriptors(dataset)
            kmeans = cluster_scenes(descriptors[fit_rows], k=self.n_scenes, seed=int(self.random_state or 0))
            labels = kmeans.predict(descriptors).astype(np.int64)
        self.scene_counts_ = np.bincount(labels[fit_rows], minlength=self.n_scenes).tolist()
        return labels


class CNNIQA(_PatchCNN):
    """Kang et al. 2014 (seed 000's CNN comparator): one 7x7 conv, max+min pooling, FC 800-800-1, L1.

    Parameters
    ----------
    epochs, batch_size, lr:
        Adam training; defaults follow DCNNS's recipe so the two compare on equal terms (Kang et al.
        used SGD with momentum; see docs/patch-cnns.md).
    filters, kernel, width, dropout:
        The convolution (50 filters of 7 x 7), the FC width (800) and dropout on the FC layers.
    patch_size, stride:
        32 x 32 patches, non-overlapping (stride 32), as Kang et al.
    lcn_window, aspect, val_fraction, upscale_small, random_state, device, progress:
        As :class:`DCNNS`.
    """

    _name = "cnniqa"

    def __init__(
        self, *, epochs: int = 50, batch_size: int = 128, lr: float = 1e-3, filters: int = 50, kernel: int = 7,
        width: int = 800, dropout: float = 0.5, patch_size: int = 32, stride: int = 32, lcn_window: int = 3,
        aspect: str | None = None, val_fraction: float = 0.2, upscale_small: bool = False,
        random_state: int | None = 0, device: str | None = None, progress: bool = True,
    ) -> None:  # fmt: skip
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.filters = filters
        self.kernel = kernel
        self.width = width
        self.dropout = dropout
        self.patch_size = patch_size
        self.stride = stride
        self.lcn_window = lcn_window
        self.aspect = aspect
        self.val_fraction = val_fraction
        self.upscale_small = upscale_small
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def _build_net(self) -> torch.nn.Module:
        if self.kernel > self.patch_size:
            raise ConfigError(f"CNNIQA kernel={self.kernel} is larger than its {self.patch_size}px patches.")
        return CNNIQANet(filters=self.filters, kernel=self.kernel, width=self.width, dropout=self.dropout)
