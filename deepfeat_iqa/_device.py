"""``resolve_device``: the one reading of ``device=`` that extraction and every torch head share.

One default everywhere (``None``: CUDA when torch sees a GPU, else the CPU; ``"auto"`` is the same), and
one short error when a GPU is asked for but absent, saying what torch did find, so the CLI can print it
as a single line instead of a CUDA-initialization traceback.
"""

from __future__ import annotations

import torch

from .errors import ConfigError

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
