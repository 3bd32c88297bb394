"""The pristine colour photos installed packages ship, written once as PNG: :func:`reference_photos`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from deepfeat_iqa.errors import DataError

logger = logging.getLogger(__name__)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        image = getattr(data, name)()
        return image[0] if name == "stereo_motorcycle" else image  # (left, right, disparity)

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


#: Natural colour photographs bundled inside scikit-image and scikit-learn (no download needed).
#: Microscopy, astronomy and synthetic test images are left out: they are not the photos an IQA
#: model is meant for.
SHIPPED_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "motorcycle": _skimage("stereo_motorcycle"),
    "china": _sklearn(0),
    "flower": _sklearn(1),
}


def reference_photos(cache_dir: str | Path) -> list[Path]:
    """Write the seven shipped colour photos as ``<name>.png`` into ``cache_dir`` (once); return their paths.

    They let the demo and the tests build a distorted set with no data download. The PNGs keep the
    packages' full resolution; :func:`~deepfeat_iqa.synth.build` downscales them itself.

    Examples
    --------
    >>> import tempfile
    >>> paths = reference_photos(tempfile.mkdtemp())
    >>> [p.stem for p in paths]
    ['astronaut', 'chelsea', 'coffee', 'rocket', 'motorcycle', 'china', 'flower']
    """
    cache_dir = Path(cache_dir).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, load in SHIPPED_PHOTOS.items():
        path = cache_dir / f"{name}.png"
        if not path.is_file():
            try:
                image = np.asarray(load())[..., :3]
            except (ImportError, OSError) as error:
                raise DataError(
                    f"Cannot load the shipped photo {name!r} ({error}); install scikit-image and scikit-learn, "
                    "or pass your own folder of photos as references."
                ) from error
            partial = path.with_name(path.name + ".part")
            Image.fromarray(image.astype(np.uint8)).save(partial, format="PNG")
            partial.replace(path)
            logger.info("Wrote reference photo %s", path)
        paths.append(path)
    return paths
