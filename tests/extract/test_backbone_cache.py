"""Built backbones are kept across calls within a byte budget, so a combination's members are not rebuilt."""

from __future__ import annotations

import pytest
import torch

from deepfeat_iqa.extraction import _block

CPU = torch.device("cpu")


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_block, "_BACKBONE_CACHE", type(_block._BACKBONE_CACHE)())
    return _block._BACKBONE_CACHE


def test_members_taking_turns_are_built_once_each(empty_cache) -> None:
    before = _block.backbone_builds()
    for _ in range(3):  # as dfi.score extracts member after member, call after call
        for seed in (0, 1):
            _block.load_backbone("resnet18", "random", seed, CPU)
    assert _block.backbone_builds() - before == 2
    assert len(empty_cache) == 2


def test_the_byte_budget_evicts_the_least_recently_used_but_never_the_one_in_use(empty_cache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_block, "_BACKBONE_CACHE_BYTES", 1)  # smaller than any network
    first = _block.load_backbone("resnet18", "random", 0, CPU)
    second = _block.load_backbone("resnet18", "random", 1, CPU)
    assert list(empty_cache.values()) == [second]
    assert _block.load_backbone("resnet18", "random", 1, CPU) is second
    assert _block.load_backbone("resnet18", "random", 0, CPU) is not first  # evicted, rebuilt


@pytest.mark.parametrize(("cores", "device", "expected"), [(2, "cpu", 0), (1, "cpu", 0), (4, "cpu", 3), (16, "cpu", 8), (2, "cuda", 1)])
def test_extraction_decodes_in_process_on_two_cores(monkeypatch: pytest.MonkeyPatch, cores: int, device: str, expected: int) -> None:
    """On a CPU of two cores the forward already uses both: a decoding worker only adds its pipe (docs/extraction.md)."""
    from deepfeat_iqa.extraction import _loader

    monkeypatch.setattr(_loader, "usable_cores", lambda: cores)
    assert _loader.extraction_workers(torch.device(device)) == expected


def test_layer_widths_are_probed_once_per_model_and_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every extract call that creates arrays needs the layer widths; the probe forward runs once per model."""
    from deepfeat_iqa.extraction import _plan
    from deepfeat_iqa.extraction.pooling import parse_pooling

    import copy

    model = copy.deepcopy(_block.load_backbone("resnet18", "random", 0, CPU).model)  # a model no test probed yet
    forwards = []
    real = _plan.pooled_features
    monkeypatch.setattr(_plan, "pooled_features", lambda *a, **k: forwards.append(1) or real(*a, **k))
    first = _plan.probe_dims(model, (3, 64, 64), ["layer3"], parse_pooling("avg"), "fp32", CPU)
    first["layer3"] = -1  # the caller's copy, not the memo
    again = _plan.probe_dims(model, (3, 64, 64), ["layer3"], parse_pooling("avg"), "fp32", CPU)
    doubled = _plan.probe_dims(model, (3, 64, 64), ["layer3"], parse_pooling("avg+std"), "fp32", CPU)
    assert again == {"layer3": 256} and doubled == {"layer3": 512}
    assert len(forwards) == 2
