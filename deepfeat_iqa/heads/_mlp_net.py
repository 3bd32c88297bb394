"""The torch network behind ``MultitaskMLP`` and its multitask loss (seed 001 Eq. 1-8, seed 002 Eq. 2-8)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class NetSpec:
    """Sizes of the network's parts; zero switches a task off.

    Attributes
    ----------
    n_features:
        Width of the (standardized) pooled feature vector.
    hidden:
        Widths of the shared trunk's layers; empty means the heads read the features directly.
    dropout:
        Dropout after every trunk layer.
    n_attributes:
        MT-A attribute outputs (seed 001 §5.3).
    n_exif:
        Width of the encoded EXIF vector feeding the MT-E offset layer (seed 001 §5.2).
    n_scenes:
        MT-S scene logits (seed 001 §5.4); also switches on the two learned task uncertainties.
    n_distortion:
        Distortion classes (or multi-hot labels) of seed 002 §3.1; switches on the concatenation branch.
    """

    n_features: int
    hidden: tuple[int, ...]
    dropout: float
    n_attributes: int = 0
    n_exif: int = 0
    n_scenes: int = 0
    n_distortion: int = 0


class MultitaskNet(nn.Module):
    """Shared MLP trunk with a quality head and optional attribute, EXIF-offset, scene and distortion heads."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = []
        width = spec.n_features
        for size in spec.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(spec.dropout)]
            width = size
        self.trunk = nn.Sequential(*layers)
        if spec.n_distortion:
            # Seed 002 Fig. 2: cFC1 -> c1, cFC2 -> class logits; rFC1 -> s1; m1 = ReLU(s1 ⊕ c1) (Eq. 5); rFC2, rFC3.
            self.c_fc1 = nn.Linear(width, width)
            self.c_fc2 = nn.Linear(width, spec.n_distortion)
            self.r_fc1 = nn.Linear(width, width)
            self.quality = nn.Sequential(nn.Linear(2 * width, width), nn.ReLU(), nn.Linear(width, 1))
        else:
            self.quality = nn.Linear(width, 1)
        self.attributes = nn.Linear(width, spec.n_attributes) if spec.n_attributes else None
        self.scenes = nn.Linear(width, spec.n_scenes) if spec.n_scenes else None
        # MT-E: "a simple fully connected layer" from encoded EXIF to a scalar offset (seed 001 Eq. 2).
        self.exif_offset = nn.Linear(spec.n_exif, 1) if spec.n_exif else None
        # log sigma_1 (quality, Laplace scale) and log sigma_2 (scene softmax temperature), seed 001 Eq. 6-8.
        self.log_sigma = nn.Parameter(torch.zeros(2)) if spec.n_scenes else None

    def forward(self, x: Tensor, exif: Tensor | None = None) -> dict[str, Tensor]:
        """Task outputs: ``generic`` (g), ``quality`` (g + b, or g without EXIF) and the side logits."""
        h = self.trunk(x)
        out: dict[str, Tensor] = {}
        if self.spec.n_distortion:
            c1 = self.c_fc1(h)
            out["distortion"] = self.c_fc2(F.relu(c1))
            generic = self.quality(F.relu(torch.cat([self.r_fc1(h), c1], dim=1))).squeeze(1)
        else:
            generic = self.quality(h).squeeze(1)
        out["generic"] = generic
        out["quality"] = generic
        if self.exif_offset is not None and exif is not None:
            out["offset"] = self.exif_offset(exif).squeeze(1)
            out["quality"] = generic + out["offset"]
        if self.attributes is not None:
            out["attributes"] = self.attributes(h)
        if self.scenes is not None:
            out["scenes"] = self.scenes(h)
        return out


@dataclass(frozen=True)
class LossWeights:
    """Fixed task weightings of the seeds' naive weighted sums.

    Attributes
    ----------
    exif:
        alpha_2 of seed 001 Eq. 3 (alpha_1 = 1 - alpha_2); the paper uses 0.5.
    attribute:
        beta_2 of seed 001 Eq. 4 (beta_1 = 1 - beta_2).
    distortion:
        Weight of the classification loss in seed 002 Eq. 7-8 (1 in the paper).
    """

    exif: float
    attribute: float
    distortion: float


def multitask_loss(
    net: MultitaskNet,
    out: dict[str, Tensor],
    targets: dict[str, Tensor],
    weights: LossWeights,
    multilabel: bool,
) -> Tensor:
    """The training loss for one mini-batch; every term is a per-image mean (the seeds' sums divided by m).

    ``targets`` holds standardized ``quality`` and, per switched-on task, ``attributes`` (standardized),
    ``scenes`` (1/c normalized), ``distortion`` (class index or multi-hot). See docs/mlp-heads.md.
    """
    q = targets["quality"]
    if "offset" in out:
        # Seed 001 Eq. 3: alpha_1 |q - g| + alpha_2 |q - (g + b)|.
        generic_l1 = (q - out["generic"]).abs().mean()
        loss = (1.0 - weights.exif) * generic_l1 + weights.exif * (q - out["quality"]).abs().mean()
    else:
        loss = (q - out["quality"]).abs().mean()  # Eq. 1 (seed 001), Eq. 6 (seed 002)
    if net.log_sigma is not None:
        # Seed 001 Eq. 8 / m: l1 / sigma_1 + l4 / sigma_2 + log sigma_1 + 1/2 log sigma_2.
        log_s1, log_s2 = net.log_sigma[0], net.log_sigma[1]
        scene_ce = -(targets["scenes"] * F.log_softmax(out["scenes"], dim=1)).sum(dim=1).mean()  # Eq. 5
        loss = loss * torch.exp(-log_s1) + log_s1 + scene_ce * torch.exp(-log_s2) + 0.5 * log_s2
    if "attributes" in out:
        # Seed 001 Eq. 4: beta_1 |q - q_hat| + beta_2 / k * sum_j |r_j - r_hat_j|.
        attribute_l1 = (targets["attributes"] - out["attributes"]).abs().mean(dim=0).sum() / out["attributes"].shape[1]
        loss = (1.0 - weights.attribute) * loss + weights.attribute * attribute_l1
    if "distortion" in out:
        if multilabel:  # seed 002 Eq. 4 (BCE summed over labels, mean over the batch)
            class_loss = F.binary_cross_entropy_with_logits(out["distortion"], targets["distortion"], reduction="none")
            class_loss = class_loss.sum(dim=1).mean()
        else:  # seed 002 Eq. 1-2 (softmax cross entropy over type-level classes)
            class_loss = F.cross_entropy(out["distortion"], targets["distortion"])
        loss = loss + weights.distortion * class_loss  # Eq. 7-8
    return loss
