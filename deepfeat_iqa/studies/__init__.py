"""Studies over many cells: sweeps of backbones x layers x heads, cross-dataset matrices, significance, ensembles.

The last stage of the flow images -> views -> backbones -> store -> heads -> evaluation -> studies:
everything here is built from ``extract`` and ``evaluate`` and stores its cells in a SQLite results store.
"""

from deepfeat_iqa.studies._cells import Cell, Protocol
from deepfeat_iqa.studies._cross import CrossStudy, cross
from deepfeat_iqa.studies._ensemble import ensemble
from deepfeat_iqa.studies._results_store import ResultsStore
from deepfeat_iqa.studies._significance import SignificanceMatrix, significance
from deepfeat_iqa.studies._study import Study
from deepfeat_iqa.studies._sweep import open_study, sweep
from deepfeat_iqa.studies._truncation import truncated_layers

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
