"""Fixtures shared by every test area: small real photos, written as files in a temp folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.isolation import guard_outside_writes, isolated_environment  # noqa: F401 - autouse fixtures

#: Hypothesis profiles: ``ci`` (the default) derandomizes, so a run draws the same examples on every machine
#: and a failure reproduces from the test id alone; ``explore`` draws new examples each run (set
#: ``HYPOTHESIS_PROFILE=explore``). Both print the ``@reproduce_failure`` blob of a failing example.
HYPOTHESIS_PROFILES = {"ci": {"derandomize": True, "print_blob": True, "database": None},
                       "explore": {"print_blob": True}}  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    """Process-wide settings, undone in ``pytest_unconfigure`` (nothing is changed at import time).

    ``OMP_NUM_THREADS=1`` (unless set) keeps each test process, and the subprocesses tests start, to one
    intra-op thread so ``pytest -n 2`` does not oversubscribe 2 cores; it must be set before torch is imported,
    which collection does, hence here rather than in a fixture.
    """
    patch = pytest.MonkeyPatch()
    if "OMP_NUM_THREADS" not in os.environ:
        patch.setenv("OMP_NUM_THREADS", "1")
    # Module- and session-scoped fixtures run outside ``isolated_environment`` (a fine-tune fixture once filled
    # ~/.cache/deepfeat-iqa/pixels): the whole session gets throw-away caches too, removed in pytest_unconfigure.
    session_home = Path(tempfile.mkdtemp(prefix="dfi-test-session-"))
    for variable, sub in (("DEEPFEAT_IQA_CACHE", "deepfeat-iqa"), ("HF_HOME", "huggingface"), ("TORCH_HOME", "torch"),
                          ("XDG_CACHE_HOME", "xdg-cache")):  # fmt: skip
        patch.setenv(variable, str(session_home / sub))
    config.stash[_SESSION_HOME] = session_home
    config.stash[_ENV_PATCH] = patch
    try:
        from hypothesis import settings
    except ImportError:
        return
    for name, options in HYPOTHESIS_PROFILES.items():
        settings.register_profile(name, **options)
    if not config.getoption("hypothesis_profile", None):  # an explicit --hypothesis-profile wins
        settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_unconfigure(config: pytest.Config) -> None:
    patch = config.stash.get(_ENV_PATCH, None)
    if patch is not None:
        patch.undo()
    session_home = config.stash.get(_SESSION_HOME, None)
    if session_home is not None:
        shutil.rmtree(session_home, ignore_errors=True)


_ENV_PATCH = pytest.StashKey[pytest.MonkeyPatch]()
_SESSION_HOME = pytest.StashKey[Path]()

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


@pytest.fixture()
def one_thread() -> None:
    """Run torch on one thread, so feature values from separate runs and processes are bit-identical."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def shared_pristine() -> Path:
    """The shared pristine reference photos; tests using them skip when ../shared/data is absent."""
    folder = SHARED_DATA / "pristine"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    return folder
