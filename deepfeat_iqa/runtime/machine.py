"""What machine a number was measured on: CPU model, the instruction sets that decide speed, torch build.

Every benchmark writes this record beside its numbers. A speed figure without it misleads: the same
extraction runs 5x faster or slower depending on whether the CPU has native bf16 (AMX or AVX512-BF16)
or only AVX2 (docs/precision.md).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

#: CPU flags (as /proc/cpuinfo spells them) that decide which precision is fast.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one, else every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def describe() -> dict[str, Any]:
    """CPU model, speed-relevant flags, usable cores, torch version/build, and whether bf16 is native."""
    import torch

    from deepfeat_iqa.runtime.precision import bf16_native, onednn_isa_cap

    model, flags = _cpuinfo()
    record: dict[str, Any] = {
        "cpu": model or platform.processor() or platform.machine(),
        "flags": [flag for flag in SPEED_FLAGS if flag in flags],
        "cores": usable_cores(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "bf16_native_cpu": bf16_native(torch.device("cpu")),
    }
    cap = onednn_isa_cap()
    aten_cap = os.environ.get("ATEN_CPU_CAPABILITY")
    record["isa_caps"] = {"ONEDNN_MAX_CPU_ISA": cap, "ATEN_CPU_CAPABILITY": aten_cap} if cap or aten_cap else None
    record["kind"] = _kind(flags, record["bf16_native_cpu"], cap)
    return record


def _kind(flags: set[str], bf16_native_cpu: bool, onednn_cap: str | None) -> str:
    """The CPU kind a speed figure belongs to; a capped AMX machine says so rather than pass for an AVX2 one."""
    if bf16_native_cpu:
        # AMD's Zen 4 has AVX512-BF16 without AMX: bf16 still wins there (Lite0 40 vs 29 img/s), by less than on AMX.
        return "AMX/AVX512-BF16" if "amx_tile" in flags else "AVX512-BF16, no AMX"
    if onednn_cap and flags & {"avx512_bf16", "amx_tile"}:
        return f"AMX/AVX512-BF16 CPU capped to {onednn_cap} (ONEDNN_MAX_CPU_ISA)"
    return "AVX2 only" if "avx2" in flags else "other"


def one_line(record: dict[str, Any] | None = None) -> str:
    """``"Intel Xeon ... (AMX/AVX512-BF16, 2 cores, torch 2.x)"``: the tag a speed figure carries."""
    record = record or describe()
    return f"{record['cpu']} ({record['kind']}, {record['cores']} cores, torch {record['torch']})"


def _cpuinfo() -> tuple[str, set[str]]:
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return "", set()
    model, flags = "", set()
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags
