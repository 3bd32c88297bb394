"""The glibc allocator settings CPU loops ask for (runtime/allocator.py): when they apply and when they do not."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest
import torch

from deepfeat_iqa.runtime import allocator


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_state", {})
    for name in ("DEEPFEAT_IQA_KEEP_FREED_MEMORY", *allocator._OWN_SETTINGS):
        monkeypatch.delenv(name, raising=False)


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and bool(ctypes.CDLL(None).gnu_get_libc_version)
    except (OSError, AttributeError):
        return False


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt only")
def test_applied_once_on_a_cpu_with_glibc(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = allocator._apply
    monkeypatch.setattr(allocator, "_apply", lambda: calls.append(1) or real())
    assert allocator.keep_freed_memory(torch.device("cpu")) is True
    assert allocator.keep_freed_memory(torch.device("cpu")) is True
    assert calls == [1]


@pytest.mark.parametrize("env", [{"DEEPFEAT_IQA_KEEP_FREED_MEMORY": "0"}, {"MALLOC_MMAP_THRESHOLD_": "65536"}, {"MALLOC_TOP_PAD_": "0"}])
def test_the_users_own_settings_win(fresh: None, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert allocator.keep_freed_memory(torch.device("cpu")) is False


def test_gpus_are_left_alone(fresh: None) -> None:
    assert allocator.keep_freed_memory(torch.device("cuda")) is False
    assert "applied" not in allocator._state


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt only")
def test_extraction_applies_it() -> None:
    """In a fresh process: nothing is set before an extraction on the CPU, the settings are in effect after it."""
    code = (
        "import pathlib, tempfile\n"
        "import numpy as np\n"
        "from PIL import Image\n"
        "import deepfeat_iqa as dfi\n"
        "from deepfeat_iqa.runtime import allocator\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        "Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / 'a.png')\n"
        "assert 'applied' not in allocator._state\n"
        "dfi.extract(folder, backbone='resnet18', weights='random', layers='layer1', store=None, progress=False, device='cpu')\n"
        "print(allocator._state['applied'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPFEAT_IQA_KEEP_FREED_MEMORY", *allocator._OWN_SETTINGS)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
