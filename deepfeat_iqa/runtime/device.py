"""The device a computation runs on: the one reading of ``device=``, the batch size it implies, host-to-device copies.

One default everywhere (``None``: CUDA when torch sees a GPU, else the CPU; ``"auto"`` is the same), and
one short error when a GPU is asked for but absent, saying what torch did find, so the CLI can print it
as a single line instead of a CUDA-initialization traceback.
"""

from __future__ import annotations

import torch

from deepfeat_iqa.errors import ConfigError

#: Images per extraction batch when ``batch_size=None``: on CUDA the forward pass is cheap next to the
#: copy and the Python overhead per batch, so batches are larger there.
DEFAULT_BATCH = {"cpu": 32, "cuda": 128}
#: Spellings of "CUDA when available, else CPU".
AUTO = (None, "auto")


def resolve_device(device: str | torch.device | None, *, option: str = "device") -> torch.device:
    """The torch device for ``device`` (``None``/``"auto"``: CUDA when available, else CPU).

    Parameters
    ----------
    device:
        ``None``, ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a :class:`torch.device`.
    option:
        How the caller spells the option in its error message (``"device"``, or ``"--device"`` in the CLI).

    Raises
    ------
    ConfigError
        For a string torch does not read as a device, or a CUDA device on a machine without one.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{_spell(option, device)} is not a torch device; use cpu, cuda, cuda:N or auto.") from None
    if resolved.type == "cuda":
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if found == 0:
            build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
            raise ConfigError(
                f"{_spell(option, device)} asks for a GPU, but torch {torch.__version__} ({build}) finds no CUDA "
                f"device here; use cpu (or leave the option out to use a GPU only when there is one)."
            )
        if resolved.index is not None and resolved.index >= found:
            raise ConfigError(f"{_spell(option, device)}: torch finds {found} CUDA device(s) (cuda:0..cuda:{found - 1}).")
    return resolved


def _spell(option: str, value: object) -> str:
    return f"{option} {value}" if option.startswith("--") else f"{option}={str(value)!r}"


def resolve_batch_size(batch_size: int | None, device: torch.device) -> int:
    """``None``: :data:`DEFAULT_BATCH` for the device type (32 on the CPU, 128 on CUDA)."""
    if batch_size is None:
        return DEFAULT_BATCH.get(device.type, DEFAULT_BATCH["cpu"])
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}.")
    return int(batch_size)


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a host batch to ``device``: from pinned memory and without blocking when it is a GPU."""
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)
