"""Open a report in headless Chromium: the DOM after load, the console, a screenshot.

Reports are checked in a real browser because what breaks them (a thumbnail path that does not resolve,
a script error in the sort control) never shows in the HTML string. The page marks each ``<img>`` with
``data-loaded`` on load (``evaluation/_html.py``); Chromium prints console messages to stderr as
``...:CONSOLE...`` lines with ``--enable-logging=stderr``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]  # fmt: skip


class Rendered(NamedTuple):
    dom: str
    console: list[str]
    screenshot: Path


def chromium() -> str:
    """The Chromium executable, or skip the test saying how to get one."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it), so reports "
                "cannot be checked in a browser here")  # fmt: skip


def render(page: Path, tmp: Path, *, size: str = "1200,900", screenshot: Path | None = None) -> Rendered:
    """Load ``page`` twice (DOM dump, then screenshot) with a throwaway profile; console lines of both runs."""
    exe = chromium()
    url = page.resolve().as_uri()
    profile = tmp / "chromium-profile"
    dom = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    shot = screenshot or tmp / "screenshot.png"
    png = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", f"--window-size={size}",
                          "--hide-scrollbars", url], capture_output=True, text=True, timeout=120)  # fmt: skip
    console = [line for line in (dom.stderr + png.stderr).splitlines() if re.search(r":CONSOLE[:(]", line)]
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert shot.is_file(), png.stderr[-2000:]
    return Rendered(dom.stdout, console, shot)


def image_states(dom: str) -> list[str]:
    """``data-loaded`` of every ``<img>`` in a dumped DOM (``missing`` where the load handler never marked it)."""
    states = []
    for tag in re.findall(r"<img\b[^>]*>", dom):
        found = re.search(r'data-loaded="(\w+)"', tag)
        states.append(found.group(1) if found else "missing")
    return states
