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
