"""The papers' protocols: ``evaluate`` over content-separated splits, ``evaluate_cross``, ``compare``; metrics, splits, results, plots.

Names are resolved on first use (PEP 562): ``evaluation.results`` (what a results store reads) does not
import the heads, torch or the splitters through this package.
"""

from __future__ import annotations

from deepfeat_iqa._lazy_exports import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
