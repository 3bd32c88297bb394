"""The GPU path's choices, tested on a CPU by mocking what torch reports (no test needs a GPU)."""

from __future__ import annotations

import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.runtime import precision as precision_module
from deepfeat_iqa.runtime.device import resolve_batch_size, resolve_device, to_device
from deepfeat_iqa.runtime.precision import autocast_dtype, resolve_precision
from deepfeat_iqa.errors import ConfigError

CUDA, CPU = torch.device("cuda"), torch.device("cpu")


def _cpu_bf16(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    """Pin what the CPU is said to run natively, so no test depends on the machine it runs on."""
    monkeypatch.setattr(precision_module, "_cpu_bf16_native", lambda: native)
    precision_module._warn_emulated_bf16.cache_clear()


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_the_cpu_runs_it_natively(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    _cpu_bf16(monkeypatch, native)
    assert resolve_precision("auto", CPU) == ("bf16" if native else "fp32")
    assert resolve_precision("auto", CPU, purpose="training") == ("bf16" if native else "fp32")


def test_explicit_bf16_on_an_emulating_cpu_works_but_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _cpu_bf16(monkeypatch, False)
    with pytest.warns(UserWarning, match="emulated: measured 5-9x slower than fp32"):
        assert resolve_precision("bf16", CPU) == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision("bf16", CPU) == "bf16"  # once per process, not per call
    _cpu_bf16(monkeypatch, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision("bf16", CPU) == "bf16"  # native: no warning


def test_auto_precision_on_gpus_is_bf16_where_supported_else_fp16_for_inference_and_fp32_for_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", CUDA) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", CUDA) == "fp16" and resolve_precision("fp32", CUDA) == "fp32"
    assert resolve_precision("auto", CUDA, purpose="training") == "fp32"
    with pytest.raises(ConfigError, match="not supported for training"):
        resolve_precision("fp16", CUDA, purpose="training")
    assert autocast_dtype("fp16") is torch.float16 and autocast_dtype("bf16") is torch.bfloat16 and autocast_dtype("fp32") is None


def test_explicit_precisions_are_checked() -> None:
    with pytest.raises(ConfigError, match="fp16.*is for CUDA"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ConfigError, match="'fp8' is not one of 'auto', 'fp32', 'bf16', 'fp16'"):
        resolve_precision("fp8", CPU)


def test_default_batch_is_larger_on_cuda() -> None:
    assert resolve_batch_size(None, CPU) == 32 and resolve_batch_size(None, CUDA) == 128 and resolve_batch_size(7, CUDA) == 7
    with pytest.raises(ConfigError, match="at least 1"):
        resolve_batch_size(0, CPU)


def test_cuda_copies_come_from_pinned_memory_without_blocking() -> None:
    batch = mock.MagicMock()
    to_device(batch, CUDA)
    batch.pin_memory.assert_called_once_with()
    batch.pin_memory.return_value.to.assert_called_once_with(CUDA, non_blocking=True)
    plain = mock.MagicMock()
    to_device(plain, CPU)
    plain.pin_memory.assert_not_called()


def test_no_device_given_picks_cuda_when_torch_sees_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device(None) == CPU or torch.cuda.is_available()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device(None) == CUDA and resolve_device("auto") == CUDA


@pytest.mark.parametrize("native", [True, False])
def test_extract_keys_features_by_the_resolved_precision(photo_dir: Path, monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    _cpu_bf16(monkeypatch, native)
    feats = dfi.extract(sorted(photo_dir.iterdir())[:2], backbone="resnet18", weights="random", layers="layer1", store=None, progress=False)
    assert feats.only().key.precision == ("bf16" if native else "fp32")  # never stored as "auto"


def test_gpu_check_script_refuses_to_pass_without_cuda() -> None:
    import os
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 2 and "sees no CUDA device" in done.stdout and "nothing was measured" in done.stdout


def test_full_n_view_shrinks_only_large_photos_keeping_aspect() -> None:
    import numpy as np

    from deepfeat_iqa.inputs.views import Geometry, parse_views

    view = parse_views("full512", Geometry((224, 224)))
    assert view.spec == "full512" and view.max_short_side() == 512
    assert view.crops(np.zeros((3000, 4000, 3), np.uint8))[0].shape == (512, 683, 3)
    assert view.crops(np.zeros((500, 480, 3), np.uint8))[0].shape == (500, 480, 3)  # never enlarged
    assert parse_views("full", Geometry((224, 224))).spec == "full"
    with pytest.raises(ConfigError, match="at least 32"):
        parse_views("full8", Geometry((224, 224)))


def test_grid_n_cuts_the_shrunk_photo_and_grid_alone_the_native_one() -> None:
    import numpy as np

    from deepfeat_iqa.inputs.views import Geometry, parse_views

    big = np.zeros((3000, 4000, 3), np.uint8)
    small = np.zeros((500, 500, 3), np.uint8)
    grid512, grid = parse_views("grid512", Geometry((224, 224))), parse_views("grid", Geometry((224, 224)))
    assert grid512.spec == "grid512" and grid.spec == "grid" and grid512.reduce
    assert len(grid512.crops(big)) == 3 * 5  # 512x683: rows at 0,112,224 and columns at 0..448
    assert len(grid.crops(big)) > 500
    assert [c.shape for c in grid512.crops(small)] == [c.shape for c in grid.crops(small)] == [(224, 224, 3)] * 9


@pytest.mark.parametrize(
    ("environ", "allowed"),
    [
        ({}, True),
        ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, False),
        ({"ONEDNN_MAX_CPU_ISA": "avx512_core"}, False),
        ({"DNNL_MAX_CPU_ISA": "AVX2"}, False),
        ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"}, True),
        ({"ONEDNN_MAX_CPU_ISA": "ALL"}, True),
    ],
)
def test_a_onednn_isa_cap_below_bf16_makes_bf16_emulated(environ: dict[str, str], allowed: bool) -> None:
    # Measured: with ONEDNN_MAX_CPU_ISA=AVX2 on the AMX machine bf16 ran 4.6x slower than fp32, so the cap
    # must count as "no native bf16" even though /proc/cpuinfo still lists amx_tile.
    assert precision_module._onednn_cap_allows_bf16(environ) is allowed


def test_a_capped_amx_machine_names_itself_in_speed_records(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfeat_iqa.runtime import machine

    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("Some Xeon", {"avx2", "avx512f", "avx512_bf16", "amx_tile"}))
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    _cpu_bf16(monkeypatch, False)
    record = machine.describe()
    assert record["kind"] == "AMX/AVX512-BF16 CPU capped to AVX2 (ONEDNN_MAX_CPU_ISA)"
    assert record["isa_caps"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert "capped to AVX2" in machine.one_line(record)


@pytest.mark.parametrize(
    ("model", "flags", "kind"),
    [
        ("Intel Xeon", {"avx2", "avx512f", "avx512_bf16", "amx_tile"}, "AMX/AVX512-BF16"),
        ("AMD EPYC", {"avx2", "avx512f", "avx512_bf16"}, "AVX512-BF16, no AMX"),  # Zen 4: seen on this project's machines
    ],
)
def test_speed_records_tell_amx_from_avx512_bf16_alone(monkeypatch: pytest.MonkeyPatch, model: str, flags: set[str], kind: str) -> None:
    from deepfeat_iqa.runtime import machine

    monkeypatch.setattr(machine, "_cpuinfo", lambda: (model, flags))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    _cpu_bf16(monkeypatch, True)
    assert machine.describe()["kind"] == kind


@pytest.mark.parametrize(
    ("precision", "device", "expected"),
    [
        ("fp32", CPU, torch.channels_last),  # oneDNN: 1.1-1.9x faster in fp32 too (docs/precision.md)
        ("bf16", CPU, torch.channels_last),
        ("fp32", CUDA, torch.contiguous_format),
        ("fp16", CUDA, torch.channels_last),
        ("bf16", CUDA, torch.channels_last),
    ],
)
def test_memory_format_is_channels_last_on_cpus_and_for_half_precision_on_gpus(precision: str, device: torch.device, expected: torch.memory_format) -> None:
    from deepfeat_iqa.runtime.precision import memory_format

    assert memory_format(precision, device) == expected


def test_features_do_not_depend_on_the_memory_layout_beyond_rounding(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from PIL import Image

    from deepfeat_iqa.runtime import precision as runtime_precision

    paths = []
    for i in range(3):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(((np.arange(64 * 80 * 3).reshape(64, 80, 3) * (i + 3)) % 251).astype("uint8")).save(path)
        paths.append(path)
    options = dict(backbone="resnet18", weights="random", layers=["layer2", "layer4"], views="full", precision="fp32", store=None, progress=False)
    channels_last = dfi.extract(paths, **options)
    monkeypatch.setattr(runtime_precision, "memory_format", lambda precision, device: torch.contiguous_format)
    from deepfeat_iqa.extraction import _forward

    monkeypatch.setattr(_forward, "memory_format", lambda precision, device: torch.contiguous_format)
    nchw = dfi.extract(paths, **options)
    for layer in ("layer2", "layer4"):
        np.testing.assert_allclose(channels_last[layer].X, nchw[layer].X, rtol=1e-4, atol=1e-5)
