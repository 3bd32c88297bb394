"""The two patch CNNs as plain ``torch.nn`` modules: DCNNS (seed 000 §3.1) and CNNIQA (Kang et al. 2014)."""

from __future__ import annotations

import torch
from torch import nn


def _branch(width: int, outputs: int, dropout: float) -> nn.Sequential:
    """FC 256 -> FC 256 -> outputs, ReLU and dropout after each 256 layer (seed 000 §3.1)."""
    return nn.Sequential(
        nn.Linear(128, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(width, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(width, outputs),
    )  # fmt: skip


class DCNNSNet(nn.Module):
    """Six 3x3 convolutions (32, 32, 64, 64, 128, 128) with two 2x2 max-pools, GAP to 128, two branches.

    ``forward`` takes ``N x 1 x 64 x 64`` LCN patches and returns ``(quality N, scene logits N x n_scenes)``;
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
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.quality = _branch(width, 1, dropout)
        self.scene = _branch(width, n_scenes, dropout) if n_scenes else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        shared = self.features(x)
        return self.quality(shared).squeeze(1), (self.scene(shared) if self.scene is not None else None)


class CNNIQANet(nn.Module):
    """Kang et al. 2014: one 7x7 convolution (50 filters), global max + min pooling, FC 800-800-1.

    The convolution has no non-linearity of its own (max and min pooling of its linear responses feed
    the first ReLU layer), as in Kang et al.; ``forward`` takes ``N x 1 x 32 x 32`` and returns ``N``.
    """

    def __init__(self, filters: int = 50, kernel: int = 7, width: int = 800, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, filters, kernel)
        self.regressor = nn.Sequential(
            nn.Linear(2 * filters, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(width, width), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(width, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        maps = self.conv(x).flatten(2)
        pooled = torch.cat([maps.amax(dim=2), maps.amin(dim=2)], dim=1)
        return self.regressor(pooled).squeeze(1), None
