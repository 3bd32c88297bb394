"""``progress``: one progress display for every long step — a tqdm bar on a terminal, log lines otherwise.

A bar redrawn in a log file or CI output is noise, and a step that prints nothing for minutes looks
hung; so off a terminal each step logs (logger ``deepfeat_iqa.progress``, level INFO) one line when it
starts, one at least every :data:`LOG_EVERY_S` seconds while it runs, and one when it ends. The CLI
turns that logger on; a library user sees the lines once logging is configured (``logging.basicConfig``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm.auto import tqdm

logger = logging.getLogger("deepfeat_iqa.progress")

#: Most seconds between two log lines of a running step (off a terminal).
LOG_EVERY_S = 30.0

T = TypeVar("T")


def on_terminal() -> bool:
    """Whether progress goes to a terminal (then a tqdm bar), judged on stderr where both write."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class Progress:
    """Count work done on a step of ``total`` units; a bar on a terminal, periodic log lines otherwise.

    Parameters
    ----------
    total:
        Units the step will do (images, splits, references).
    desc:
        What the step is, e.g. ``"extract efficientnet_lite0 center"``.
    unit:
        Name of one unit (``"img"``, ``"split"``, ``"ref"``).
    enabled:
        ``False`` shows and logs nothing (``progress=False`` in the API).
    """

    def __init__(self, total: int, desc: str, unit: str = "it", *, enabled: bool = True):
        self.total, self.desc, self.unit, self.done = int(total), desc, unit, 0
        self._bar = tqdm(total=self.total, desc=desc, unit=unit) if enabled and on_terminal() else None
        self._log = enabled and self._bar is None
        self._start = self._last = time.monotonic()
        if self._log:
            logger.info("%s: starting, %d %s", desc, self.total, unit)

    def update(self, n: int = 1) -> None:
        self.done += int(n)
        if self._bar is not None:
            self._bar.update(n)
        elif self._log and time.monotonic() - self._last >= LOG_EVERY_S:
            self._last = time.monotonic()
            elapsed = self._last - self._start
            rate = self.done / elapsed if elapsed > 0 else float("nan")
            left = (self.total - self.done) / rate if rate > 0 else float("nan")
            logger.info("%s: %d/%d %s (%.0f%%), %.3g %s/s, ~%.0f s left", self.desc, self.done, self.total, self.unit,
                        100 * self.done / max(self.total, 1), rate, self.unit, left)  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._log:
            self._log = False
            logger.info("%s: %d/%d %s in %.1f s", self.desc, self.done, self.total, self.unit, time.monotonic() - self._start)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(iterable: Iterable[T], total: int, desc: str, unit: str = "it", *, enabled: bool = True) -> Iterator[T]:
    """Iterate ``iterable`` while counting one unit per item in a :class:`Progress`."""
    with Progress(total, desc, unit, enabled=enabled) as bar:
        for item in iterable:
            yield item
            bar.update()
