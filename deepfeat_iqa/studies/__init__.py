"""Studies over many cells: sweeps of backbones x layers x heads, cross-dataset matrices, significance, ensembles.

The last stage of the flow images -> views -> backbones -> store -> heads -> evaluation -> studies:
everything here is built from ``extract`` and ``evaluate`` and stores its cells in a SQLite results store.
"""

from __future__ import annotations

from deepfeat_iqa._lazy_exports import lazy_exports

# Resolved on first use (PEP 562), as the top-level package is: a rerun of a finished sweep reads its
# results store without importing torch (cross, significance and the heads are imported when used).
_LAZY: dict[str, str] = {
    "Cell": "_cells",
    "Protocol": "_cells",
    "CrossStudy": "_cross",
    "cross": "_cross",
    "ensemble": "_ensemble",
    "ResultsStore": "_results_store",
    "SignificanceMatrix": "_significance",
    "significance": "_significance",
    "Study": "_study",
    "open_study": "_sweep",
    "sweep": "_sweep",
    "truncated_layers": "_truncation",
}

__all__ = [
    "Cell",
    "CrossStudy",
    "Protocol",
    "ResultsStore",
    "SignificanceMatrix",
    "Study",
    "cross",
    "ensemble",
    "open_study",
    "significance",
    "sweep",
    "truncated_layers",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
