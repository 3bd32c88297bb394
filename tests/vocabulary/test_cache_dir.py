"""Where default outputs go: ``$DEEPFEAT_IQA_CACHE`` first, then the platform's user cache (issue 21)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deepfeat_iqa.paths import cache_dir

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CACHE_HOME is the Linux rule")


@pytest.fixture(params=["platformdirs", "fallback"])
def rule(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each check with platformdirs and with the written-out rule used where it is not installed."""
    if request.param == "platformdirs":
        pytest.importorskip("platformdirs")
    else:
        monkeypatch.setitem(sys.modules, "platformdirs", None)  # `import platformdirs` raises ImportError
    return request.param


def test_the_environment_variable_comes_first(rule: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"


@linux_only
def test_xdg_cache_home_is_honoured(rule: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPFEAT_IQA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "deepfeat-iqa"


@linux_only
def test_without_xdg_cache_home_it_is_under_the_home_folder(rule: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPFEAT_IQA_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "deepfeat-iqa"


@linux_only
def test_the_pixel_cache_follows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfeat_iqa.training._pixels import open_pixel_cache

    monkeypatch.delenv("DEEPFEAT_IQA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert open_pixel_cache().root == tmp_path / "xdg" / "deepfeat-iqa" / "pixels"
