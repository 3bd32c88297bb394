"""Seed 002 stage 2 as an image head: fine-tune a (quality-aware) backbone with FC 256 -> 1 on random crops."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from ..backbones import build_backbone, get_config
from ..datasets import Dataset
from ..errors import ConfigError, DataError
from ..metrics import srocc
from ..patchcnn._heads import as_image_dataset
from ..patchcnn._train import resolve_device, run_epochs, validation_rows
from ._inputs import ImageBank, Normalizer
from ._nets import FineTuneNet, Trunk
from ._stage1 import METADATA_KEY, PretrainedWeights, check_disjoint

_PREDICT_BATCH = 64


def _stage1_file(weights: Any) -> PretrainedWeights | None:
    """The stage-1 record when ``weights`` is a stage-1 object or file, else ``None`` (ImageNet, random, other files)."""
    if isinstance(weights, PretrainedWeights):
        return weights
    if isinstance(weights, (str, Path)) and str(weights).endswith(".safetensors") and Path(weights).expanduser().is_file():
        from safetensors import safe_open

        with safe_open(str(Path(weights).expanduser()), framework="pt") as handle:
            if METADATA_KEY in (handle.metadata() or {}):
                return PretrainedWeights.load(weights)
    return None


class QualityAwareFineTune(RegressorMixin, BaseEstimator):
    """Seed 002's stage 2: a backbone fine-tuned with dropout 0.5 -> FC 256 -> FC 1 and an L1 loss.

    Start it from ImageNet weights (the "FT" baseline of seed 002's ablation) or from the quality-aware
    weights of :func:`deepfeat_iqa.pretrain.pretrain` (CLS, REG or Multi), given as the object or the
    ``.safetensors`` file it saved.

    Parameters
    ----------
    model:
        Backbone registry name (seed 002: ResNet-50; default EfficientNet-Lite0, which works offline).
    weights:
        ``"imagenet"``, ``"random"``, a weights file, or stage-1 weights (object or file).
    epochs, batch_size, lr:
        Seed 002 §4.1: 10 epochs, mini-batch 32, Adam 1e-5 for the backbone and the two FC layers.
    train_crops, test_crops:
        Random crops per training image per epoch (seed 002: 100) and per test image, averaged (60).
    crop:
        Crop side; ``None`` uses the backbone's input size (224).
    dropout:
        Dropout before the FC 256 layer (0.5).
    val_fraction:
        Share of training content groups held out to pick the best epoch by SROCC; seed 002 uses none (0).
    random_state:
        Seeds the head's initialization, dropout, crops and batch order.
    device, progress:
        ``None``: CUDA when present; a progress bar over epochs on a terminal.

    Attributes
    ----------
    net_ : FineTuneNet
    pretrain_references_ : list of str
        Content groups of the stage-1 data; :meth:`predict` refuses test images of these groups.
    weights_fingerprint_ : str
        Fingerprint of the starting backbone weights.
    """

    _dfi_consumes: ClassVar[str] = "images"

    def __init__(
        self, *, model: str = "efficientnet_lite0", weights: Any = "imagenet", epochs: int = 10, batch_size: int = 32,
        lr: float = 1e-5, train_crops: int = 100, test_crops: int = 60, crop: int | None = None, dropout: float = 0.5,
        val_fraction: float = 0.0, random_state: int | None = 0, device: str | None = None, progress: bool = True,
    ) -> None:  # fmt: skip
        self.model = model
        self.weights = weights
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.train_crops = train_crops
        self.test_crops = test_crops
        self.crop = crop
        self.dropout = dropout
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def _crop(self) -> int:
        return int(self.crop or get_config(self.model).input_size[1])

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> QualityAwareFineTune:  # noqa: N803
        """Fine-tune on the images of ``X`` (a Dataset); ``y`` overrides its scores, ``groups`` its content groups."""
        dataset = as_image_dataset(X, "quality-aware")
        targets = np.asarray(y if y is not None else dataset.y, dtype=np.float64)
        if targets.shape != (len(dataset),) or not np.isfinite(targets).all():
            raise DataError(f"quality-aware: need one finite score per image of {dataset.name!r}.")
        if min(self.train_crops, self.test_crops, self.epochs, self.batch_size) < 1:
            raise ConfigError("train_crops, test_crops, epochs and batch_size must all be >= 1.")
        seed = int(self.random_state or 0)
        device = resolve_device(self.device)
        stage1 = _stage1_file(self.weights)
        if stage1 is not None and stage1.backbone != get_config(self.model).name:
            raise ConfigError(f"The stage-1 weights are for {stage1.backbone!r} but model={self.model!r}; pass model={stage1.backbone!r}.")
        groups = np.asarray(groups if groups is not None else dataset.group_ids).astype(str)
        fit_rows, val_rows = validation_rows(groups, self.val_fraction, seed)
        weights = self.weights
        if isinstance(weights, PretrainedWeights):
            weights = self._spill(weights)
        loaded = build_backbone(self.model, weights, seed=seed)
        bank = ImageBank(dataset, crop=self._crop(), interpolation=loaded.config.interpolation)
        normalize = Normalizer(loaded.config)
        self.y_mean_ = float(targets[fit_rows].mean())
        self.y_scale_ = float(targets[fit_rows].std()) or 1.0
        y_std = torch.from_numpy((targets - self.y_mean_) / self.y_scale_).float()

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = FineTuneNet(Trunk(loaded.model), dropout=self.dropout).to(device)
            optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)

            def batches(epoch: int):
                positions = bank.positions(fit_rows, self.train_crops, seed=seed * 1000 + epoch)
                order = np.random.default_rng([seed, epoch]).permutation(len(positions))
                for start in range(0, len(order), self.batch_size):
                    yield positions[order[start : start + self.batch_size]]

            def loss(positions: np.ndarray) -> torch.Tensor:
                predicted = net(normalize(bank.gather(positions), device))
                return torch.nn.functional.l1_loss(predicted, y_std[torch.from_numpy(positions[:, 0])].to(device))

            validate = None
            if len(val_rows):

                def validate() -> float:
                    return srocc(targets[val_rows], self._scores(net, bank, normalize, val_rows, device))

            log = run_epochs(net, optimizer, epochs=self.epochs, batches=batches, loss=loss, validate=validate,
                             lr_hint=self.lr, desc="fit quality-aware", progress=self.progress)  # fmt: skip
        self.net_ = net.cpu()
        self.best_epoch_ = int(log.best_epoch)
        self.history_ = log.history
        self.weights_fingerprint_ = loaded.weights_sha256
        self.pretrain_variant_ = stage1.variant if stage1 is not None else None
        self.pretrain_references_ = list(stage1.references) if stage1 is not None else []
        self.n_features_in_ = 1
        return self

    def _spill(self, weights: PretrainedWeights) -> Path:
        """In-memory stage-1 weights as a temporary file, the form ``build_backbone`` reads."""
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="dfi-stage1-"))
        return weights.save(folder / "stage1.safetensors")

    def _scores(self, net: torch.nn.Module, bank: ImageBank, normalize: Normalizer, rows: np.ndarray, device: torch.device) -> np.ndarray:
        """Mean of ``test_crops`` fixed random crops per image (seeded by ``random_state`` and the image id)."""
        positions = bank.positions(rows, self.test_crops, seed=int(self.random_state or 0))
        outputs = []
        for start in range(0, len(positions), _PREDICT_BATCH):
            outputs.append(net(normalize(bank.gather(positions[start : start + _PREDICT_BATCH]), device)).float().cpu())
        per_crop = torch.cat(outputs).numpy().reshape(len(rows), self.test_crops)
        return per_crop.mean(axis=1).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """Mean score of ``test_crops`` random crops per image; refuses test content the stage-1 data shared."""
        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This QualityAwareFineTune is not fitted yet; call fit(dataset) first.")
        dataset = as_image_dataset(X, "quality-aware")
        check_disjoint(self.pretrain_references_, dataset, role="test")
        device = resolve_device(self.device)
        config = get_config(self.model)
        bank = ImageBank(dataset, crop=self._crop(), interpolation=config.interpolation)
        net = self.net_.to(device).eval()
        with torch.no_grad():
            scores = self._scores(net, bank, Normalizer(config), np.arange(len(dataset)), device)
        self.net_ = net.cpu()
        return scores * self.y_scale_ + self.y_mean_

    def input_description(self) -> dict[str, Any]:
        """How this head sees images, for reports (in place of a feature key)."""
        start = f"stage-1 {self.pretrain_variant_}" if getattr(self, "pretrain_variant_", None) else str(self.weights)
        return {"backbone": self.model, "weights": start, "layer": "end-to-end",
                "views": f"random{self.train_crops} train / random{self.test_crops} test, {self._crop()}px"}  # fmt: skip

    # -- model files (persist.py) -----------------------------------------------------------------------
    def _dfi_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """JSON-able config (parameters, fitted scalars, pretraining content) and the network's tensors."""
        params = self.get_params(deep=False)
        if not isinstance(params["weights"], (str, Path)):
            params["weights"] = f"stage-1 {self.pretrain_variant_}"
        params["weights"] = str(params["weights"])
        fitted = {name: getattr(self, name) for name in ("y_mean_", "y_scale_", "best_epoch_", "history_",
                  "weights_fingerprint_", "pretrain_variant_", "pretrain_references_")}  # fmt: skip
        return {"params": params, "fitted": fitted}, {f"net.{k}": v.detach().cpu() for k, v in self.net_.state_dict().items()}

    @classmethod
    def _dfi_from_state(cls, config: dict, arrays: dict[str, Any]) -> QualityAwareFineTune:
        """Rebuild the fitted head: the architecture from the registry, every tensor from ``arrays``."""
        head = cls(**config["params"])
        for name, value in config["fitted"].items():
            setattr(head, name, value)
        net = FineTuneNet(Trunk(build_backbone(head.model, "random").model), dropout=head.dropout)
        state = {k[len("net.") :]: torch.as_tensor(np.asarray(v)) for k, v in arrays.items() if k.startswith("net.")}
        net.load_state_dict(state, strict=True)
        head.net_ = net.eval()
        head.n_features_in_ = 1
        return head
