"""Weights a training run made for a backbone, kept in memory and usable as ``weights=`` anywhere.

:class:`FineTunedWeights` come from ``dfi.finetune`` (seed 003 §3.3); seed 002's stage-1 weights are
:class:`deepfeat_iqa.pretrain.PretrainedWeights`. Both carry the tensors and their fingerprint, so the
store keys features made with them by what the tensors are, not by where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class FineTunedWeights:
    """A backbone's fine-tuned tensors with their fingerprint, usable as ``weights=`` in ``dfi.extract``.

    Attributes
    ----------
    backbone:
        The registry name the tensors belong to (pass the same ``backbone=`` to ``extract``).
    tensors:
        The full backbone state dict (classifier included, untouched), named as ``build_backbone`` names it.
    fingerprint:
        ``sha256:...`` over the tensors: the weights part of the feature key the store files them under.
    info:
        How they were made: dataset, images, epochs, best epoch, validation SROCC, head parameters.
    """

    backbone: str
    tensors: dict[str, torch.Tensor]
    fingerprint: str
    info: dict[str, Any] = field(default_factory=dict)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors (what ``build_backbone`` loads from in-memory weights)."""
        return self.tensors

    def save(self, path: str | Path) -> Path:
        """Write the tensors as ``.safetensors``, a file ``extract(weights=path)`` and the CLI accept."""
        from safetensors.torch import save_file

        path = Path(path).expanduser()
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.tensors.items()}, str(path))
        return path

    def __repr__(self) -> str:
        return f"FineTunedWeights(backbone={self.backbone!r}, fingerprint={self.fingerprint[:19]}..., info={self.info})"
