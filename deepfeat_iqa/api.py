"""``fit`` a quality head (on extracted features, or end to end on images) and get back a :class:`QualityModel`;
``finetune`` a backbone for quality and get back its weights."""

from __future__ import annotations

import difflib
import inspect
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from deepfeat_iqa._moved import renamed_keywords
from deepfeat_iqa.backbones import DEFAULT_BACKBONE, FineTunedWeights, fingerprint_state_dict
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError, UnknownParameterError, user_stacklevel
from deepfeat_iqa.features._sets import ConcatKey, FeatureKey, FeatureSet, LayerFeatures
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.heads._adapter import (  # noqa: F401 - re-exported: the adapter used to live here
    SIDE_LABELS,
    Features,
    HeadInputs,
    HeadSpec,
    Inputs,
    as_layer_features,
    consumes,
    default_head,
    fit_estimator,
    head_inputs,
    head_name,
    input_record,
    labels,
    predict_side_labels,
    seed_params,
    head_threads_for,
    supports_std,
)

logger = logging.getLogger(__name__)


def make_head_for(
    head: HeadSpec, options: dict[str, Any], caller: str, own: Iterable[str], aliases: dict[str, str] | None = None
) -> BaseEstimator:
    """``make_head(head, **options)`` for a caller that passes its unknown keywords on to the head.

    ``make_head`` checks the options (the one check); a keyword that is neither the caller's nor the head's is
    then reported from the caller's side, naming the parameter most likely meant, because a misspelled split
    setting (``repeats=`` for ``n_splits=``) would otherwise surface as "GPR has no parameter 'repeats'", pointing
    at the wrong place. ``own`` are the caller's parameter names, ``aliases`` common other spellings of them.
    """
    try:
        return make_head(head, **options)
    except UnknownParameterError as error:
        own = [name for name in own if name not in ("features", "head", "head_options", "options")]
        aliases = aliases or {}
        hints = []
        for name in error.unknown:
            close = [aliases[name]] if name in aliases else difflib.get_close_matches(name, [*own, *error.valid], n=1, cutoff=0.6)
            hints.append(f"{name}=" + (f" (did you mean {close[0]}=?)" if close else ""))
        shown = head if isinstance(head, str) else error.owner
        raise ConfigError(
            f"{caller}() got {', '.join(hints)}: not a parameter of {caller}() ({', '.join(own)}) nor of the head "
            f"{shown!r} ({', '.join(error.valid)})."
        ) from None


#: Distributions whose versions decide what a fitted model computes.
_VERSIONED = ("deepfeat-iqa", "numpy", "scikit-learn", "joblib", "torch", "gpytorch")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide what a fitted model computes, recorded with every fit.

    Read from package metadata, so recording them never imports torch.
    """
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def head_record(estimator: BaseEstimator, head: HeadSpec, inputs: HeadInputs) -> dict[str, Any]:
    """What a head fitted on ``inputs`` was, under one set of keys wherever a fit is recorded.

    ``fit`` keeps it as ``QualityModel.info`` (and so in model files), ``evaluate``/``evaluate_cross`` as
    ``EvaluationResult.info`` (result files, sweep stores), each adding its own keys (``n_train``, the
    protocol). They used to build it separately and had drifted (``input``/``seeds`` vs
    ``feature_key``/``head_seeds``); model files of that time are read through :func:`upgrade_record`.
    ``feature_key`` is the input record: the feature key, or an image head's own description.
    """
    return {
        "head": head_name(estimator, head),
        "head_params": {k: repr(v) for k, v in estimator.get_params(deep=False).items()},
        "consumes": consumes(estimator),
        "feature_key": input_record(estimator, inputs),
        "blocks": [list(block) for block in inputs.blocks],
        "dataset": inputs.dataset.name,
        "head_seeds": seed_params(estimator),
        "versions": library_versions(),
    }


#: Keys that fit records of model files written before :func:`head_record` used -> their name now.
_OLD_RECORD_KEYS = {"input": "feature_key", "seeds": "head_seeds"}


def upgrade_record(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` of an older model file under today's keys (``input`` -> ``feature_key``, ``seeds`` -> ``head_seeds``)."""
    return {_OLD_RECORD_KEYS.get(key, key): value for key, value in info.items()}


@dataclass
class QualityModel:
    """A fitted head together with what it reads, so it predicts only from like inputs.

    Parameters
    ----------
    estimator:
        The fitted head (a scikit-learn style estimator).
    key:
        How the training features were made; :meth:`predict` refuses any other key. ``None`` for an
        image head, which reads images and records its trunk in ``info["feature_key"]``.
    blocks:
        ``(layer, dim)`` per concatenated block of the training features (empty for image heads).
    head:
        The head's name (registry name, or the class name of an estimator instance).
    info:
        Training record (:func:`head_record`): ``head``, ``head_params``, ``consumes``, ``feature_key``,
        ``blocks``, ``dataset``, ``head_seeds``, ``versions``, ``n_train``.

    Examples
    --------
    >>> model = dfi.fit(feats, head="gpr")                      # doctest: +SKIP
    >>> model.predict(dfi.extract(photos, backbone="resnet50", layers="layer3"))  # doctest: +SKIP
    >>> dfi.fit(dataset, head="spaq-bl").predict(["photo.jpg"])  # doctest: +SKIP
    """

    estimator: BaseEstimator
    key: FeatureKey | ConcatKey | None
    blocks: tuple[tuple[str, int], ...]
    head: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def consumes(self) -> str:
        """``"features"`` or ``"images"``: what :meth:`predict` takes."""
        return consumes(self.estimator)

    @property
    def layers(self) -> list[str]:
        """The layers the model reads, in concatenation order."""
        return [layer for layer, _ in self.blocks]

    def _features(self, features: Features) -> LayerFeatures:
        if isinstance(features, FeatureSet) and len(features) > 1:
            features = features.concat(self.layers)
        lf = as_layer_features(features)
        self.key.check_matches(lf.key)
        if tuple(lf.blocks) != tuple(self.blocks):
            raise DataError(
                f"The features have blocks {list(lf.blocks)} but the model was fitted on {list(self.blocks)}; "
                f"concatenate the layers {self.layers} in that order."
            )
        return lf

    def features_of(self, images: Any, **extract_options: Any) -> FeatureSet:
        """Features of ``images`` made exactly as the training features were (per layer, with its pooling).

        The precision is the fastest this model accepts on this machine (fp32 and bf16 features stand in
        for each other, :data:`deepfeat_iqa.runtime.precision.INTERCHANGEABLE`); the weights are
        ``info["weights_source"]`` (what ``fit`` and the CLI record), checked against the key's fingerprint.
        ``extract_options`` go to :func:`deepfeat_iqa.extract` (``store``, ``device``, ``batch_size``,
        ``on_error``, ``weights`` to override the source, ...).
        """
        from deepfeat_iqa.extraction import extract
        from deepfeat_iqa.runtime.device import resolve_device
        from deepfeat_iqa.runtime.precision import accepted_precision

        if self.key is None:
            raise ConfigError(f"Head {self.head!r} reads images itself; pass the photos to predict().")
        options = {"weights": self.info.get("weights_source", "imagenet"), "seed": self.info.get("extract_seed", 0),
                   "progress": False, **extract_options}  # fmt: skip
        options["precision"] = accepted_precision(self.key.precision, resolve_device(options.get("device")))
        parts = list(self.key) if isinstance(self.key, ConcatKey) else [self.key]
        by_pooling: dict[str, list[str]] = {}
        for part in parts:
            by_pooling.setdefault(part.pooling, []).append(part.layer)
        layers: dict[str, LayerFeatures] = {}
        for pooling, paths in by_pooling.items():
            layers.update(extract(images, backbone=self.key.backbone, layers=paths, pooling=pooling, views=self.key.views, **options))
        return FeatureSet(layers)

    def predict(self, features: Any, *, return_std: bool = False, **extract_options: Any) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted quality per image (row order of ``features``).

        Parameters
        ----------
        features:
            For a feature head: features of the same kind as the training features (same backbone,
            weights, layers, pooling, views; fp32 and bf16 stand in for each other), a FeatureSet with
            more layers being reduced to the model's — or photos (a Dataset, a folder, one path or a list
            of paths), whose features are extracted as :meth:`features_of` says. For an image head: photos.
        return_std:
            Also return each prediction's standard deviation; only heads with uncertainty (GPR) have it.
        extract_options:
            For photos given to a feature head: options of :func:`deepfeat_iqa.extract` (``store``, ``device``, ...).

        Raises
        ------
        FeatureKeyError
            When the features were made another way than the training features.
        """
        if self.key is not None and not isinstance(features, (LayerFeatures, FeatureSet)):
            features = self.features_of(features, **extract_options)
        if self.key is None:
            inputs = head_inputs(self.estimator, features)
        else:
            lf = self._features(features)
            inputs = HeadInputs(lf.X, lf.dataset, lf.key, tuple(lf.blocks))
        rows, dataset = inputs.X, inputs.dataset
        if not return_std:
            with head_threads_for(self.estimator, len(inputs)):
                return np.asarray(self.estimator.predict(rows, **predict_side_labels(self.estimator, dataset)), dtype=np.float64)
        if not supports_std(self.estimator):
            raise ConfigError(
                f"Head {self.head!r} gives no uncertainty, so return_std=True cannot be honored; "
                "fit with head='gpr' for per-image standard deviations, or drop return_std."
            )
        with head_threads_for(self.estimator, len(inputs)):
            mean, std = self.estimator.predict(rows, return_std=True)
        return np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)

    def __repr__(self) -> str:
        if self.key is None:
            record = self.info.get("feature_key", {})
            return (
                f"QualityModel(head={self.head!r}, consumes='images', backbone={record.get('backbone')!r}, "
                f"weights={record.get('weights')!r}, n_train={self.info.get('n_train')})"
            )
        k = self.key
        return (
            f"QualityModel(head={self.head!r}, backbone={k.backbone!r}, layer={k.layer!r}, pooling={k.pooling!r}, "
            f"views={k.views!r}, precision={k.precision!r}, n_train={self.info.get('n_train')})"
        )


def fit(features: Inputs, head: HeadSpec | None = None, *, layers: Sequence[str] | None = None, **options: Any) -> QualityModel:
    """Fit a quality head on every labeled image of ``features``.

    Parameters
    ----------
    features:
        For a feature head, what :func:`deepfeat_iqa.extract` returned: a FeatureSet (one layer, or
        pick and join several with ``layers``) or the LayerFeatures of one layer. For an image head
        (``"spaq-bl"``, ``"spaq-mt-e"``, ...), the labeled :class:`~deepfeat_iqa.datasets.Dataset`.
    head:
        A registry name (``"gpr"``, ``"svr"``, ``"linear-svr"``, ``"rbf-svr"``, ``"mlp"``, ``"spaq-bl"``,
        ``"combination"``, ...; see :func:`deepfeat_iqa.heads.list_heads`) or an unfitted scikit-learn style
        estimator. ``None``: ``"gpr"`` for features, the recommended ``"combination"`` for a Dataset of photos.
    layers:
        Layers of a FeatureSet to concatenate, in this order (block-wise standardization happens in the head).
    **options:
        Passed to the head's constructor (set on the copy when ``head`` is an instance).

    Returns
    -------
    QualityModel
        The fitted head with the feature key (or image-head record) it is bound to and a training record.

    Raises
    ------
    DataError
        When some images have no score (their ids are named).

    Examples
    --------
    >>> model = dfi.fit(feats, head="svr", layers=["layer3", "layer4"])  # doctest: +SKIP
    >>> model = dfi.fit(dataset, head="spaq-bl", epochs=10)              # doctest: +SKIP
    """
    head = default_head(features) if head is None else head
    estimator = make_head_for(head, options, "fit", inspect.signature(fit).parameters, {"layer": "layers"})
    inputs = head_inputs(estimator, features, layers)
    y = labels(inputs.dataset)
    fit_estimator(estimator, inputs.X, y, inputs.blocks, inputs.dataset)
    info = {**head_record(estimator, head, inputs), "n_train": len(inputs)}
    name = info["head"]
    logger.info("Fitted head %s on %d images of %s (%s)", name, len(inputs), inputs.dataset.name, info["feature_key"].get("backbone"))
    return QualityModel(estimator=estimator, key=inputs.key, blocks=inputs.blocks, head=name, info=info)


@renamed_keywords(model="backbone")
def finetune(dataset: Dataset, backbone: str = DEFAULT_BACKBONE, *, weights: Any = "imagenet", epochs: int = 10,
             **options: Any) -> FineTunedWeights:
    """Fine-tune ``backbone`` on ``dataset``'s quality scores with a regression output and return the backbone's weights.

    The network is SPAQ's BL (``head="spaq-bl"``) trained by the engine; ``options`` are its parameters
    (``lr``, ``trunk_lr``, ``freeze_trunk_epochs``, ``batch_size``, ``checkpoint_dir``, ...). The
    regression layer is dropped; what remains is the backbone, to be read at any layer by
    :func:`deepfeat_iqa.extract` (seed 003 Table 2: fine-tuned features, then GPR/SVR).

    Examples
    --------
    >>> ft = dfi.finetune(ds, backbone="efficientnet_lite0", epochs=10)                                # doctest: +SKIP
    >>> feats = dfi.extract(ds, backbone="efficientnet_lite0", weights=ft, layers="pool", views="random10")  # doctest: +SKIP
    """
    head = make_head("spaq-bl", backbone=backbone, weights=weights, epochs=epochs, **options)
    fit_estimator(head, dataset, labels(dataset), (), dataset)
    tensors = head.trunk_state_dict()
    fingerprint = fingerprint_state_dict(tensors)
    trained = fingerprint != head.trunk_weights_
    info = {
        "dataset": dataset.name, "n_train": head.n_train_, "n_val": head.n_val_, "epochs": epochs,
        "best_epoch": head.best_epoch_, "best_val_srocc": head.best_val_srocc_, "base_weights": head.trunk_weights_,
        "precision": head.precision_, "trunk_trained": trained,
    }  # fmt: skip
    if not trained:
        # The validation SROCC peaked in an epoch that trained only the regression layer (freeze_trunk_epochs),
        # so the weights handed back are the starting ones: say so rather than let them pass as fine-tuned.
        warnings.warn(
            f"dfi.finetune kept epoch {head.best_epoch_} (best validation SROCC {head.best_val_srocc_}), in which the "
            f"trunk was still frozen (freeze_trunk_epochs={head.freeze_trunk_epochs}): the returned weights are the "
            f"starting weights unchanged ({fingerprint[:19]}...). Train more epochs, set freeze_trunk_epochs=0, or "
            "raise trunk_lr; info['trunk_trained'] is False.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return FineTunedWeights(backbone, tensors, fingerprint, info)
