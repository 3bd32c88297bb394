"""deepfeat-iqa: no-reference image quality assessment from deep features.

The public API is re-exported here and resolved lazily (PEP 562), so ``import deepfeat_iqa`` and the
CLI's ``--help`` stay fast and do not import torch until a function that needs it is called.
"""

from __future__ import annotations

import importlib
from typing import Any

from deepfeat_iqa import _moved

__version__ = "0.1.0"

_moved.install()  # 0.1 import paths keep working for one release, with a FutureWarning

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    # extraction
    "extract": ("deepfeat_iqa.extraction._extract", "extract"),
    "list_backbones": ("deepfeat_iqa.backbones", "list_backbones"),
    "list_layers": ("deepfeat_iqa.backbones", "list_layers"),
    # heads: fit / evaluate
    "fit": ("deepfeat_iqa.api", "fit"),
    "QualityModel": ("deepfeat_iqa.api", "QualityModel"),
    "save_model": ("deepfeat_iqa.persist", "save"),
    "load_model": ("deepfeat_iqa.persist", "load"),
    "score": ("deepfeat_iqa.scoring", "score"),
    "evaluate": ("deepfeat_iqa.evaluation._evaluate", "evaluate"),
    "finetune": ("deepfeat_iqa.api", "finetune"),
    "FineTunedWeights": ("deepfeat_iqa.backbones", "FineTunedWeights"),
    "evaluate_cross": ("deepfeat_iqa.evaluation._evaluate", "evaluate_cross"),
    "compare": ("deepfeat_iqa.evaluation._evaluate", "compare"),
    "EvaluationResult": ("deepfeat_iqa.evaluation.results", "EvaluationResult"),
    "summary_table": ("deepfeat_iqa.evaluation.results", "summary_table"),
    # studies
    "sweep": ("deepfeat_iqa.studies", "sweep"),
    "cross": ("deepfeat_iqa.studies", "cross"),
    "significance": ("deepfeat_iqa.studies", "significance"),
    "ensemble": ("deepfeat_iqa.studies", "ensemble"),
    "Study": ("deepfeat_iqa.studies", "Study"),
    "cache_dir": ("deepfeat_iqa.paths", "cache_dir"),
    # records
    "Dataset": ("deepfeat_iqa.datasets", "Dataset"),
    "FeatureSet": ("deepfeat_iqa.features._sets", "FeatureSet"),
    "LayerFeatures": ("deepfeat_iqa.features._sets", "LayerFeatures"),
    "FeatureKey": ("deepfeat_iqa.features._sets", "FeatureKey"),
    # subpackages
    "datasets": ("deepfeat_iqa.datasets", None),
    "splits": ("deepfeat_iqa.datasets.splits", None),
    "metrics": ("deepfeat_iqa.evaluation.metrics", None),
    "heads": ("deepfeat_iqa.heads", None),
    "training": ("deepfeat_iqa.training", None),
    "synth": ("deepfeat_iqa.synth", None),
    "patchcnn": ("deepfeat_iqa.patchcnn", None),
    "pretrain": ("deepfeat_iqa.pretrain", None),
    "backbones": ("deepfeat_iqa.backbones", None),
    "views": ("deepfeat_iqa.inputs.views", None),
    "store": ("deepfeat_iqa.store", None),
    "errors": ("deepfeat_iqa.errors", None),
    "studies": ("deepfeat_iqa.studies", None),
    "classical": ("deepfeat_iqa.classical", None),
}

# 0.1 names that were ambiguous beside dfi.datasets.load / dfi.synth.load -> their new name (removed in 0.3).
_DEPRECATED: dict[str, str] = {"save": "save_model", "load": "load_model"}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        import warnings

        new = _DEPRECATED[name]
        warnings.warn(
            f"dfi.{name} is now dfi.{new} (model files), to tell it apart from dfi.datasets.load (databases) "
            f"and dfi.synth.build (synthetic sets); dfi.{name} goes in 0.3.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("deepfeat_iqa.persist"), name)
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'deepfeat_iqa' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
