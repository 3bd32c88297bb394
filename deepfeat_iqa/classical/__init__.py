"""Classical NR-IQA comparators as feature extractors: BRISQUE's 36 features and NIQE's score.

The seeds compare deep features against both. Here they are features like any others: stored in the
same zarr store beside deep features (backbone ``"brisque"``/``"niqe"``, layer ``"features"``/``"score"``),
keyed by a fingerprint of what made them, and fitted by the same heads in a sweep.
"""

from deepfeat_iqa.classical._extract import classical_outputs, extract_classical, list_classical
from deepfeat_iqa.classical._niqe import NIQEModel, load_model
from deepfeat_iqa.classical._nss import brisque_features

__all__ = ["NIQEModel", "brisque_features", "classical_outputs", "extract_classical", "list_classical", "load_model"]
