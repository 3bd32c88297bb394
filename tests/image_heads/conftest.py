"""Tiny labeled image sets for the image-head tests: random textures blurred by level, grouped by texture."""

from __future__ import annotations

import pytest

from deepfeat_iqa.datasets import Dataset
from helpers.image_sets import FAST, TINY, make_images  # noqa: F401 - re-exported for `from .conftest import FAST`


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return make_images(tmp_path_factory.mktemp("blur"))
