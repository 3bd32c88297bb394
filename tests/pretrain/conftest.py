"""A tiny synthetic pretraining set and a disjoint target set (dfi.synth), on a tiny random-init trunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfeat_iqa import synth

TRUNK = "test_efficientnet"  # timm's test network: 0.36 M parameters, random weights
SIDE = 72


def _refs(folder: Path, photos: dict[str, np.ndarray], names: tuple[str, ...]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        image = Image.fromarray(photos[name][..., :3])
        image.thumbnail((SIDE, SIDE))
        paths.append(folder / f"{name}.png")
        image.save(paths[-1])
    return paths


@pytest.fixture(scope="session")
def pretrain_set(tmp_path_factory, photos):
    """2 references x 4 synthetic type-level classes, with pseudo-MOS and distortion labels."""
    root = tmp_path_factory.mktemp("pretrain")
    refs = _refs(root / "refs", photos, ("astronaut", "chelsea"))
    return synth.build(refs, root / "syn", kind="synthetic", per_image=4, max_side=SIDE, progress=False)


@pytest.fixture(scope="session")
def target_set(tmp_path_factory, photos):
    """3 other references x 3 authentic-like mixtures: the target database."""
    root = tmp_path_factory.mktemp("target")
    refs = _refs(root / "refs", photos, ("coffee", "rocket", "motorcycle"))
    return synth.build(refs, root / "auth", kind="authentic", per_image=3, max_side=SIDE, progress=False)
