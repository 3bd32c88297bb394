"""``PixelCache``: decoded training images kept on disk, so each photo is decoded once, not once per epoch.

Training reads every image once per epoch, and evaluation fits one network per split: a 30-epoch,
5-split run decodes each photo 150 times. Decoding is the engine's largest cost outside the network
(8.6 ms for a 768 x 512 PNG, about a fifth of EfficientNet-Lite0's per-image training step on two
cores), and on a machine with no spare core it comes straight out of training throughput. The feature
store's rule, "nothing is computed twice", applies to pixels too.

Each entry is the upright RGB ``uint8`` array (after the optional short-side resize) saved as a
``.npy`` file named by the file's content hash and the resize that made it, read back memory-mapped:
a crop touches only its own rows, and the operating system's page cache keeps hot images in memory
shared by every DataLoader worker, fit and process. Entries are written to a temporary name and
renamed into place, so two workers racing on one image, or a run killed mid-write, never leave a
partial entry. A damaged entry is decoded again and replaced. When the cache holds ``budget`` bytes it
stops growing and later images are decoded each time (correct, only slower): a cache must never fill
the disk.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.paths import cache_dir

logger = logging.getLogger(__name__)

#: The cache folder (or ``off``), and its budget in GiB (0 turns the cache off).
FOLDER_ENV = "DEEPFEAT_IQA_PIXEL_CACHE"
BUDGET_ENV = "DEEPFEAT_IQA_PIXEL_CACHE_GB"
DEFAULT_BUDGET_GB = 20.0


class PixelCache:
    """Decoded images on disk under ``root``, at most ``budget`` bytes in all.

    Parameters
    ----------
    root:
        The cache folder (created on first write).
    budget:
        Bytes the cache may hold; entries beyond it are not written. The size is counted once when
        the cache is opened (per process) and grown by this process's own writes, so several workers
        together may overshoot by what they write between openings, never by more.
    """

    def __init__(self, root: str | Path, budget: int):
        self.root, self.budget = Path(root), int(budget)
        self._used: int | None = None

    def __getstate__(self) -> dict:
        return {"root": self.root, "budget": self.budget, "_used": None}  # each worker counts afresh

    def image(self, key: str, decode: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for ``key`` (read-only, memory-mapped), or ``decode()``'s result, stored if it fits."""
        path = self.root / f"{key}.npy"
        try:
            cached = np.load(path, mmap_mode="r")
        except FileNotFoundError:
            cached = None
        except (OSError, ValueError) as error:  # truncated or foreign file: decode again and replace it
            logger.warning("Pixel cache entry %s is unreadable (%s); decoding the image again.", path, error)
            cached = None
        if cached is not None and cached.dtype == np.uint8 and cached.ndim == 3 and cached.shape[2] == 3:
            return cached
        image = np.ascontiguousarray(decode())
        self._store(path, image)
        return image

    def holds(self, key: str) -> bool:
        """Whether an entry for ``key`` exists (without reading it)."""
        return (self.root / f"{key}.npy").is_file()

    def _store(self, path: Path, image: np.ndarray) -> None:
        if self._used is None:
            self._used = self.size()
        if self._used + image.nbytes > self.budget:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, image, allow_pickle=False)
            os.replace(temporary, path)
        except OSError as error:  # a full or read-only disk slows training down; it must not stop it
            Path(temporary).unlink(missing_ok=True)
            logger.warning("Could not write pixel cache entry %s (%s); continuing without it.", path, error)
            return
        self._used += image.nbytes

    def size(self) -> int:
        """Bytes held by finished entries."""
        if not self.root.is_dir():
            return 0
        return sum(entry.stat().st_size for entry in os.scandir(self.root) if entry.name.endswith(".npy")
                   and not entry.name.startswith(".tmp-"))  # fmt: skip


def open_pixel_cache() -> PixelCache | None:
    """The cache the environment names; ``None`` when it is turned off.

    ``$DEEPFEAT_IQA_PIXEL_CACHE``: a folder, ``off``, or unset for ``<cache_dir>/pixels`` (see
    :func:`deepfeat_iqa.cache_dir`); ``$DEEPFEAT_IQA_PIXEL_CACHE_GB``: the budget (default 20, 0 = off).
    A process-wide setting, like a download cache: it changes how fast training runs, never its result.
    """
    folder = os.environ.get(FOLDER_ENV, "").strip()
    raw = os.environ.get(BUDGET_ENV, str(DEFAULT_BUDGET_GB))
    try:
        gigabytes = float(raw)
    except ValueError as error:
        raise ConfigError(f"${BUDGET_ENV}={raw!r} is not a number of gigabytes (e.g. 20, or 0 to turn the cache off).") from error
    if gigabytes <= 0 or folder.lower() == "off":
        return None
    root = Path(folder).expanduser() if folder else cache_dir() / "pixels"
    return PixelCache(root, int(gigabytes * 2**30))
