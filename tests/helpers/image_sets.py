"""The image-head tests' tiny labeled image sets (random textures blurred by level) and fast engine options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from deepfeat_iqa.datasets import Dataset, Scale

#: A timm test network (a few thousand parameters): random weights, fast at 32-48 px.
TINY = "test_efficientnet"
#: Engine options that keep a fit to a second or two on two cores.
FAST = {"backbone": TINY, "weights": "random", "batch_size": 4, "crop_size": 32, "test_views": "center",
        "val_views": "center", "num_workers": 0, "progress": False, "precision": "fp32"}


def make_images(root: Path, n_groups: int = 8, levels: int = 3, size: tuple[int, int] = (40, 48), seed: int = 0) -> Dataset:
    """``n_groups`` random textures at ``levels`` blur levels; MOS falls with blur."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids, paths, mos, groups = [], [], [], []
    for g in range(n_groups):
        base = (rng.random((*size, 3)) * 255).astype(np.uint8)
        for level in range(levels):
            path = root / f"g{g:02d}_l{level}.png"
            Image.fromarray(base).filter(ImageFilter.GaussianBlur(level * 1.5)).save(path)
            ids.append(path.name)
            paths.append(path)
            mos.append(90.0 - 30.0 * level + rng.normal())
            groups.append(f"g{g}")
    return Dataset(ids=ids, paths=paths, mos=np.asarray(mos), scale=Scale(0, 100), groups=np.asarray(groups), name="blur")
