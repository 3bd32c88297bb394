"""In what precision the engine computes (bf16 autocast where the device has it); the device is the package's ``resolve_device``."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from .._device import resolve_device  # noqa: F401 - the package's one reading of device=, re-exported here


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 runs natively: CUDA with bf16 units, or a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` becomes ``"bf16"`` where it runs natively, else ``"fp32"``; explicit choices pass through.

    Deliberately not extraction's rule (:func:`deepfeat_iqa._accel.resolve_precision`, bf16 on every CPU and
    fp16 on GPUs without bf16): training also runs the backward pass, which emulated bf16 slows down on CPUs
    without native support, and fp16 training needs a gradient scaler that this engine does not have.
    """
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    return precision


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def memory_format(precision: str) -> torch.memory_format:
    """bf16 convolutions are fastest in channels_last (oneDNN on CPUs, cuDNN on GPUs)."""
    return torch.channels_last if precision == "bf16" else torch.contiguous_format
