"""``cache_dir``: the one user cache every default output goes to, so nothing lands in the working directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Environment variable naming the cache directory (feature store, demo images and reports).
CACHE_ENV = "DEEPFEAT_IQA_CACHE"
#: The application's folder name inside the platform's user cache.
APP_NAME = "deepfeat-iqa"


def cache_dir() -> Path:
    """``$DEEPFEAT_IQA_CACHE`` if set, else the platform's user cache folder for deepfeat-iqa (not created here).

    The platform's folder is ``platformdirs.user_cache_dir("deepfeat-iqa")``: ``$XDG_CACHE_HOME/deepfeat-iqa``
    (``~/.cache/deepfeat-iqa`` when unset) on Linux, ``~/Library/Caches/deepfeat-iqa`` on macOS,
    ``%LOCALAPPDATA%\\deepfeat-iqa\\Cache`` on Windows. Both are read on every call, so a change of the
    environment applies at once.

    Examples
    --------
    >>> import os
    >>> from deepfeat_iqa.paths import cache_dir
    >>> os.environ["DEEPFEAT_IQA_CACHE"] = "/tmp/dfi-cache"; str(cache_dir())
    '/tmp/dfi-cache'
    >>> del os.environ["DEEPFEAT_IQA_CACHE"]
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser()
    return _user_cache_dir()


def _user_cache_dir() -> Path:
    """``platformdirs``' user cache folder, or the same rule written out where platformdirs is not installed."""
    try:
        from platformdirs import user_cache_dir
    except ImportError:
        pass
    else:
        return Path(user_cache_dir(APP_NAME, appauthor=False))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / APP_NAME
