"""Seed 002's networks on an image-head trunk: the two-branch pretraining head (§3.1) and the fine-tuning head (§3.2).

Both follow the training engine's form (a ``trunk`` submodule; ``forward`` returns a dict), so
:func:`deepfeat_iqa.training.fit_network` trains them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.backbones._trunk import Trunk

#: Pretraining variants of seed 002's ablation (Fig. 3): classification only, regression only, both.
VARIANTS = ("cls", "reg", "multi")
#: Width of rFC2; seed 002 gives rFC1 (1024), the mix (2048) and the output (1), not rFC2 ("...").
REG_HIDDEN = 512


def check_variant(variant: str) -> str:
    """The canonical variant name (``"cls"``, ``"reg"``, ``"multi"``), case-insensitive."""
    name = str(variant).strip().lower()
    if name not in VARIANTS:
        raise ConfigError(f"Unknown pretraining variant {variant!r}; use one of {', '.join(VARIANTS)} (seed 002's ablation).")
    return name


def _he(layer: nn.Linear) -> nn.Linear:
    """Seed 002 §4.1: the head's FC layers start from He initialization."""
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)
    return layer


class QualityAwareNet(nn.Module):
    """Stage 1 (seed 002 Fig. 2): trunk features ``v`` -> classification and/or regression branch.

    * classification: ``c1 = cFC1(v)`` (1024), ``c2 = cFC2(ReLU(c1))`` (N type/level classes or labels);
    * regression: ``s1 = rFC1(v)`` (1024), ``m1 = ReLU(s1 ⊕ c1)`` (2048), ``rFC2`` (512) -> ReLU -> ``rFC3`` -> score.

    ``"reg"`` has no classification branch (``m1 = ReLU(s1)``, 1024); ``"cls"`` no regression branch.
    ``forward`` returns ``{"quality": N}`` and/or ``{"distortion": N x n_classes}``.
    """

    def __init__(self, trunk: Trunk, width: int, variant: str, n_classes: int = 0) -> None:
        super().__init__()
        self.variant = check_variant(variant)
        self.trunk = trunk
        has_cls, has_reg = self.variant in ("cls", "multi"), self.variant in ("reg", "multi")
        if has_cls and n_classes < 1:
            raise ConfigError(f"Variant {self.variant!r} needs distortion classes, got n_classes={n_classes}.")
        self.cfc1 = _he(nn.Linear(width, 1024)) if has_cls else None
        self.cfc2 = _he(nn.Linear(1024, n_classes)) if has_cls else None
        self.rfc1 = _he(nn.Linear(width, 1024)) if has_reg else None
        self.rfc2 = _he(nn.Linear(2048 if has_cls else 1024, REG_HIDDEN)) if has_reg else None
        self.rfc3 = _he(nn.Linear(REG_HIDDEN, 1)) if has_reg else None

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        v = torch.cat(self.trunk(x), dim=1)
        out: dict[str, Tensor] = {}
        c1 = self.cfc1(v) if self.cfc1 is not None else None
        if c1 is not None:
            out["distortion"] = self.cfc2(torch.relu(c1))
        if self.rfc1 is not None:
            s1 = self.rfc1(v)
            m1 = torch.relu(torch.cat([s1, c1], dim=1) if c1 is not None else s1)
            out["quality"] = self.rfc3(torch.relu(self.rfc2(m1))).squeeze(1)
        return out


class PretrainLoss:
    """Seed 002 Eq. 6-8: L1 on the pseudo-MOS plus cross-entropy (one class per image) or BCE (multi-hot)."""

    def __init__(self, multilabel: bool) -> None:
        self.multilabel = bool(multilabel)

    def __call__(self, network: nn.Module, outputs: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
        loss = torch.zeros((), device=next(iter(outputs.values())).device)
        if "quality" in outputs:
            loss = loss + nn.functional.l1_loss(outputs["quality"], targets["quality"])
        if "distortion" in outputs:
            logits, target = outputs["distortion"], targets["distortion"]
            loss = loss + (nn.functional.binary_cross_entropy_with_logits(logits, target.float()) if self.multilabel
                           else nn.functional.cross_entropy(logits, target.long()))  # fmt: skip
        return loss


class FineTuneNet(nn.Module):
    """Stage 2 (seed 002 §3.2): trunk -> dropout 0.5 -> FC 256 -> ReLU -> FC 1; ``{"quality": N}``."""

    def __init__(self, trunk: Trunk, width: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = nn.Sequential(nn.Dropout(dropout), _he(nn.Linear(width, 256)), nn.ReLU(inplace=True), nn.Linear(256, 1))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"quality": self.head(torch.cat(self.trunk(x), dim=1)).squeeze(1)}


class L1Loss:
    """Seed 002 stage 2: L1 on the (standardized) score."""

    def __call__(self, network: nn.Module, outputs: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
        return nn.functional.l1_loss(outputs["quality"], targets["quality"])
