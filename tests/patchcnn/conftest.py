"""A tiny labeled image set for the patch CNNs: crops of shipped photos, blurred to known degrees."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from deepfeat_iqa.datasets import Dataset, Scale

SIDE = 96
BLURS = (0.0, 1.0, 2.0, 3.5)


@pytest.fixture(scope="session")
def blur_set(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Dataset:
    """5 photos x 4 blur levels at 96 x 96 px; MOS falls with blur; groups are the photos."""
    folder = tmp_path_factory.mktemp("blur_set")
    ids, paths, mos, groups = [], [], [], []
    for name, array in photos.items():
        image = Image.fromarray(array[..., :3]).convert("RGB")
        image.thumbnail((2 * SIDE, 2 * SIDE))
        image = image.crop((0, 0, SIDE, SIDE))
        for level, radius in enumerate(BLURS):
            path = folder / f"{name}_{level}.png"
            image.filter(ImageFilter.GaussianBlur(radius)).save(path)
            ids.append(path.name)
            paths.append(path)
            mos.append(80.0 - 20.0 * level)
            groups.append(name)
    return Dataset(ids=ids, paths=paths, mos=np.array(mos), scale=Scale(0, 100), groups=np.array(groups), name="blur")
