"""A minimal epoch loop with best-epoch selection on validation SROCC, shared by the patch CNNs and seed 002.

This is deliberately small (no checkpoints, no schedules, no accumulation): the shared image-head
engine of issue 8 is meant to replace it. Everything model-specific comes in as callables, so the
swap touches only the callers' one ``run_epochs`` call.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import GroupShuffleSplit
from tqdm.auto import tqdm

from ..errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass
class TrainLog:
    """What a run did: per-epoch loss and validation SROCC, the chosen epoch, and its weights."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("nan")
    best_state: dict[str, torch.Tensor] | None = None


def resolve_device(device: str | None) -> torch.device:
    """``None``/``"auto"``: CUDA when present, else the CPU; otherwise the named device."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def validation_rows(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation rows, split by content group so no scene/reference is on both sides.

    With ``fraction == 0`` or fewer than 2 groups there is no validation set (the last epoch is kept).
    """
    groups = np.asarray(groups)
    rows = np.arange(len(groups))
    if fraction <= 0 or len(np.unique(groups)) < 2:
        return rows, rows[:0]
    if not 0 < fraction < 1:
        raise ConfigError(f"val_fraction must lie in [0, 1), got {fraction}.")
    train, val = next(GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed).split(rows, groups=groups))
    return np.sort(train), np.sort(val)


def run_epochs(
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batches: Callable[[int], Iterable[Any]],
    loss: Callable[[Any], torch.Tensor],
    validate: Callable[[], float] | None = None,
    lr_hint: float | None = None,
    desc: str = "train",
    progress: bool = True,
) -> TrainLog:
    """Train ``net`` for ``epochs``; keep the weights of the epoch with the best ``validate()`` score.

    Parameters
    ----------
    batches:
        ``batches(epoch)`` yields the epoch's mini-batches (the caller shuffles, seeded by epoch).
    loss:
        ``loss(batch)`` returns the scalar loss of one mini-batch (the caller moves tensors to the device).
    validate:
        Returns the validation SROCC after an epoch; ``None`` keeps the last epoch's weights.
    lr_hint:
        The learning rate, named in the error when the loss stops being finite.
    """
    log = TrainLog()
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=None if progress else True)
    for epoch in bar:
        net.train()
        total, count = 0.0, 0
        for batch in batches(epoch):
            optimizer.zero_grad(set_to_none=True)
            value = loss(batch)
            if not torch.isfinite(value):
                raise ConfigError(
                    f"{desc}: the loss became {value.item()} in epoch {epoch}; lower the learning rate"
                    + (f" (now {lr_hint:g})" if lr_hint is not None else "") + " and fit again."
                )
            value.backward()
            optimizer.step()
            total += float(value.detach())
            count += 1
        record = {"epoch": epoch, "loss": total / max(count, 1)}
        if validate is not None:
            net.eval()
            with torch.no_grad():
                score = float(validate())
            record["val_srocc"] = score
            better = math.isfinite(score) and (not math.isfinite(log.best_score) or score > log.best_score)
            if log.best_state is None or better:
                log.best_epoch, log.best_score = epoch, score
                log.best_state = copy.deepcopy(net.state_dict())
        log.history.append(record)
        bar.set_postfix({k: round(v, 4) for k, v in record.items() if k != "epoch"})
        logger.debug("%s epoch %d: %s", desc, epoch, record)
    if validate is None or log.best_state is None:
        log.best_epoch = epochs
        log.best_state = copy.deepcopy(net.state_dict())
    net.load_state_dict(log.best_state)
    net.eval()
    return log
