"""The one precision rule of the library: what ``precision="auto"`` becomes, and how a precision is run.

Extraction, image-head training and prediction, fine-tuning, pretraining, sweeps and the CLI all resolve
``precision`` here, before anything is keyed or stored, so ``"auto"`` never appears in a feature key.

``"auto"`` is bf16 only where the device runs it natively: a CPU with AMX or AVX512-BF16, a GPU with bf16
units. Elsewhere bf16 is emulated, and emulation costs more than it saves *in the forward pass too*: on a
2-core AMD EPYC with AVX2 only, EfficientNet-Lite0 ran 6.6 img/s in fp32 and 0.7 img/s under bf16 autocast
(docs/precision.md). So on such a CPU ``"auto"`` is fp32, and an explicit ``"bf16"`` still works but warns
once with that cost. On a GPU without bf16, inference uses fp16; training stays fp32 there, because fp16
training needs a gradient scaler the engine does not have.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Literal

import torch

from deepfeat_iqa.errors import ConfigError, user_stacklevel

#: Precisions a computation can run in (for features, part of the feature key).
PRECISIONS = ("fp32", "bf16", "fp16")
#: What ``precision=`` accepts: a concrete precision or ``"auto"``.
PRECISION_CHOICES = ("auto", *PRECISIONS)
#: The default everywhere: decided by :func:`resolve_precision` from the hardware.
DEFAULT_PRECISION = "auto"

Purpose = Literal["inference", "training"]


def bf16_native(device: torch.device) -> bool:
    """Whether bf16 runs natively: CUDA with bf16 units, or a CPU with AVX512-BF16 or AMX that oneDNN may use."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return _cpu_bf16_native()


#: oneDNN ISA caps (``ONEDNN_MAX_CPU_ISA``) that still include bf16 instructions. Below these (``AVX2``,
#: ``AVX512_CORE``, ...) oneDNN emulates bf16 even on a CPU that has it: measured on the AMX machine with
#: ``ONEDNN_MAX_CPU_ISA=AVX2``, Lite0 ran 7.9 img/s fp32 and 1.7 img/s bf16 (docs/precision.md).
_BF16_ISA_CAPS = frozenset(
    {"ALL", "DEFAULT", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512", "AVX512_CORE_AMX",
     "AVX10_1_512_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2"}
)


@functools.cache
def _cpu_bf16_native() -> bool:
    hardware = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return hardware and _onednn_cap_allows_bf16(os.environ)


def onednn_isa_cap(environ: Mapping[str, str] = os.environ) -> str | None:
    """oneDNN's instruction-set cap, if one is set (``ONEDNN_MAX_CPU_ISA``; ``DNNL_MAX_CPU_ISA`` is its old name).

    oneDNN reads it once when it loads; containers and CI images set it to pin results, and benchmarks set it
    to imitate an AVX2-only CPU on an AMX one (docs/precision.md).
    """
    cap = environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA")
    return cap.strip().upper() if cap else None


def _onednn_cap_allows_bf16(environ: Mapping[str, str]) -> bool:
    """Whether oneDNN may use bf16 instructions: no ISA cap, or a cap at or above AVX512-BF16."""
    cap = onednn_isa_cap(environ)
    return cap is None or cap in _BF16_ISA_CAPS


def resolve_precision(precision: str, device: torch.device, *, purpose: Purpose = "inference") -> str:
    """A concrete precision for ``precision`` on ``device``.

    ``"auto"``: bf16 where :func:`bf16_native`, else fp32 (on CUDA without bf16: fp16 for inference, fp32
    for training). Explicit values are checked: fp16 is for CUDA only, and bf16 on a CPU without native
    support warns once (it works, several times slower than fp32).
    """
    if precision == "auto":
        if bf16_native(device):
            return "bf16"
        return "fp16" if device.type == "cuda" and purpose == "inference" else "fp32"
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is not one of {', '.join(repr(p) for p in PRECISION_CHOICES)}.")
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("precision='fp16' is for CUDA (float16 autocast is slow and lossy on CPUs); use 'bf16' or 'fp32' here.")
    if precision == "fp16" and purpose == "training":
        raise ConfigError("precision='fp16' is not supported for training (it needs a gradient scaler); use 'bf16' or 'fp32'.")
    if precision == "bf16" and device.type == "cpu" and not bf16_native(device):
        _warn_emulated_bf16()
    return precision


@functools.cache
def _warn_emulated_bf16() -> None:
    warnings.warn(
        "precision='bf16' on a CPU without AVX512-BF16 or AMX is emulated: measured 5-9x slower than fp32 "
        "(docs/precision.md). Use precision='auto' (fp32 here) unless you need features that match bf16 ones.",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


#: Precisions whose features a model accepts in place of each other. Measured on clive-dev with real
#: EfficientNet-Lite weights: GPR predictions from bf16 and fp32 features of the same photos agree to SROCC
#: 0.9995, and their SROCC against MOS moves by 0.001, far inside split-to-split noise
#: (benchmarks/precision_transfer.py). So a model fitted on an AMX laptop scores on an AVX2 server in fp32
#: (and the reverse) instead of refusing or emulating bf16 at a tenth of the speed.
INTERCHANGEABLE = frozenset({"fp32", "bf16"})


def accepted_precision(recorded: str, device: torch.device) -> str:
    """The precision to extract in for a model fitted on ``recorded`` features.

    The recorded one wherever it runs natively, so a model scores exactly as it was evaluated; bf16 on a
    device that would emulate it becomes fp32 (accepted in its place, 5-9x faster there).
    """
    if recorded == "bf16" and not bf16_native(device):
        return "fp32"
    return recorded


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a precision (``None``: no autocast)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """Autocast to the precision's dtype on ``device``, or nothing for fp32."""
    dtype = autocast_dtype(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def memory_format(precision: str, device: torch.device) -> torch.memory_format:
    """channels_last on CPUs at every precision, on GPUs for half precision; else the default layout.

    oneDNN's CPU convolutions are faster in channels_last in fp32 too, measured on 2 cores for a forward of one
    512 px photo / eight 224 px crops: Lite0 1.38x / 1.49x, ResNet-50 1.23x / 1.20x, VGG-16 1.24x / 1.26x on
    the AMX machine, and 1.28x / 1.90x, 1.13x / 1.15x, 1.16x / 1.10x capped to AVX2; a Lite0 training step
    (8 x 224 px, forward + backward) 1.42x / 1.22x (docs/precision.md). cuDNN gains from it in half precision.
    """
    if device.type == "cpu" or autocast_dtype(precision) is not None:
        return torch.channels_last
    return torch.contiguous_format
