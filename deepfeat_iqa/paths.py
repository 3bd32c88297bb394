"""``cache_dir``: the one user cache every default output goes to, so nothing lands in the working directory."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the cache directory (feature store, demo images and reports).
CACHE_ENV = "DEEPFEAT_IQA_CACHE"


def cache_dir() -> Path:
    """``$DEEPFEAT_IQA_CACHE`` if set, else ``~/.cache/deepfeat-iqa`` (not created here).

    Examples
    --------
    >>> import os
    >>> from deepfeat_iqa.paths import cache_dir
    >>> os.environ["DEEPFEAT_IQA_CACHE"] = "/tmp/dfi-cache"; str(cache_dir())
    '/tmp/dfi-cache'
    >>> del os.environ["DEEPFEAT_IQA_CACHE"]
    """
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "deepfeat-iqa"
