"""Image heads: networks trained end to end on images by the one engine in :mod:`deepfeat_iqa.training`."""

from ._base import ENGINE_PARAMS, ImageHead
from ._spaq import TASKS, SpaqHead
from ._trunk import Trunk, build_trunk, default_taps

__all__ = ["ENGINE_PARAMS", "TASKS", "ImageHead", "SpaqHead", "Trunk", "build_trunk", "default_taps"]
