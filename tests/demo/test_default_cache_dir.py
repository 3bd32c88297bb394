"""``demo.default_cache_dir``: where the demo keeps references, distorted sets and its report when not told.

Untested before issue 22: a demo that wrote into the working directory, or ignored ``$DEEPFEAT_IQA_CACHE``,
passed every test, since each demo test passes ``cache_dir=`` explicitly.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from deepfeat_iqa import demo


class _Stop(Exception):
    """Raised by the stubbed ``synth.build``: the demo is stopped once it has said where it builds."""


def test_the_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert demo.default_cache_dir() == tmp_path / "mine"
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", "~/dfi")  # a user-typed ~ is expanded, not a folder named "~"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demo.default_cache_dir() == tmp_path / "home" / "dfi"


def test_without_the_variable_it_is_platformdirs_user_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked of platformdirs by the app name and without an author folder (on Windows an author folder would add
    ``deepfeat-iqa\\deepfeat-iqa``); a stub module records the call, so this holds on every platform."""
    calls = []

    def user_cache_dir(appname: str, appauthor: object = None) -> str:
        calls.append((appname, appauthor))
        return str(tmp_path / "platform-cache" / appname)

    monkeypatch.setitem(sys.modules, "platformdirs", types.SimpleNamespace(user_cache_dir=user_cache_dir))
    monkeypatch.delenv("DEEPFEAT_IQA_CACHE", raising=False)
    assert demo.default_cache_dir() == tmp_path / "platform-cache" / "deepfeat-iqa"
    assert calls == [("deepfeat-iqa", False)]
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", "")  # set but empty counts as unset
    assert demo.default_cache_dir() == tmp_path / "platform-cache" / "deepfeat-iqa"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rule is Linux's")
def test_without_platformdirs_it_follows_xdg_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # `import platformdirs` raises ImportError
    monkeypatch.delenv("DEEPFEAT_IQA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert demo.default_cache_dir() == tmp_path / "xdg" / "deepfeat-iqa"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demo.default_cache_dir() == tmp_path / "home" / ".cache" / "deepfeat-iqa"


def test_run_demo_without_cache_dir_builds_and_reports_there(tmp_path: Path, photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run_demo()`` with no ``cache_dir``/``out_dir`` puts the distorted set and the report folder under
    ``default_cache_dir()``, not under the working directory (stopped at the build, before any extraction)."""
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", str(tmp_path / "cache"))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    built = []

    def build(references, out, **kwargs):
        built.append(Path(out))
        raise _Stop

    monkeypatch.setattr(demo.synth, "build", build)
    with pytest.raises(_Stop):
        demo.run_demo(references=photo_dir, weights="random", progress=False)
    (out,) = built
    assert out.parent == tmp_path / "cache" and out.name.startswith("demo-")
    assert (tmp_path / "cache" / "demo").is_dir()  # the report folder
    assert list(workdir.iterdir()) == []
