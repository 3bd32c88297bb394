"""Kill a child process at a point it chooses, not after a sleep: the kill/resume tests' one mechanism.

A kill/resume test writes a ``python -c`` script. Timing the kill with ``sleep`` only tests resume when
the kill lands inside a window of a second or two, which a CPU twice as slow or as fast misses. Instead the
script starts with :data:`HOOK` and calls ``stop_at(owner, "name", call=n, marker=...)`` before the work:
the ``n``-th call of ``owner.name`` writes ``marker`` and then blocks for ever (before or after the real
call). The parent (:func:`run_until_marker`) waits for the marker and sends SIGKILL, so the child dies with
exactly the state that call leaves, on any machine, and nothing in the package knows about tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Prepend to a child script: defines ``stop_at(owner, name, *, call, marker, after=True)``.
HOOK = '''
import functools as _functools, os as _os, pathlib as _pathlib, time as _time

def stop_at(owner, name, *, call, marker, after=True):
    """Make the ``call``-th call of ``owner.name`` write ``marker`` and block (after or before the real call)."""
    original = getattr(owner, name)
    calls = [0]

    @_functools.wraps(original)
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call and not after:
            _stop(marker)
        result = original(*args, **kwargs)
        if calls[0] == call:
            _stop(marker)
        return result

    setattr(owner, name, wrapper)

def _stop(marker):
    _pathlib.Path(marker).write_text(str(_os.getpid()))
    while True:  # the parent sends SIGKILL now
        _time.sleep(60)
'''


def run_until_marker(
    script: str, marker: Path, *, argv: list[str] = (), env: dict[str, str] | None = None, timeout: float = 300
) -> None:
    """Run ``HOOK + script`` (``sys.argv[1:] == argv``) in a child Python, SIGKILL it once ``marker`` exists.

    Fails if the child exits or ``timeout`` seconds pass first (the timeout only bounds a hung child; it
    never decides where the kill lands).
    """
    process = subprocess.Popen([sys.executable, "-c", HOOK + script, *argv], env=env)
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), (
            f"the child never reached its kill point (exit code {process.poll()}, "
            f"{'timed out' if process.poll() is None else 'finished or crashed'})"
        )
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
