"""The trunk of an image head: a registered backbone whose chosen layers are pooled and concatenated."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ...backbones import LoadedBackbone, build_backbone, forward_layers, resolve_layers


class Trunk(nn.Module):
    """A whole backbone (classifier kept, unused) tapped at ``taps``; each tap is global-average pooled.

    The backbone is kept intact so its state dict is exactly what :func:`build_backbone` makes:
    fine-tuned weights load back into ``dfi.extract`` with the same names and shapes.
    """

    def __init__(self, backbone: nn.Module, taps: Sequence[str]):
        super().__init__()
        self.backbone = backbone
        self.taps = list(taps)

    def forward(self, x: Tensor) -> list[Tensor]:
        activations = forward_layers(self.backbone, x, self.taps)
        return [a.mean(dim=(2, 3)) if a.ndim == 4 else a.flatten(1) for a in activations.values()]


def default_taps(loaded: LoadedBackbone) -> list[str]:
    """The backbone's pooled output (its ``pool`` stage), else its default feature layer."""
    stages = loaded.config.stages
    return resolve_layers(loaded, ["pool"] if "pool" in stages else None)


def build_trunk(backbone: str, weights: object, layers: Sequence[str] | None, seed: int) -> tuple[Trunk, LoadedBackbone, list[int]]:
    """The trunk, the loaded backbone record (config, weights fingerprint) and the width of each tap."""
    loaded = build_backbone(backbone, weights, seed=seed)
    taps = default_taps(loaded) if layers is None else resolve_layers(loaded, list(layers))
    trunk = Trunk(loaded.model, taps)
    size = tuple(loaded.config.input_size[1:])
    with torch.no_grad():
        dims = [int(t.shape[1]) for t in trunk.eval()(torch.zeros(1, 3, *size))]
    return trunk, loaded, dims
