"""Seed 002's quality-aware stage 1: :func:`pretrain` a backbone on a ``dfi.synth`` set. Stage 2, the fine-tuning
head, is :class:`deepfeat_iqa.heads.image.QualityAwareFineTune` (``make_head("quality-aware")``).

>>> from deepfeat_iqa.pretrain import VARIANTS
>>> VARIANTS
('cls', 'reg', 'multi')
"""

from deepfeat_iqa._moved import moved_names_of
from deepfeat_iqa.pretrain._nets import VARIANTS, FineTuneNet, PretrainLoss, QualityAwareNet
from deepfeat_iqa.pretrain._stage1 import PretrainedWeights, check_disjoint, pretrain, stage1_labels

__all__ = [
    "VARIANTS",
    "FineTuneNet",
    "PretrainLoss",
    "PretrainedWeights",
    "QualityAwareNet",
    "check_disjoint",
    "pretrain",
    "stage1_labels",
]


__getattr__ = moved_names_of(__name__)  # names that moved in 0.2 (deepfeat_iqa._moved)
