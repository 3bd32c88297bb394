"""The one registry of database loaders: ``load(name, root)`` and ``list_datasets()``."""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError, unknown_name_error
from ._dataset import Dataset

Loader = TypeVar("Loader", bound=Callable[..., Dataset])

#: canonical name -> loader function ``f(root, **options) -> Dataset``
_LOADERS: dict[str, Callable[..., Dataset]] = {}
#: normalized alias (and normalized canonical name) -> canonical name
_ALIASES: dict[str, str] = {}


def _normalize(name: str) -> str:
    """Lower-case and drop separators, so ``KonIQ-10k``, ``koniq_10k`` and ``koniq10k`` agree."""
    return re.sub(r"[\s_\-.]", "", str(name).lower())


def register_dataset(name: str, aliases: Iterable[str] = ()) -> Callable[[Loader], Loader]:
    """Decorator that files a loader under ``name`` (and ``aliases``) in the registry.

    A name registered twice warns and the later loader wins, as timm's model registry does, so a
    plugin can override a built-in loader on purpose but never silently.
    """

    def decorate(loader: Loader) -> Loader:
        if name in _LOADERS:
            warnings.warn(f"Dataset loader {name!r} registered twice; the later one wins.", stacklevel=2)
        _LOADERS[name] = loader
        for alias in (name, *aliases):
            _ALIASES[_normalize(alias)] = name
        return loader

    return decorate


def list_datasets() -> list[str]:
    """Canonical names of every registered database loader, sorted."""
    return sorted(_LOADERS)


def resolve_name(name: str) -> str:
    """The canonical name for ``name`` or an alias of it; unknown names suggest the closest ones."""
    canonical = _ALIASES.get(_normalize(name))
    if canonical is None:
        raise unknown_name_error("database", name, list_datasets())
    return canonical


def load(name: str, root: str | Path, **options: Any) -> Dataset:
    """Load database ``name`` from the folder its publisher's archive was unpacked into.

    Parameters
    ----------
    name:
        A canonical name from :func:`list_datasets` or an alias (``clive``, ``live-itw``,
        ``KonIQ-10k``); case and separators do not matter.
    root:
        The database folder, laid out as published (see each loader and ``docs/datasets.md``).
    **options:
        Passed to the database's loader (e.g. ``resolution="512x384"`` for KonIQ-10k); an option the
        loader does not take is an error that lists the ones it does.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import deepfeat_iqa as dfi
    >>> "koniq10k" in dfi.datasets.list_datasets()
    True
    """
    canonical = resolve_name(name)
    loader = _LOADERS[canonical]
    accepted = [p for p in inspect.signature(loader).parameters if p != "root"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"`{canonical}` takes no option {', '.join(repr(u) for u in unknown)}. "
            f"Its options: {', '.join(accepted) or 'none'}."
        )
    return loader(root, **options)
