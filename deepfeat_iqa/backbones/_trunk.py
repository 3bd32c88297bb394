"""The trunk of an image head: a registered backbone whose chosen layers are pooled and concatenated."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfeat_iqa.backbones import LoadedBackbone, build_backbone, forward_layers, resolve_layers
from deepfeat_iqa.backbones._split import quality_path_state, split_last_stage


class Trunk(nn.Module):
    """A whole backbone (classifier kept, unused) tapped at ``taps``; each tap is global-average pooled.

    The backbone is kept intact so its state dict is exactly what :func:`build_backbone` makes:
    fine-tuned weights load back into ``dfi.extract`` with the same names and shapes.

    ``tail`` lists the modules split into a quality and a scene copy (MT-S, :mod:`._split`); empty when
    the trunk is shared by every task.
    """

    def __init__(self, backbone: nn.Module, taps: Sequence[str], tail: Sequence[str] = ()):
        super().__init__()
        self.backbone = backbone
        self.taps = list(taps)
        self.tail = list(tail)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Each tap pooled; taps at or after a split hold the quality rows, then the scene rows (2N)."""
        activations = forward_layers(self.backbone, x, self.taps)
        return [a.mean(dim=(2, 3)) if a.ndim == 4 else a.flatten(1) for a in activations.values()]

    def branches(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """The pooled taps as the quality branch sees them and as the scene branch sees them (shared taps in both)."""
        n = x.shape[0]
        pooled = self(x)
        return [p[:n] for p in pooled], [p[n:] if p.shape[0] == 2 * n else p for p in pooled]

    def backbone_state_dict(self) -> dict[str, Tensor]:
        """The backbone's tensors (the quality branch's when split), named as :func:`build_backbone` names them."""
        state = self.backbone.state_dict()
        return quality_path_state(state, self.tail) if self.tail else state


def default_taps(loaded: LoadedBackbone) -> list[str]:
    """The backbone's pooled output (its ``pool`` stage), else its default feature layer."""
    stages = loaded.config.stages
    return resolve_layers(loaded, ["pool"] if "pool" in stages else None)


def build_trunk(
    backbone: str, weights: object, layers: Sequence[str] | None, seed: int, *, split: bool = False
) -> tuple[Trunk, LoadedBackbone, list[int]]:
    """The trunk, the loaded backbone record (config, weights fingerprint) and the width of each tap.

    ``split=True`` gives the last stage (and the weighted modules after it) a quality and a scene copy,
    both from the same weights (SPAQ MT-S, :func:`._split.split_last_stage`).
    """
    loaded = build_backbone(backbone, weights, seed=seed)
    taps = default_taps(loaded) if layers is None else resolve_layers(loaded, list(layers))
    sample = torch.zeros(1, 3, *tuple(loaded.config.input_size[1:]))
    tail = split_last_stage(loaded.model, loaded.config, taps, sample) if split else []
    trunk = Trunk(loaded.model, taps, tail)
    with torch.no_grad():
        dims = [int(t.shape[1]) for t in trunk.eval()(sample)]
    return trunk, loaded, dims
