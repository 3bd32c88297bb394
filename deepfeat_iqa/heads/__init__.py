"""Quality heads (on cached features, or end-to-end on images) and the one registry and factory that name them.

>>> from deepfeat_iqa.heads import list_heads, make_head
>>> "gpr" in list_heads()
True
>>> make_head("linear-svr", C=0.1)
LinearSVRHead(C=0.1)

Class names end in ``Head`` where scikit-learn has a class of the plain name (``LinearSVR``, ``SVR``), so
importing both never shadows one with another of other parameters. The registry names are the vocabulary
to use: ``"svr"`` = ``"linear-svr"`` (:class:`LinearSVRHead`), ``"rbf-svr"`` (:class:`RBFSVRHead`),
``"gpr"`` (:class:`GPR`), ``"mlp"`` (:class:`MultitaskMLP`).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from sklearn.base import BaseEstimator, clone

from deepfeat_iqa._moved import renamed
from deepfeat_iqa.errors import ConfigError, unknown_parameter_error
from deepfeat_iqa.heads._state import StateMixin, qualified_name, register_module_type, register_state_type
from deepfeat_iqa.registry import Registry

#: name -> head class (a lazy ``"module:Class"`` until first use) and the constructor presets the name implies.
#: Lazy entries keep ``import deepfeat_iqa.heads`` from importing the image heads (torch models, the engine).
HEADS: Registry[type[BaseEstimator]] = Registry("head")
HEADS.add("svr", "deepfeat_iqa.heads._svr:LinearSVRHead")
HEADS.add("linear-svr", "deepfeat_iqa.heads._svr:LinearSVRHead")
HEADS.add("rbf-svr", "deepfeat_iqa.heads._svr:RBFSVRHead")
HEADS.add("gpr", "deepfeat_iqa.heads._gpr:GPR")
HEADS.add("mlp", "deepfeat_iqa.heads._mlp:MultitaskMLP")
for _task in ("bl", "mt-e", "mt-a", "mt-s"):
    HEADS.add(f"spaq-{_task}", "deepfeat_iqa.heads.image._spaq:SpaqHead", task=_task)
HEADS.add("dcnns", "deepfeat_iqa.heads.image._patchcnn:DCNNS")
HEADS.add("cnniqa", "deepfeat_iqa.heads.image._patchcnn:CNNIQA")
HEADS.add("quality-aware", "deepfeat_iqa.heads.image._quality_aware:QualityAwareFineTune")
HEADS.add("combination", "deepfeat_iqa.heads._combination:Combination", aliases=("ensemble-head",))

#: Public names of this package, imported on first use (PEP 562) like the package root's.
_LAZY = {
    "GPR": "deepfeat_iqa.heads._gpr",
    "LinearSVRHead": "deepfeat_iqa.heads._svr",
    "RBFSVRHead": "deepfeat_iqa.heads._svr",
    "MultitaskMLP": "deepfeat_iqa.heads._mlp",
    "BlockStandardizer": "deepfeat_iqa.heads._preprocess",
    "ImageHead": "deepfeat_iqa.heads.image",
    "SpaqHead": "deepfeat_iqa.heads.image",
    "DCNNS": "deepfeat_iqa.heads.image",
    "CNNIQA": "deepfeat_iqa.heads.image",
    "QualityAwareFineTune": "deepfeat_iqa.heads.image",
    "Combination": "deepfeat_iqa.heads._combination",
    "Member": "deepfeat_iqa.heads._combination",
}

__all__ = [
    "Combination",
    "Member",
    "GPR",
    "ImageHead",
    "SpaqHead",
    "BlockStandardizer",
    "LinearSVRHead",
    "MultitaskMLP",
    "RBFSVRHead",
    "HEADS",
    "list_heads",
    "StateMixin",
    "make_head",
    "register_head",
    "register_module_type",
    "register_state_type",
    "registered_head_classes",
]


def register_head(*names: str, **preset: Any) -> Any:
    """Class decorator that registers a head under one or more names, warning on a duplicate name.

    ``preset`` holds constructor parameters the name implies (``register_head("spaq-mt-e",
    task="mt-e")(SpaqHead)``), so one class can serve several named variants; options the caller
    passes to :func:`make_head` override them. Names are case-insensitive and ``_`` equals ``-``
    (:mod:`deepfeat_iqa.registry`).
    """

    def decorator(cls: type[BaseEstimator]) -> type[BaseEstimator]:
        for name in names:
            HEADS.add(name.strip().lower(), cls, **preset)
        return cls

    return decorator


def list_heads(consumes: str | None = None) -> list[str]:
    """Sorted names ``make_head`` accepts; ``consumes="features"`` or ``"images"`` lists one kind only."""
    if consumes is None:
        return sorted(HEADS.names())
    if consumes not in ("features", "images"):
        raise ConfigError(f"consumes={consumes!r} must be 'features', 'images' or None.")
    return sorted(entry.name for entry in HEADS.entries() if getattr(entry.target, "_dfi_consumes", "features") == consumes)


def make_head(spec: str | BaseEstimator, **options: Any) -> BaseEstimator:
    """The one factory of heads: an unfitted head from a registry name or an estimator instance.

    An instance is cloned (same parameters, no fitted state), so evaluating one spec over many
    splits never shares a fit between them, and fitting never changes the caller's object; any
    scikit-learn style regressor works as a head without being registered. Feature heads and image
    heads come from here alike (see :func:`deepfeat_iqa.heads._adapter.consumes`).

    Parameters
    ----------
    spec : str or estimator
        A name from :func:`list_heads` or a scikit-learn style estimator.
    **options
        Constructor parameters of the head (e.g. ``C=1.0`` or ``tune_trials=30``).

    Returns
    -------
    BaseEstimator
        A new, unfitted estimator.

    Raises
    ------
    ConfigError
        For an unknown name, or an option the head does not have (the message lists the valid ones).
    """
    if isinstance(spec, str):
        entry = HEADS.get(spec)
        estimator = entry.target(**entry.preset)
    elif all(hasattr(spec, name) for name in ("fit", "predict", "get_params")):
        estimator = clone(spec)
    else:
        raise ConfigError(
            f"head must be a registered name (see dfi.heads.list_heads()) or a scikit-learn style estimator "
            f"with fit, predict and get_params; got {type(spec).__name__}."
        )
    renames = getattr(type(estimator), "RENAMED_OPTIONS", {})
    if renames.keys() & options.keys():  # 0.1 spellings (an image head's crop=): warn, then use the new name
        options = renamed(type(estimator).__name__, options, renames)
    valid = estimator.get_params(deep=False)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise unknown_parameter_error(type(estimator).__name__, unknown, valid)
    return estimator.set_params(**options)


#: Names of the 0.1 release that shadowed scikit-learn's classes -> the class they now are (removed in 0.3).
_DEPRECATED_NAMES = {"LinearSVR": "LinearSVRHead", "SVR": "RBFSVRHead"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _DEPRECATED_NAMES:
        new = _DEPRECATED_NAMES[name]
        registry_name = next(e.name for e in reversed(list(HEADS.entries())) if e.target.__name__ == new)
        warnings.warn(
            f"deepfeat_iqa.heads.{name} is now {new} (it shadowed sklearn.svm.{name}, which has other "
            f"parameters); the old name goes in 0.3. Or use the registry: make_head({registry_name!r}).",
            DeprecationWarning,
            stacklevel=2,
        )
        return __getattr__(new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def registered_head_classes() -> dict[str, type[BaseEstimator]]:
    """Qualified class name -> class of every registered head: the allow-list of safe model files."""
    return {qualified_name(entry.target): entry.target for entry in HEADS.entries()}


def _register_persisted_types() -> None:
    """Types a saved head may hold besides heads: the model-file allow-list (deepfeat_iqa.persist)."""
    from sklearn.decomposition import PCA

    from deepfeat_iqa.heads._mlp_net import MultitaskNet, NetSpec
    from deepfeat_iqa.heads._state import register_dataclass_types
    from deepfeat_iqa.training._side_tasks import DistortionEncoder, ExifEncoder, Standardizer

    register_state_type(PCA)
    register_dataclass_types(NetSpec, Standardizer, ExifEncoder, DistortionEncoder)
    register_module_type(MultitaskNet)


_register_persisted_types()
