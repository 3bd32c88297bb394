"""``fit`` a quality head on extracted features and get back a :class:`QualityModel` that predicts."""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from .datasets import Dataset
from .errors import ConfigError, DataError
from .features import ConcatKey, FeatureKey, FeatureSet, LayerFeatures
from .threads import for_rows

logger = logging.getLogger(__name__)

#: Side-label tables a multi-task head may learn from, by the name its ``fit`` takes them under.
SIDE_LABELS = ("attributes", "exif", "scenes", "distortion")

Features = LayerFeatures | FeatureSet
HeadSpec = str | BaseEstimator


def as_layer_features(features: Features, layers: Sequence[str] | None = None) -> LayerFeatures:
    """Reduce what the user passed to the one :class:`LayerFeatures` a head trains on.

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
        return features.only() if layers is None else features.concat(list(layers))
    raise ConfigError(
        f"Expected LayerFeatures or a FeatureSet (what dfi.extract returns), got {type(features).__name__}."
    )


def make_estimator(head: HeadSpec, **options: Any) -> BaseEstimator:
    """An unfitted head from a registry name, or an unfitted copy of an estimator instance.

    An instance is cloned (``options`` set on the copy), so fitting never changes the caller's object
    and any scikit-learn regressor works as a head without being registered.
    """
    if isinstance(head, str):
        from .heads import make_head

        return make_head(head, **options)
    if not (hasattr(head, "fit") and hasattr(head, "predict") and hasattr(head, "get_params")):
        raise ConfigError(
            f"head must be a registered name (see dfi.heads.list_heads()) or a scikit-learn style estimator "
            f"with fit, predict and get_params; got {type(head).__name__}."
        )
    return clone(head).set_params(**options)


def check_head_options(
    head: HeadSpec, options: dict[str, Any], caller: str, own: Iterable[str], aliases: dict[str, str] | None = None
) -> None:
    """Refuse keywords that are neither the caller's nor the head's, naming the parameter most likely meant.

    ``fit``/``evaluate`` pass unknown keywords to the head, so a misspelled split setting
    (``repeats=`` for ``n=``) would otherwise surface as "GPR has no parameter 'repeats'", pointing at
    the wrong place. ``own`` are the caller's parameter names, ``aliases`` common other spellings of them.
    """
    if not options:
        return
    estimator = make_estimator(head)
    valid = set(estimator.get_params(deep=False))
    unknown = [name for name in options if name not in valid]
    if not unknown:
        return
    own = [name for name in own if name not in ("features", "head", "head_options", "options")]
    aliases = aliases or {}
    hints = []
    for name in unknown:
        close = [aliases[name]] if name in aliases else difflib.get_close_matches(name, [*own, *valid], n=1, cutoff=0.6)
        hints.append(f"{name}=" + (f" (did you mean {close[0]}=?)" if close else ""))
    raise ConfigError(
        f"{caller}() got {', '.join(hints)}: not a parameter of {caller}() ({', '.join(own)}) nor of the head "
        f"{head_name(estimator, head)!r} ({', '.join(sorted(valid))})."
    )


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
    X: np.ndarray,  # noqa: N803 - scikit-learn naming
    y: np.ndarray,
    blocks: Sequence[tuple[str, int]],
    dataset: Dataset,
) -> BaseEstimator:
    """Fit ``estimator`` in place, handing it block sizes and side labels when it knows what to do with them.

    Heads standardize per concatenated block (``blocks=``), multi-task heads take side labels as
    ``fit`` keywords, and heads whose ``fit`` takes ``groups=`` get the content groups so their inner
    model selection never splits one reference image across its folds; all are offered only to heads
    that declare them, so plain scikit-learn estimators work unchanged. ``dataset`` holds the training rows, aligned with ``X``.
    """
    if "blocks" in estimator.get_params(deep=False):
        estimator.set_params(blocks=tuple(int(d) for _, d in blocks))
    accepted = inspect.signature(estimator.fit).parameters
    side = {
        name: getattr(dataset, name)
        for name in SIDE_LABELS
        if name in accepted and getattr(dataset, name, None) is not None
    }
    if side:
        logger.info("Fitting %s with side labels: %s", type(estimator).__name__, ", ".join(side))
    if "groups" in accepted and dataset.groups is not None:
        # Content groups keep the head's own model selection (inner CV, early stopping) content-separated.
        side["groups"] = np.asarray(dataset.groups)
    with for_rows(len(X)):
        return estimator.fit(X, y, **side)


def predict_side_labels(estimator: BaseEstimator, dataset: Dataset) -> dict[str, Any]:
    """Side labels the head's ``predict`` can use at test time (MT-E adds its EXIF offset when EXIF is known)."""
    accepted = inspect.signature(estimator.predict).parameters
    return {name: getattr(dataset, name) for name in SIDE_LABELS if name in accepted and getattr(dataset, name, None) is not None}


def supports_std(estimator: BaseEstimator) -> bool:
    """Whether the head's ``predict`` can return a standard deviation (Gaussian processes can)."""
    return "return_std" in inspect.signature(estimator.predict).parameters


def seed_params(estimator: BaseEstimator) -> dict[str, Any]:
    """The head's randomness settings (``random_state``/``seed`` parameters), for the record."""
    return {
        name: value
        for name, value in estimator.get_params(deep=True).items()
        if name.split("__")[-1] in ("random_state", "seed")
    }


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


@dataclass
class QualityModel:
    """A fitted head together with the feature key it was fitted on, so it predicts only from like features.

    Parameters
    ----------
    estimator:
        The fitted head (a scikit-learn style estimator).
    key:
        How the training features were made; :meth:`predict` refuses any other key.
    blocks:
        ``(layer, dim)`` per concatenated block of the training features.
    head:
        The head's name (registry name, or the class name of an estimator instance).
    info:
        Training record: ``n_train``, ``dataset``, ``seeds``, ``versions``, ``head_params``.

    Examples
    --------
    >>> model = dfi.fit(feats, head="gpr")                      # doctest: +SKIP
    >>> model.predict(dfi.extract(photos, model="resnet50", layer="layer3"))  # doctest: +SKIP
    """

    estimator: BaseEstimator
    key: FeatureKey | ConcatKey
    blocks: tuple[tuple[str, int], ...]
    head: str
    info: dict[str, Any] = field(default_factory=dict)

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

    def predict(self, features: Features, *, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted quality per image (row order of ``features``).

        Parameters
        ----------
        features:
            Features of the same kind as the training features (same backbone, weights, layers,
            pooling, views and precision); a FeatureSet with more layers is reduced to the model's.
        return_std:
            Also return each prediction's standard deviation; only heads with uncertainty (GPR) have it.

        Raises
        ------
        FeatureKeyError
            When the features were made another way than the training features.
        """
        lf = self._features(features)
        if not return_std:
            with for_rows(len(lf)):
                return np.asarray(self.estimator.predict(lf.X, **predict_side_labels(self.estimator, lf.dataset)), dtype=np.float64)
        if not supports_std(self.estimator):
            raise ConfigError(
                f"Head {self.head!r} gives no uncertainty, so return_std=True cannot be honored; "
                "fit with head='gpr' for per-image standard deviations, or drop return_std."
            )
        with for_rows(len(lf)):
            mean, std = self.estimator.predict(lf.X, return_std=True)
        return np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)

    def __repr__(self) -> str:
        k = self.key
        return (
            f"QualityModel(head={self.head!r}, backbone={k.backbone!r}, layer={k.layer!r}, pooling={k.pooling!r}, "
            f"views={k.views!r}, precision={k.precision!r}, n_train={self.info.get('n_train')})"
        )


def fit(features: Features, head: HeadSpec = "gpr", *, layers: Sequence[str] | None = None, **options: Any) -> QualityModel:
    """Fit a quality head on every labeled image of ``features``.

    Parameters
    ----------
    features:
        What :func:`deepfeat_iqa.extract` returned: a FeatureSet (one layer, or pick and join several
        with ``layers``) or the LayerFeatures of one layer.
    head:
        A registry name (``"gpr"``, ``"svr"``, ``"linear-svr"``, ``"rbf-svr"``, ``"mlp"``; see
        :func:`deepfeat_iqa.heads.list_heads`) or an unfitted scikit-learn style estimator.
    layers:
        Layers of a FeatureSet to concatenate, in this order (block-wise standardization happens in the head).
    **options:
        Passed to the head's constructor when ``head`` is a name.

    Returns
    -------
    QualityModel
        The fitted head with the feature key it is bound to and a training record.

    Raises
    ------
    DataError
        When some images have no score (their ids are named).

    Examples
    --------
    >>> model = dfi.fit(feats, head="svr", layers=["layer3", "layer4"])  # doctest: +SKIP
    """
    check_head_options(head, options, "fit", inspect.signature(fit).parameters, {"layer": "layers"})
    lf = as_layer_features(features, layers)
    y = labels(lf.dataset)
    estimator = make_estimator(head, **options)
    fit_estimator(estimator, lf.X, y, lf.blocks, lf.dataset)
    name = head_name(estimator, head)
    info = {
        "n_train": len(lf),
        "dataset": lf.dataset.name,
        "head_params": {k: repr(v) for k, v in estimator.get_params(deep=False).items()},
        "seeds": seed_params(estimator),
        "versions": library_versions(),
    }
    logger.info("Fitted head %s on %d images of %s (%s/%s)", name, len(lf), lf.dataset.name, lf.key.backbone, lf.key.layer)
    return QualityModel(estimator=estimator, key=lf.key, blocks=tuple(lf.blocks), head=name, info=info)
