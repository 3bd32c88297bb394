"""Fixtures shared by every test area: small real photos, written as files in a temp folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Keep each test process to one intra-op thread so `pytest -n 2` does not oversubscribe 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# CLI errors are drawn by rich at the terminal width; a wide fixed width keeps file names unwrapped in assertions.
os.environ["COLUMNS"] = "240"
# Training's decoded-pixel cache goes to a throw-away folder, never the user's ~/.cache.
os.environ.setdefault("DEEPFEAT_IQA_PIXEL_CACHE", tempfile.mkdtemp(prefix="dfi-test-pixels-"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _skimage_photos() -> dict[str, np.ndarray]:
    from skimage import data

    photos = {name: getattr(data, name)() for name in ("astronaut", "chelsea", "coffee", "rocket")}
    photos["motorcycle"] = data.stereo_motorcycle()[0]  # (left, right, disparity): the left view
    return photos


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """A few natural RGB photos that scikit-image ships (uint8 HxWx3)."""
    return _skimage_photos()


@pytest.fixture()
def photo_dir(tmp_path: Path, photos: dict[str, np.ndarray]) -> Path:
    """A folder of 5 JPEGs, downscaled to at most 256 px so tests stay fast."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, array in photos.items():
        image = Image.fromarray(array[..., :3])
        image.thumbnail((256, 256))
        image.save(folder / f"{name}.jpg", quality=92)
    return folder


@pytest.fixture(scope="session")
def shared_pristine() -> Path:
    """The shared pristine reference photos; tests using them skip when ../shared/data is absent."""
    folder = SHARED_DATA / "pristine"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    return folder
