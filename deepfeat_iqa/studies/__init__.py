"""Studies over many cells: sweeps of backbones x layers x heads, cross-dataset matrices, significance, ensembles.

The last stage of the flow images -> views -> backbones -> store -> heads -> evaluation -> studies:
everything here is built from ``extract`` and ``evaluate`` and stores its cells in a SQLite results store.
"""

from ._cells import Cell, Protocol
from ._cross import CrossStudy, cross
from ._ensemble import ensemble
from ._results_store import ResultsStore
from ._significance import SignificanceMatrix, significance
from ._study import Study
from ._sweep import open_study, sweep
from ._truncation import truncated_layers

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
