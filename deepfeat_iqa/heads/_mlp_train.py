"""The seeded mini-batch training loop of ``MultitaskMLP``, with early stopping on validation quality L1."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np
import torch

from deepfeat_iqa.heads._mlp_net import LossWeights, MultitaskNet, NetSpec, multitask_loss

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer and stopping settings (the estimator's parameters of the same names)."""

    lr: float
    weight_decay: float
    max_epochs: int
    batch_size: int
    patience: int
    tol: float
    seed: int
    weights: LossWeights
    multilabel: bool


@dataclass
class TrainResult:
    """The trained network (best epoch's weights) and its per-epoch history."""

    net: MultitaskNet
    losses: np.ndarray
    val_losses: np.ndarray
    sigma_history: np.ndarray | None
    best_epoch: int


def train_network(
    spec: NetSpec,
    data: dict[str, np.ndarray],
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    config: TrainConfig,
    device: torch.device,
) -> TrainResult:
    """Train a :class:`MultitaskNet` with AdamW; stop after ``patience`` epochs without validation progress.

    ``data`` holds ``x``, optionally ``exif``, and the targets :func:`multitask_loss` reads. Everything
    random (initialization, shuffling, dropout) runs under a forked, seeded torch RNG, so a fit neither
    depends on nor disturbs the caller's global random state. Without validation rows the last epoch's
    weights are kept.
    """
    tensors = {key: torch.tensor(value, device=device) for key, value in data.items()}
    cuda = [torch.cuda.current_device() if device.index is None else device.index] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(config.seed)
        net = MultitaskNet(spec).to(device)
        others = [p for name, p in net.named_parameters() if name != "log_sigma"]
        # Weight decay would pull the task uncertainties towards sigma = 1, a bias Eq. 8 does not have.
        groups = [{"params": others, "weight_decay": config.weight_decay}]
        if net.log_sigma is not None:
            groups.append({"params": [net.log_sigma], "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(groups, lr=config.lr)
        shuffle = torch.Generator().manual_seed(config.seed)
        train_index = torch.as_tensor(train_rows, device=device)
        val_index = torch.as_tensor(val_rows, device=device)
        best, best_epoch, best_state, stale = np.inf, 0, None, 0
        losses: list[float] = []
        val_losses: list[float] = []
        sigma_history: list[np.ndarray] = []
        for epoch in range(1, config.max_epochs + 1):
            net.train()
            order = train_index[torch.randperm(len(train_index), generator=shuffle).to(device)]
            total = 0.0
            for start in range(0, len(order), config.batch_size):
                batch = {key: value[order[start : start + config.batch_size]] for key, value in tensors.items()}
                loss = multitask_loss(net, net(batch["x"], batch.get("exif")), batch, config.weights, config.multilabel)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch["x"])
            losses.append(total / len(order))
            if net.log_sigma is not None:
                sigma_history.append(net.log_sigma.detach().cpu().numpy().astype(np.float64))
            if not len(val_index):
                continue
            net.eval()
            with torch.no_grad():
                out = net(tensors["x"][val_index], tensors["exif"][val_index] if "exif" in tensors else None)
                val = float((out["quality"] - tensors["quality"][val_index]).abs().mean())
            val_losses.append(val)
            if val < best - config.tol:
                best, best_epoch, stale = val, epoch, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                stale += 1
                if stale >= config.patience:
                    logger.info("MultitaskMLP: early stop at epoch %d; best %d (val L1 %.4f).", epoch, best_epoch, best)
                    break
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = len(losses)
    return TrainResult(
        net=net,
        losses=np.asarray(losses),
        val_losses=np.asarray(val_losses),
        sigma_history=np.stack(sigma_history) if sigma_history else None,
        best_epoch=best_epoch,
    )
