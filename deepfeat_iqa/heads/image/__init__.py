"""Image heads: networks trained end to end on images by the one engine in :mod:`deepfeat_iqa.training`.

SPAQ's BL/MT-E/MT-A/MT-S (:class:`SpaqHead`), the patch CNNs DCNNS and CNNIQA (on grayscale LCN patches
from :mod:`deepfeat_iqa.patchcnn`), and seed 002's stage 2 (:class:`QualityAwareFineTune`, starting from
:func:`deepfeat_iqa.pretrain.pretrain`'s weights). Every image head lives here, so the packages that hold
their preprocessing (``patchcnn``, ``pretrain``) and the engine (``training``) import no head.
"""

from deepfeat_iqa.heads.image._base import ENGINE_PARAMS, SHARED_OPTIONS, HeadOptions, ImageHead
from deepfeat_iqa.heads.image._patchcnn import CNNIQA, DCNNS
from deepfeat_iqa.heads.image._quality_aware import QualityAwareFineTune, stage1_record, start_label
from deepfeat_iqa.heads.image._spaq import TASKS, SpaqHead

__all__ = [
    "CNNIQA",
    "DCNNS",
    "ENGINE_PARAMS",
    "SHARED_OPTIONS",
    "HeadOptions",
    "TASKS",
    "ImageHead",
    "QualityAwareFineTune",
    "SpaqHead",
    "stage1_record",
    "start_label",
]
