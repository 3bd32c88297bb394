"""Keep the machine out of the tests: a private environment per test, and a check that nothing lands outside it.

``isolated_environment`` (autouse in ``tests/conftest.py``) gives each test its own cache folders and working
directory; ``guard_outside_writes`` (session-scoped, autouse) snapshots the places a test must never write to
and fails the session when new entries appeared there. Both are imported into ``tests/conftest.py``; the guard
is also usable as a plugin (``-p helpers.isolation``), which is how ``tests/vocabulary/test_isolation.py`` checks
that it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import REPO_ROOT

#: Variables the library reads; a value from the user's shell would change what a test does.
LIBRARY_VARIABLES = ("DEEPFEAT_IQA_PIXEL_CACHE", "DEEPFEAT_IQA_PIXEL_CACHE_GB", "DEEPFEAT_IQA_HEAD_THREADS",
                     "DEEPFEAT_IQA_MAX_PIXELS", "DEEPFEAT_IQA_PRISTINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                     "HF_HUB_OFFLINE", "TRANSFORMERS_CACHE")  # fmt: skip
#: Environment variable: ``os.pathsep``-separated folders the guard watches instead of the defaults (its own test).
GUARD_ENV = "DFI_TEST_GUARDED"
#: Top-level names in the repository root that tools (not tests) create.
TOOL_LITTER = {".pytest_cache", "__pycache__", ".hypothesis", ".coverage", ".ruff_cache", ".mypy_cache"}
#: How deep the guard lists a watched folder (a feature store's new array is 3 levels down).
DEPTH = 3


def guarded_folders() -> list[Path]:
    """The repository root and the user's deepfeat-iqa cache, or the folders ``$DFI_TEST_GUARDED`` names."""
    named = os.environ.get(GUARD_ENV)
    if named:
        return [Path(p) for p in named.split(os.pathsep) if p]
    return [REPO_ROOT, Path.home() / ".cache" / "deepfeat-iqa"]


def snapshot(folder: Path, depth: int = DEPTH) -> set[str]:
    """Relative paths of every entry down to ``depth`` levels (an absent folder: the empty set)."""
    found: set[str] = set()
    if not folder.is_dir():
        return found
    skip = TOOL_LITTER if folder == REPO_ROOT else set()
    for top, dirs, files in os.walk(folder):
        rel = Path(top).relative_to(folder)
        level = len(rel.parts)
        if level == 0:
            dirs[:] = [d for d in dirs if d not in skip and d != ".git"]
            files = [f for f in files if f not in skip]
        found.update(str(rel / name) for name in (*dirs, *files))
        if level + 1 >= depth:
            dirs[:] = []
    return found


def new_entries(before: dict[Path, set[str]]) -> list[str]:
    """Entries under the watched folders that were not there in ``before``."""
    return sorted(str(folder / rel) for folder, names in before.items() for rel in snapshot(folder) - names)


@pytest.fixture(scope="session", autouse=True)
def guard_outside_writes() -> Iterator[None]:
    """Fail the session when a test created files in the repository root or in ``~/.cache/deepfeat-iqa``.

    Tests get their own cache and working directory (``isolated_environment``); a new entry in these folders
    means a test (or the code under test) ignored them, as the ``scores.csv`` left in the repository root by
    ``deepfeat-iqa score`` once did (issue 21). The failure is an error at teardown of the last test, which
    makes pytest's exit status non-zero, naming the new paths.
    """
    before = {folder: snapshot(folder) for folder in guarded_folders()}
    yield
    created = new_entries(before)
    if created:
        pytest.fail("tests wrote outside their temporary folders: " + ", ".join(created), pytrace=False)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own working directory with its own caches; the environment is restored after it.

    ``DEEPFEAT_IQA_CACHE`` (feature store, demo, pixel cache), ``HF_HOME``, ``TORCH_HOME`` and
    ``XDG_CACHE_HOME`` point into a fresh folder under pytest's temporary root (which pytest rotates; no
    ``mkdtemp`` left behind), library variables from the user's shell are removed, and the working directory
    is the test's own ``tmp_path``, so a relative path never finds a file the machine happened to have.
    Returns the folder that holds the caches.
    """
    root = tmp_path_factory.mktemp("env", numbered=True)
    for name in LIBRARY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for variable, sub in (("DEEPFEAT_IQA_CACHE", "deepfeat-iqa"), ("HF_HOME", "huggingface"), ("TORCH_HOME", "torch"),
                          ("XDG_CACHE_HOME", "xdg-cache")):  # fmt: skip
        monkeypatch.setenv(variable, str(root / "home" / sub))
    # CLI errors are drawn by rich at the terminal width; a wide fixed width keeps file names unwrapped.
    monkeypatch.setenv("COLUMNS", "240")
    monkeypatch.chdir(tmp_path)
    return root / "home"
