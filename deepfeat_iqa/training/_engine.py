"""``fit_network`` and ``predict_network``: the one training engine every image head runs on.

A network handed to the engine is an ``nn.Module`` with a ``trunk`` submodule (the pretrained part:
its own learning rate, frozen for the first epochs) whose ``forward(x, **inputs)`` returns a dict
holding at least ``"quality"`` (one value per crop). The loss is ``loss(network, outputs, targets)``.
See docs/image-heads.md ("Adding an image head").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import Tensor, nn
from tqdm.auto import tqdm

from deepfeat_iqa.errors import DataError, TrainingError
from deepfeat_iqa.inputs.views import Geometry, View
from deepfeat_iqa.training import _checkpoint
from deepfeat_iqa.training._data import (
    EpochBatches,
    InputTransform,
    TrainCrops,
    ViewCrops,
    train_loader,
    view_loader,
    workers,
)
from deepfeat_iqa.runtime.allocator import keep_freed_memory
from deepfeat_iqa.runtime.device import resolve_device
from deepfeat_iqa.runtime.precision import autocast, memory_format, resolve_precision
from deepfeat_iqa.training._pixels import open_pixel_cache
from deepfeat_iqa.training._settings import TrainSettings

logger = logging.getLogger(__name__)

Loss = Callable[[nn.Module, dict[str, Tensor], dict[str, Tensor]], Tensor]


@dataclass
class TrainData:
    """The rows a network learns from (or is validated on).

    Attributes
    ----------
    paths:
        Image files, one per row.
    targets:
        Per-row arrays the loss reads (``"quality"`` at least; side tasks as their encoders make them).
    inputs:
        Per-row arrays passed to ``network.forward`` as keywords (MT-E's encoded EXIF).
    """

    paths: list[Path]
    targets: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, rows: np.ndarray) -> TrainData:
        """The selected rows, every array sliced alike."""
        rows = np.asarray(rows, dtype=np.int64)
        pick = lambda arrays: {k: np.asarray(v)[rows] for k, v in arrays.items()}
        return TrainData([self.paths[i] for i in rows], pick(self.targets), pick(self.inputs))


@dataclass(frozen=True)
class Pipeline:
    """How images become network input: train-crop geometry, the input transform, optional short-side resize."""

    geometry: Geometry
    transform: InputTransform
    short_side: int | None = None


@dataclass
class TrainOutcome:
    """What training left: per-epoch history, the epoch whose weights were kept, and the precision used."""

    history: list[dict[str, float]]
    best_epoch: int
    best_srocc: float | None
    precision: str
    resumed_from: int = 0


def fit_network(
    network: nn.Module,
    loss: Loss,
    train: TrainData,
    val: TrainData | None,
    *,
    settings: TrainSettings,
    pipeline: Pipeline,
    val_view: View,
    checkpoint_dir: Path | None = None,
    record: dict[str, Any] | None = None,
) -> TrainOutcome:
    """Train ``network`` in place and leave the best epoch's weights in it (by validation SROCC; else the last).

    Parameters
    ----------
    network, loss:
        See the module docstring.
    train, val:
        Training rows, and the validation rows carved from them by content group (``None``: no early
        stopping, the last epoch is kept).
    settings:
        Optimizer, schedule, freezing, precision, accumulation, early stopping.
    pipeline:
        Train crops and input transform.
    val_view:
        The test-time views used for validation.
    checkpoint_dir:
        Where the run's checkpoint is written after every epoch and resumed from (``None``: none).
    record:
        What else identifies the run (head configuration, training ids); a checkpoint made under another
        record or other settings is refused.

    Raises
    ------
    DataError
        When there are fewer training images than one batch.
    TrainingError
        When the loss becomes NaN/inf (the last good checkpoint is kept) or a checkpoint does not match.
    """
    if len(train) < settings.batch_size:
        raise DataError(
            f"Only {len(train)} training images (after holding out {len(val) if val else 0} for validation) "
            f"but batch_size={settings.batch_size}; lower batch_size to at most {len(train)} "
            "(use accumulate= to keep the effective batch), or add images."
        )
    device = resolve_device(settings.device)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # per-epoch seeding never disturbs the caller's random streams
        return _fit(network, loss, train, val, settings, pipeline, val_view, checkpoint_dir, record, device)


def _fit(network: nn.Module, loss: Loss, train: TrainData, val: TrainData | None, settings: TrainSettings,
         pipeline: Pipeline, val_view: View, checkpoint_dir: Path | None, record: dict[str, Any] | None,
         device: torch.device) -> TrainOutcome:
    precision = resolve_precision(settings.precision, device, purpose="training")
    fmt = memory_format(precision, device)
    network.to(device=device, memory_format=fmt)
    keep_freed_memory(device)
    optimizer = _optimizer(network, settings)
    steps_per_epoch = math.ceil((len(train) // settings.batch_size) / settings.accumulate)
    scheduler = _scheduler(optimizer, settings, steps_per_epoch)
    full_record = {**(record or {}), **{name: getattr(settings, name) for name in TrainSettings.result_fields()}}
    path = None if checkpoint_dir is None else Path(checkpoint_dir) / _checkpoint.FILENAME
    state = _checkpoint.read(path, full_record) if path is not None else None
    history: list[dict[str, float]] = []
    best_srocc, best_epoch, best_state, stale, start, finished = -math.inf, 0, None, 0, 1, False
    if state is not None:
        network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best_srocc, best_epoch = state["history"], state["best_srocc"], state["best_epoch"]
        best_state, stale, start, finished = state["best_state"], state["stale"], state["epoch"] + 1, state["finished"]
        logger.info("Resuming from the checkpoint in %s after epoch %d.", path.parent, state["epoch"])
    resumed_from = start - 1
    targets = {k: torch.as_tensor(v) for k, v in train.targets.items()}
    inputs = {k: torch.as_tensor(v) for k, v in train.inputs.items()}
    sampler = EpochBatches(len(train), settings.batch_size, settings.seed)
    crops = TrainCrops(train.paths, pipeline.geometry, pipeline.transform, pipeline.short_side,
                       count=settings.crops_per_image, seed=settings.seed, pixels=open_pixel_cache())  # fmt: skip
    loader = None
    epochs = tqdm(range(start, settings.epochs + 1), desc="train", unit="epoch", initial=start - 1,
                  total=settings.epochs, disable=None if settings.progress else True)  # fmt: skip
    for epoch in epochs if not finished else ():
        n_workers = workers(settings.num_workers, crops, device)  # drops to none once the first epoch cached all
        if loader is None or loader.num_workers != n_workers:
            loader = train_loader(crops, sampler, n_workers)
        frozen = epoch <= settings.freeze_trunk_epochs
        _set_trunk_frozen(network, frozen)
        sampler.set_epoch(epoch)
        torch.manual_seed(_epoch_seed(settings.seed, epoch))  # dropout: per-epoch stream, identical on resume
        mean_loss = _run_epoch(network, loss, loader, targets, inputs, optimizer, scheduler, settings, device, precision,
                               fmt, epoch=epoch, frozen=frozen, path=path)  # fmt: skip
        row = {"epoch": epoch, "loss": mean_loss, "trunk_frozen": float(frozen)}
        if val is not None:
            row["val_srocc"] = validation_srocc(network, val, pipeline, val_view, settings, device, precision)
            if row["val_srocc"] > best_srocc + settings.min_delta:
                best_srocc, best_epoch, stale = row["val_srocc"], epoch, 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in network.state_dict().items()}
            else:
                stale += 1
        history.append(row)
        epochs.set_postfix({k: round(v, 4) for k, v in row.items() if k in ("loss", "val_srocc")})
        finished = epoch == settings.epochs or (settings.patience is not None and stale >= settings.patience)
        if path is not None:
            _checkpoint.write(path, {
                "record": _checkpoint.encode_record(full_record), "epoch": epoch, "network": network.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "history": history,
                "best_srocc": best_srocc, "best_epoch": best_epoch, "best_state": best_state, "stale": stale,
                "finished": finished,
            })  # fmt: skip
        if finished:
            if epoch < settings.epochs:
                logger.info("Early stop after epoch %d: no SROCC gain for %d epochs (best %.4f at %d).",
                            epoch, stale, best_srocc, best_epoch)  # fmt: skip
            break
    epochs.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    else:
        best_epoch = len(history)
    network.eval()
    return TrainOutcome(history, best_epoch, None if best_srocc == -math.inf else float(best_srocc), precision, resumed_from)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _optimizer(network: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """Two parameter groups, trunk and head, each with its own learning rate."""
    trunk_ids = {id(p) for p in network.trunk.parameters()}
    trunk = [p for p in network.parameters() if id(p) in trunk_ids]
    head = [p for p in network.parameters() if id(p) not in trunk_ids]
    groups = [{"params": head, "lr": settings.head_lr}, {"params": trunk, "lr": settings.trunk_rate}]
    cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, weight_decay=settings.weight_decay)


def _scheduler(optimizer: torch.optim.Optimizer, settings: TrainSettings, steps_per_epoch: int) -> Any:
    """Per-optimizer-step schedules (so accumulation and resume count steps, not batches)."""
    total = max(1, steps_per_epoch * settings.epochs)
    if settings.schedule == "onecycle":
        peaks = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total, pct_start=settings.warmup)
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if settings.schedule == "step":
        period = max(1, settings.step_epochs * steps_per_epoch)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=period, gamma=settings.gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _set_trunk_frozen(network: nn.Module, frozen: bool) -> None:
    """Freeze the trunk (no gradients, batch norms keep their ImageNet statistics) or release it."""
    network.train()
    for parameter in network.trunk.parameters():
        parameter.requires_grad_(not frozen)
    if frozen:
        network.trunk.eval()


def _per_image(outputs: dict[str, Tensor], counts: list[int]) -> dict[str, Tensor]:
    """Average each image's crops (counts per image are equal within a training batch)."""
    k = counts[0]
    return {name: value.reshape(len(counts), k, *value.shape[1:]).mean(dim=1) for name, value in outputs.items()}


def _run_epoch(network: nn.Module, loss_fn: Loss, loader: Any, targets: dict[str, Tensor], inputs: dict[str, Tensor],
               optimizer: torch.optim.Optimizer, scheduler: Any, settings: TrainSettings, device: torch.device,
               precision: str, fmt: torch.memory_format, *, epoch: int, frozen: bool, path: Path | None) -> float:
    """One pass over the training rows; returns the mean loss per batch."""
    total, batches = 0.0, 0
    n_batches = len(loader)
    optimizer.zero_grad(set_to_none=True)
    for index, (rows, x, counts) in enumerate(loader):
        patch = settings.target_level == "patch"
        pick = torch.repeat_interleave(rows, torch.as_tensor(counts)) if patch else rows
        x = x.to(device, non_blocking=True).contiguous(memory_format=fmt)
        batch_inputs = {k: v[torch.repeat_interleave(rows, torch.as_tensor(counts))].to(device) for k, v in inputs.items()}
        batch_targets = {k: v[pick].to(device) for k, v in targets.items()}
        with autocast(precision, device):
            outputs = network(x, **batch_inputs)
        outputs = {k: v.float() for k, v in outputs.items()}
        if not patch:
            outputs = _per_image(outputs, counts)
        loss = loss_fn(network, outputs, batch_targets)
        if not torch.isfinite(loss):
            kept = f"the checkpoint of epoch {epoch - 1} is kept at {str(path)!r}" if path is not None and epoch > 1 \
                else "no checkpoint was written"
            culprit = "lr (the head's)" if frozen or settings.trunk_rate == 0 else (
                f"trunk_lr (now {settings.trunk_rate:g}) and then lr (now {settings.head_lr:g})")
            raise TrainingError(
                f"The training loss became {float(loss.detach())} at epoch {epoch}, batch {index + 1}; training stopped and "
                f"{kept}. Lower {culprit}, e.g. by 10x, or set max_grad_norm=1.0."
            )
        (loss / settings.accumulate).backward()
        if (index + 1) % settings.accumulate == 0 or index + 1 == n_batches:
            if settings.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(network.parameters(), settings.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
        total += float(loss.detach())
        batches += 1
    return total / max(1, batches)


def predict_network(network: nn.Module, data: TrainData, pipeline: Pipeline, view: View, settings: TrainSettings,
                    device: torch.device | None = None, precision: str | None = None) -> dict[str, np.ndarray]:
    """Every output of ``network`` per image, averaged over the image's test-time ``view`` crops (float64)."""
    device = device or resolve_device(settings.device)
    precision = precision or resolve_precision(settings.precision, device, purpose="training")
    fmt = memory_format(precision, device)
    network.to(device=device, memory_format=fmt).eval()
    keep_freed_memory(device)
    crops = ViewCrops(data.paths, view, pipeline.transform, pipeline.short_side, open_pixel_cache())
    loader = view_loader(crops, settings.batch_size, workers(settings.num_workers, crops, device))
    inputs = {k: torch.as_tensor(v) for k, v in data.inputs.items()}
    out: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for rows, x, counts in loader:
            parts = [x] if isinstance(x, Tensor) else x
            pieces: list[dict[str, Tensor]] = []
            repeat = torch.repeat_interleave(rows, torch.as_tensor(counts))
            offset = 0
            for part in parts:
                for start in range(0, part.shape[0], settings.batch_size):
                    chunk = part[start : start + settings.batch_size].to(device).contiguous(memory_format=fmt)
                    picked = repeat[offset : offset + chunk.shape[0]]
                    offset += chunk.shape[0]
                    with autocast(precision, device):
                        result = network(chunk, **{k: v[picked].to(device) for k, v in inputs.items()})
                    pieces.append({k: v.float().cpu() for k, v in result.items()})
            merged = {k: torch.cat([p[k] for p in pieces]) for k in pieces[0]}
            per_image = {k: torch.stack([s.mean(dim=0) for s in torch.split(v, counts)]) for k, v in merged.items()}
            for k, v in per_image.items():
                values = v.double().numpy()
                if k not in out:
                    out[k] = np.empty((len(data), *values.shape[1:]), dtype=np.float64)
                out[k][rows.numpy()] = values
    return out


def validation_srocc(network: nn.Module, val: TrainData, pipeline: Pipeline, view: View, settings: TrainSettings,
                     device: torch.device, precision: str) -> float:
    """SROCC of the predicted quality on the validation rows (0 when predictions are constant)."""
    predicted = predict_network(network, val, pipeline, view, settings, device, precision)["quality"]
    value = spearmanr(predicted, val.targets["quality"]).statistic
    return 0.0 if not np.isfinite(value) else float(value)
