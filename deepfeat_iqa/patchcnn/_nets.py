"""The two patch CNNs as ``torch.nn`` modules in the training engine's form: DCNNS (seed 000 §3.1), CNNIQA (Kang 2014).

Each has a ``trunk`` (its convolutions) and returns a dict with ``"quality"`` (plus DCNNS's ``"scene"``
logits), which is what :func:`deepfeat_iqa.training.fit_network` trains. :class:`PatchLoss` is their loss.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _branch(width: int, outputs: int, dropout: float) -> nn.Sequential:
    """FC 256 -> FC 256 -> outputs, ReLU and dropout after each 256 layer (seed 000 §3.1)."""
    return nn.Sequential(
        nn.Linear(128, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(width, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(width, outputs),
    )  # fmt: skip


class DCNNSNet(nn.Module):
    """Six 3x3 convolutions (32, 32, 64, 64, 128, 128) with two 2x2 max-pools, GAP to 128, two branches.

    ``forward`` takes ``N x 1 x 64 x 64`` LCN patches and returns ``{"quality": N, "scene": N x n_scenes}``;
    ``n_scenes=0`` drops the scene branch (the single-task ablation).
    """

    def __init__(self, n_scenes: int = 4, dropout: float = 0.5, width: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [1, 32, 32, 64, 64, 128, 128]
        for i in range(6):
            layers += [nn.Conv2d(channels[i], channels[i + 1], 3, stride=1, padding=1), nn.ReLU(inplace=True)]
            if i in (1, 3):
                layers.append(nn.MaxPool2d(2))
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.quality = _branch(width, 1, dropout)
        self.scene = _branch(width, n_scenes, dropout) if n_scenes else None

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        shared = self.trunk(x)
        out = {"quality": self.quality(shared).squeeze(1)}
        if self.scene is not None:
            out["scene"] = self.scene(shared)
        return out


class CNNIQANet(nn.Module):
    """Kang et al. 2014: one 7x7 convolution (50 filters), global max + min pooling, FC 800-800-1.

    The convolution has no non-linearity of its own (max and min pooling of its linear responses feed
    the first ReLU layer), as in Kang et al.; ``forward`` takes ``N x 1 x 32 x 32``.
    """

    def __init__(self, filters: int = 50, kernel: int = 7, width: int = 800, dropout: float = 0.5) -> None:
        super().__init__()
        self.trunk = nn.Conv2d(1, filters, kernel)
        self.regressor = nn.Sequential(
            nn.Linear(2 * filters, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(width, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(width, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        maps = self.trunk(x).flatten(2)
        pooled = torch.cat([maps.amax(dim=2), maps.amin(dim=2)], dim=1)
        return {"quality": self.regressor(pooled).squeeze(1)}


class PatchLoss:
    """Seed 000 §3.3: ``L = L_q + alpha * L_s`` — L1 on the (standardized) score, cross-entropy on the scene id.

    Without scene targets (CNNIQA, or DCNNS with ``n_scenes=0``) it is the L1 loss alone.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)

    def __call__(self, network: nn.Module, outputs: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
        loss = nn.functional.l1_loss(outputs["quality"], targets["quality"])
        if "scene" in outputs and "scenes" in targets:
            loss = loss + self.alpha * nn.functional.cross_entropy(outputs["scene"], targets["scenes"])
        return loss
