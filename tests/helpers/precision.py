"""Pin what the CPU is said to run natively, so a precision test does not depend on the machine it runs on.

``precision="auto"`` is bf16 on a CPU with AMX/AVX512-BF16 and fp32 elsewhere (``runtime.precision``); a test that
asserts ``"bf16"`` without pinning passes on one machine and fails on another (issue 22 item 4).
"""

from __future__ import annotations

import pytest


def pin_cpu_bf16(monkeypatch: pytest.MonkeyPatch, *, native: bool) -> None:
    """Make ``bf16_native(cpu)`` return ``native`` for this test (and re-arm the once-per-process warning)."""
    from deepfeat_iqa.runtime import precision

    monkeypatch.setattr(precision, "_cpu_bf16_native", lambda: native)
    precision._warn_emulated_bf16.cache_clear()
