"""Small reference photos and one small synthetic build, shared by the synth tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfeat_iqa import synth
from deepfeat_iqa.datasets import Dataset

SIDE = 160
NAMES = ("astronaut", "chelsea", "coffee")


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The seven photos scikit-image / scikit-learn ship, as full-size PNGs."""
    return synth.reference_photos(tmp_path_factory.mktemp("shipped"))


@pytest.fixture(scope="session")
def small_refs(shipped: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three of them downscaled to 160 px, so a full 39-class build takes seconds."""
    folder = tmp_path_factory.mktemp("refs")
    paths = []
    for path in shipped:
        if path.stem in NAMES:
            image = Image.open(path).convert("RGB")
            image.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
            image.save(folder / path.name)
            paths.append(folder / path.name)
    return paths


@pytest.fixture(scope="session")
def small_photos(small_refs: list[Path]) -> dict[str, np.ndarray]:
    """The three small references as uint8 RGB arrays."""
    return {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in small_refs}


@pytest.fixture(scope="session")
def synthetic_build(small_refs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    """All 39 synthetic classes of the three small photos (117 images)."""
    out = tmp_path_factory.mktemp("synthetic")
    return out, synth.build(small_refs[0].parent, out, kind="synthetic", seed=3, max_side=SIDE, progress=False)
