"""The seam between the API and every head: what a head consumes, how it is built, fitted and asked.

Two kinds of head exist. **Feature heads** (GPR, SVR, the MLP, any scikit-learn regressor) learn from a
cached feature matrix; **image heads** (``deepfeat_iqa.heads.image``: SPAQ's BL/MT-*, fine-tuning) learn
from the images of a :class:`~deepfeat_iqa.datasets.Dataset` end to end. A head says which it is with the
class attribute ``_dfi_consumes = "images"`` (absent means ``"features"``), and :func:`head_inputs` turns
what the user passed into the rows the head trains on, so ``fit``, ``evaluate``, ``evaluate_cross``,
``compare``, ``save``/``load`` and ``QualityModel.predict`` treat both kinds through one code path and
the splits, metrics and reports stay shared.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.features._sets import FeatureKey, FeatureSet, LayerFeatures

logger = logging.getLogger(__name__)

#: Side-label tables a multi-task head may learn from, by the name its ``fit`` takes them under.
SIDE_LABELS = ("attributes", "exif", "scenes", "distortion")

#: What heads consume: cached features, or the images themselves.
KINDS = ("features", "images")

#: The features a feature head reads: one layer, or a set of layers to pick from.
Features = LayerFeatures | FeatureSet
#: What ``fit``/``evaluate`` take: features for feature heads, a Dataset (or features, whose images are
#: used) for image heads.
Inputs = LayerFeatures | FeatureSet | Dataset
#: A head as callers name it: a registry name or an (unfitted) scikit-learn style estimator.
HeadSpec = str | BaseEstimator


#: The head used when none is named: the recommended recipe (docs/real-accuracy.md) for photos, GPR for features.
DEFAULT_HEADS = {"images": "combination", "features": "gpr"}


def default_head(data: Any) -> str:
    """:data:`DEFAULT_HEADS` for what was passed: features get a GPR on them, photos the recommended combination."""
    return DEFAULT_HEADS["features" if isinstance(data, (LayerFeatures, FeatureSet)) else "images"]


def consumes(estimator: Any) -> str:
    """``"images"`` for end-to-end heads (they declare ``_dfi_consumes = "images"``), else ``"features"``."""
    kind = getattr(estimator, "_dfi_consumes", "features")
    if kind not in KINDS:
        raise ConfigError(f"{type(estimator).__name__}._dfi_consumes is {kind!r}; it must be one of {KINDS}.")
    return kind


def as_layer_features(features: Features, layers: str | Sequence[str] | None = None) -> LayerFeatures:
    """Reduce what the user passed to the one :class:`LayerFeatures` a feature head trains on.

    A FeatureSet of one layer is that layer; ``layers=[...]`` joins several with
    :meth:`FeatureSet.concat`, so fitting, evaluation and scoring all choose layers the same way.
    """
    if isinstance(features, LayerFeatures):
        if layers is not None:
            raise ConfigError(
                "layers= picks layers out of a FeatureSet, but these are the features of one layer "
                f"({features.key.layer!r}); pass the FeatureSet that extract() returned, or drop layers=."
            )
        return features
    if isinstance(features, FeatureSet):
        if layers is None:
            return features.only()
        return features.concat([layers] if isinstance(layers, str) else list(layers))  # one name, or a list
    if isinstance(features, Dataset):
        raise ConfigError(
            f"This head learns from features, but a Dataset ({features.name!r}) was given; run "
            "dfi.extract(dataset, backbone=...) first and pass its result, or pick an image head "
            "(e.g. head='spaq-bl') that trains on the images themselves."
        )
    raise ConfigError(
        f"Expected LayerFeatures or a FeatureSet (what dfi.extract returns), got {type(features).__name__}."
    )


@dataclass(frozen=True)
class HeadInputs:
    """The rows a head trains on, whatever its kind.

    Attributes
    ----------
    X:
        The feature matrix (feature heads) or the Dataset itself (image heads); ``X[rows]`` selects rows
        for both, so split code never asks which kind it holds.
    dataset:
        The images and labels, in row order.
    key:
        The :class:`FeatureKey` of feature inputs; ``None`` for images (the image head records its own).
    blocks:
        ``(layer, dim)`` per concatenated feature block; empty for images.
    """

    X: Any
    dataset: Dataset
    key: FeatureKey | None
    blocks: tuple[tuple[str, int], ...]

    def __len__(self) -> int:
        return len(self.dataset)


def head_inputs(estimator: Any, data: Any, layers: Sequence[str] | None = None) -> HeadInputs:
    """What ``estimator`` trains on, from a FeatureSet/LayerFeatures (feature heads) or a Dataset (image heads).

    An image head also accepts features, and then trains on their images (``features.dataset``), so one
    call evaluates both kinds side by side on the same rows.
    """
    if consumes(estimator) == "features":
        lf = as_layer_features(data, layers)
        return HeadInputs(lf.X, lf.dataset, lf.key, tuple(lf.blocks))
    if layers is not None:
        raise ConfigError(
            f"layers= picks cached feature layers, but {type(estimator).__name__} trains on images; "
            "choose its trunk layers with the head option layers=(...) instead (head_options / -o layers=...)."
        )
    if isinstance(data, (LayerFeatures, FeatureSet)):
        data = data.dataset
    if not isinstance(data, Dataset):
        from deepfeat_iqa.extraction._extract import as_dataset

        data = as_dataset(data)
    return HeadInputs(data, data, None, ())


def head_name(estimator: BaseEstimator, head: HeadSpec) -> str:
    """The name reports use for a head: the registry name given, else the estimator's class name."""
    return head if isinstance(head, str) else type(estimator).__name__


def labels(dataset: Dataset) -> np.ndarray:
    """Training targets, refusing images without a score and naming them, so a fit never learns from NaN."""
    if dataset.mos is None:
        raise DataError(
            f"Dataset {dataset.name!r} has no quality scores, so a head cannot be fitted on it. "
            "Load it with its labels (datasets.load or load_folder with a labels CSV)."
        )
    y = np.asarray(dataset.mos, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        first = [dataset.ids[i] for i in bad[:5]]
        raise DataError(
            f"Dataset {dataset.name!r}: {bad.size} images have no score (first: {first}). "
            "Drop them (features.subset(rows)) or fill in their scores before fitting."
        )
    return y


def fit_estimator(
    estimator: BaseEstimator,
    X: Any,
    y: np.ndarray,
    blocks: Sequence[tuple[str, int]],
    dataset: Dataset,
) -> BaseEstimator:
    """Fit ``estimator`` in place, handing it block sizes, groups and side labels when it knows what to do with them.

    Heads standardize per concatenated block (``blocks=``), heads whose ``fit`` takes ``groups=`` get
    the content groups so their inner model selection (inner CV, early stopping, an image head's
    validation split) never splits one reference image, and multi-task heads take side labels as ``fit``
    keywords; each is offered only to heads that declare it, so plain scikit-learn estimators work
    unchanged. ``dataset`` holds the training rows, aligned with ``X``.
    """
    if blocks and "blocks" in estimator.get_params(deep=False):
        estimator.set_params(blocks=tuple(int(d) for _, d in blocks))
    accepted = inspect.signature(estimator.fit).parameters
    extra: dict[str, Any] = {
        name: getattr(dataset, name)
        for name in SIDE_LABELS
        if name in accepted and getattr(dataset, name, None) is not None
    }
    if extra:
        logger.info("Fitting %s with side labels: %s", type(estimator).__name__, ", ".join(extra))
    if "groups" in accepted and dataset.groups is not None:
        # Content groups keep the head's own model selection (inner CV, early stopping) content-separated.
        extra["groups"] = np.asarray(dataset.groups)
    with head_threads_for(estimator, len(dataset)):
        return estimator.fit(X, y, **extra)


def head_threads_for(estimator: Any, n_rows: int) -> AbstractContextManager[None]:
    """The thread rule of :mod:`deepfeat_iqa.runtime.threads` for feature heads (one thread on small problems);
    image heads keep the libraries' defaults, since each of their convolutions is long enough to use every core.

    The one decision for a head's fit and predict wherever they run: ``fit``, ``QualityModel.predict`` and
    ``evaluate``'s splits all enter this context.
    """
    if consumes(estimator) == "images":
        return nullcontext()
    from deepfeat_iqa.runtime.threads import for_rows

    return for_rows(n_rows)


def predict_side_labels(estimator: BaseEstimator, dataset: Dataset) -> dict[str, Any]:
    """Side labels the head's ``predict`` can use at test time (MT-E adds its EXIF offset when EXIF is known)."""
    accepted = inspect.signature(estimator.predict).parameters
    return {name: getattr(dataset, name) for name in SIDE_LABELS if name in accepted and getattr(dataset, name, None) is not None}


def supports_std(estimator: BaseEstimator) -> bool:
    """Whether the head's ``predict`` can return a standard deviation (Gaussian processes can; a head whose
    answer depends on its parts, such as a combination, says so through ``has_std()``)."""
    if hasattr(estimator, "has_std"):
        return bool(estimator.has_std())
    return "return_std" in inspect.signature(estimator.predict).parameters


def seed_params(estimator: BaseEstimator) -> dict[str, Any]:
    """The head's randomness settings (``random_state``/``seed`` parameters), for the record."""
    return {
        name: value
        for name, value in estimator.get_params(deep=True).items()
        if name.split("__")[-1] in ("random_state", "seed")
    }


def input_record(estimator: BaseEstimator, inputs: HeadInputs) -> dict[str, Any]:
    """How the inputs were made, for reports: the feature key, or the image head's own description."""
    if inputs.key is not None:
        return inputs.key.to_dict()
    describe = getattr(estimator, "input_description", None)
    return dict(describe()) if callable(describe) else {"backbone": "?", "layer": "end-to-end"}
