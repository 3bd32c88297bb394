"""``TrainSettings``: every knob of the training engine, in one frozen record that checkpoints compare."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.runtime.precision import PRECISION_CHOICES

OPTIMIZERS = ("adamw", "adam")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
#: Training precisions: fp16 is left out (it needs a gradient scaler the engine does not have).
TRAIN_PRECISIONS = tuple(p for p in PRECISION_CHOICES if p != "fp16")
TARGET_LEVELS = ("image", "patch")


@dataclass(frozen=True)
class TrainSettings:
    """How a network is trained; a checkpoint written under one settings record refuses to resume under another.

    Attributes
    ----------
    epochs:
        Upper bound on epochs (early stopping may end sooner).
    batch_size:
        Images per forward pass (each brings ``crops_per_image`` crops).
    accumulate:
        Forward passes whose gradients are summed before one optimizer step, so a small machine
        reaches the papers' batch sizes (effective batch = ``batch_size * accumulate``).
    optimizer:
        ``"adamw"`` (decoupled weight decay) or ``"adam"`` (L2 in the gradient, as SPAQ's Adam).
    lr:
        Learning rate of the head (everything outside ``network.trunk``).
    trunk_lr:
        Learning rate of the trunk; ``None`` uses ``lr``. A pretrained trunk wants a lower one.
    weight_decay:
        Weight decay of both groups.
    schedule:
        ``"constant"``, ``"step"`` (times ``gamma`` every ``step_epochs``), ``"cosine"`` (to 0 over all
        epochs) or ``"onecycle"`` (warm up over ``warmup`` of the steps, then cosine down).
    step_epochs, gamma:
        The step schedule's period (epochs) and factor.
    warmup:
        Fraction of all steps the one-cycle schedule warms up over.
    freeze_trunk_epochs:
        Epochs at the start that train the head only (trunk frozen, its batch norms in eval mode);
        SPAQ trains its heads 10 epochs before fine-tuning everything.
    max_grad_norm:
        Clip the gradient norm to this before each step; ``None`` does not clip.
    patience:
        Epochs without a validation SROCC gain above ``min_delta`` before training stops; ``None``
        trains every epoch (the best epoch is still the one kept).
    min_delta:
        Smallest SROCC gain that counts as progress.
    crops_per_image:
        Random crops per image per epoch (patch-based CNNs train on many patches of each image).
    target_level:
        ``"image"``: a batch's crops of one image are averaged before the loss (one target per image);
        ``"patch"``: every crop is a sample with its image's target (CNNIQA, DCNNS).
    precision:
        ``"fp32"``, ``"bf16"`` (autocast + channels_last) or ``"auto"`` (bf16 where the device has it).
    device:
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``; ``None`` picks CUDA when available.
    num_workers:
        Decoding worker processes; ``None`` uses all cores but one (at most 8).
    seed:
        Seeds initialization of new layers, shuffling, crops and dropout (per epoch, so a resumed run
        repeats an uninterrupted one exactly).
    progress:
        Show a progress bar with loss and validation SROCC (terminals only).
    """

    epochs: int = 10
    batch_size: int = 16
    accumulate: int = 1
    optimizer: str = "adamw"
    lr: float = 1e-3
    trunk_lr: float | None = None
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    step_epochs: int = 10
    gamma: float = 0.1
    warmup: float = 0.1
    freeze_trunk_epochs: int = 0
    max_grad_norm: float | None = None
    patience: int | None = None
    min_delta: float = 1e-4
    crops_per_image: int = 1
    target_level: str = "image"
    precision: str = "auto"
    device: str | None = None
    num_workers: int | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("precision", TRAIN_PRECISIONS),
                              ("target_level", TARGET_LEVELS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not one of {', '.join(map(repr, allowed))}.")
        for name in ("epochs", "batch_size", "accumulate", "crops_per_image", "step_epochs"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}.")
        if self.lr <= 0 or (self.trunk_lr is not None and self.trunk_lr < 0):
            raise ConfigError(f"lr must be > 0 and trunk_lr >= 0; got lr={self.lr}, trunk_lr={self.trunk_lr}.")
        if not 0 <= self.freeze_trunk_epochs <= self.epochs:
            raise ConfigError(f"freeze_trunk_epochs={self.freeze_trunk_epochs} must lie in 0..epochs ({self.epochs}).")
        if not 0 < self.warmup < 1:
            raise ConfigError(f"warmup must be a fraction in (0, 1), got {self.warmup}.")

    @property
    def head_lr(self) -> float:
        return float(self.lr)

    @property
    def trunk_rate(self) -> float:
        return float(self.lr if self.trunk_lr is None else self.trunk_lr)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    #: Fields that change how a run computes; progress bars, device and worker count do not.
    @staticmethod
    def result_fields() -> tuple[str, ...]:
        return tuple(f.name for f in fields(TrainSettings) if f.name not in ("progress", "num_workers", "device"))
