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

import difflib
import warnings
from typing import Any

from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA

from ..errors import ConfigError, unknown_name_error
from ._gpr import GPR
from ._mlp import MultitaskMLP
from ._mlp_net import MultitaskNet, NetSpec
from ._mlp_tasks import DistortionEncoder, ExifEncoder, Standardizer
from ._preprocess import BlockStandardizer
from ._state import (
    StateMixin,
    qualified_name,
    register_dataclass_types,
    register_module_type,
    register_state_type,
)
from ._svr import LinearSVRHead, RBFSVRHead
from .image import ImageHead, SpaqHead

# Image heads that live beside their own preprocessing (they build on heads.image, so they come after it;
# imported from their modules, not their packages, so any import order works).
from ..patchcnn._heads import CNNIQA, DCNNS  # noqa: E402
from ..pretrain._finetune import QualityAwareFineTune  # noqa: E402

__all__ = [
    "GPR",
    "ImageHead",
    "SpaqHead",
    "BlockStandardizer",
    "LinearSVRHead",
    "MultitaskMLP",
    "RBFSVRHead",
    "list_heads",
    "StateMixin",
    "make_head",
    "register_head",
    "register_module_type",
    "register_state_type",
    "registered_head_classes",
]

#: name -> (estimator class, constructor presets). Filled only by the explicit ``register_head`` calls below.
_HEADS: dict[str, tuple[type[BaseEstimator], dict[str, Any]]] = {}


def register_head(*names: str, **preset: Any) -> Any:
    """Class decorator that registers a head under one or more names, warning on a duplicate name.

    ``preset`` holds constructor parameters the name implies (``register_head("spaq-mt-e",
    task="mt-e")(SpaqHead)``), so one class can serve several named variants; options the caller
    passes to :func:`make_head` override them.

    A duplicate replaces the earlier entry (so a user can override a built-in on purpose) but
    warns, because doing it by accident would silently change what ``make_head`` returns.
    Names are case-insensitive and ``_`` equals ``-``. Registration happens only through the
    explicit calls at the bottom of this module, so importing a head module never changes the
    registry as a side effect.
    """

    def decorator(cls: type[BaseEstimator]) -> type[BaseEstimator]:
        for name in names:
            key = _normalize(name)
            if key in _HEADS and _HEADS[key] != (cls, preset):
                warnings.warn(
                    f"Head name {key!r} was registered for {_HEADS[key][0].__name__}; now {cls.__name__}.",
                    UserWarning,
                    stacklevel=2,
                )
            _HEADS[key] = (cls, dict(preset))
        return cls

    return decorator


def _normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def list_heads(consumes: str | None = None) -> list[str]:
    """Sorted names ``make_head`` accepts; ``consumes="features"`` or ``"images"`` lists one kind only."""
    if consumes is None:
        return sorted(_HEADS)
    if consumes not in ("features", "images"):
        raise ConfigError(f"consumes={consumes!r} must be 'features', 'images' or None.")
    return sorted(name for name, (cls, _) in _HEADS.items() if getattr(cls, "_dfi_consumes", "features") == consumes)


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
        key = _normalize(spec)
        if key not in _HEADS:
            raise unknown_name_error("head", spec, _HEADS)
        cls, preset = _HEADS[key]
        estimator = cls(**preset)
    elif all(hasattr(spec, name) for name in ("fit", "predict", "get_params")):
        estimator = clone(spec)
    else:
        raise ConfigError(
            f"head must be a registered name (see dfi.heads.list_heads()) or a scikit-learn style estimator "
            f"with fit, predict and get_params; got {type(spec).__name__}."
        )
    valid = estimator.get_params(deep=False)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        hints = {name: difflib.get_close_matches(name, list(valid), n=1) for name in unknown}
        shown = ", ".join(f"{name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "") for name, hint in hints.items())
        raise ConfigError(
            f"{type(estimator).__name__} has no parameter {shown}. Valid parameters: {', '.join(sorted(valid))}."
        )
    return estimator.set_params(**options)


register_head("svr", "linear-svr")(LinearSVRHead)
register_head("rbf-svr")(RBFSVRHead)
register_head("gpr")(GPR)
register_head("mlp")(MultitaskMLP)
register_head("spaq-bl", task="bl")(SpaqHead)
register_head("spaq-mt-e", task="mt-e")(SpaqHead)
register_head("spaq-mt-a", task="mt-a")(SpaqHead)
register_head("spaq-mt-s", task="mt-s")(SpaqHead)
register_head("dcnns")(DCNNS)
register_head("cnniqa")(CNNIQA)
register_head("quality-aware")(QualityAwareFineTune)

#: Names of the 0.1 release that shadowed scikit-learn's classes -> the class they now are (removed in 0.3).
_DEPRECATED_NAMES = {"LinearSVR": LinearSVRHead, "SVR": RBFSVRHead}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED_NAMES:
        new = _DEPRECATED_NAMES[name]
        warnings.warn(
            f"deepfeat_iqa.heads.{name} is now {new.__name__} (it shadowed sklearn.svm.{name}, which has other "
            f"parameters); the old name goes in 0.3. Or use the registry: make_head({_registry_name(new)!r}).",
            DeprecationWarning,
            stacklevel=2,
        )
        return new
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _registry_name(cls: type[BaseEstimator]) -> str:
    return next(name for name, registered in reversed(list(_HEADS.items())) if registered[0] is cls)

def registered_head_classes() -> dict[str, type[BaseEstimator]]:
    """Qualified class name -> class of every registered head: the allow-list of safe model files."""
    return {qualified_name(cls): cls for cls, _ in _HEADS.values()}


register_state_type(PCA)
register_dataclass_types(NetSpec, Standardizer, ExifEncoder, DistortionEncoder)
register_module_type(MultitaskNet)
