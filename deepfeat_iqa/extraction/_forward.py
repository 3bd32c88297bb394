"""Run crops of one loader batch through the backbone: shape-grouped micro-batches, hooks, pooling.

Several layers come out of one forward pass; crops of different sizes (the ``full`` protocol) are run
one shape at a time; bf16/fp16 run under autocast with ``channels_last`` tensors; on CUDA inputs
go from pinned memory without blocking (see :mod:`deepfeat_iqa.runtime`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import torch

from deepfeat_iqa.runtime.device import to_device
from deepfeat_iqa.runtime.precision import autocast, memory_format
from deepfeat_iqa.backbones import forward_layers
from deepfeat_iqa.extraction.pooling import Pooling

#: Layers are captured with hooks on the (shared, cached) model, so one thread runs a forward at a time;
#: decoding in other threads, and torch's own intra-op threads, still overlap.
_FORWARD_LOCK = threading.Lock()


def prepare_model(model: torch.nn.Module, precision: str, device: torch.device) -> torch.nn.Module:
    """Put the model in eval mode with the memory format its precision runs fastest in on ``device``."""
    return model.eval().to(memory_format=memory_format(precision, device))


#: Pixels per forward pass on a CPU: 8 crops of 224 x 224. Measured with EfficientNet-Lite0 on 2 cores (AMX,
#: bf16 and fp32; docs/extraction.md): the fastest batch shrinks as images grow (224 px: 8-16, 320 px: 2-4,
#: 500 px: 1-2) because a large batch of big activations no longer fits the caches, and fp32 at 224 px ran 1.7x
#: faster at batch 8 than at 32. GPUs want large batches and keep ``batch_size``.
CPU_PIXELS_PER_FORWARD = 8 * 224 * 224


def forward_batch(batch_size: int, shape: tuple[int, ...], device: torch.device) -> int:
    """Crops of ``shape`` (``H, W, 3``) per forward pass: ``batch_size``, on a CPU at most
    :data:`CPU_PIXELS_PER_FORWARD` pixels' worth (at least one crop)."""
    if device.type != "cpu":
        return batch_size
    return max(1, min(batch_size, CPU_PIXELS_PER_FORWARD // max(1, int(shape[0]) * int(shape[1]))))


class Normalization:
    """``uint8`` crops ``(B, H, W, 3)`` -> the network's float input ``(B, 3, H, W)``, on the device they are on.

    The permuted view is already ``channels_last`` in memory, the layout the forward wants; the arithmetic is
    the loader's former per-crop NumPy formula, ``(x - 255 mean) / (255 std)`` in float32, so features are
    unchanged.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        # float32 NumPy arithmetic, exactly as the loader computed these before
        self.shift = torch.from_numpy(np.asarray(mean, dtype=np.float32) * 255.0).view(1, 3, 1, 1)
        self.scale = torch.from_numpy(1.0 / (np.asarray(std, dtype=np.float32) * 255.0)).view(1, 3, 1, 1)

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32)
        return (x - self.shift.to(x.device)) * self.scale.to(x.device)


def pooled_features(
    model: torch.nn.Module,
    crops: Sequence[torch.Tensor],
    module_paths: Sequence[str],
    pooling: Pooling,
    *,
    precision: str,
    device: torch.device,
    micro_batch: int,
    normalize: Normalization,
) -> dict[str, torch.Tensor]:
    """Pool every requested layer for all ``crops`` (each ``uint8`` ``(V_i, H, W, 3)``), in crop order.

    Returns ``{module_path: (sum V_i, D) float32 CPU tensor}``.
    """
    flat = [view for image_crops in crops for view in image_crops]
    out: dict[str, list[torch.Tensor | None]] = {path: [None] * len(flat) for path in module_paths}
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, view in enumerate(flat):
        by_shape.setdefault(tuple(view.shape), []).append(index)
    fmt = memory_format(precision, device)
    for shape, indices in by_shape.items():
        step = forward_batch(micro_batch, shape, device)
        for start in range(0, len(indices), step):
            part = indices[start : start + step]
            # NumPy stacks the crops; torch.stack's parallel copy stalls badly on oversubscribed CPUs.
            x = normalize(to_device(torch.from_numpy(np.stack([flat[i].numpy() for i in part])), device))
            x = x.contiguous(memory_format=fmt)
            with torch.inference_mode(), _FORWARD_LOCK:
                with autocast(precision, device):
                    activations = forward_layers(model, x, list(module_paths))
                for path in module_paths:
                    pooled = pooling(activations[path]).cpu()
                    for offset, i in enumerate(part):
                        out[path][i] = pooled[offset]
    return {path: torch.stack(rows) for path, rows in out.items()}  # type: ignore[arg-type]


def per_image(pooled: torch.Tensor, counts: Sequence[int], reduce: Sequence[np.ndarray | None] | None) -> np.ndarray:
    """Split ``(sum V_i, D)`` into ``(n_images, n_views, D)``; with ``reduce``, average each image's crops.

    ``reduce`` holds each image's crop weights (None: a plain mean) for views averaged at write time.
    """
    parts = torch.split(pooled, list(counts))
    if reduce is None:
        return torch.stack(list(parts)).numpy()
    return torch.stack([_average(part, weights) for part, weights in zip(parts, reduce)]).numpy()


def _average(crops: torch.Tensor, weights: np.ndarray | None) -> torch.Tensor:
    if weights is None:
        return crops.mean(dim=0, keepdim=True)
    shares = torch.as_tensor(weights / weights.sum(), dtype=crops.dtype)
    return (shares[:, None] * crops).sum(dim=0, keepdim=True)
