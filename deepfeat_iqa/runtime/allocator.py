"""glibc's allocator on CPUs: keep freed memory at hand for the next forward pass instead of returning it.

A CPU forward pass allocates its activations afresh, several MB each, and frees them at the end. glibc serves
blocks above its mmap threshold from ``mmap`` and trims the top of its heap when enough is free, giving the
memory back to the kernel either way, so the next forward touches fresh pages and pays a page fault for every
4 KB of every activation. glibc adapts its threshold to what it sees freed, but extraction interleaves
decoding, cropping and pooling with the forwards, which keeps defeating that. Measured on 2 cores (AMX Xeon,
fp32), default -> with :func:`keep_freed_memory`'s settings (128 MB mmap threshold, 256 MB trim threshold):

* extraction, EfficientNet-Lite0 on 224-px grid crops of 48 clive-dev photos: 125.7 -> 85.7 ms a photo
  (the bare forward loop on pre-made tensors 80.2 -> 77.5);
* a bare Lite0 training step (batch 16, 224 px, AdamW): 42.6 -> 37.9 ms an image.

Setting glibc's heap padding alone (``M_TOP_PAD``) helped extraction as much but made the training step 1.6x
slower (it switches off the adaptive mmap threshold and leaves it at 128 KB), so both thresholds are set. This is
the advice behind Intel's recommendation of jemalloc or tcmalloc for CPU inference, done with the allocator
already loaded.

:func:`keep_freed_memory` sets them once per process, on Linux with glibc only, unless the user chose glibc's
settings themselves (any ``MALLOC_*_`` variable) or opted out (``DEEPFEAT_IQA_KEEP_FREED_MEMORY=0``). The cost
is up to :data:`TRIM_THRESHOLD_BYTES` of freed memory kept by the process instead of returned.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

import torch

log = logging.getLogger(__name__)

#: Blocks up to this size come from the heap, not from ``mmap`` (glibc's ``M_MMAP_THRESHOLD``).
MMAP_THRESHOLD_BYTES = 128 * 2**20
#: Free memory at the heap top is returned to the kernel only above this (``M_TRIM_THRESHOLD``).
TRIM_THRESHOLD_BYTES = 256 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_OWN_SETTINGS = ("MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_")
_state: dict[str, bool] = {}


def keep_freed_memory(device: torch.device) -> bool:
    """Keep freed activations in glibc's heap before CPU forward passes; whether the settings are in effect.

    Called by extraction and training before their loops; once per process (later calls only report).
    """
    if device.type != "cpu":
        return False
    if "applied" not in _state:
        _state["applied"] = _apply()
    return _state["applied"]


def _apply() -> bool:
    if os.environ.get("DEEPFEAT_IQA_KEEP_FREED_MEMORY", "1") == "0" or any(name in os.environ for name in _OWN_SETTINGS):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only: musl and others have other allocators and parameters
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    applied = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    log.debug("glibc mmap/trim thresholds %s.", "set" if applied else "refused")
    return applied
