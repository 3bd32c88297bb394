"""Where a backbone's ImageNet weights live online, whether a copy is cached locally, and a fast offline check."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from deepfeat_iqa.errors import WeightsError
from deepfeat_iqa.backbones._config import BackboneConfig

HF_HOST = "huggingface.co"
#: Seconds allowed for each of the DNS lookup and the TCP connect of the reachability probe.
PROBE_TIMEOUT_S = 3.0
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HubLocation:
    """One backbone's pretrained weights on the hub.

    Attributes
    ----------
    location:
        Human-readable origin: a Hugging Face repo id (``"timm/resnet50.a1_in1k"``) or a URL.
    host:
        Host name that must be reachable to download them.
    cached:
        Local copy already downloaded (Hugging Face or torch hub cache), or ``None``.
    """

    location: str
    host: str
    cached: Path | None


def hub_location(config: BackboneConfig) -> HubLocation:
    """Where ``config``'s ImageNet weights come from, and the cached copy if one exists.

    Raises
    ------
    WeightsError
        When the architecture has no published ImageNet weights.
    """
    if config.source == "torchvision":
        from torchvision.models import get_model_weights

        url = get_model_weights(config.arch).DEFAULT.url
        return HubLocation(url, urlparse(url).hostname or "", _torch_hub_cached(url))
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(config.arch)
    if cfg is not None and cfg.hf_hub_id:
        names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
        return HubLocation(cfg.hf_hub_id, HF_HOST, _hf_cached(cfg.hf_hub_id, names))
    if cfg is not None and cfg.url:
        return HubLocation(cfg.url, urlparse(cfg.url).hostname or "", _torch_hub_cached(cfg.url))
    raise WeightsError(
        f"timm publishes no ImageNet weights for {config.arch!r} (backbone {config.name!r}). "
        "Pass weights=PATH to a state dict, or weights='random' for an untrained network."
    )


def _hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (huggingface_hub reads it once at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    default_home = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "huggingface"
    return Path(os.environ.get("HF_HOME", default_home)).expanduser() / "hub"


def _hf_cached(repo_id: str, filenames: list[str]) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=_hf_cache_dir())
        if isinstance(found, str):
            return Path(found)
    return None


def _torch_hub_cached(url: str) -> Path | None:
    import torch

    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    return path if path.is_file() else None


def offline_reason(host: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why ``host`` cannot be downloaded from right now, or ``None`` when it answers.

    Honors ``HF_HUB_OFFLINE`` (the user declared no network), then resolves the name and opens a TCP
    connection to port 443, each bounded by ``timeout`` seconds, so an offline machine learns it in
    seconds instead of after a minute of download retries.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return "HF_HUB_OFFLINE is set"
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            address = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)[0][4]
            with socket.create_connection(address[:2], timeout=timeout):
                outcome.append(None)
        except OSError as error:
            outcome.append(f"{host} is unreachable ({error})")

    # getaddrinfo has no timeout of its own, so the probe runs in a daemon thread that is abandoned if slow.
    thread = threading.Thread(target=probe, daemon=True, name=f"deepfeat-iqa-probe-{host}")
    thread.start()
    thread.join(2 * timeout)
    return outcome[0] if outcome else f"{host} did not answer within {2 * timeout:.0f} s"
