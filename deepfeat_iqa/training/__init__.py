"""The one training engine of every image head (docs/image-heads.md).

``fit_network`` trains any ``nn.Module`` that has a ``trunk`` submodule and returns a dict with
``"quality"``; ``predict_network`` averages its outputs over test-time views. Data come from a
DataLoader whose workers decode images and draw fresh random crops each epoch, seeded by
``(seed, epoch, image content)``.
"""

from ._data import InputTransform, Normalize, content_id, resize_short_side
from ._device import bf16_supported, resolve_device, resolve_precision
from ._engine import (
    Loss,
    Pipeline,
    TrainData,
    TrainOutcome,
    fit_network,
    predict_network,
    validation_srocc,
)
from ._settings import OPTIMIZERS, PRECISIONS, SCHEDULES, TARGET_LEVELS, TrainSettings

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "TARGET_LEVELS",
    "InputTransform",
    "Loss",
    "Normalize",
    "Pipeline",
    "TrainData",
    "TrainOutcome",
    "TrainSettings",
    "bf16_supported",
    "content_id",
    "fit_network",
    "predict_network",
    "resize_short_side",
    "resolve_device",
    "resolve_precision",
    "validation_srocc",
]
