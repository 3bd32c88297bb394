"""Seed 002's networks: a backbone trunk with the two-branch pretraining head (§3.1) or the fine-tuning head (§3.2)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

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


class Trunk(nn.Module):
    """A timm backbone reduced to its pooled pre-logits features (``N x num_features``); the classifier is kept but unused.

    Keeping every tensor of the original network means the trunk's ``state_dict`` loads back into the
    registered backbone unchanged, so pretrained weights work as ``weights=`` for ``dfi.extract``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not (hasattr(model, "forward_features") and hasattr(model, "forward_head") and hasattr(model, "num_features")):
            raise ConfigError(f"{type(model).__name__} is not a timm model with forward_features/forward_head; use a timm backbone.")
        self.model = model
        self.num_features = int(model.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


class QualityAwareNet(nn.Module):
    """Stage 1 (seed 002 Fig. 2): trunk -> classification branch and/or regression branch.

    * classification: ``c1 = cFC1(v)`` (1024), ``c2 = cFC2(ReLU(c1))`` (N type/level classes or labels);
    * regression: ``s1 = rFC1(v)`` (1024), ``m1 = ReLU(s1 ⊕ c1)`` (2048), ``rFC2`` -> ReLU -> ``rFC3`` -> score.

    For ``"reg"`` there is no classification branch and ``m1 = ReLU(s1)`` (1024); for ``"cls"`` no regression.
    ``forward`` returns ``(score N or None, class logits N x n_classes or None)``.
    """

    def __init__(self, trunk: Trunk, variant: str, n_classes: int = 0) -> None:
        super().__init__()
        self.variant = check_variant(variant)
        self.trunk = trunk
        width = trunk.num_features
        has_cls, has_reg = self.variant in ("cls", "multi"), self.variant in ("reg", "multi")
        if has_cls and n_classes < 1:
            raise ConfigError(f"Variant {self.variant!r} needs distortion classes, got n_classes={n_classes}.")
        self.cfc1 = nn.Linear(width, 1024) if has_cls else None
        self.cfc2 = nn.Linear(1024, n_classes) if has_cls else None
        self.rfc1 = nn.Linear(width, 1024) if has_reg else None
        mixed = 2048 if self.variant == "multi" else 1024
        self.rfc2 = nn.Linear(mixed, REG_HIDDEN) if has_reg else None
        self.rfc3 = nn.Linear(REG_HIDDEN, 1) if has_reg else None
        for layer in (self.cfc1, self.cfc2, self.rfc1, self.rfc2, self.rfc3):
            if layer is not None:  # seed 002 §4.1: the head's FC layers use He initialization
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def head_parameters(self) -> dict[str, list[nn.Parameter]]:
        """The classification and regression FC parameters, each trained with its own learning rate."""
        groups = {"cls": [self.cfc1, self.cfc2], "reg": [self.rfc1, self.rfc2, self.rfc3]}
        return {name: [p for layer in layers if layer is not None for p in layer.parameters()] for name, layers in groups.items()}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        v = self.trunk(x)
        c1 = self.cfc1(v) if self.cfc1 is not None else None
        logits = self.cfc2(torch.relu(c1)) if c1 is not None else None
        if self.rfc1 is None:
            return None, logits
        s1 = self.rfc1(v)
        m1 = torch.relu(torch.cat([s1, c1], dim=1) if c1 is not None else s1)
        return self.rfc3(torch.relu(self.rfc2(m1))).squeeze(1), logits


class FineTuneNet(nn.Module):
    """Stage 2 (seed 002 §3.2): trunk -> dropout 0.5 -> FC 256 -> ReLU -> FC 1."""

    def __init__(self, trunk: Trunk, dropout: float = 0.5) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(trunk.num_features, 256), nn.ReLU(inplace=True), nn.Linear(256, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).squeeze(1)
