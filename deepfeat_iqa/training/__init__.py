"""The one training engine of every image head (docs/image-heads.md).

``fit_network`` trains any ``nn.Module`` that has a ``trunk`` submodule and returns a dict with
``"quality"``; ``predict_network`` averages its outputs over test-time views. Data come from a
DataLoader whose workers decode images and draw fresh random crops each epoch, seeded by
``(seed, epoch, image content)``.
"""

from deepfeat_iqa._moved import moved_names_of
from deepfeat_iqa.training._data import InputTransform, Normalize, content_id, resize_short_side
from deepfeat_iqa.training._engine import (
    Loss,
    Pipeline,
    TrainData,
    TrainOutcome,
    fit_network,
    predict_network,
    validation_srocc,
)
from deepfeat_iqa.training._settings import OPTIMIZERS, SCHEDULES, TARGET_LEVELS, TrainSettings

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "TARGET_LEVELS",
    "InputTransform",
    "Loss",
    "Normalize",
    "Pipeline",
    "TrainData",
    "TrainOutcome",
    "TrainSettings",
    "content_id",
    "fit_network",
    "predict_network",
    "resize_short_side",
    "validation_srocc",
]


__getattr__ = moved_names_of(__name__)  # names that moved in 0.2 (deepfeat_iqa._moved)
