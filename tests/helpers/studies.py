"""The studies tests' tiny labeled image set (a few photos under graded blur) and fast random-init backbone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from deepfeat_iqa.datasets import Dataset, Scale

#: A small timm network with a stage list; random weights, so nothing is downloaded.
TINY_MODEL = "resnet10t"


def make_dataset(folder: Path, photos: dict[str, np.ndarray], *, name: str = "tiny", levels: int = 4, size: int = 64,
                 dmos: bool = False, constant: bool = False) -> Dataset:  # fmt: skip
    """``len(photos) x levels`` images: each photo blurred more per level, scored by the level (plus jitter)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(name))
    ids, mos, groups = [], [], []
    for photo_name, array in photos.items():
        image = Image.fromarray(array[..., :3])
        image.thumbnail((size, size))
        for level in range(levels):
            file = f"{photo_name}_{level}.png"
            image.filter(ImageFilter.GaussianBlur(radius=1.5 * level)).save(folder / file)
            ids.append(file)
            mos.append(80.0 - 15 * level + rng.normal(scale=2.0))
            groups.append(photo_name)
    scores = np.full(len(ids), 50.0) if constant else np.asarray(mos)
    if dmos:
        scores = 100 - scores
    scale = Scale(0, 100, not dmos, "DMOS" if dmos else "MOS")
    return Dataset(ids=ids, paths=[folder / i for i in ids], mos=scores, scale=scale, groups=groups, name=name)
