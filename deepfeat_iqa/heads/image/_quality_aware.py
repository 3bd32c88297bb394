"""Seed 002 stage 2 as an image head: fine-tune a (quality-aware) backbone with dropout -> FC 256 -> FC 1 on random crops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat_iqa.backbones import weights_fingerprint
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.training._side_tasks import SideTasks
from deepfeat_iqa.backbones._trunk import build_trunk
from deepfeat_iqa.heads.image._base import ImageHead
from deepfeat_iqa.training import Normalize
from deepfeat_iqa.inputs.views import Geometry
from deepfeat_iqa.pretrain._nets import FineTuneNet, L1Loss
from deepfeat_iqa.pretrain._stage1 import METADATA_KEY, PretrainedWeights, check_disjoint
from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE


def stage1_record(weights: Any) -> PretrainedWeights | None:
    """The stage-1 weights when ``weights`` is a :class:`PretrainedWeights` or its saved file, else ``None``."""
    if isinstance(weights, PretrainedWeights):
        return weights
    if isinstance(weights, (str, Path)) and str(weights).endswith(".safetensors") and Path(weights).expanduser().is_file():
        from safetensors import safe_open

        with safe_open(str(Path(weights).expanduser()), framework="pt") as handle:
            if METADATA_KEY in (handle.metadata() or {}):
                return PretrainedWeights.load(weights)
    return None


def start_label(weights: Any) -> tuple[str, str]:
    """``(label, weights record)`` of a fine-tuning start, so reports and paired tests tell starts apart.

    Stage-1 weights (object or file) are named by variant and fingerprint (``"multi stage-1 sha256:88f9..."``),
    ``"imagenet"``/``"random"`` as given, another weights file by its name, other in-memory weights by
    their fingerprint. The record is the full fingerprint (or the string as given), never the tensors.
    """
    stage1 = stage1_record(weights)
    if stage1 is not None:
        return f"{stage1.variant} stage-1 {stage1.fingerprint[:19]}", stage1.fingerprint
    if isinstance(weights, (str, Path)):
        text = str(weights)
        return (text if text in ("imagenet", "random") or text.startswith("sha256:") else f"file {Path(text).name}"), text
    fingerprint = weights_fingerprint(weights)
    return f"in-memory {fingerprint[:19]}", fingerprint


class QualityAwareFineTune(ImageHead):
    """Seed 002's stage 2: a backbone fine-tuned with dropout 0.5 -> FC 256 -> FC 1 and an L1 loss.

    Start it from ImageNet weights (the "FT" baseline of seed 002's ablation) or from the quality-aware
    weights of :func:`deepfeat_iqa.pretrain.pretrain` (CLS, REG or Multi), as the object or its saved
    ``.safetensors`` file. Test images of content the stage-1 set was made from are refused (seed 002
    §4.1's content rule), so an evaluation can never score a test photo the backbone was pretrained on.

    Parameters (own)
    ----------------
    backbone:
        Backbone registry name (seed 002: ResNet-50; default EfficientNet-Lite0, which works offline).
    weights:
        ``"imagenet"``, ``"random"``, a weights file, or stage-1 weights (object or file).
    dropout:
        Dropout before the FC 256 layer (0.5).

    Engine defaults follow seed 002 §4.1 where the engine can: Adam, 1e-5 for backbone and head, constant,
    10 epochs, every crop a sample with its image's score (``target_level="patch"``), 32 crops per step
    (``batch_size=8`` images x ``crops_per_image=4`` fresh random 224 crops; seed 002 draws 100 fixed crops
    per image), test score = mean of 60 random crops (``test_views="random60"``), no validation split.
    """

    #: Seed 002 §4.1, as described above.
    option_defaults = {
        "batch_size": 8, "optimizer": "adam", "lr": 1e-5, "trunk_lr": 1e-5, "weight_decay": 0.0,
        "schedule": "constant", "crops_per_image": 4, "target_level": "patch", "val_fraction": 0.0,
        "test_views": "random60", "val_views": "random10",
    }  # fmt: skip

    def __init__(self, *, backbone: str = DEFAULT_BACKBONE, weights: Any = "imagenet", dropout: float = 0.5):
        self.backbone, self.weights, self.dropout = backbone, weights, dropout

    def _side_labels(self, X: Dataset, side: dict[str, Any]) -> dict[str, Any]:
        return {}  # quality only

    def build_network(self, tasks: SideTasks, *, pretrained: bool) -> tuple[FineTuneNet, L1Loss, Geometry, Normalize]:
        stage1 = stage1_record(self.weights) if pretrained else None
        if stage1 is not None:
            from deepfeat_iqa.backbones import get_config

            if stage1.backbone != get_config(self.backbone).name:
                raise ConfigError(f"The stage-1 weights are for {stage1.backbone!r} but backbone={self.backbone!r}; pass backbone={stage1.backbone!r}.")
        weights = (stage1 if stage1 is not None else self.weights) if pretrained else "random"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))
            trunk, loaded, dims = build_trunk(self.backbone, weights, None, int(self.random_state))
            network = FineTuneNet(trunk, sum(dims), dropout=float(self.dropout))
        if pretrained:
            self.trunk_weights_ = loaded.weights_sha256
            self.pretrain_variant_ = stage1.variant if stage1 is not None else None
            self.pretrain_references_ = list(stage1.references) if stage1 is not None else []
        config = loaded.config
        size = self.crop_size or int(config.input_size[1])
        geometry = Geometry((size, size), config.crop_pct, config.interpolation)
        return network, L1Loss(), geometry, Normalize(tuple(config.mean), tuple(config.std))

    def _pretrained(self, name: str, default: Any = None) -> Any:
        """A stage-1 record attribute of this fit, or of its first member when fitted as an ensemble."""
        members = getattr(self, "members_", None) or []
        return getattr(self, name, getattr(members[0], name, default) if members else default)

    def predict(self, X: Dataset, exif: Any = None) -> np.ndarray:
        """Mean score over the test views; refuses test images whose content the stage-1 set was made from."""
        check_disjoint(self._pretrained("pretrain_references_", []), self._check_images(X), role="test")
        return super().predict(X)

    def input_description(self) -> dict[str, Any]:
        """The backbone, its start weights and the views; ``layer`` names the start (see :func:`start_label`)."""
        record = super().input_description()
        variant, trunk = self._pretrained("pretrain_variant_"), self._pretrained("trunk_weights_")
        fitted = hasattr(self, "network_") or bool(getattr(self, "members_", None))
        if fitted and variant is not None:  # stage-1 start, fitted (or loaded from a model file)
            label, weights = f"{variant} stage-1 {trunk[:19]}", trunk
        else:  # unfitted (an evaluation's template), or fitted from ImageNet/random/another file
            label, weights = start_label(self.weights)
            weights = trunk if fitted and trunk is not None else weights
        record["weights"] = weights
        record["layer"] = f"end-to-end:quality-aware({label})"
        return record

    def _own_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The base state plus the stage-1 record, for the head and for each ensemble member."""
        config, arrays = super()._own_state()
        config["pretrain"] = {"variant": self._pretrained("pretrain_variant_"),
                              "references": self._pretrained("pretrain_references_", []),
                              "trunk_weights": self._pretrained("trunk_weights_")}  # fmt: skip
        return config, arrays

    @classmethod
    def _dfi_from_state(cls, config: dict[str, Any], arrays: dict[str, Any]) -> QualityAwareFineTune:
        head = super()._dfi_from_state(config, arrays)
        saved = config["pretrain"]
        head.pretrain_variant_, head.pretrain_references_ = saved["variant"], list(saved["references"])
        head.trunk_weights_ = saved["trunk_weights"]
        return head

    def trunk_state_dict(self) -> dict[str, torch.Tensor]:
        """The fine-tuned backbone's tensors, named as :func:`~deepfeat_iqa.backbones.build_backbone` names them."""
        return {k: v.detach().clone() for k, v in self.network_.trunk.backbone.state_dict().items()}
