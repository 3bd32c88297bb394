"""The one registry of database loaders: ``load(name, root)`` and ``list_datasets()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.datasets._dataset import Dataset
from deepfeat_iqa.registry import Registry

Loader = TypeVar("Loader", bound=Callable[..., Dataset])

#: canonical name -> loader ``f(root, **options) -> Dataset``; aliases and spellings resolve case- and separator-insensitively.
#: ``synth`` is lazy: its reader lives with the writer in :mod:`deepfeat_iqa.synth`, which builds on this package.
DATASETS: Registry[Callable[..., Dataset]] = Registry("database")
DATASETS.add("synth", "deepfeat_iqa.synth._build:load_synth", aliases=("synthetic", "pseudo-mos"))


def register_dataset(name: str, aliases: Iterable[str] = ()) -> Callable[[Loader], Loader]:
    """Decorator that files a loader under ``name`` (and ``aliases``) in the registry.

    A name registered twice warns and the later loader wins, as timm's model registry does, so a
    plugin can override a built-in loader on purpose but never silently.
    """
    return DATASETS.register(name, aliases=aliases)


def list_datasets() -> list[str]:
    """Canonical names of every registered database loader, sorted."""
    return sorted(DATASETS.names())


def resolve_name(name: str) -> str:
    """The canonical name for ``name`` or an alias of it; unknown names suggest the closest ones."""
    return DATASETS.canonical(name)


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
    loader = DATASETS.get(canonical).target
    accepted = [p for p in inspect.signature(loader).parameters if p != "root"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"`{canonical}` takes no option {', '.join(repr(u) for u in unknown)}. "
            f"Its options: {', '.join(accepted) or 'none'}."
        )
    return loader(root, **options)
