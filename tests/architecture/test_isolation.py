"""The suite's isolation from the machine: each test's own caches and working directory, and the guard that
fails the session when a test writes into the repository root or the user's cache (issue 22 part 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepfeat_iqa.paths import cache_dir
from helpers import REPO_ROOT, TESTS
from helpers.isolation import GUARD_ENV, guarded_folders


def test_each_test_runs_in_its_own_folder_with_its_own_caches(tmp_path: Path, isolated_environment: Path) -> None:
    assert Path.cwd() == tmp_path
    home = Path.home().resolve()
    for variable in ("DEEPFEAT_IQA_CACHE", "HF_HOME", "TORCH_HOME", "XDG_CACHE_HOME"):
        folder = Path(os.environ[variable]).resolve()
        assert folder.is_relative_to(isolated_environment) and not folder.is_relative_to(home), variable
    assert cache_dir().is_relative_to(isolated_environment)
    assert "DEEPFEAT_IQA_PIXEL_CACHE" not in os.environ  # the pixel cache follows cache_dir()


def test_the_guard_watches_the_repository_root_and_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GUARD_ENV, raising=False)
    assert guarded_folders() == [REPO_ROOT, Path.home() / ".cache" / "deepfeat-iqa"]


_INNER = '''
from pathlib import Path

def test_writes():
    Path({target!r}, "left-behind.csv").write_text("id,score\\n")
'''


@pytest.mark.parametrize("writes", [True, False])
def test_the_guard_fails_a_session_that_wrote_into_a_watched_folder(tmp_path: Path, writes: bool) -> None:
    """A real pytest session with the guard loaded: writing into a watched folder makes it fail, naming the file."""
    watched, inner = tmp_path / "watched", tmp_path / "inner"
    watched.mkdir(), inner.mkdir()
    target = watched if writes else tmp_path
    (inner / "test_inner.py").write_text(_INNER.format(target=str(target)))
    env = {**os.environ, GUARD_ENV: str(watched), "PYTHONPATH": str(TESTS)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "helpers.isolation",
                          "--rootdir", str(inner), "test_inner.py"], cwd=inner, env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    if writes:
        assert run.returncode != 0, run.stdout
        assert "tests wrote outside their temporary folders" in run.stdout
        assert str(watched / "left-behind.csv") in run.stdout
    else:
        assert run.returncode == 0, run.stdout + run.stderr
