"""``MultitaskMLP``: a small MLP on pooled deep features, trained on quality plus optional side tasks."""

from __future__ import annotations

import logging
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from deepfeat_iqa.runtime.device import resolve_device
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads._mlp_net import LossWeights, NetSpec
from deepfeat_iqa.heads._mlp_train import TrainConfig, train_network
from deepfeat_iqa.training._side_tasks import Standardizer, as_table, encode_side_labels
from deepfeat_iqa.heads import _groups
from deepfeat_iqa.heads._preprocess import BlockStandardizer
from deepfeat_iqa.heads._state import StateMixin

logger = logging.getLogger(__name__)

#: Rows per forward pass at predict time; bounds memory for large feature matrices.
_PREDICT_CHUNK = 4096


class MultitaskMLP(StateMixin, RegressorMixin, BaseEstimator):
    """MLP quality head with the multitask variants of seed 001 (MT-E, MT-A, MT-S) and seed 002.

    Features are standardized per feature and per block (:class:`BlockStandardizer`), the target is
    standardized internally, and a shared ReLU trunk feeds a quality head trained with the L1 loss that
    both seeds use. Which side tasks train is decided by the side labels given to :meth:`fit`, so one
    estimator covers the baseline and every variant and ``get_params`` stays the same across them:

    - ``attributes`` (MT-A, seed 001 Eq. 4): extra regression outputs sharing the trunk.
    - ``exif`` (MT-E, Eq. 2-3): a linear layer on encoded EXIF adds an offset to the generic score;
      without EXIF at predict time the model gives the generic score, as the seed intends.
    - ``scenes`` (MT-S, Eq. 5-8): multi-label scene classification weighted against quality by two
      learned task uncertainties (Kendall et al.), exposed as ``task_log_sigma_``.
    - ``distortion`` (seed 002 Eq. 1-8): type[/level] softmax classification, or multi-hot BCE, whose
      embedding is concatenated into the quality branch.

    Training uses AdamW on mini-batches and stops early when the quality L1 on a held-out part of the
    training rows has not improved for ``patience`` epochs, restoring the best epoch's weights. All
    randomness (initialization, split, shuffling, dropout) follows ``seed``, so refitting gives the same
    predictions. The fitted network is kept on the CPU in float64, so a joblib round trip and predictions
    on any subset of rows are exact.

    Parameters
    ----------
    hidden:
        Widths of the shared trunk's layers; ``()`` gives linear heads on the features.
    dropout:
        Dropout probability after each trunk layer.
    lr:
        AdamW learning rate.
    weight_decay:
        AdamW decoupled weight decay (not applied to the learned task uncertainties).
    max_epochs:
        Upper bound on training epochs.
    batch_size:
        Mini-batch size.
    val_fraction:
        Part of the training rows held out for early stopping; ``0`` (or too few rows to hold out
        any) trains for ``max_epochs`` and keeps the last weights.
    patience:
        Epochs without a validation improvement larger than ``tol`` before training stops.
    tol:
        Smallest decrease of the validation L1 (in standard deviations of ``y``) that counts as progress.
    random_state:
        Seed of every random choice in ``fit`` (an int: it seeds torch too), as scikit-learn names it.
    seed:
        Deprecated spelling of ``random_state`` (0.1); when given it wins, with a DeprecationWarning.
    device:
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...; ``None`` (or ``"auto"``) picks CUDA when available.
    blocks:
        Widths of concatenated feature blocks (e.g. two layers), each scaled by ``1/sqrt(dim)`` after
        per-feature standardization so a wide layer does not drown a narrow one; ``None`` is one block.
    attribute_weight:
        beta_2 of seed 001 Eq. 4 (beta_1 = 1 - beta_2); used only when ``attributes`` are given.
    exif_weight:
        alpha_2 of seed 001 Eq. 3 (alpha_1 = 1 - alpha_2; the paper uses 0.5); used only with ``exif``.
    distortion_weight:
        Weight of the distortion classification loss (seed 002 Eq. 7-8 use 1).

    Attributes
    ----------
    module_:
        The trained :class:`torch.nn.Module` (CPU, float64, eval mode).
    standardizer_:
        The fitted :class:`BlockStandardizer`.
    input_scale_:
        Common factor applied after it, so the network's inputs have unit variance per feature.
    y_mean_, y_std_:
        Mean and standard deviation of the training target (the names every head of ours uses;
        ``y_scale_`` is a deprecated alias of ``y_std_``).
    tasks_:
        Names of the tasks trained, ``"quality"`` first.
    attribute_names_:
        Attribute columns (MT-A), or ``None``.
    attribute_scaler_:
        Means and scales the attribute targets were standardized with (MT-A), or ``None``.
    exif_encoder_:
        The fitted :class:`ExifEncoder` (MT-E), or ``None``.
    scene_names_:
        Scene columns (MT-S), or ``None``.
    distortion_classes_:
        Distortion class names, or ``None``.
    distortion_multilabel_:
        Whether distortion labels were multi-hot (BCE) rather than one class per image (softmax).
    task_log_sigma_:
        ``{"quality": log sigma_1, "scenes": log sigma_2}`` of seed 001 Eq. 8 after training (MT-S), or ``None``.
    task_log_sigma_history_:
        ``(n_epochs_, 2)`` array of those values at the end of each epoch (MT-S), or ``None``.
    n_epochs_:
        Epochs trained.
    best_epoch_:
        The epoch (1-based) whose weights were kept.
    loss_history_:
        Mean training loss per epoch.
    val_loss_history_:
        Validation quality L1 (standardized units) per epoch; empty without a validation split.
    device_:
        The device the network was trained on.
    n_features_in_:
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from deepfeat_iqa.heads._mlp import MultitaskMLP
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 6))
    >>> y = 3.0 + X[:, 0] - 0.5 * X[:, 1]
    >>> model = MultitaskMLP(hidden=(16,), max_epochs=30, device="cpu").fit(X, y)
    >>> model.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "hidden": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "val_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "seed": [None, Interval(Integral, 0, None, closed="left")],
        "device": [None, str],
        "blocks": ["array-like", None],
        "attribute_weight": [Interval(Real, 0, 1, closed="left")],
        "exif_weight": [Interval(Real, 0, 1, closed="both")],
        "distortion_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (512,),
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        max_epochs: int = 200,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        patience: int = 20,
        tol: float = 1e-4,
        random_state: int = 0,
        seed: int | None = None,
        device: str | None = None,
        blocks: tuple[int, ...] | None = None,
        attribute_weight: float = 0.5,
        exif_weight: float = 0.5,
        distortion_weight: float = 1.0,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.patience = patience
        self.tol = tol
        self.random_state = random_state
        self.seed = seed
        self.device = device
        self.blocks = blocks
        self.attribute_weight = attribute_weight
        self.exif_weight = exif_weight
        self.distortion_weight = distortion_weight

    # -- fitting ---------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        attributes: Any = None,
        exif: Any = None,
        scenes: Any = None,
        distortion: Any = None,
        groups: Any = None,
    ) -> MultitaskMLP:
        """Train on features ``X`` and quality ``y``, plus every side task whose labels are given.

        Parameters
        ----------
        X:
            ``(n_images, n_features)`` pooled features.
        y:
            ``(n_images,)`` quality scores (MOS), any scale.
        attributes:
            ``(n_images, k)`` attribute scores (SPAQ: brightness, colorfulness, contrast, noisiness,
            sharpness) for MT-A.
        exif:
            EXIF table (focal length, f-number, exposure time, ISO, brightness value, flash, time, ...)
            for MT-E; missing values are allowed.
        scenes:
            ``(n_images, n_scenes)`` 0/1 multi-labels for MT-S; every image needs at least one.
        distortion:
            A table with a ``type`` column (and optional ``level``) for one class per image, or 0/1
            multi-hot columns (a 2-D array) for mixtures; a 1-D array is read as types.

        groups:
            ``(n_images,)`` content (reference image) of each row: the early-stopping validation rows are
            then whole groups, so the kept epoch is the one that generalises to unseen content.
            ``None`` holds out random rows.

        All side labels are row-aligned with ``X`` (their index, if any, is ignored).

        Returns
        -------
        MultitaskMLP
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, y_numeric=True, dtype=[np.float64, np.float32])
        n = X.shape[0]
        groups = _groups.check_groups(groups, n)
        hidden = self._checked_hidden()
        device = resolve_device(self.device)

        self.standardizer_ = BlockStandardizer(blocks=None if self.blocks is None else tuple(self.blocks)).fit(X)
        features = np.asarray(self.standardizer_.transform(X), dtype=np.float64)
        # The standardizer gives each block unit norm (features ~1/sqrt(dim)); one common factor restores
        # unit variance per feature, where PyTorch's default initialization expects its inputs, and
        # keeps the blocks' balance.
        mean_square_norm = float((features**2).sum(axis=1).mean())
        self.input_scale_ = float(np.sqrt(features.shape[1] / mean_square_norm)) if mean_square_norm > 0 else 1.0
        features = (features * self.input_scale_).astype(np.float32)
        y_std = Standardizer.fit(np.asarray(y, dtype=np.float64))
        self.y_mean_, self.y_std_ = float(y_std.mean), float(y_std.scale)
        targets: dict[str, np.ndarray] = {"quality": y_std.transform(y).astype(np.float32)}
        exif_inputs = self._fit_side_tasks(
            n, targets, attributes=attributes, exif=exif, scenes=scenes, distortion=distortion
        )

        spec = NetSpec(
            n_features=features.shape[1],
            hidden=hidden,
            dropout=float(self.dropout),
            n_attributes=len(self.attribute_names_ or ()),
            n_exif=self.exif_encoder_.n_outputs if self.exif_encoder_ is not None else 0,
            n_scenes=len(self.scene_names_ or ()),
            n_distortion=len(self.distortion_classes_ or ()),
        )
        sizes = {"attributes": spec.n_attributes, "exif": spec.n_exif, "scenes": spec.n_scenes}
        sizes["distortion"] = spec.n_distortion
        self.tasks_ = ("quality",) + tuple(name for name, size in sizes.items() if size)
        self.device_ = str(device)
        data = {"x": features, **targets}
        if exif_inputs is not None:
            data["exif"] = exif_inputs
        self._train(spec, device, data, groups)
        return self

    def _checked_hidden(self) -> tuple[int, ...]:
        try:
            hidden = tuple(int(h) for h in self.hidden)
        except (TypeError, ValueError):
            raise ConfigError(
                f"`hidden` must be a sequence of layer widths like (512,), got {self.hidden!r}."
            ) from None
        if any(h < 1 for h in hidden):
            raise ConfigError(f"`hidden` layer widths must be positive, got {self.hidden!r}.")
        return hidden

    def _fit_side_tasks(self, n: int, targets: dict[str, np.ndarray], **side: Any) -> np.ndarray | None:
        """Validate and encode the side labels into ``targets``; set the per-task fitted attributes."""
        tasks = encode_side_labels(n, **side)
        targets.update(tasks.targets)
        self.attribute_names_, self.attribute_scaler_ = tasks.attribute_names, tasks.attribute_scaler
        self.scene_names_, self.exif_encoder_ = tasks.scene_names, tasks.exif_encoder
        self.distortion_classes_, self.distortion_multilabel_ = tasks.distortion_classes, tasks.distortion_multilabel
        return tasks.exif_inputs

    def _seed(self) -> int:
        """``random_state``, or the deprecated ``seed`` when a caller still passes it."""
        if self.seed is None:
            return int(self.random_state)
        warnings.warn(
            "MultitaskMLP(seed=...) is now random_state=..., the scikit-learn name every head uses; "
            "seed= goes in 0.3.",
            DeprecationWarning,
            stacklevel=3,
        )
        return int(self.seed)

    @property
    def y_scale_(self) -> float:
        """Deprecated name of :attr:`y_std_`."""
        warnings.warn("MultitaskMLP.y_scale_ is now y_std_ (as in every head); y_scale_ goes in 0.3.", DeprecationWarning, stacklevel=2)
        return self.y_std_

    def _split(self, n: int, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Seeded (train, validation) rows (whole groups when given); none when ``val_fraction`` holds out under one."""
        train, val = _groups.holdout_rows(n, float(self.val_fraction), groups, self._seed())
        if not len(val) and self.val_fraction > 0:
            logger.info("MultitaskMLP: %d rows are too few to hold out a validation part; no early stopping.", n)
        return train, val

    def _train(self, spec: NetSpec, device: torch.device, data: dict[str, np.ndarray], groups: np.ndarray | None) -> None:
        """Train the network and set the training attributes (history, best epoch, task uncertainties)."""
        train_rows, val_rows = self._split(len(data["x"]), groups)
        weights = LossWeights(
            exif=float(self.exif_weight),
            attribute=float(self.attribute_weight),
            distortion=float(self.distortion_weight),
        )
        config = TrainConfig(
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size),
            patience=int(self.patience),
            tol=float(self.tol),
            seed=self._seed(),
            weights=weights,
            multilabel=self.distortion_multilabel_,
        )
        result = train_network(spec, data, train_rows, val_rows, config, device)
        self.n_epochs_ = len(result.losses)
        self.best_epoch_ = result.best_epoch
        self.loss_history_ = result.losses
        self.val_loss_history_ = result.val_losses
        # float64 on the CPU: exact across row subsets and pickles, and independent of the training device.
        self.module_ = result.net.to("cpu").double().eval()
        self.task_log_sigma_history_ = result.sigma_history
        self.task_log_sigma_ = None
        if self.module_.log_sigma is not None:
            final = self.module_.log_sigma.detach().numpy()
            self.task_log_sigma_ = {"quality": float(final[0]), "scenes": float(final[1])}

    # -- prediction ------------------------------------------------------------------------------
    def _outputs(self, X: Any, exif: Any) -> dict[str, np.ndarray]:
        """Raw network outputs for ``X`` in standardized units, computed in fixed-size chunks."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        features = np.asarray(self.standardizer_.transform(X), dtype=np.float64) * self.input_scale_
        exif_inputs = None
        if exif is not None:
            if self.exif_encoder_ is None:
                raise ConfigError("`exif` was given to predict, but this model was fitted without exif; leave it out.")
            exif_inputs = self.exif_encoder_.transform(as_table(exif, "exif", X.shape[0], "exif")).astype(np.float64)
        chunks: list[dict[str, np.ndarray]] = []
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_CHUNK):
                stop = start + _PREDICT_CHUNK
                x = torch.from_numpy(np.ascontiguousarray(features[start:stop]))
                e = torch.from_numpy(np.ascontiguousarray(exif_inputs[start:stop])) if exif_inputs is not None else None
                chunks.append({key: value.numpy() for key, value in self.module_(x, e).items()})
        return {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0]}

    def predict(self, X: Any, exif: Any = None) -> np.ndarray:
        """Predicted quality in the units of ``y``: the generic score, plus the EXIF offset if ``exif`` is given.

        Parameters
        ----------
        X:
            ``(n_images, n_features)`` pooled features.
        exif:
            EXIF table row-aligned with ``X`` (MT-E models only); ``None`` gives the generic score
            (seed 001: MT-E reduces to the baseline when EXIF is absent).

        Returns
        -------
        numpy.ndarray
            ``(n_images,)`` predicted scores.
        """
        return self._outputs(X, exif)["quality"] * self.y_std_ + self.y_mean_

    def predict_tasks(self, X: Any, exif: Any = None) -> dict[str, Any]:
        """Every task's prediction: quality and, per trained side task, its outputs.

        Returns
        -------
        dict
            ``"quality"`` and ``"generic"`` (arrays in the units of ``y``; equal without ``exif``),
            ``"offset"`` (the EXIF offset in those units, when ``exif`` is given), ``"attributes"``
            (DataFrame in the attributes' units), ``"scenes"`` (DataFrame of softmax probabilities,
            seed 001 Eq. 5), ``"distortion"`` (DataFrame of class probabilities: softmax for one class
            per image, sigmoid for multi-hot) and, for one class per image, ``"distortion_class"``
            (the most probable class name per image).
        """
        out = self._outputs(X, exif)
        result: dict[str, Any] = {
            "quality": out["quality"] * self.y_std_ + self.y_mean_,
            "generic": out["generic"] * self.y_std_ + self.y_mean_,
        }
        if "offset" in out:
            result["offset"] = out["offset"] * self.y_std_
        if self.attribute_names_ is not None:
            attributes = self.attribute_scaler_.inverse(out["attributes"])
            result["attributes"] = pd.DataFrame(attributes, columns=list(self.attribute_names_))
        if self.scene_names_ is not None:
            probabilities = torch.softmax(torch.from_numpy(out["scenes"]), dim=1).numpy()
            result["scenes"] = pd.DataFrame(probabilities, columns=list(self.scene_names_))
        if self.distortion_classes_ is not None:
            logits = torch.from_numpy(out["distortion"])
            if self.distortion_multilabel_:
                probabilities = torch.sigmoid(logits).numpy()
            else:
                probabilities = torch.softmax(logits, dim=1).numpy()
                names = np.asarray(self.distortion_classes_, dtype=object)
                result["distortion_class"] = names[probabilities.argmax(axis=1)]
            result["distortion"] = pd.DataFrame(probabilities, columns=list(self.distortion_classes_))
        return result
