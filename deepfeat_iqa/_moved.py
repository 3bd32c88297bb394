"""What 0.1 spelled differently, kept working for one release with a ``FutureWarning``: paths and keywords.

Modules that moved are aliased by a meta-path finder (``import deepfeat_iqa.metrics`` gives
``deepfeat_iqa.evaluation.metrics``); names that left a package are served by that package's
``__getattr__`` through :func:`moved_name`; keywords renamed to the one vocabulary of docs/vocabulary.md
(``model=`` -> ``backbone=``, ``layer=`` -> ``layers=``, ``crops=`` -> ``views=``, ``n=``/``k=``/``repeats=``
-> ``n_splits=``, ``crop=`` -> ``crop_size=``) are mapped by :func:`renamed_keywords`. Every table says what
to write now, so the warning tells the user. Removed in 0.3 (as timm does with its old ``timm.models.layers``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import functools
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: old module path -> new module path
MOVED_MODULES: dict[str, str] = {
    "deepfeat_iqa.images": "deepfeat_iqa.inputs.images",
    "deepfeat_iqa.views": "deepfeat_iqa.inputs.views",
    "deepfeat_iqa.pooling": "deepfeat_iqa.extraction.pooling",
    "deepfeat_iqa.feature_files": "deepfeat_iqa.features.files",
    "deepfeat_iqa.metrics": "deepfeat_iqa.evaluation.metrics",
    "deepfeat_iqa.splits": "deepfeat_iqa.datasets.splits",
    "deepfeat_iqa.results": "deepfeat_iqa.evaluation.results",
    "deepfeat_iqa.plots": "deepfeat_iqa.evaluation.plots",
    "deepfeat_iqa.threads": "deepfeat_iqa.runtime.threads",
}

#: package -> {old attribute name: module that holds it now}
MOVED_NAMES: dict[str, dict[str, str]] = {
    "deepfeat_iqa.datasets": {"load_synth": "deepfeat_iqa.synth"},
    "deepfeat_iqa.training": {
        "resolve_device": "deepfeat_iqa.runtime.device",
        "resolve_precision": "deepfeat_iqa.runtime.precision",
        "bf16_supported": "deepfeat_iqa.runtime.precision",
    },
    "deepfeat_iqa.patchcnn": {
        "CNNIQA": "deepfeat_iqa.heads.image",
        "DCNNS": "deepfeat_iqa.heads.image",
        "within_scene_srocc": "deepfeat_iqa.evaluation",
    },
    "deepfeat_iqa.pretrain": {
        "QualityAwareFineTune": "deepfeat_iqa.heads.image",
        "stage1_record": "deepfeat_iqa.heads.image",
        "start_label": "deepfeat_iqa.heads.image",
    },
}
#: old attribute names whose new name differs
_RENAMED = {"bf16_supported": "bf16_native"}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; the old path goes in 0.3.", FutureWarning, stacklevel=3)


def moved_name(package: str, name: str) -> Any:
    """The object ``package.name`` used to be (with a warning), or ``AttributeError`` as Python would raise."""
    module = MOVED_NAMES.get(package, {}).get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    new_name = _RENAMED.get(name, name)
    _warn(f"{package}.{name}", f"{module}.{new_name}")
    return getattr(importlib.import_module(module), new_name)


def moved_names_of(package: str) -> Callable[[str], Any]:
    """The ``__getattr__`` (PEP 562) of a package some of whose names moved in 0.2: ``__getattr__ = moved_names_of(__name__)``."""

    def __getattr__(name: str) -> Any:
        return moved_name(package, name)

    return __getattr__


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module path to the module object at its new path."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        new = MOVED_MODULES[spec.name]
        _warn(spec.name, new)
        return importlib.import_module(new)

    def exec_module(self, module: Any) -> None:
        """The module is already executed at its new path."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (called by ``deepfeat_iqa/__init__``)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())


def renamed(owner: str, values: Mapping[str, Any], renames: Mapping[str, str], *, stacklevel: int = 3) -> dict[str, Any]:
    """``values`` with each old keyword of ``renames`` (old -> new) moved to its new name, warning once per call.

    Passing both spellings is a ``TypeError``, as Python raises for a keyword given twice. Used by
    :func:`renamed_keywords` (functions), the image heads' constructors and the experiment-file reader.
    """
    out = dict(values)
    for old, new in renames.items():
        if old not in out:
            continue
        if new in out:
            raise TypeError(f"{owner}() got both {old}= (the 0.1 name) and {new}=; pass only {new}=.")
        warnings.warn(f"{owner}({old}=...) is now {owner}({new}=...); the old name goes in 0.3.", FutureWarning,
                      stacklevel=stacklevel)  # fmt: skip
        out[new] = out.pop(old)
    return out


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Decorate a public function whose keywords were renamed (``old="new"``): old keywords warn and still work.

    The signature (``help``, ``inspect.signature``) shows only the new names; positional calls are unchanged.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if renames.keys() & kwargs.keys():
                kwargs = renamed(func.__name__, kwargs, renames, stacklevel=4)
            return func(*args, **kwargs)

        wrapper.__dfi_renamed__ = dict(renames)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
