"""Seed 002's quality-aware two-stage training: :func:`pretrain` on a ``dfi.synth`` set, then fine-tune.

>>> from deepfeat_iqa.pretrain import VARIANTS
>>> VARIANTS
('cls', 'reg', 'multi')
"""

from ._finetune import QualityAwareFineTune
from ._nets import VARIANTS, FineTuneNet, QualityAwareNet, Trunk
from ._stage1 import PretrainedWeights, check_disjoint, pretrain, stage1_labels

__all__ = [
    "FineTuneNet",
    "PretrainedWeights",
    "QualityAwareFineTune",
    "QualityAwareNet",
    "Trunk",
    "VARIANTS",
    "check_disjoint",
    "pretrain",
    "stage1_labels",
]
