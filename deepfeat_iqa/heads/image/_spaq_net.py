"""SPAQ's networks (seed 001 §4-5) on any trunk: BL, MT-E, MT-A, MT-S, reusing the multitask MLP's heads and losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfeat_iqa.heads._mlp_net import LossWeights, MultitaskNet, NetSpec, multitask_loss
from deepfeat_iqa.backbones._trunk import Trunk


class SpaqNet(nn.Module):
    """Trunk -> pooled taps (each layer-normalized when there are several) -> dropout -> the task heads.

    The task heads are :class:`~deepfeat_iqa.heads._mlp_net.MultitaskNet` with no hidden layer: BL's
    single regression output, MT-E's generic score plus an EXIF offset layer, MT-A's attribute outputs,
    MT-S's scene logits with the two learned task uncertainties. With a split trunk (MT-S, ``trunk.tail``)
    the quality outputs read the quality branch and the scene logits read the scene branch, each through
    its own layer norms.
    """

    def __init__(self, trunk: Trunk, dims: Sequence[int], spec: NetSpec):
        super().__init__()
        self.trunk = trunk
        self.norms = nn.ModuleList(nn.LayerNorm(d) for d in dims) if len(dims) > 1 else None
        self.scene_norms = nn.ModuleList(nn.LayerNorm(d) for d in dims) if len(dims) > 1 and trunk.tail else None
        self.dropout = nn.Dropout(spec.dropout)
        self.head = MultitaskNet(spec)

    def forward(self, x: Tensor, exif: Tensor | None = None) -> dict[str, Tensor]:
        if not self.trunk.tail:
            return self.head(self._features(self.trunk(x), self.norms), exif)
        quality, scene = self.trunk.branches(x)
        out = self.head(self._features(quality, self.norms), exif)
        out["scenes"] = self.head.scenes(self._features(scene, self.scene_norms))
        return out

    def _features(self, pooled: list[Tensor], norms: nn.ModuleList | None) -> Tensor:
        if norms is not None:
            # Pooled layers differ in scale by orders of magnitude; normalizing each keeps one from drowning the rest.
            pooled = [norm(p.float()) for norm, p in zip(norms, pooled)]
        return self.dropout(torch.cat(pooled, dim=1))


class SpaqLoss:
    """Seed 001's losses through :func:`multitask_loss` (Eq. 1 BL, Eq. 3 MT-E, Eq. 4 MT-A, Eq. 8 MT-S)."""

    def __init__(self, weights: LossWeights, multilabel: bool):
        self.weights, self.multilabel = weights, multilabel

    def __call__(self, network: SpaqNet, outputs: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
        return multitask_loss(network.head, outputs, targets, self.weights, self.multilabel)
