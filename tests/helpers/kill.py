"""Kill a child process at a point it chooses, not after a sleep: the kill/resume tests' one mechanism.

A kill/resume test writes a ``python -c`` script. Timing the kill with ``sleep`` only tests resume when
the kill lands inside a window of a second or two, which a CPU twice as slow or as fast misses. Instead the
script starts with :data:`HOOK` and calls ``stop_at(owner, "name", call=n, marker=...)`` before the work:
the ``n``-th call of ``owner.name`` writes ``marker`` and then blocks for ever (before or after the real
call). The parent (:func:`run_until_marker`) waits for the marker and sends SIGKILL, so the child dies with
exactly the state that call leaves, on any machine, and nothing in the package knows about tests.
"""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

def stop_at(owner, name, *, call, marker, after=True):
    """Make the ``call``-th call of ``owner.name`` write ``marker`` and block (after or before the real call)."""
    import functools

    original = getattr(owner, name)
    calls = [0]

    @functools.wraps(original)
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
    import os
    import pathlib
    import time

    # Written aside and renamed into place: the parent kills as soon as the marker exists, and a marker that
    # exists before its content is written would leave it empty (seen once in CI).
    pending = pathlib.Path(str(marker) + ".pending")
    pending.write_text(str(os.getpid()))
    os.replace(pending, marker)
    while True:  # the parent sends SIGKILL now
        time.sleep(60)


def stop_feature_writes(call: int, marker: str) -> None:
    """Stop this process after its ``call``-th store write, with ``marker`` holding the rows written (JSON).

    For ``client.run`` on one Dask worker: the test learns which block that worker was writing.
    """
    import json
    import pathlib

    from deepfeat_iqa.store._zarr import FeatureArray

    original, calls = FeatureArray.write, [0]

    def write(self, rows, values, n_crops):
        original(self, rows, values, n_crops)
        calls[0] += 1
        if calls[0] == call:
            pathlib.Path(marker + ".rows").write_text(json.dumps([int(r) for r in rows]))
            _stop(marker)

    FeatureArray.write = write


#: Prepend to a child script: defines ``stop_at(owner, name, *, call, marker, after=True)`` there.
HOOK = "\n" + inspect.getsource(stop_at) + "\n\n" + inspect.getsource(_stop) + "\n"


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
