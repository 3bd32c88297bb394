"""Seed 002's quality-aware two-stage training: :func:`pretrain` on a ``dfi.synth`` set, then fine-tune.

>>> from deepfeat_iqa.pretrain import VARIANTS
>>> VARIANTS
('cls', 'reg', 'multi')
"""

# The heads package registers this package's head; importing it first settles the import order.
from .. import heads as _heads  # noqa: F401
from ._finetune import QualityAwareFineTune, stage1_record, start_label
from ._nets import VARIANTS, FineTuneNet, PretrainLoss, QualityAwareNet
from ._stage1 import PretrainedWeights, check_disjoint, pretrain, stage1_labels

__all__ = [
    "VARIANTS",
    "FineTuneNet",
    "PretrainLoss",
    "PretrainedWeights",
    "QualityAwareFineTune",
    "QualityAwareNet",
    "check_disjoint",
    "pretrain",
    "stage1_labels",
    "stage1_record",
    "start_label",
]
