"""``SpaqHead``: seed 001's baseline (BL) and multi-task models (MT-E, MT-A, MT-S) on any registered backbone."""

from __future__ import annotations

import logging
from typing import Any

import torch

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.training import Normalize
from deepfeat_iqa.inputs.views import Geometry
from deepfeat_iqa.heads._mlp_net import LossWeights, NetSpec
from deepfeat_iqa.training._side_tasks import SideTasks
from deepfeat_iqa.heads.image._base import ImageHead
from deepfeat_iqa.heads.image._spaq_net import SpaqLoss, SpaqNet
from deepfeat_iqa.backbones._trunk import build_trunk
from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE

logger = logging.getLogger(__name__)

#: SPAQ variant -> the side label it learns from (BL: none).
TASKS = {"bl": None, "mt-e": "exif", "mt-a": "attributes", "mt-s": "scenes"}


class SpaqHead(ImageHead):
    """A backbone fine-tuned end to end for quality, optionally with one of SPAQ's auxiliary tasks.

    - ``task="bl"``: one regression output on the pooled trunk, L1 loss (seed 001 Eq. 1).
    - ``task="mt-e"``: generic score plus an offset from encoded EXIF, alpha-weighted L1 (Eq. 2-3);
      without EXIF at predict time it gives the generic score, and fitted on a dataset without EXIF it
      is BL (a warning says so): it reduces to BL.
    - ``task="mt-a"``: quality plus the attribute scores, beta-weighted L1 (Eq. 4).
    - ``task="mt-s"``: scene classification with cross-entropy, balanced against quality by learned
      uncertainties (Eq. 5-8). As in the paper, the trunk is shared up to its last stage, which is split
      into a quality and a scene branch (two copies from the same weights; for any backbone, see
      docs/image-heads.md).

    The task heads and losses are those of :class:`~deepfeat_iqa.heads.MultitaskMLP`. Training
    parameters are the shared options (:class:`~deepfeat_iqa.training.TrainSettings` and
    :class:`~deepfeat_iqa.heads.image.HeadOptions`); this head's defaults (:attr:`option_defaults`) are
    the recipe of docs/image-heads.md.

    Parameters (own)
    ----------------
    task:
        ``"bl"``, ``"mt-e"``, ``"mt-a"`` or ``"mt-s"`` (set by the registry names ``spaq-bl``, ...).
    backbone:
        Any registered backbone or timm name (the paper's is ``resnet50``; default the offline
        ``efficientnet_lite0``).
    weights:
        ``"imagenet"``, ``"random"``, a weights file, or in-memory weights (``dfi.finetune`` result,
        ``nn.Module`` or state dict).
    layers:
        Trunk layers pooled and concatenated into the features the task heads read; ``None``: the
        backbone's pooled output (the paper's).
    dropout:
        Dropout on the pooled features.
    exif_weight, attribute_weight:
        alpha_2 (Eq. 3) and beta_2 (Eq. 4).
    """

    #: The recipe of docs/image-heads.md where it differs from the engine's defaults.
    option_defaults = {"trunk_lr": 1e-4, "freeze_trunk_epochs": 1, "val_views": "random2"}

    def __init__(
        self, *, task: str = "bl", backbone: str = DEFAULT_BACKBONE, weights: Any = "imagenet",
        layers: tuple[str, ...] | None = None, dropout: float = 0.0, exif_weight: float = 0.5,
        attribute_weight: float = 0.5,
    ):  # fmt: skip
        self.task, self.backbone, self.weights, self.layers = task, backbone, weights, layers
        self.dropout, self.exif_weight, self.attribute_weight = dropout, exif_weight, attribute_weight

    def _side_labels(self, X: Any, side: dict[str, Any]) -> dict[str, Any]:
        if self.task not in TASKS:
            raise ConfigError(f"task={self.task!r} is not one of {', '.join(map(repr, TASKS))}.")
        wanted = TASKS[self.task]
        if wanted is None:
            return {}
        if side.get(wanted) is None and wanted == "exif":
            # Seed 001 §5.2: without EXIF the offset branch has nothing to read; MT-E is then BL (same network,
            # same L1 loss, same random_state: the same fit).
            logger.warning("SPAQ MT-E: dataset %r has no EXIF; it trains as BL (no offset branch).", X.name)
            return {}
        if side.get(wanted) is None:
            raise DataError(
                f"SPAQ {self.task.upper()} learns from {wanted!r}, but dataset {X.name!r} has none; "
                f"load a database with {wanted} (SPAQ has exif, attributes and scenes) or use head='spaq-bl'."
            )
        return {wanted: side[wanted]}

    def build_network(self, tasks: SideTasks, *, pretrained: bool) -> tuple[SpaqNet, SpaqLoss, Geometry, Normalize]:
        weights = self.weights if pretrained else "random"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))  # new layers start the same in every process
            trunk, loaded, dims = build_trunk(
                self.backbone, weights, self.layers, int(self.random_state), split=self.task == "mt-s"
            )
            spec = NetSpec(
                n_features=sum(dims), hidden=(), dropout=float(self.dropout),
                n_attributes=len(tasks.attribute_names or ()),
                n_exif=tasks.exif_encoder.n_outputs if tasks.exif_encoder is not None else 0,
                n_scenes=len(tasks.scene_names or ()), n_distortion=len(tasks.distortion_classes or ()),
            )  # fmt: skip
            network = SpaqNet(trunk, dims, spec)
        if pretrained:
            self.trunk_weights_ = loaded.weights_sha256
            self.trunk_source_ = loaded.weights_source
        config = loaded.config
        size = self.crop_size or int(config.input_size[1])
        geometry = Geometry((size, size), config.crop_pct, config.interpolation)
        weights_ = LossWeights(exif=float(self.exif_weight), attribute=float(self.attribute_weight), distortion=1.0)
        return network, SpaqLoss(weights_, tasks.distortion_multilabel), geometry, Normalize(tuple(config.mean), tuple(config.std))

    def input_description(self) -> dict[str, Any]:
        record = super().input_description()
        record["weights"] = getattr(self, "trunk_weights_", record["weights"])
        record["layer"] = f"end-to-end:{self.task}"
        return record

    def trunk_state_dict(self) -> dict[str, torch.Tensor]:
        """The fine-tuned backbone's tensors, named as :func:`~deepfeat_iqa.backbones.build_backbone` names them
        (MT-S: the quality branch's path through the split last stage)."""
        return {k: v.detach().clone() for k, v in self.network_.trunk.backbone_state_dict().items()}
