"""PEP 562 lazy exports for a package: its public names import their module on first use.

The package root, ``evaluation`` and ``studies`` list their public names in a table of name → submodule, so
importing the package stays cheap (no torch, scikit-learn or zarr until a name that needs them is used) and
a no-op rerun of a finished sweep costs little more than ``import deepfeat_iqa``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, table: Mapping[str, str], public: Sequence[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``table`` maps a public name to the submodule (relative) holding it."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        try:
            module = importlib.import_module(f"{package}.{table[name]}")
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(module, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return list(public)

    return __getattr__, __dir__
