"""The papers' protocols: ``evaluate`` over content-separated splits, ``evaluate_cross``, ``compare``; metrics, splits, results, plots.

Names are resolved on first use (PEP 562): ``evaluation.results`` (what a results store reads) does not
import the heads, torch or the splitters through this package.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "compare": "_evaluate",
    "evaluate": "_evaluate",
    "evaluate_cross": "_evaluate",
    "Comparison": "results",
    "EvaluationResult": "results",
    "summary_table": "results",
    "within_scene_srocc": "scenes",
}

__all__ = ["Comparison", "EvaluationResult", "compare", "evaluate", "evaluate_cross", "summary_table", "within_scene_srocc"]


def __getattr__(name: str) -> Any:
    try:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
