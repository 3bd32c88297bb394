"""Study fixtures: a tiny labeled image set (a few photos under graded blur); the builders live in helpers.studies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfeat_iqa.datasets import Dataset
from helpers.studies import make_dataset


@pytest.fixture()
def tiny(tmp_path: Path, photos: dict[str, np.ndarray]) -> Dataset:
    return make_dataset(tmp_path / "tiny", photos)
