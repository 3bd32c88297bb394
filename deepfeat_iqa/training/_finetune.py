"""``finetune``: fine-tune a backbone for quality (SPAQ's BL), then hand its weights to ``extract`` (seed 003 §3.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..datasets import Dataset


@dataclass
class FineTunedWeights:
    """A backbone's fine-tuned tensors with their fingerprint, usable as ``weights=`` in ``dfi.extract``.

    Attributes
    ----------
    backbone:
        The registry name the tensors belong to (pass the same ``model=`` to ``extract``).
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


def finetune(dataset: Dataset, model: str = "efficientnet_lite0", *, weights: Any = "imagenet", epochs: int = 10,
             **options: Any) -> FineTunedWeights:
    """Fine-tune ``model`` on ``dataset``'s quality scores with a regression output and return the backbone's weights.

    The network is SPAQ's BL (``head="spaq-bl"``) trained by the engine; ``options`` are its parameters
    (``lr``, ``trunk_lr``, ``freeze_trunk_epochs``, ``batch_size``, ``checkpoint_dir``, ...). The
    regression layer is dropped; what remains is the backbone, to be read at any layer by
    :func:`deepfeat_iqa.extract` (seed 003 Table 2: fine-tuned features, then GPR/SVR).

    Examples
    --------
    >>> ft = dfi.finetune(ds, model="efficientnet_lite0", epochs=10)                        # doctest: +SKIP
    >>> feats = dfi.extract(ds, model="efficientnet_lite0", weights=ft, layer="pool", crops="random10")  # doctest: +SKIP
    """
    from ..backbones import fingerprint_state_dict
    from ..heads import make_head
    from ..heads._adapter import fit_estimator, labels

    head = make_head("spaq-bl", backbone=model, weights=weights, epochs=epochs, **options)
    fit_estimator(head, dataset, labels(dataset), (), dataset)
    tensors = head.trunk_state_dict()
    info = {
        "dataset": dataset.name, "n_train": head.n_train_, "n_val": head.n_val_, "epochs": epochs,
        "best_epoch": head.best_epoch_, "best_val_srocc": head.best_val_srocc_, "base_weights": head.trunk_weights_,
        "precision": head.precision_,
    }  # fmt: skip
    return FineTunedWeights(model, tensors, fingerprint_state_dict(tensors), info)
