"""What extraction does differently on a GPU, decided in one place: precision, batch size, pinned copies.

On CUDA the forward pass is cheap next to the host-to-device copy and the Python overhead per batch,
so batches are larger and inputs are copied from pinned (page-locked) memory without blocking;
autocast runs bf16 where the GPU supports it (Ampere and later) and fp16 elsewhere. On the CPU
nothing changes from the measured defaults (docs/precision.md): bf16 autocast, 32 images a batch.
Every choice is resolved to a concrete value before anything is keyed or stored, so ``"auto"`` never
appears in a feature key.
"""

from __future__ import annotations

import torch

from .errors import ConfigError

#: Precisions a feature array can be computed in (part of the feature key).
PRECISIONS = ("fp32", "bf16", "fp16")
#: Images per batch when ``batch_size=None``.
DEFAULT_BATCH = {"cpu": 32, "cuda": 128}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"``: bf16 on the CPU and on GPUs with bf16, else fp16; explicit values are checked."""
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16"
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is not one of 'auto', {', '.join(repr(p) for p in PRECISIONS)}.")
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("precision='fp16' is for CUDA (float16 autocast is slow and lossy on CPUs); use 'bf16' or 'fp32' here.")
    return precision


def resolve_batch_size(batch_size: int | None, device: torch.device) -> int:
    """``None``: :data:`DEFAULT_BATCH` for the device type (32 on the CPU, 128 on CUDA)."""
    if batch_size is None:
        return DEFAULT_BATCH.get(device.type, DEFAULT_BATCH["cpu"])
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}.")
    return int(batch_size)


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a precision (``None``: no autocast)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a host batch to ``device``: from pinned memory and without blocking when it is a GPU."""
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)
